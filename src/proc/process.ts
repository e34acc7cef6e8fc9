import { kerr } from '../lib/index.ts';
import { WaitQueueHead, type Cred, type File, type Inode, type Task } from '../fs/index.ts';
import { O_CLOEXEC, SIGKILL, SI_USER } from '../uapi/index.ts';
import type { AddressSpace } from './address-space.ts';
import { pinUserPages, unpinUserPages } from './gup.ts';
import type { FdTable } from './fdtable.ts';
import { SignalState, type SigInfo } from './signal.ts';

/** A userspace program: `main(sys, args)`; its return value is the exit code. */
export type ProgramMain<S = unknown> = (sys: S, args: string[]) => Promise<number | void> | number | void;

/** Life of a process: running, exited but not yet waited for, gone. */
export type ProcessState = 'running' | 'zombie' | 'reaped';

/**
 * A process (struct task_struct with its files_struct and mm_struct): pid,
 * credentials, fd table, address space, children and exit status. It is the
 * `Task` the fs layer sees while it makes system calls. A fatal signal is
 * acted on at the next system-call boundary, or at once when the process is
 * not inside one.
 */
export class Process implements Task {
  readonly pid: number;
  cred: Cred;
  comm: string;
  files: FdTable;
  mm: AddressSpace;
  parent: Process | null;
  readonly children = new Set<Process>();
  state: ProcessState = 'running';
  /** Set once exit has begun; no system call runs after it. */
  exiting = false;
  /** Bumped by exec: `sys` objects of older images stop working. */
  generation = 0;
  /** System calls in progress (more than one only if a program does not await its calls). */
  inSyscall = 0;
  /** The system calls in progress, each with the fd it works on: what a deadlock report names. */
  readonly calls = new Set<{ name: string; fd?: number }>();
  /** The access fault that killed it (SIGSEGV/SIGBUS): the call, the address, why, and the stack it came from. */
  fault: { call: string; addr: number; why: string; stack: string } | undefined = undefined;
  /** A fatal signal waiting to be acted on, 0 if none. */
  fatalSignal = 0;
  /** Signal actions, the blocked mask, signals pending for handlers, the alarm. */
  signals = new SignalState();
  /** Exit status as a shell reports it: the exit code, or 128 + the signal number. */
  exitStatus: number | null = null;
  /** The signal that killed it, 0 for a normal exit. */
  termSignal = 0;
  /** What the program threw, if it ended by an uncaught error (exit status 1). */
  uncaughtError: unknown = undefined;
  readonly signalWait = new WaitQueueHead();
  /** Woken when a child changes state (wait_chldexit). */
  readonly childWait = new WaitQueueHead();
  /** Its /proc/<pid> inodes, made on first lookup and kept while it lives (the dcache of a pid directory). */
  readonly procNodes = new Map<string, Inode>();
  /** Resolves with the exit status. */
  readonly exited: Promise<number>;
  private resolveExit!: (status: number) => void;

  constructor(pid: number, parent: Process | null, cred: Cred, comm: string, files: FdTable, mm: AddressSpace) {
    this.pid = pid;
    this.parent = parent;
    this.cred = cred;
    this.comm = comm;
    this.files = files;
    this.mm = mm;
    this.exited = new Promise<number>((resolve) => (this.resolveExit = resolve));
  }

  /** True when a fatal signal, or a handled one that is not blocked, is pending (signal_pending). */
  signalPending(): boolean {
    return this.fatalSignal !== 0 || this.signals.nextDeliverable() !== 0;
  }

  /**
   * Sends `sig` to itself from the kernel (send_sig to current, e.g.
   * SIGPIPE from a pipe with no reader), as from the process itself.
   */
  sendSig(sig: number): void {
    this.queueSignal(sig, { si_signo: sig, si_code: SI_USER, si_errno: 0, si_pid: this.pid, si_uid: this.cred.uid });
  }

  /**
   * Generates `sig` for this process (__send_signal): dropped when its
   * action ignores it, recorded as fatal when its action is the default
   * one that kills (acted on when the current system call returns, or by
   * the sender for a process outside any call), else left pending for the
   * handler, which runs at the next system-call boundary. Interruptible
   * sleeps wake either way.
   */
  queueSignal(sig: number, info: SigInfo): void {
    if (this.exiting || this.state !== 'running') return;
    const d = this.signals.disposition(sig);
    if (d === 'ignore') return;
    if (d === 'fatal') {
      if (!this.fatalSignal || sig === SIGKILL) this.fatalSignal = sig;
    } else if (!this.signals.pending.has(sig)) {
      this.signals.pending.set(sig, info);
    }
    this.signalWait.wakeUp();
  }

  /** Looks up `fd` and takes a reference (fget). EBADF. */
  fget(fd: number): File {
    return this.files.lookup(fd).get();
  }

  /** Installs `file` at the lowest free fd (get_unused_fd_flags + fd_install). EMFILE. */
  installFd(file: File, flags: number): number {
    if (this.exiting) throw kerr('EBADF', 'process is exiting');
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

  /** Records the exit status and wakes whoever waits for it. */
  setExited(status: number, signal: number): void {
    this.exitStatus = status;
    this.termSignal = signal;
    this.state = 'zombie';
    this.resolveExit(status);
  }
}
