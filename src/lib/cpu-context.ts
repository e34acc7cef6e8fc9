import { runWithTaskLocals, taskLocals } from './task-locals.ts';

/**
 * The thread a piece of CPU work runs on, as the kernel's `current`: a
 * process's task, a kernel thread (a driver's worker, a device job's
 * completion), or interrupt context when no thread is current. CPU work
 * charged while it is current becomes its debt, paid by running on a core
 * at its next scheduling point (the return from a system call, the end of a
 * kernel thread's work); interrupt context pays at once, without delaying
 * anybody but the threads that want the same core.
 */
export interface CpuContext {
  readonly kind: 'process' | 'kthread' | 'irq';
  /** The thread group's pid; 0 for kernel threads and interrupts. */
  readonly pid: number;
  /** Its name as ps shows it (a process's comm changes at exec). */
  name(): string;
  /** Whether it runs its own code or the kernel's on its behalf (user/system time). */
  mode: 'user' | 'sys';
  /** The system call it is in (`ioctl VIDIOC_QBUF`), or the kernel work a kernel thread does; '' outside. */
  call: string;
  /** CPU ns charged and not yet run on a core, by mode. */
  userDebtNs: number;
  sysDebtNs: number;
  /** CPU ns it has run on a core, by mode. */
  userNs: number;
  sysNs: number;
  /** Index in its ledger's context table, for compact cost records; -1 until first charged. */
  slot: number;
  /**
   * Simulated time its process began to exit (do_exit: PF_EXITING), so
   * that what it alone would have done (signal its fences) is known never
   * to come; undefined while it lives, and for kernel threads.
   */
  exitedNs?: number;
}

/** Makes a context for a thread (copy_process for a task, kthread_create for a kernel thread). */
export function newCpuContext(kind: CpuContext['kind'], pid: number, name: () => string): CpuContext {
  return { kind, pid, name, mode: kind === 'process' ? 'user' : 'sys', call: '', userDebtNs: 0, sysDebtNs: 0, userNs: 0, sysNs: 0, slot: -1 };
}

/**
 * Runs `fn` as `ctx` (the scheduler switching `current`): CPU work it
 * does, directly or after any await, is charged to `ctx`, as the context
 * follows the async work the way `current` follows a task.
 */
export function runAsCpuContext<T>(ctx: CpuContext, fn: () => T): T {
  return runWithTaskLocals({ cpu: ctx }, fn);
}

/** The context CPU work is charged to now (`current`), or undefined in interrupt context. */
export function currentCpuContext(): CpuContext | undefined {
  return taskLocals()?.cpu;
}
