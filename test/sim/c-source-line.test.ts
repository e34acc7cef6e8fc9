import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { userPath } from '../../src/lib/index.ts';
import { cToolchainProblem, execProgram, loadPlatform } from '../../src/sim/index.ts';

// C programs need Debian's clang, lld, wasi-libc, and libclang-rt-dev-wasm32 (.ci/run installs them).
const problem = cToolchainProblem();
if (problem) console.warn(`C source-line tests skipped: ${problem}`);
const cIt = (name: string, fn: () => Promise<void>) => (problem ? it.skip : it)(name, fn, 180_000);

const platform = loadPlatform('armv7-mobile');
const dir = mkdtempSync(join(tmpdir(), 'unimem-cline-'));
const PROGRAM = resolve('examples/programs/heap-vgem.c');
const SOURCE = readFileSync(PROGRAM, 'utf8').split('\n');
const BIN = resolve('bin/unimem.mjs');

/** The 1-based line of the program holding `marker` (found, not hard-coded: the example may change). */
function lineOf(marker: string): number {
  const i = SOURCE.findIndex((l) => l.includes(marker));
  expect(i, marker).toBeGreaterThanOrEqual(0);
  return i + 1;
}

/** The site a finding names for line `line` of `file`, in function `fn`. */
function siteAt(file: string, line: number, fn = 'main'): RegExp {
  return new RegExp(`^${userPath(file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line}:\\d+ in ${fn}$`);
}

/** The site a finding names for `marker`'s line of the example program. */
function siteOf(marker: string): RegExp {
  return siteAt(PROGRAM, lineOf(marker));
}

async function run(file: string, args: string[], opts: Parameters<typeof execProgram>[3] = {}) {
  let out = '';
  const r = await execProgram(file, platform, args, { ...opts, onWrite: (fd, b) => void (fd === 1 && (out += new TextDecoder().decode(b))) });
  return { ...r, out };
}

/** The unimem command in a child process (a build takes seconds: the test worker must not block on it). */
async function unimem(args: string[]): Promise<void> {
  await promisify(execFile)(process.execPath, [BIN, ...args], { env: { ...process.env, UNIMEM_FROM_SOURCE: '1' } });
}

const WASM = join(dir, 'heap-vgem.wasm');
const NULL_C = join(dir, 'null-line.c');
const NULL_SOURCE = `int main(int argc, char **argv) {\n  volatile int *p = (int *)(argc - 1);\n  int before = argc * 3;\n  return *p + before; /* the load */\n}\n`;
const NULL_WASM = join(dir, 'null-line.wasm');

/** A module's bytes without its custom section `name` (a build that carries no line information). */
function withoutSection(bytes: Uint8Array, name: string): Uint8Array {
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  for (let p = 8; p < bytes.length; ) {
    const start = p;
    const id = bytes[p++]!;
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[p++]!;
      size |= (b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    const end = p + size;
    const n = bytes[p]!;
    const named = id === 0 && n < 128 && new TextDecoder().decode(bytes.subarray(p + 1, p + 1 + n)) === name;
    if (!named) parts.push(bytes.subarray(start, end));
    p = end;
  }
  return Buffer.concat(parts);
}

describe('a C program’s findings name its source line', () => {
  beforeAll(async () => {
    if (problem) return;
    writeFileSync(NULL_C, NULL_SOURCE);
    // the example's cached build is made by a child's run, so the runs here find it built
    await Promise.all([unimem(['exec', PROGRAM]), unimem(['cc', '-o', WASM, PROGRAM]), unimem(['cc', '-o', NULL_WASM, NULL_C])]);
  }, 300_000);

  cIt('a store into a device-owned dma-buf names the memset line; a system call’s finding and its trace event name the call’s line', async () => {
    const r = await run(PROGRAM, ['--no-sync'], { trace: true, faults: [{ name: 'fail_dma_map', knobs: { probability: 100, times: 1 } }] });
    // the failed import makes the program stop there; the store comes in a run without the fault
    expect(r.exitCode).toBe(1);
    const injected = r.findings.filter((f) => f.kind === 'fault-injection');
    expect(injected).toHaveLength(1);
    // raised inside the kernel's DRM_IOCTL_PRIME_FD_TO_HANDLE, after asyncify unwound the program's stack
    expect(injected[0]!.site).toMatch(siteOf('ioctl(vgem, DRM_IOCTL_PRIME_FD_TO_HANDLE'));
    const events = r.trace!.events.filter((e) => e.cat === 'syscall' && e.name === 'ioctl DMA_HEAP_IOCTL_ALLOC');
    expect(events).toHaveLength(1);
    expect((events[0]!.args as { site?: string }).site).toMatch(siteOf('ioctl(heap, DMA_HEAP_IOCTL_ALLOC'));

    const s = await run(PROGRAM, ['--no-sync']);
    expect(s.exitCode).toBe(0);
    const missing = s.findings.filter((f) => f.kind === 'missing-sync');
    expect(missing).toHaveLength(1);
    // the store is memset's, in the C library: the site is the program's line that called it
    expect(missing[0]!.site).toMatch(siteOf('memset(p, 0x5a, SIZE)'));
  });

  cIt('a module `unimem cc` built names the line; one without line information still names the module, and runs the same', async () => {
    const wasm = WASM;
    const withLines = await run(wasm, ['--no-sync']);
    expect(withLines.findings.map((f) => f.kind)).toEqual(['missing-sync']);
    expect(withLines.findings[0]!.site).toMatch(siteOf('memset(p, 0x5a, SIZE)'));

    const bare = join(dir, 'heap-vgem-bare.wasm');
    const bytes = readFileSync(wasm);
    const stripped = withoutSection(bytes, 'unimem.source_map');
    expect(stripped.length).toBeLessThan(bytes.length);
    writeFileSync(bare, stripped);
    const r = await run(bare, ['--no-sync']);
    expect(r.exitCode).toBe(0);
    expect(r.out).toMatch(/^wrote 65536 bytes at 0x[0-9a-f]+, imported as vgem handle \d+ \(no DMA_BUF_IOCTL_SYNC\)\n$/);
    expect(r.findings.map((f) => f.kind)).toEqual(['missing-sync']);
    expect(r.findings[0]!.site).toBe(userPath(bare));
  });

  cIt('a load that faults names its line in the SIGSEGV the program dies by', async () => {
    const r = await run(NULL_WASM, []);
    expect(r.exitCode).toBe(128 + 11);
    expect(r.signal).toMatchObject({ name: 'SIGSEGV' });
    expect(r.signal!.site).toMatch(siteAt(NULL_C, NULL_SOURCE.split('\n').findIndex((l) => l.includes('the load')) + 1));
  });
});
