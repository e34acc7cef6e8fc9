import { runWithTaskLocals, taskLocals, type WorkSite } from './task-locals.ts';
import { isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceLine } from './source-line.ts';

/**
 * Misuse that real hardware would not stop (a missing cache sync, a
 * conflicting cacheable alias, a use after unmap, a leak) is recorded as a
 * Finding, and the run goes on. Each finding carries the simulated time and
 * the call site that caused it, so the bug shows up every time with its cause.
 */
export type FindingKind =
  | 'missing-sync'
  | 'stale-read'
  | 'cache-alias'
  | 'dma-debug'
  | 'use-after-unmap'
  | 'stale-tlb'
  | 'iommu-fault'
  | 'leak'
  | 'process-failed'
  | 'bus-error'
  | 'integrity'
  /** A failure the fault-injection framework forced (fail_page_alloc, failslab, ...). */
  | 'fault-injection'
  /** A user page fault that found no memory: the OOM path killed the process (pagefault_out_of_memory). */
  | 'oom'
  /**
   * Fence waits that can never end: threads each waiting for a fence that
   * only another thread of the cycle would signal (the chain is printed).
   */
  | 'fence-deadlock'
  /** A wait on a fence whose signaller has exited: nothing will ever signal it. */
  | 'fence-orphaned'
  /** A fence still unsignalled when its timeline (fence context) was torn down, or released with waiters. */
  | 'fence-unsignalled'
  /** A kernel wait on a fence or a commit gave up at its timeout (flip_done timed out); the wait-for graph then is printed. */
  | 'fence-timeout'
  /**
   * The platform cannot carry the work as configured, named at the platform
   * or scenario line that sets the limit: a device over its bandwidth, a CMA
   * area too small or never used, a buffer out of a device's DMA reach,
   * frames lost that nothing else explains.
   */
  | 'capacity';

export interface Finding {
  kind: FindingKind;
  message: string;
  /** Simulated time in nanoseconds when it was found. */
  timeNs: number;
  /** The API call that caused it, e.g. `dma_unmap_page`. */
  call: string;
  /**
   * Where in the user's own files it was caused, when known: the line of
   * the userspace program that made the call (`file:line:col`; a C
   * program's adds its function: `file:line:col in fn`), else the
   * scenario line of the stage or process the work was done for
   * (`file:line:col`), as `withFindingSite` named it.
   */
  site?: string;
}

/** Collects findings for one simulated system. */
export class FindingLog {
  readonly findings: Finding[] = [];
  private readonly now: () => number;
  constructor(now: () => number) {
    this.now = now;
  }

  /**
   * Records a finding (WARN_ON-style: report and continue). Its site is
   * `site` when given, else the line of the compiled program running now
   * (withProgramSite), else the first userspace frame on the stack, else
   * the site of the work it happened in (withFindingSite).
   */
  report(kind: FindingKind, call: string, message: string, site?: string): Finding {
    const work = workSite();
    const f: Finding = { kind, message, timeNs: this.now(), call, site: site ?? work?.program?.() ?? callerSite() ?? work?.site };
    this.findings.push(f);
    return f;
  }

  /** Returns the findings of one kind. */
  ofKind(kind: FindingKind): Finding[] {
    return this.findings.filter((f) => f.kind === kind);
  }
}

/**
 * The site of the work running now (a stage or process named in a
 * scenario), as withFindingSite set it, and the program line that
 * withProgramSite can tell.
 */
function workSite(): WorkSite | undefined {
  return taskLocals()?.work;
}

/**
 * Runs `fn` on behalf of a place in the user's files (a scenario's stage or
 * process): a finding it causes, directly or through work it starts, whose
 * stack holds no userspace frame is blamed there. The site follows the
 * async work as the kernel's `current` follows a task.
 */
export function withFindingSite<T>(site: string, fn: () => T): T {
  return runWithTaskLocals({ work: { site } }, fn);
}

/**
 * Runs `fn` on behalf of a line of a program whose frames a JavaScript
 * stack cannot name (a C program compiled to WebAssembly): `site` tells it
 * (`file:line:col`) when a finding needs it, and is only called then. It
 * comes before the stack's userspace frames and the work's site.
 */
export function withProgramSite<T>(site: () => string | undefined, fn: () => T): T {
  return runWithTaskLocals({ work: { site: workSite()?.site, program: site } }, fn);
}

/** What names the program line running now (withProgramSite's `site`, not yet called), for a record that may need it later; undefined outside one. */
export function programSiteNow(): (() => string | undefined) | undefined {
  return workSite()?.program;
}

/** The program line running now, as withProgramSite tells it (worked out now: for a record made once, not per access). */
export function currentProgramSite(): string | undefined {
  return workSite()?.program?.();
}

/** The site of the work running now (withFindingSite), if any. */
export function currentWorkSite(): string | undefined {
  return workSite()?.site;
}

/**
 * A file as a user names it: relative to the working directory when it lies
 * inside it (`examples/scenarios/x.yaml`), else absolute; `file://` URLs
 * become paths.
 */
export function userPath(file: string): string {
  const abs = file.startsWith('file://') ? fileURLToPath(file) : file;
  if (!isAbsolute(abs)) return abs;
  const rel = relative(process.cwd(), abs);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? abs : rel.split(sep).join('/');
}

/**
 * The first frame of a stack that is userspace code (`file:line:col`, the
 * file as userPath gives it): a program run by `unimem exec`, a stage
 * program (src/sim/stages), a test; a compiled line is named by its
 * TypeScript line. The kernel and hardware layers, the
 * simulator that drives them, the CLI and Node itself are skipped.
 */
export function userFrame(stack: string): string | undefined {
  for (const line of stack.split('\n')) {
    if (!/^\s+at /.test(line)) continue;
    if (line.includes('node:') || line.includes('node_modules') || line.includes('/bin/unimem.mjs')) continue;
    // a C program's frames (a test runner's formatter prints them `wasm://…:1:offset`) are named through withProgramSite
    if (line.includes('wasm://')) continue;
    const m = /\(?([^\s()]+):(\d+):(\d+)\)?$/.exec(line.trim());
    if (!m) continue;
    // mapped first: compiled, the kernel's frames sit in bundled chunks that only their source maps name
    const at = sourceLine(m[1]!.startsWith('file:') ? fileURLToPath(m[1]!) : m[1]!, Number(m[2]), Number(m[3]));
    if (/\/src\/(lib|uapi|formats|hw|mm|iommu|dma|fs|dmabuf|drivers|proc|report|cli)\//.test(at.file)) continue;
    if (/\/src\/sim\//.test(at.file) && !/\/src\/sim\/stages\//.test(at.file)) continue;
    return `${userPath(at.file)}:${at.line}:${at.col}`;
  }
  return undefined;
}

/** The first userspace frame of the current stack. */
function callerSite(): string | undefined {
  // the caller can sit deep below a fault (an engine's DMA through an SMMU walk): V8's default 10 frames may not reach it
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  return userFrame(stack);
}
