import { kerr } from '../lib/index.ts';
import type { Timer } from '../hw/index.ts';
import type { Sys } from './sys.ts';
import {
  SA_NOCLDSTOP,
  SA_NOCLDWAIT,
  SA_NODEFER,
  SA_ONSTACK,
  SA_RESETHAND,
  SA_RESTART,
  SA_SIGINFO,
  SIGCHLD,
  SIGCONT,
  SIGKILL,
  SIGSTOP,
  SIG_BLOCK,
  SIG_DFL,
  SIG_IGN,
  SIG_SETMASK,
  SIG_UNBLOCK,
} from '../uapi/index.ts';

/** Highest signal number (_NSIG). */
export const NSIG = 64;

/** What a handler learns about its signal (siginfo_t): which fields are set depends on si_code, as in Linux. */
export interface SigInfo {
  si_signo: number;
  si_code: number;
  si_errno: number;
  /** The sender (kill, send_sig) or the child (SIGCHLD). */
  si_pid?: number;
  si_uid?: number;
  /** SIGCHLD: the exit code, or the signal that killed the child. */
  si_status?: number;
  /** SIGSEGV/SIGBUS: the faulting user address. */
  si_addr?: number;
}

/**
 * A signal handler: called in the process's context with the Sys of the
 * thread it interrupts (the one it runs on, as Linux builds the frame on
 * that thread's stack); it may make system calls; what it throws leaves
 * the interrupted call.
 */
export type SignalHandler = (sig: number, info: SigInfo, sys: Sys) => Promise<void> | void;

/** A signal's action (struct sigaction): SIG_DFL, SIG_IGN or a handler, SA_* flags, and the signals blocked while it runs. */
export interface SigAction {
  handler: SignalHandler | typeof SIG_DFL | typeof SIG_IGN;
  flags: number;
  mask: number[];
}

/** What sigaction takes: the handler, and optionally flags and a mask. */
export interface SigActionArg {
  handler: SignalHandler | typeof SIG_DFL | typeof SIG_IGN;
  flags?: number;
  mask?: readonly number[];
}

/** The flags Linux keeps (UAPI_SA_FLAGS); others are dropped so a program can see they are unsupported. */
const KNOWN_SA_FLAGS = SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | SA_ONSTACK | SA_RESTART | SA_NODEFER | SA_RESETHAND;

/** Signals whose default action is to do nothing (sig_kernel_ignore). */
const IGNORED_BY_DEFAULT = new Set([SIGCHLD, SIGCONT, 23 /* SIGURG */, 28 /* SIGWINCH */]);

const DEFAULT_ACTION: SigAction = { handler: SIG_DFL, flags: 0, mask: [] };

/** What sending a signal does to the process: nothing, kill it, or queue it for its handler. */
export type Disposition = 'ignore' | 'fatal' | 'handle';

/**
 * A process's signal state (sighand_struct, the blocked mask, the pending
 * set and the ITIMER_REAL of alarm). Standard signals do not queue: one
 * pending instance per number, the first one's siginfo kept.
 */
export class SignalState {
  /** The actions, shared by the threads of a process (sighand_struct). */
  readonly actions: Map<number, SigAction>;
  /** Signals blocked in this thread (task->blocked). */
  blocked = new Set<number>();
  /** Signals pending for this thread's handlers. */
  readonly pending = new Map<number, SigInfo>();
  /** The mask sigsuspend replaced, put back once the handlers it waited for ran (saved_sigmask, set_restore_sigmask). */
  restoreMask: Set<number> | null = null;
  /** The process's timers, shared by its threads (signal_struct). */
  private readonly timers: { alarm: { timer: Timer; at: number } | null };

  constructor(actions = new Map<number, SigAction>(), timers: { alarm: { timer: Timer; at: number } | null } = { alarm: null }) {
    this.actions = actions;
    this.timers = timers;
  }

  /** The armed alarm of the process: its timer and the simulated time it fires. */
  get alarm(): { timer: Timer; at: number } | null {
    return this.timers.alarm;
  }

  set alarm(a: { timer: Timer; at: number } | null) {
    this.timers.alarm = a;
  }

  /** The action of `sig` (SIG_DFL unless set). */
  action(sig: number): SigAction {
    return this.actions.get(sig) ?? DEFAULT_ACTION;
  }

  /** What `sig` does when sent now (sig_ignored / sig_fatal); SIGKILL always kills. */
  disposition(sig: number): Disposition {
    if (sig === SIGKILL) return 'fatal';
    const h = this.action(sig).handler;
    if (h === SIG_IGN) return 'ignore';
    if (h === SIG_DFL) return IGNORED_BY_DEFAULT.has(sig) ? 'ignore' : 'fatal';
    return 'handle';
  }

  /** The lowest pending signal that is not blocked, 0 if none (next_signal). */
  nextDeliverable(): number {
    let best = 0;
    for (const s of this.pending.keys()) if (!this.blocked.has(s) && (best === 0 || s < best)) best = s;
    return best;
  }

  /** The state a forked child starts with: the same actions and mask, nothing pending, no alarm (copy_sighand, copy_signal). */
  forkCopy(): SignalState {
    const c = new SignalState();
    for (const [s, a] of this.actions) c.actions.set(s, { ...a, mask: [...a.mask] });
    c.blocked = new Set(this.blocked);
    return c;
  }

