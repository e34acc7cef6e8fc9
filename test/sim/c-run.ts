import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import { cToolchainProblem, execProgram, loadPlatform } from '../../src/sim/index.ts';

/*
 * What the C program tests share: whether the toolchain is here (Debian's
 * clang, lld, wasi-libc and libclang-rt-dev-wasm32, which .ci/run
 * installs), a test skipped without it, and a C file or source run as a
 * process on armv7-mobile with what it wrote.
 */

/** Why C programs cannot be built here, or undefined. */
export const cProblem = cToolchainProblem();

/** Says once, for the file's `what` tests, that they are skipped and why. */
export function warnWithoutToolchain(what: string): void {
  if (cProblem) console.warn(`${what} tests skipped: ${cProblem}`);
}

/** A test that needs the C toolchain (a build takes seconds, more on a busy machine): skipped without it. */
export function cIt(name: string, fn: () => Promise<void>, timeout = 180_000): void {
  (cProblem ? it.skip : it)(name, fn, timeout);
}

const platform = loadPlatform('armv7-mobile');

/** Runs the C program `file` (a .c, a folder of them, or a .wasm) with `args`; its result, stdout and stderr. */
export async function runCFile(file: string, args: string[] = []) {
  let out = '';
  let err = '';
  const dec = new TextDecoder();
  const r = await execProgram(file, platform, args, {
    onWrite: (fd, b) => {
      if (fd === 1) out += dec.decode(b);
      else err += dec.decode(b);
    },
  });
  return { ...r, out, err };
}

/** A folder for a test file's C sources; `run(name, source, args)` writes one there and runs it. */
export function cSources(prefix: string): { dir: string; run: (name: string, source: string, args?: string[]) => ReturnType<typeof runCFile> } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    run: (name, source, args = []) => {
      const f = join(dir, name);
      writeFileSync(f, source);
      return runCFile(f, args);
    },
  };
}
