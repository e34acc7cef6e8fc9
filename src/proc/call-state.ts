import type { CpuContext } from '../lib/index.ts';

/** Where a call that unwinds finds its own promise to mark (syscall): set once the promise exists, or `unwound` if it unwound before. */
export interface UnwindMark {
  promise: Promise<unknown> | undefined;
  unwound: boolean;
}

/** One call in progress (its entry in the thread's calls): its name and fd, when it began, the CPU, the fd's path and its trace label. */
export interface CallState extends UnwindMark {
  name: string;
  fd: number | undefined;
  t0: number;
  cpu: CpuContext;
  path: string | undefined;
  /** A user access (load/store): the program's own work, no kernel entry. */
  user: boolean;
  label: string;
}

/** What a thread keeps for its calls: the ones in progress, and the state of one that ended, for the next to reuse. */
interface CallHolder {
  spareCall: CallState | null;
}

/**
 * A call's state at its entry: the thread's spare one when it has it (a
 * loop of calls that end on the quick path then makes none), else a new
 * one. No kernel counterpart: the kernel's is the thread's stack frame.
 */
export function takeCallState(t: CallHolder, name: string, fd: number | undefined, t0: number, cpu: CpuContext, path: string | undefined, user: boolean): CallState {
  const s = t.spareCall;
  if (s === null) return { name, fd, t0, cpu, path, user, label: name, promise: undefined, unwound: false };
  t.spareCall = null;
  s.name = name;
  s.fd = fd;
  s.t0 = t0;
  s.cpu = cpu;
  s.path = path;
  s.user = user;
  s.label = name;
  s.promise = undefined;
  s.unwound = false;
  return s;
}

/** Gives back the state of a call that has returned and that nothing refers to any more (no trace, no unwind mark to come). */
export function putCallState(t: CallHolder, s: CallState): void {
  s.promise = undefined;
  t.spareCall = s;
}

/** Marks an unwound call's rejection as seen, now or once its promise exists. */
export function markUnwound(m: UnwindMark): void {
  if (m.promise !== undefined) void m.promise.then(undefined, leaveToCaller);
  else m.unwound = true;
}

/** Gives `m` its call's promise `r`, marked at once if the call already unwound; returns `r`. */
export function unwindMarked<T>(m: UnwindMark, r: Promise<T>): Promise<T> {
  if (m.unwound) void r.then(undefined, leaveToCaller);
  else m.promise = r;
  return r;
}

/** The handler of a rejection nobody may be waiting for: a program that awaits the call still gets it, one that does not is not told. */
function leaveToCaller(): void {}