  /** The state a new thread starts with (CLONE_SIGHAND | CLONE_THREAD): the same actions and alarm, its creator's mask, nothing pending. */
  threadCopy(): SignalState {
    const c = new SignalState(this.actions, this.timers);
    c.blocked = new Set(this.blocked);
    return c;
  }

  /** exec resets handled signals to SIG_DFL; ignored ones, the mask, pending signals and the alarm stay (flush_signal_handlers). */
  resetForExec(): void {
    for (const [s, a] of this.actions) if (typeof a.handler === 'function') this.actions.delete(s);
  }

  /** Process exit: the alarm is cancelled and pending signals dropped (exit_itimers, flush_sigqueue). */
  exit(): void {
    this.alarm?.timer.cancel();
    this.alarm = null;
    this.pending.clear();
  }
}

/** Checks a signal number argument (valid_signal): EINVAL outside 1.._NSIG. */
function checkSignal(sig: number): void {
  if (!Number.isInteger(sig) || sig < 1 || sig > NSIG) throw kerr('EINVAL', `signal ${sig}`);
}

/**
 * sigaction(2) (do_sigaction): returns the old action and, when `act` is
 * given, installs it. EINVAL for a bad number, for a new action on
 * SIGKILL or SIGSTOP, or a handler that is neither a function nor
 * SIG_DFL/SIG_IGN. Unknown flag bits are dropped; SIGKILL and SIGSTOP
 * cannot be masked. Setting an action that ignores the signal discards it
 * if pending.
 */
export function sysSigaction(s: SignalState, sig: number, act: SigActionArg | null | undefined): SigAction {
  checkSignal(sig);
  if (act && (sig === SIGKILL || sig === SIGSTOP)) throw kerr('EINVAL', `the action of signal ${sig} cannot change`);
  const old = s.action(sig);
  const oldCopy: SigAction = { handler: old.handler, flags: old.flags, mask: [...old.mask] };
  if (!act) return oldCopy;
  if (typeof act !== 'object') throw kerr('EFAULT', 'bad sigaction pointer');
  const h = act.handler;
  if (typeof h !== 'function' && h !== SIG_DFL && h !== SIG_IGN) throw kerr('EINVAL', `handler ${String(h)}`);
  if (act.mask !== undefined && !Array.isArray(act.mask)) throw kerr('EFAULT', 'sa_mask is not a signal list');
  if (act.flags !== undefined && !Number.isInteger(act.flags)) throw kerr('EINVAL', `sa_flags ${String(act.flags)}`);
  const mask: number[] = [];
  for (const m of act.mask ?? []) {
    checkSignal(m);
    if (m !== SIGKILL && m !== SIGSTOP && !mask.includes(m)) mask.push(m);
  }
  const flags = ((act.flags ?? 0) & KNOWN_SA_FLAGS) >>> 0;
  if (h === SIG_DFL && flags === 0 && mask.length === 0) s.actions.delete(sig);
  else s.actions.set(sig, { handler: h, flags, mask: mask.sort((a, b) => a - b) });
  if (s.disposition(sig) === 'ignore') s.pending.delete(sig);
  return oldCopy;
}

/**
 * Changes the calling thread's blocked mask (rt_sigprocmask): `how` is
 * SIG_BLOCK (add `set`), SIG_UNBLOCK (remove it) or SIG_SETMASK (replace
 * the mask); a null `set` only reads it. SIGKILL and SIGSTOP are dropped
 * from every mask. Returns the old mask, ascending. EINVAL for another
 * `how` or a bad signal number. Signals it unblocks that are pending are
 * handled as the call returns.
 */
export function sysSigprocmask(s: SignalState, how: number, set: readonly number[] | null | undefined): number[] {
  const old = [...s.blocked].sort((a, b) => a - b);
  if (set === null || set === undefined) return old;
  if (!Array.isArray(set)) throw kerr('EFAULT', 'bad sigset pointer');
  for (const sig of set) checkSignal(sig);
  const sigs = set.filter((sig) => sig !== SIGKILL && sig !== SIGSTOP);
  if (how === SIG_BLOCK) for (const sig of sigs) s.blocked.add(sig);
  else if (how === SIG_UNBLOCK) for (const sig of sigs) s.blocked.delete(sig);
  else if (how === SIG_SETMASK) s.blocked = new Set(sigs);
  else throw kerr('EINVAL', `sigprocmask how ${how}`);
  return old;
}

/** The signals pending for the calling thread and blocked (sigpending), ascending. */
export function sysSigpending(s: SignalState): number[] {
  return [...s.pending.keys()].filter((sig) => s.blocked.has(sig)).sort((a, b) => a - b);
}

/**
 * The seconds alarm(2) reports for an alarm due in `ns`: rounded to the
 * nearest second, never 0 while one is pending (alarm_setitimer).
 */
export function alarmSecondsLeft(ns: number): number {
  if (ns <= 0) return 0;
  let sec = Math.floor(ns / 1e9);
  const nsec = ns - sec * 1e9;
  if ((sec === 0 && nsec > 0) || nsec >= 5e8) sec++;
  return sec;
}
