import { wakeablePromise } from '../lib/index.ts';
import { WaitQueueHead, type Cred, type Inode } from '../fs/index.ts';
import type { AddressSpace } from './address-space.ts';
import type { FdTable } from './fdtable.ts';
import type { FutexQueue } from './futex.ts';
import type { Process } from './process.ts';

/** Life of a process: running, exited but not yet waited for, gone. */
export type ProcessState = 'running' | 'zombie' | 'reaped';

/**
 * What the threads of one process share (signal_struct, with the mm,
 * files_struct and credentials every thread here points to): the tgid, the
 * threads themselves, the children, the exit status. The leader (the task
 * whose tid is the tgid) stays in `tasks` until the group is gone, as a
 * zombie leader does; other threads leave it when they end.
 */
export class ThreadGroup {
  readonly tgid: number;
  /** The first task; its tid is the tgid. exec makes the caller the leader again. */
  leader!: Process;
  /** Threads in creation order, the leader first; ended non-leader threads are removed. */
  readonly tasks: Process[] = [];
  cred: Cred;
  files: FdTable;
  mm: AddressSpace;
  /** The group leader of the parent process, null for a spawned one or once reparented. */
  parent: Process | null;
  readonly children = new Set<Process>();
  state: ProcessState = 'running';
  /** Set once the group exits (SIGNAL_GROUP_EXIT): no system call of any thread runs after it. */
  exiting = false;
  /** Bumped by exec and by exit: `sys` objects of older images stop working. */
  generation = 0;
  /** A fatal signal waiting to be acted on by whichever thread returns to the call boundary first, 0 if none. */
  fatalSignal = 0;
  /** The access fault that killed it (SIGSEGV/SIGBUS): the call, the address, why, the stack it came from and the program line (a C program's). */
  fault: { call: string; addr: number; why: string; stack: string; site: string | undefined } | undefined = undefined;
  /** Exit status as a shell reports it: the exit code, or 128 + the signal number. */
  exitStatus: number | null = null;
  /** The signal that killed it, 0 for a normal exit. */
  termSignal = 0;
  /** What a thread threw, if the process ended by an uncaught error (exit status 1). */
  uncaughtError: unknown = undefined;
  /** Woken when a child changes state (wait_chldexit). */
  readonly childWait = new WaitQueueHead();
  /** Woken as the threads' system calls return during a group exit, which waits for them to end (zap_other_threads + the last thread's exit). */
  readonly drainWait = new WaitQueueHead();
  /** Its /proc/<pid> inodes, made on first lookup and kept while it lives (the dcache of a pid directory). */
  readonly procNodes = new Map<string, Inode>();
  /** Ended threads no join has taken yet, by tid: their exit value waits for pthread_join. */
  readonly unjoined = new Map<number, Process>();
  /** Futex waiters of this mm by user address (the private futex hash). */
  readonly futexQueues = new Map<number, FutexQueue>();
  /** Resolves with the exit status. */
  readonly exited: Promise<number>;
  private resolveExit!: (status: number) => void;

  constructor(tgid: number, parent: Process | null, cred: Cred, files: FdTable, mm: AddressSpace) {
    this.tgid = tgid;
    this.parent = parent;
    this.cred = cred;
    this.files = files;
    this.mm = mm;
    this.exited = wakeablePromise<number>((resolve) => (this.resolveExit = resolve));
  }

  /** The threads that have not ended (a zombie leader excluded). */
  liveTasks(): Process[] {
    return this.tasks.filter((t) => !t.taskExited);
  }

  /** System calls in progress in all its threads. */
  callsInProgress(): number {
    let n = 0;
    for (const t of this.tasks) n += t.inSyscall;
    return n;
  }

  /**
   * The thread a signal sent to the process goes to (complete_signal's
   * wants_signal, kept simple): the leader unless it has ended or blocks
   * the signal, else the first live thread that does not block it, else
   * the first live thread, where it stays pending.
   */
  signalTarget(sig: number): Process | undefined {
    const live = this.liveTasks();
    return live.find((t) => !t.signals.blocked.has(sig)) ?? live[0];
  }

  /** Records the exit status and wakes whoever waits for it. */
  setExited(status: number, signal: number): void {
    this.exitStatus = status;
    this.termSignal = signal;
    this.state = 'zombie';
    this.resolveExit(status);
  }
}
