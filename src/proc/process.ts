import { kerr, newCpuContext, type CpuContext } from '../lib/index.ts';
import { WaitQueueHead, type Cred, type File, type Task } from '../fs/index.ts';
import { O_CLOEXEC, SIGKILL, SI_USER } from '../uapi/index.ts';
import type { AddressSpace } from './address-space.ts';
import type { CallState } from './call-state.ts';
import { pinUserPages, unpinUserPages } from './gup.ts';
import type { FdTable } from './fdtable.ts';
import { SignalState, type SigInfo } from './signal.ts';
import { ThreadGroup } from './thread-group.ts';

export type { ProcessState } from './thread-group.ts';

/** A userspace program: `main(sys, args)`; its return value is the exit code. */
export type ProgramMain<S = unknown> = (sys: S, args: string[]) => Promise<number | void> | number | void;

/** A thread's function: `fn(sys)` with the new thread's own `sys`; what it returns is what a join returns. */
export type ThreadFn<S = unknown> = (sys: S) => unknown;

/**
 * A task (struct task_struct): one thread of a process. Its pid is the
 * process's (the tgid, what getpid returns in every thread) and its tid
 * its own. The credentials, fd table, address space, parent and children
 * belong to its ThreadGroup and are read through the task as Linux reads
 * task->cred, ->files and ->mm; the process-wide state (run state, exit
 * status, fatal signal, /proc nodes) is read from `group`, as Linux reads
 * task->signal.
 * It is the `Task` the fs layer sees while it makes system calls: a
 * signal for it interrupts its own sleeps only. A fatal signal is acted
 * on at the next system-call boundary of any thread, or at once when no
 * thread is inside one.
 */
export class Process implements Task {
  /** The process id (tgid). */
  readonly pid: number;
  /** The thread id (the task's own pid): the tgid for the leader. */
  readonly tid: number;
  readonly group: ThreadGroup;
  /** The thread's name (task->comm): a new thread takes its creator's. */
  comm: string;
  /** System calls in progress in this thread (more than one only if a program does not await its calls). */
  inSyscall = 0;
  /** The system calls in progress, each with the fd it works on: what a deadlock report names. */
  readonly calls: { readonly name: string; readonly fd?: number | undefined }[] = [];
  /** The state of a call that ended, for the next one to reuse (call-state.ts). */
  spareCall: CallState | null = null;
  /** Signal actions (shared), this thread's blocked mask and the signals pending for it, the process's alarm. */
  signals: SignalState;
  readonly signalWait = new WaitQueueHead();
  /** Set when the thread has ended (PF_EXITING, then dead); its `sys` then unwinds. */
  taskExited = false;
  /** Killed by the group's exit or an exec of another thread (SIGKILL queued to it by zap_other_threads): its sleeps end. */
  zapped = false;
  /** What the thread's function returned or passed to threadExit: what a join returns. */
  retval: unknown = undefined;
  /** The user address the kernel zeroes and futex-wakes at the thread's exit (CLONE_CHILD_CLEARTID, set_tid_address); 0 for none. */
  clearChildTid = 0;
  /** Set once the thread is gone: its tid word cleared, joiners free to take its value. */
  dead = false;
  /** The thread pointer CLONE_SETTLS gave it. */
  tls = 0;
  /** Set once a join has taken the thread's value. */
  joined = false;
  /** Set while a thread sleeps in a join of this one. */
  joining = false;
  /** Woken when the thread ends (what a join sleeps on). */
  readonly taskExitWait = new WaitQueueHead();
  /** Its CPU accounting (utime, stime) and the work it owes a core: `current` while it runs. */
  readonly cpu: CpuContext;

  /**
   * A new process's first task, the leader of a new thread group; or, with
   * `thread`, a new task of that group with its own tid.
   */
  constructor(pid: number, parent: Process | null, cred: Cred, comm: string, files: FdTable, mm: AddressSpace, thread?: { group: ThreadGroup; tid: number; signals: SignalState }) {
    this.pid = pid;
    this.comm = comm;
    this.cpu = newCpuContext('process', pid, () => this.comm);
    if (thread) {
      this.tid = thread.tid;
      this.group = thread.group;
      this.signals = thread.signals;
    } else {
      this.tid = pid;
      this.group = new ThreadGroup(pid, parent, cred, files, mm);
      this.group.leader = this;
      this.signals = new SignalState();
    }
    this.group.tasks.push(this);
  }

  get cred(): Cred {
    return this.group.cred;
  }
  set cred(c: Cred) {
    this.group.cred = c;
  }
  get files(): FdTable {
    return this.group.files;
  }
  set files(f: FdTable) {
    this.group.files = f;
  }
  get mm(): AddressSpace {
    return this.group.mm;
  }
  set mm(m: AddressSpace) {
    this.group.mm = m;
  }
  get parent(): Process | null {
    return this.group.parent;
  }
  set parent(p: Process | null) {
    this.group.parent = p;
  }
  get children(): Set<Process> {
    return this.group.children;
  }
  /** True when a fatal signal, or a handled one that is not blocked, is pending (signal_pending). */
  signalPending(): boolean {
    return this.group.fatalSignal !== 0 || this.zapped || this.signals.nextDeliverable() !== 0;
  }

  /**
   * Sends `sig` to itself from the kernel (send_sig to current, e.g.
   * SIGPIPE from a pipe with no reader), as from the process itself.
   */
  sendSig(sig: number): void {
    this.queueSignal(sig, { si_signo: sig, si_code: SI_USER, si_errno: 0, si_pid: this.pid, si_uid: this.cred.uid });
  }

  /**
   * Generates `sig` for this thread (__send_signal): dropped when its
   * action ignores it; when its action is the default one that kills,
   * recorded as fatal for the whole process and every thread's sleep is
   * woken unless this thread blocks it (acted on when a system call returns, or by the sender for a
   * process outside any call); else left pending for the handler, which
   * runs at this thread's next system-call boundary.
   */
  queueSignal(sig: number, info: SigInfo): void {
    if (this.group.exiting || this.group.state !== 'running' || this.taskExited) return;
    const d = this.signals.disposition(sig);
    if (d === 'ignore') return;
    // a blocked signal whose default kills waits, pending, until it is unblocked (complete_signal); SIGKILL cannot be blocked
    if (d === 'fatal' && (sig === SIGKILL || !this.signals.blocked.has(sig))) {
      if (!this.group.fatalSignal || sig === SIGKILL) this.group.fatalSignal = sig;
      for (const t of this.group.tasks) t.signalWait.wakeUp();
      return;
    }
    if (!this.signals.pending.has(sig)) this.signals.pending.set(sig, info);
    this.signalWait.wakeUp();
  }

  /** Looks up `fd` and takes a reference (fget). EBADF. */
  fget(fd: number): File {
    return this.files.lookup(fd).get();
  }

  /** Installs `file` at the lowest free fd (get_unused_fd_flags + fd_install). EMFILE. */
  installFd(file: File, flags: number): number {
    if (this.group.exiting) throw kerr('EBADF', 'process is exiting');
    return this.files.installLowest(file, (flags & O_CLOEXEC) !== 0);
  }

  /**
   * Pins the frames behind [addr, addr+len) of this process's memory for a
   * driver (pin_user_pages_fast): see gup.ts. EFAULT.
   */
  pinUserPages(addr: number, len: number, write: boolean): Uint32Array {
    return pinUserPages(this.mm, addr, len, write);
  }

  /** Unpins frames pinUserPages returned (unpin_user_pages). */
  unpinUserPages(pfns: Uint32Array): void {
    unpinUserPages(this.mm, pfns);
  }
}
