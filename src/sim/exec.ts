import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fenceWaitSnapshot, reportHungFenceWaits, traceFences } from '../dmabuf/index.ts';
import { applyFaultSettings, userFrame, userPath, withFindingSite, type FaultSetting, type Finding, type Tracer } from '../lib/index.ts';
import { Deadlock } from '../hw/index.ts';
import { describeBlockedTasks, spawnProcess } from '../proc/index.ts';
import { SIGNAL_NAMES } from '../uapi/index.ts';
import { bootSystem } from './boot.ts';
import { cachedCBuild } from './c-build.ts';
import { wasmProgram } from './wasm-program.ts';
import { InputError } from './input-error.ts';
import type { PlatformSpec } from './platform.ts';

/** What running a userspace program produced. */
export interface ExecResult {
  exitCode: number;
  simTimeNs: number;
  /** What the checkers found, each with the program line that caused it (or the program's file). */
  findings: Finding[];
  /** The error the program did not catch, with the program line it was thrown from (or its file). */
  uncaught?: { name: string; message: string; site: string };
  /** The signal that killed the program (exit code 128 + number), with the fault and its program line for SIGSEGV/SIGBUS. */
  signal?: { number: number; name: string; detail?: string; site: string };
  /** When every thread slept with nothing scheduled: one line per thread of each process that had not exited (exit code 1). */
  deadlock?: string[];
  /** The Chrome trace, when one was asked for. */
  trace?: Tracer;
}

type Main = Parameters<typeof spawnProcess>[1];

/** A TypeScript or JavaScript program: the module's default export. */
async function loadModuleProgram(programPath: string): Promise<Main> {
  let mod: { default?: unknown };
  try {
    mod = await import(pathToFileURL(resolve(programPath)).href);
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new InputError(programPath, 0, 0, '', `cannot load the program: ${why}`);
  }
  if (typeof mod.default !== 'function') throw new InputError(programPath, 0, 0, 'default export', 'must be `async function main(sys, args)`');
  return mod.default as Main;
}

/** Whether a path names a C program: a .c file, a built .wasm module, or a folder of .c files (one program, as a selftest's Makefile links them). */
function isCProgram(programPath: string): boolean {
  return /\.(c|wasm)$/.test(programPath) || (existsSync(programPath) && statSync(programPath).isDirectory());
}

/**
 * A C program: a .c file, or a folder's .c files, is built once per
 * content (c-build.ts), a .wasm file is a module `unimem cc` built. The module is compiled
 * synchronously, so no await lets the simulated clock run meanwhile.
 */
function loadCProgram(programPath: string): Main {
  const wasm = programPath.endsWith('.wasm') ? resolve(programPath) : cachedCBuild(programPath);
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(readFileSync(wasm));
  } catch (e) {
    throw new InputError(programPath, 0, 0, '', `cannot load the module: ${e instanceof Error ? e.message : String(e)}`);
  }
  return wasmProgram(module, basename(programPath).replace(/\.(c|wasm)$/, '')) as Main;
}

/**
 * Boots a platform and runs a userspace program as its first process
 * (the kernel's run_init_process for a test program). The program is a
 * module whose default export is `async function main(sys, args)`; its
 * stdout and stderr go where `onWrite` sends them.
 */
export async function execProgram(
  programPath: string,
  p: PlatformSpec,
  args: string[],
  opts: { seed?: number; onWrite?: (fd: 1 | 2, bytes: Uint8Array) => void; trace?: boolean; faults?: readonly FaultSetting[] } = {},
): Promise<ExecResult> {
  const main = isCProgram(programPath) ? loadCProgram(programPath) : await loadModuleProgram(programPath);
  const sys = bootSystem(p, { seed: opts.seed ?? 1 });
  applyFaultSettings(sys.soc.faults, opts.faults ?? []);
  const tracer = opts.trace ? sys.soc.startTrace() : null;
  if (tracer) traceFences(sys.soc.clock, tracer);
  // A finding no line of the program explains (the device's own work) is blamed on the program's file.
  const file = userPath(resolve(programPath));
  const child = withFindingSite(file, () => spawnProcess(sys.proc, main, args, undefined, { comm: 'main', stdio: { onWrite: opts.onWrite } }));
  let exitCode: number;
  let deadlock: string[] | undefined;
  try {
    exitCode = await sys.soc.clock.runUntilSettled(child.exitCode);
  } catch (err) {
    if (!(err instanceof Deadlock)) throw err;
    // what each thread sleeps in, then the fences any of them waits for and who would signal them
    reportHungFenceWaits(sys.soc.clock);
    deadlock = [...describeBlockedTasks(sys.proc), ...fenceWaitSnapshot(sys.soc.clock)];
    exitCode = 1;
  }
  const sig = child.process.group.termSignal;
  const fault = child.process.group.fault;
  const signal = sig === 0 ? undefined : { number: sig, name: SIGNAL_NAMES[sig] ?? `signal ${sig}`, ...(fault ? { detail: `${fault.call} at 0x${fault.addr.toString(16)}: ${fault.why}` } : {}), site: (fault && (fault.site ?? userFrame(fault.stack))) ?? file };
  const e = child.process.group.uncaughtError;
  const uncaught = e === undefined ? undefined : e instanceof Error ? { name: e.name, message: e.message, site: userFrame(e.stack ?? '') ?? file } : { name: 'thrown value', message: String(e), site: file };
  return { exitCode, simTimeNs: sys.soc.clock.now, findings: [...sys.soc.findings.findings], ...(uncaught ? { uncaught } : {}), ...(signal ? { signal } : {}), ...(deadlock ? { deadlock } : {}), ...(tracer ? { trace: tracer } : {}) };
}
