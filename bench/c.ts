import { join } from 'node:path';
import { packageRoot } from '../src/lib/index.ts';
import { spawnProcess, type Sys } from '../src/proc/index.ts';
import { InputError, bootSystem, cToolchainProblem, execProgram, loadPlatform } from '../src/sim/index.ts';
import { timeLoop, type BenchResult } from './harness.ts';

/*
 * What an unmodified C program's work costs under `unimem exec`: a system
 * call, and a 4-byte load or store into anonymous memory and into a mapped
 * dma-buf (each through the process's page tables and the CPU cache
 * model). The program (bench/c/costs.c) brackets its loop with two
 * writes, and the loop is timed between them, so the build, the boot and
 * the set-up are not.
 */

/** Found from the package root: this module may run from bench/ or from a chunk of the dist/ bundle. */
const SOURCE = join(packageRoot(), 'bench', 'c', 'costs.c');
/** Each timed loop runs at least about this long unless told. */
const TARGET_MS = 400;

/** Wall milliseconds of `n` operations of kind `what` inside the C program. */
async function cLoop(what: string, n: number): Promise<number> {
  const platform = loadPlatform('armv7-mobile');
  let t0 = 0;
  let t1 = 0;
  const dec = new TextDecoder();
  const r = await execProgram(SOURCE, platform, [what, String(n)], {
    onWrite: (fd, b) => {
      const s = dec.decode(b);
      if (fd === 1 && s === 'go\n') t0 = performance.now();
      else if (fd === 1 && s === 'done\n') t1 = performance.now();
    },
  });
  if (r.exitCode !== 0 || t1 === 0) throw new Error(`bench c: costs.c ${what} exited with ${r.exitCode}`);
  return t1 - t0;
}

/** Operations per wall second of kind `what`: from `n` operations, doubled until a loop takes `targetMs`. */
async function cRate(what: string, n: number, targetMs: number): Promise<{ n: number; ms: number; perSec: number }> {
  let ms = await cLoop(what, n);
  while (ms < targetMs) {
    n *= 2;
    ms = await cLoop(what, n);
  }
  return { n, ms, perSec: (n * 1000) / ms };
}

/** getpid round trips per wall second from a TypeScript program: unimem's own fastest system call. */
async function typeScriptGetpidRate(targetMs: number): Promise<number> {
  const system = bootSystem(loadPlatform('armv7-mobile'), { seed: 1 });
  let rate = 0;
  const child = spawnProcess(system.proc, async (sys: Sys) => {
    for (let i = 0; i < 2000; i++) await sys.getpid();
    let n = 0;
    const t0 = performance.now();
    do {
      for (let i = 0; i < 1000; i++) await sys.getpid();
      n += 1000;
    } while (performance.now() - t0 < targetMs);
    rate = (n * 1000) / (performance.now() - t0);
    return 0;
  });
  await system.soc.clock.runUntilSettled(child.exitCode);
  return rate;
}

/** 4-byte stores per wall second into a plain typed array: what the machine does without a simulated MMU and cache. */
function plainStoreRate(targetMs: number): number {
  const a = new Uint32Array(64 * 1024);
  const r = timeLoop(() => {
    for (let i = 0; i < 1 << 20; i++) a[i & 0xffff] = i;
  }, targetMs);
  return r.opsPerSec * (1 << 20);
}

/** One record: operations per wall second and wall nanoseconds per operation, against the baseline's rate. */
function row(bench: string, r: { n: number; ms: number; perSec: number }, baseline: { name: string; perSec: number }): BenchResult {
  return {
    bench,
    metrics: { operations: r.n, wallMs: r.ms, wallNsPerOperation: 1e9 / r.perSec, operationsPerWallSecond: r.perSec, baselinePerWallSecond: baseline.perSec },
    ratios: { [`vs${baseline.name}`]: r.perSec / baseline.perSec },
  };
}

/**
 * The C program's costs: `c.syscall` (getpid from C against getpid from a
 * TypeScript program, the same kernel path without the wasm layer), and
 * `c.anon-store`, `c.mapped-store`, `c.mapped-load` (against 4-byte stores
 * into a plain typed array). Needs the C toolchain (Debian's clang, lld,
 * wasi-libc, libclang-rt-dev-wasm32, binaryen); the first run builds the
 * program.
 */
export async function benchC(opts: { targetMs?: number } = {}): Promise<BenchResult[]> {
  const problem = cToolchainProblem();
  if (problem) throw new InputError('c', 0, 0, 'bench', `bench c needs the C toolchain: ${problem}`);
  const target = opts.targetMs ?? TARGET_MS;
  const ts = await typeScriptGetpidRate(target);
  const plain = plainStoreRate(target);
  return [
    row('c.syscall', await cRate('getpid', 4000, target), { name: 'TypeScriptGetpid', perSec: ts }),
    row('c.anon-store', await cRate('anon-store', 100_000, target), { name: 'PlainStore', perSec: plain }),
    row('c.mapped-store', await cRate('mapped-store', 100_000, target), { name: 'PlainStore', perSec: plain }),
    row('c.mapped-load', await cRate('mapped-load', 100_000, target), { name: 'PlainStore', perSec: plain }),
  ];
}

export default function benchCDefault(): Promise<BenchResult[]> {
  return benchC();
}
