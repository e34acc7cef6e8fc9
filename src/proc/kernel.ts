import { KernelBug, KernelError, SyscallError, kerr, runAsCpuContext, currentProgramSite } from '../lib/index.ts';
import { continuationMark, type Clock, type Soc } from '../hw/index.ts';
import { ROOT_CRED, ShmemFs, Vfs, waitEvent, type Cred, type File, type Inode, type SuperBlock } from '../fs/index.ts';
import type { Mm } from '../mm/index.ts';
import { CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_PARENT_SETTID, CLONE_SETTLS } from '../uapi/index.ts';
import { BUS_ADRERR, CLD_EXITED, CLD_KILLED, SA_NOCLDWAIT, SA_NODEFER, SA_RESETHAND, SA_RESTART, SEGV_ACCERR, SEGV_MAPERR, SIGALRM, SIGBUS, SIGCHLD, SIGKILL, SIGSEGV, SIGSTOP, SIG_IGN, SI_KERNEL, SI_USER } from '../uapi/index.ts';
import { AddressSpace } from './address-space.ts';
import { dupMmap } from './fork.ts';
import { exitMmap } from './mmap.ts';
import { AccessFault } from './vma.ts';
import { AnonMemory } from './anon-memory.ts';
import { ProcessUnwind, SegfaultError } from './errors.ts';
import { markUnwound, putCallState, takeCallState, unwindMarked, type CallState, type UnwindMark } from './call-state.ts';
import { FdTable, NR_OPEN_DEFAULT } from './fdtable.ts';
import { Process, type ProgramMain, type ThreadFn } from './process.ts';
import { futexWake } from './futex.ts';
import { userStore } from './cpu-access.ts';
import { Stdio, type StdioOptions } from './stdio.ts';
import { Sys } from './sys.ts';
import { UnixSockets } from './unix-socket.ts';
import { NSIG, alarmSecondsLeft, type SigAction, type SigInfo } from './signal.ts';

/** What createProcSystem needs: the SoC, and optionally the mm, the Vfs and per-call costs. */
export interface ProcSystemOptions {
  soc: Soc;
  /** The booted mm: memfds and anonymous memory keep their pages in DRAM from its page allocator. */
  mm: Mm;
  /** The VFS drivers and dma-buf register in; a new one when absent. */
  vfs?: Vfs;
  /** Simulated ns each system call costs on entry (it is also a scheduling point). */
  syscallNs?: number;
  /** RLIMIT_NOFILE of processes spawned without their own. */
  rlimitNofile?: number;
}

/** How spawnProcess starts a program: credentials, fd limit, name, standard streams. */
export interface SpawnOptions {
  /** Credentials (default root). */
  cred?: Cred;
  /**
   * Standard streams: options for fds 0, 1 and 2 (the default gives empty
   * input and collects output), or false to start with no fds at all.
   */
  stdio?: StdioOptions | false;
  /** RLIMIT_NOFILE for the process. */
  rlimitNofile?: number;
  /** Process name (default the function's name). */
  comm?: string;
}

/** A started program: its pid and its exit status once it ends. */
export interface SpawnedProcess {
  pid: number;
  /** The exit status: the code main returned or passed to exit, 1 for an uncaught error, 128 + signal when killed. */
  exitCode: Promise<number>;
  process: Process;
  /** Its standard streams (null when spawned without them). */
  stdio: Stdio | null;
}

/** clone's pointer and TLS arguments (struct clone_args' parent_tid, child_tid, tls): user addresses of u32 tid words. */
export interface CloneArgs {
  parent_tid?: number;
  child_tid?: number;
  tls?: number;
}

/** What wait returns. */
export interface WaitResult {
  pid: number;
  /** Exit code, or 128 + the signal number when a signal ended it. */
  status: number;
  /** The signal that ended it, 0 for a normal exit. */
  signal: number;
}

/**
 * The process side of one simulated kernel: the process table, the socket
 * layer, /proc, and the system-call entry that turns kernel errors into
 * SyscallErrors and acts on fatal signals at the call boundary. Drivers and
 * dma-buf never see it: they work through the Vfs and the Task each file
 * operation receives.
 */
export class ProcKernel {
  readonly soc: Soc;
  readonly clock: Clock;
  readonly vfs: Vfs;
  readonly sockets: UnixSockets;
  readonly procfs: SuperBlock;
  readonly pipefs: SuperBlock;
  /** The internal shmem mount memfds live on. */
  readonly shmem: ShmemFs;
  /** The owner of processes' anonymous pages in DRAM. */
  readonly anon: AnonMemory;
  readonly syscallNs: number;
  readonly rlimitNofile: number;
  /** The system-call surface of each task's running program: what its signal handlers get, to run on that thread. */
  private readonly sysOf = new WeakMap<Process, Sys>();
  /** The /proc root and /proc/self inodes, made on first lookup. */
  readonly procNodes = new Map<string, Inode>();
  /** Live and zombie processes by pid: each thread group's leader. */
  readonly processes = new Map<number, Process>();
  /** Every task by tid (the pid space threads share with processes). */
  readonly tasks = new Map<number, Process>();
  private nextPid = 1;

  constructor(opts: ProcSystemOptions) {
    this.soc = opts.soc;
    this.clock = opts.soc.clock;
    this.vfs = opts.vfs ?? new Vfs();
    this.sockets = new UnixSockets(this.vfs, opts.soc.costs);
    this.procfs = this.vfs.mountPseudo('proc', { mntId: 22, devMinor: 0x15 });
    this.pipefs = this.vfs.mountPseudo('pipefs', { mntId: 13, devMinor: 0x0d });
    this.shmem = new ShmemFs(this.vfs, opts.mm);
    this.anon = new AnonMemory(opts.mm);
    this.syscallNs = opts.syscallNs ?? 0;
    this.rlimitNofile = opts.rlimitNofile ?? NR_OPEN_DEFAULT;
  }

  /**
   * Starts `main(sys, args)` as a new process, a simulated thread on the
   * Clock (kernel_clone + exec of a new program). The process has no parent
   * and is reaped when it exits.
   */
  spawn(main: ProgramMain<Sys>, args: string[] = [], opts: SpawnOptions = {}): SpawnedProcess {
    const p = new Process(
      this.nextPid++,
      null,
      opts.cred ?? ROOT_CRED,
      opts.comm ?? (main.name || 'a.out'),
      new FdTable(opts.rlimitNofile ?? this.rlimitNofile, this.soc.costs),
      new AddressSpace(this.anon),
    );
    let stdio: Stdio | null = null;
    if (opts.stdio !== false) {
      stdio = new Stdio(opts.stdio ?? {});
      for (const f of stdio.files(this.vfs, this.pipefs, p.cred)) p.files.installLowest(f, false);
    }
    this.processes.set(p.pid, p);
    this.tasks.set(p.tid, p);
    this.startImage(p, main, args);
    return { pid: p.pid, exitCode: p.group.exited, process: p, stdio };
  }

  /** Creates a child copying the parent's fds and mappings and starts `childMain` in it (fork). */
  fork(parent: Process, childMain: ProgramMain<Sys>): number {
    // the child's parent is the process: any of its threads may wait for it
    const c = new Process(this.nextPid++, parent.group.leader, parent.cred, parent.comm, parent.files.copy(), dupMmap(parent.mm));
    // the child's mappings hold file references fork took
    const site = this.soc.costs.siteHere('dup_mmap');
    for (const v of c.mm.areas) {
      v.site = site;
      v.since = this.clock.now;
    }
    c.signals = parent.signals.forkCopy();
    parent.children.add(c);
    this.processes.set(c.pid, c);
    this.tasks.set(c.tid, c);
    this.startImage(c, childMain, []);
    return c.pid;
  }

  /**
   * Replaces the program (execve): closes close-on-exec fds, drops every
   * mapping, and starts `main` in the same process with the same pid and
   * remaining fds. The calling image is unwound with ProcessUnwind.
   */
  async exec(p: Process, main: ProgramMain<Sys>, args: string[]): Promise<never> {
    const leader = await this.deThread(p);
    const closing = p.files.takeCloexec();
    exitMmap(p.mm);
    p.mm = new AddressSpace(this.anon);
    await this.closeFiles(p, closing);
    leader.comm = main.name || p.comm;
    leader.signals.resetForExec();
    this.startImage(leader, main, args);
    throw new ProcessUnwind(p.pid, 'exec');
  }

  /**
   * Makes the exec'ing thread the only one (de_thread): every other thread
   * is killed and waited for, and the caller takes over the leader's tid,
   * keeping its own signal mask and pending signals. Returns the leader,
   * which the new image runs in.
   */
  private async deThread(p: Process): Promise<Process> {
    const g = p.group;
    const others = g.tasks.filter((t) => t !== p);
    if (others.length === 0) return p;
    g.generation++;
    for (const t of others) {
      t.zapped = true;
      t.signalWait.wakeUp();
    }
    await waitEvent(g.drainWait, () => g.callsInProgress() <= p.inSyscall);
    const leader = g.leader;
    for (const t of others) if (t !== leader) this.releaseTask(t);
    if (leader !== p) {
      leader.signals = p.signals;
      leader.comm = p.comm;
      this.releaseTask(p);
    }
    leader.taskExited = false;
    leader.dead = false;
    leader.zapped = false;
    leader.clearChildTid = 0;
    leader.joined = false;
    leader.retval = undefined;
    return leader;
  }

  /**
   * Starts `fn(sys)` in a new thread of `creator`'s process (copy_process
   * for clone with CLONE_VM | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD):
   * a new tid from the pid space, the same mm, fd table, credentials and
   * signal actions, the creator's signal mask. CLONE_PARENT_SETTID and
   * CLONE_CHILD_SETTID write the tid (a u32) at `parentTid` and
   * `childTid`, a write that fails being ignored as the kernel ignores
   * put_user there; CLONE_CHILD_CLEARTID has the word at `childTid`
   * zeroed and futex-woken when the thread ends. Returns the tid.
   */
  cloneThread(creator: Process, fn: ThreadFn, flags: number, args: CloneArgs): number {
    if (creator.group.exiting) throw kerr('EAGAIN', 'process is exiting');
    const tid = this.nextPid++;
    const t = new Process(creator.pid, null, creator.cred, creator.comm, creator.files, creator.mm, { group: creator.group, tid, signals: creator.signals.threadCopy() });
    this.tasks.set(tid, t);
    const tidWord = new Uint8Array([tid & 0xff, (tid >>> 8) & 0xff, (tid >>> 16) & 0xff, (tid >>> 24) & 0xff]);
    if (flags & CLONE_PARENT_SETTID && args.parent_tid) putUserIgnoringFault(creator.mm, args.parent_tid, tidWord);
    if (flags & CLONE_CHILD_SETTID && args.child_tid) putUserIgnoringFault(t.mm, args.child_tid, tidWord);
    if (flags & CLONE_CHILD_CLEARTID && args.child_tid) t.clearChildTid = args.child_tid;
    if (flags & CLONE_SETTLS) t.tls = args.tls ?? 0;
    this.startThread(t, fn);
    return tid;
  }

  /**
   * Ends one thread (do_exit without a group exit, as the exit system
   * call and pthread_exit do): its other calls end, its pending signals
   * go to a thread still running, the word CLONE_CHILD_CLEARTID named is
   * zeroed and one futex waiter on it woken (mm_release), and joiners wake.
   * The last thread to end ends the process with status 0 (the leader's
   * exit code); an ended leader stays as the zombie leader.
   */
  async exitThread(t: Process, retval: unknown, ownCalls = 0): Promise<void> {
    if (t.taskExited || t.group.exiting) return;
    const g = t.group;
    t.retval = retval;
    if (g.liveTasks().length === 1) {
      await this.exitProcess(t, 0, 0, ownCalls);
      return;
    }
    t.taskExited = true;
    t.zapped = true;
    t.signalWait.wakeUp();
    await waitEvent(g.drainWait, () => t.inSyscall <= ownCalls);
    t.zapped = false;
    // exit_signals: what was pending for it goes to a thread that can take it
    for (const [sig, info] of t.signals.pending) g.signalTarget(sig)?.queueSignal(sig, info);
    t.signals.pending.clear();
    if (t.clearChildTid && !g.exiting) {
      putUserIgnoringFault(g.mm, t.clearChildTid, new Uint8Array(4));
      futexWake(g, t.clearChildTid, 1);
      t.clearChildTid = 0;
    }
    t.dead = true;
    g.unjoined.set(t.tid, t);
    if (t !== g.leader) this.releaseTask(t);
    t.taskExitWait.wakeUp();
    if (g.liveTasks().length === 0 && !g.exiting) await this.exitProcess(t, 0, 0);
  }

  /**
   * Waits for thread `tid` of the caller's process to end and returns
   * what its function returned or passed to threadExit: pthread_join,
   * whose futex wait on the tid word CLONE_CHILD_CLEARTID clears is this
   * sleep. An ended thread keeps its value until joined. ESRCH when no
   * such thread is in the process or a join took it, EDEADLK for the
   * caller itself, EINVAL while another thread joins it; EINTR for a
   * signal.
   */
  async threadJoin(p: Process, tid: number): Promise<unknown> {
    const g = p.group;
    const t = g.unjoined.get(tid) ?? this.tasks.get(tid);
    if (!Number.isInteger(tid) || !t || t.group !== g || t.joined) throw kerr('ESRCH', `no thread ${tid} to join in process ${p.pid}`);
    if (t === p) throw kerr('EDEADLK', 'a thread cannot join itself');
    if (t.joining) throw kerr('EINVAL', `another thread joins ${tid} already`);
    t.joining = true;
    try {
      await waitEvent(t.taskExitWait, () => t.dead, { task: p });
    } finally {
      t.joining = false;
    }
    t.joined = true;
    g.unjoined.delete(tid);
    return t.retval;
  }

  /** Removes an ended thread from its group and the tid table (release_task). */
  private releaseTask(t: Process): void {
    t.taskExited = true;
    t.dead = true;
    const g = t.group;
    const i = g.tasks.indexOf(t);
    if (i >= 0 && t !== g.leader) g.tasks.splice(i, 1);
    if (this.tasks.get(t.tid) === t && t !== g.leader) this.tasks.delete(t.tid);
    t.taskExitWait.wakeUp();
  }

  /**
   * Replaces the thread's mask with `mask` and sleeps until a signal's
   * handler is due (rt_sigsuspend): always EINTR; the handlers run under
   * `mask`, and the old mask comes back once they did, as the kernel's
   * saved_sigmask. SIGKILL and SIGSTOP cannot be blocked.
   */
  async sigsuspend(p: Process, mask: readonly number[]): Promise<never> {
    for (const sig of mask) if (!Number.isInteger(sig) || sig < 1 || sig > NSIG) throw kerr('EINVAL', `signal ${sig}`);
    p.signals.restoreMask = p.signals.blocked;
    p.signals.blocked = new Set(mask.filter((sig) => sig !== SIGKILL && sig !== SIGSTOP));
    await waitEvent(p.signalWait, () => false, { task: p, onSignal: 'eintr' });
    throw kerr('EINTR', 'sigsuspend');
  }

  /**
   * Sends a signal (kill). sig 0 only checks; EINVAL for a bad number,
   * ESRCH for no such process, EPERM for another user's process unless
   * root. The target's action decides: ignored, fatal (SIGKILL always),
   * or left pending for its handler; stop signals are not modelled (EINVAL).
   */
  async kill(sender: Process, pid: number, sig: number): Promise<void> {
    if (!Number.isInteger(sig) || sig < 0 || sig > NSIG) throw kerr('EINVAL', `signal ${sig}`);
    if (sig === SIGSTOP || sig === 20 || sig === 21 || sig === 22) throw kerr('EINVAL', 'stop signals are not modelled');
    // a thread's tid names its whole process (kill_pid_info sends to the thread group)
    const t = this.tasks.get(pid)?.group.leader;
    if (!Number.isInteger(pid) || pid <= 0 || !t || t.group.state === 'reaped') throw kerr('ESRCH', `no process ${pid}`);
    if (sender.cred.uid !== 0 && sender.cred.uid !== t.cred.uid) throw kerr('EPERM', `process ${pid} belongs to uid ${t.cred.uid}`);
    if (sig === 0 || t.group.state === 'zombie' || t.group.exiting) return;
    t.group.signalTarget(sig)?.queueSignal(sig, { si_signo: sig, si_code: SI_USER, si_errno: 0, si_pid: sender.pid, si_uid: sender.cred.uid });
    // a process with no thread in a system call dies now; one inside dies on its way out
    if (t.group.fatalSignal && t.group.callsInProgress() === 0) await this.exitProcess(t, 128 + t.group.fatalSignal, t.group.fatalSignal);
  }

  /**
   * Generates a signal from kernel context, outside the target's own calls
   * (a timer, a child's exit): like kill, a fatal one ends a process that
   * is not inside a system call at once.
   */
  postSignal(t: Process, sig: number, info: SigInfo): void {
    if (t.group.exiting || t.group.state !== 'running') return;
    t.group.signalTarget(sig)?.queueSignal(sig, info);
    if (t.group.fatalSignal && t.group.callsInProgress() === 0) void this.clock.spawn(() => this.exitProcess(t, 128 + t.group.fatalSignal, t.group.fatalSignal));
  }

  /**
   * Arms SIGALRM `seconds` of simulated time from now, or disarms it for 0,
   * and returns the seconds the previous alarm had left (alarm, via
   * alarm_setitimer: rounded, never 0 while one was pending).
   */
  alarm(p: Process, seconds: number): number {
    if (!Number.isInteger(seconds)) throw kerr('EINVAL', `alarm ${seconds}`);
    const secs = seconds >>> 0; // unsigned int, as the C prototype
    const s = p.signals;
    const left = s.alarm ? alarmSecondsLeft(s.alarm.at - this.clock.now) : 0;
    s.alarm?.timer.cancel();
    s.alarm = null;
    if (secs > 0) {
      const at = this.clock.now + secs * 1e9;
      const timer = this.clock.at(at, () => {
        s.alarm = null;
        this.postSignal(p, SIGALRM, { si_signo: SIGALRM, si_code: SI_KERNEL, si_errno: 0 });
      });
      s.alarm = { timer, at };
    }
    return left;
  }

  /** Sleeps until a signal arrives (pause): always EINTR, once a handler is due; an ignored signal does not wake it. */
  async pause(p: Process): Promise<never> {
    await waitEvent(p.signalWait, () => false, { task: p, onSignal: 'eintr' });
    throw kerr('EINTR', 'pause');
  }

  /**
   * Waits for a child to end and reaps it (wait4); ECHILD when there is no
   * such child, also once the last one was reaped for a parent that ignores
   * SIGCHLD (SA_NOCLDWAIT / SIG_IGN).
   */
  async wait(p: Process, pid: number): Promise<WaitResult> {
    const match = (c: Process) => pid === -1 || c.pid === pid;
    if (![...p.children].some(match)) throw kerr('ECHILD', `no child ${pid}`);
    let found: Process | undefined;
    await waitEvent(p.group.childWait, () => (found = [...p.children].find((c) => match(c) && c.group.state === 'zombie')) !== undefined || ![...p.children].some(match), { task: p });
    if (!found) throw kerr('ECHILD', `no child ${pid}`);
    const c = found;
    const r = { pid: c.pid, status: c.group.exitStatus!, signal: c.group.termSignal };
    this.reap(c);
    return r;
  }

  /**
   * Ends a process (do_group_exit, then the last thread's do_exit): every
   * thread is killed and its system calls in progress are waited for
   * (`ownCalls` of them are the caller's own exit), then the mappings go,
   * the fds are closed (waiting for releases that sleep), unreachable
   * sockets are collected and children reparented; then the status is
   * recorded and the parent told.
   */
  async exitProcess(p: Process, status: number, signal: number, ownCalls = 0): Promise<void> {
    if (p.group.exiting) return;
    const g = p.group;
    p.group.exiting = true;
    // from here on nothing the process's own code would have done (signal a timeline it holds) can happen
    for (const t of g.tasks) t.cpu.exitedNs = this.clock.now;
    // do_exit's teardown (closing files, unmapping) is the kernel's work on the task's behalf
    p.cpu.mode = 'sys';
    p.cpu.call = 'exit';
    p.group.generation++;
    for (const t of g.tasks) {
      t.zapped = true;
      t.signalWait.wakeUp();
    }
    await waitEvent(g.drainWait, () => g.callsInProgress() <= ownCalls);
    // the thread that tears down is not interrupted by its own exit
    p.zapped = false;
    for (const t of g.tasks) t.signals.exit();
    // the teardown is the exiting task's own system time, whoever sent the signal that ended it
    await runAsCpuContext(p.cpu, async () => {
      exitMmap(p.mm);
      await this.closeFiles(p, p.files.takeAll());
      this.sockets.gc();
      for (const t of g.tasks) await this.soc.cores.runDebt(t.cpu);
    });
    for (const c of p.children) {
      c.parent = null;
      if (c.group.state === 'zombie') this.reap(c);
    }
    p.children.clear();
    for (const t of [...g.tasks]) this.releaseTask(t);
    g.tasks.splice(0, g.tasks.length, g.leader);
    g.futexQueues.clear();
    g.unjoined.clear();
    g.setExited(status & 0xff, signal);
    const parent = p.parent;
    if (parent && !parent.group.exiting) this.notifyParent(parent, p);
    else this.reap(p);
  }

  /**
   * Tells the parent a child ended (do_notify_parent): SIGCHLD with the
   * child's pid and status unless the parent ignores it, and a parent that
   * set SIG_IGN or SA_NOCLDWAIT gets no zombie: the child is reaped now.
   */
  private notifyParent(parent: Process, c: Process): void {
    const act = parent.signals.action(SIGCHLD);
    const autoreap = act.handler === SIG_IGN || (act.flags & SA_NOCLDWAIT) !== 0;
    if (act.handler !== SIG_IGN) {
      // a core dump (CLD_DUMPED) needs RLIMIT_CORE, which is 0 here
      const info = { si_signo: SIGCHLD, si_code: c.group.termSignal ? CLD_KILLED : CLD_EXITED, si_errno: 0, si_pid: c.pid, si_uid: c.cred.uid, si_status: c.group.termSignal || c.group.exitStatus! };
      this.postSignal(parent, SIGCHLD, info);
    }
    if (autoreap) this.reap(c);
    parent.group.childWait.wakeUp();
  }

  /**
   * Runs the handlers of the pending signals not blocked, lowest number
   * first, as the return to user mode does (get_signal + handle_signal).
   * A signal whose action became fatal meanwhile ends the process.
   * Returns true when handlers ran and every one has SA_RESTART: what
   * lets an interrupted call run again (-ERESTARTSYS).
   */
  private async deliverSignals(p: Process, gen: number): Promise<boolean> {
    let ran = false;
    let restart = true;
    for (let sig = p.signals.nextDeliverable(); sig !== 0 && !p.group.exiting && p.group.generation === gen; sig = p.signals.nextDeliverable()) {
      const info = p.signals.pending.get(sig)!;
      p.signals.pending.delete(sig);
      const d = p.signals.disposition(sig);
      if (d === 'handle') {
        const act = p.signals.action(sig);
        ran = true;
        if (!(act.flags & SA_RESTART)) restart = false;
        await this.runHandler(p, sig, act, info);
      } else if (d === 'fatal') {
        await this.exitProcess(p, 128 + sig, sig);
        throw new ProcessUnwind(p.pid, 'killed');
      }
    }
    return ran && restart;
  }

  /**
   * Calls a handler (handle_signal + sigreturn): blocks its mask and, unless
   * SA_NODEFER, the signal itself while it runs; SA_RESETHAND puts SIG_DFL
   * back first. The old mask returns whether the handler returns or throws.
   */
  private async runHandler(p: Process, sig: number, act: SigAction, info: SigInfo): Promise<void> {
    const sys = this.sysOf.get(p);
    if (!sys) throw new KernelBug(`task ${p.tid} runs a handler without a program`);
    const saved = p.signals.blocked;
    const blocked = new Set(saved);
    for (const m of act.mask) blocked.add(m);
    if (!(act.flags & SA_NODEFER)) blocked.add(sig);
    if (act.flags & SA_RESETHAND) p.signals.actions.delete(sig);
    p.signals.blocked = blocked;
    try {
      if (typeof act.handler === 'function') await act.handler(sig, info, sys);
    } finally {
      p.signals.blocked = saved;
    }
  }

  /**
   * Runs one system call for `p` from image `gen`: a scheduling point on
   * entry, then `fn`; KernelErrors become SyscallErrors named `name`, an
   * access fault kills the process (SIGSEGV/SIGBUS) and rejects with a
   * SegfaultError, and a fatal signal that arrived meanwhile ends the
   * process and unwinds the program. A call that ends by a ProcessUnwind
   * never returns to the program, which may not await it (its process died
   * or its thread ended): its rejection is marked seen, so that it is not
   * reported as unhandled while one awaited still gets it.
   */
  syscall<T>(p: Process, gen: number, name: string, fn: () => T | Promise<T>, fd?: number): Promise<T> {
    // the common case (nothing pending) takes the quick path; both keep the same order of everything others can see (a clock without quiet sleeps is there to compare against: the full path then)
    if (this.clock.quietSleeps && p.group.fatalSignal === 0 && p.group.generation === gen && !p.group.exiting && !p.taskExited && p.signals.nextDeliverable() === 0) {
      // the call's state (made at its entry, before quickSyscall's first await) keeps its promise for the unwind to mark
      const s = this.enterCall(p, name, fd);
      const r = this.quickSyscall(p, gen, name, fn, fd, s);
      return unwindMarked(s, r);
    }
    const mark: UnwindMark = { promise: undefined, unwound: false };
    return unwindMarked(mark, this.fullSyscall(p, gen, name, fn, fd, mark));
  }

  private async fullSyscall<T>(p: Process, gen: number, name: string, fn: () => T | Promise<T>, fd: number | undefined, mark: UnwindMark): Promise<T> {
    try {
      return await this.syscallBody(p, gen, name, fn, fd);
    } catch (e) {
      if (e instanceof ProcessUnwind) markUnwound(mark);
      throw e;
    }
  }

  /**
   * A call entered with nothing pending, as fullSyscall would run it, in
   * one async function where nobody can tell the difference. A thread
   * woken from a sleep runs alone (the clock wakes a sleeper only when no
   * other thread can run) until it makes another runnable, so the steps
   * from the entry's scheduling point up to `fn` take no turns here; when
   * `fn` returns a value having queued nothing (continuationMark
   * unchanged) and the call's end has nothing to do (no waiter on the
   * drain queue, no signal, no exit), the thread is still alone and the
   * call returns at once. Otherwise the call goes on from where it is
   * through syscallBody, turn for turn as fullSyscall would
   * from that point, so every other thread sees the same interleaving.
   */
  private async quickSyscall<T>(p: Process, gen: number, name: string, fn: () => T | Promise<T>, fd: number | undefined, s: CallState): Promise<T> {
    try {
      if (!s.user) this.soc.costs.charge('syscall', this.syscallNs);
      const end = this.soc.cores.takeDebt(s.cpu);
      let from: unknown;
      if (end < 0) {
        // no scheduling point: others may run meanwhile, so the call keeps runDebt's turn and goes on as syscallBody would
        await undefined;
        from = this.callFn(p, fn);
      } else {
        await this.clock.sleepUntil(end);
        const mark = continuationMark();
        from = this.callFn(p, fn);
        if (mark >= 0 && continuationMark() === mark && from !== NOT_RUN && !(from instanceof CallThrew) && !isThenable(from)) {
          // still alone: the end of the call's body and its CPU work take no turns either
          this.leaveCall(p, s);
          s.label = s.user ? name : s.cpu.call || name;
          const after = this.soc.cores.takeDebt(s.cpu);
          if (after >= 0) await this.clock.sleepUntil(after);
          if (!this.callEndHasWork(p, gen)) {
            s.cpu.mode = 'user';
            s.cpu.call = '';
            // the call returns here and now: nothing refers to its state any more
            putCallState(p, s);
            return from as T;
          }
          return await this.syscallBody(p, gen, name, fn, fd, { state: s, at: 'end', value: from as T });
        }
      }
      return await this.syscallBody(p, gen, name, fn, fd, { state: s, at: 'fn', from });
    } catch (e) {
      if (e instanceof ProcessUnwind) markUnwound(s);
      throw e;
    }
  }

  /**
   * The calling thread's CPU work run on a core (CpuCores.runDebt) with no
   * async function of its own: the sleep when work is owed, else nothing,
   * whose await takes the one turn awaiting runDebt's settled promise took.
   * Past a sleep the thread runs alone (the clock wakes a sleeper only when
   * no other thread can run), so the turn runDebt's return added there
   * was nobody's to see.
   */
  private runDebt(cpu: Process['cpu']): Promise<void> | undefined {
    const end = this.soc.cores.takeDebt(cpu);
    return end >= 0 ? this.clock.sleepUntil(end) : undefined;
  }

  /** Calls a call's body as syscallBody's `await fn()` would start: what it returned, a CallThrew, or NOT_RUN when a fatal signal came first. */
  private callFn<T>(p: Process, fn: () => T | Promise<T>): unknown {
    if (p.group.fatalSignal !== 0) return NOT_RUN;
    try {
      return fn();
      // eslint-disable-next-line no-restricted-syntax -- the error is syscallBody's to handle, from where it would have caught it
    } catch (e) {
      return new CallThrew(e);
    }
  }

  /** Whether the end of a call (syscallBody after its body's CPU work) would do more than return: wake the drain queue, trace, unwind, deliver signals. */
  private callEndHasWork(p: Process, gen: number): boolean {
    return p.group.drainWait.active || this.soc.tracer !== null || p.group.fatalSignal !== 0 || p.group.exiting || p.group.generation !== gen || p.taskExited || p.signals.nextDeliverable() !== 0;
  }

  /**
   * A call's runs, from its entry checks to its return to user mode: each
   * run is the scheduling point, `fn`, then the process state it left (a
   * fatal signal, an exit or exec elsewhere unwind the program); on
   * success the handlers of signals that came meanwhile run and the call
   * returns, on failure its fault or signals are handled and it restarts
   * or throws. `resume` goes on with a first run quickSyscall started (its
   * entry checks made then): from `fn` having been called, or from the end
   * of its body's CPU work.
   */
  private async syscallBody<T>(p: Process, gen: number, name: string, fn: () => T | Promise<T>, fd?: number, resume?: CallResume<T>): Promise<T> {
    if (resume === undefined) {
      if (p.group.generation !== gen || p.group.exiting || p.taskExited) throw new ProcessUnwind(p.pid, unwindReason(p, gen));
      // signals that came while the program ran outside the kernel are handled before the call
      if (p.signals.nextDeliverable() !== 0) {
        await this.deliverSignals(p, gen);
        if (p.group.generation !== gen || p.group.exiting || p.taskExited) throw new ProcessUnwind(p.pid, unwindReason(p, gen));
      }
    }
    for (;;) {
      let result: T | undefined;
      let error: unknown;
      let failed = false;
      let s: CallState;
      if (resume === undefined) {
        s = this.enterCall(p, name, fd);
        try {
          if (p.group.fatalSignal === 0) {
            if (!s.user) this.soc.costs.charge('syscall', this.syscallNs);
            // the CPU work the program did since its last call, and the entry, run before the call's body
            await this.runDebt(s.cpu);
            if (p.group.fatalSignal === 0) {
              // a body that answers at once is not awaited: its answer takes no turn (nor does a quick call's, below)
              const r = fn();
              result = isThenable(r) ? await r : (r as T);
            }
          }
          // eslint-disable-next-line no-restricted-syntax -- the error is kept and rethrown (as a SyscallError when it is a KernelError) once the process state is settled
        } catch (e) {
          failed = true;
          error = e;
        } finally {
          this.leaveCall(p, s);
        }
      } else if (resume.at === 'fn') {
        s = resume.state;
        const from = resume.from;
        try {
          if (from instanceof CallThrew) throw from.error;
          if (from !== NOT_RUN) result = isThenable(from) ? await (from as Promise<T>) : (from as T);
          // eslint-disable-next-line no-restricted-syntax -- as above
        } catch (e) {
          failed = true;
          error = e;
        } finally {
          this.leaveCall(p, s);
        }
      } else {
        s = resume.state;
        result = resume.value;
      }
      const cpu = s.cpu;
      if (resume === undefined || resume.at === 'fn') {
        // an ioctl names its request (`ioctl VIDIOC_QBUF`) in the CPU's current call once it is decoded
        s.label = s.user ? name : cpu.call || name;
        // the body's CPU work (cache maintenance, copies, page-table updates) takes its time on a core before the return; none, no turn
        const end = this.soc.cores.takeDebt(cpu);
        if (end >= 0) await this.clock.sleepUntil(end);
      }
      cpu.mode = 'user';
      cpu.call = '';
      // an exit or exec in another thread may be waiting for this call to end
      p.group.drainWait.wakeUp();
      const tr = this.soc.tracer;
      if (tr) {
        const args: Record<string, unknown> = {};
        if (fd !== undefined) args.fd = fd;
        if (s.path !== undefined) args.path = s.path;
        // a C program's call names the source line it was made from
        const site = s.user ? undefined : currentProgramSite();
        if (site !== undefined) args.site = site;
        if (failed && error instanceof KernelError) args.errno = error.code;
        else if (!failed && (typeof result === 'number' || typeof result === 'bigint')) args.result = typeof result === 'bigint' ? result.toString() : result;
        tr.complete(tr.taskLane(p.pid, p.tid, p.group.leader.comm, p.comm), s.label, 'syscall', s.t0, this.clock.now - s.t0, Object.keys(args).length > 0 ? args : undefined);
      }
      if (failed && error instanceof ProcessUnwind) throw error;
      if (p.group.fatalSignal && !p.group.exiting) {
        await this.exitProcess(p, 128 + p.group.fatalSignal, p.group.fatalSignal);
        throw new ProcessUnwind(p.pid, 'killed');
      }
      if (p.group.exiting || p.group.generation !== gen || p.taskExited) throw new ProcessUnwind(p.pid, unwindReason(p, gen));
      if (!failed) {
        if (p.signals.nextDeliverable() !== 0) await this.deliverSignals(p, gen);
        return result as T;
      }
      resume = undefined;
      if (error instanceof AccessFault && error.fault.oom) await this.pagefaultOutOfMemory(p, name, error);
      if (error instanceof AccessFault) await this.forceFault(p, name, error);
      // a handler that throws leaves the call with its error instead (the stand-in for siglongjmp)
      let restart = false;
      try {
        restart = p.signals.nextDeliverable() !== 0 ? await this.deliverSignals(p, gen) : false;
      } finally {
        // sigsuspend's mask held while its handlers ran: the thread's own comes back now (restore_saved_sigmask)
        if (p.signals.restoreMask) {
          p.signals.blocked = p.signals.restoreMask;
          p.signals.restoreMask = null;
        }
      }
      if (error instanceof KernelError && error.restartSys) {
        // -ERESTARTSYS: after handlers that all have SA_RESTART the call runs again, as the kernel rewinds the syscall
        if (restart && !p.group.exiting && p.group.generation === gen && !p.taskExited) continue;
      }
      if (error instanceof KernelError) throw new SyscallError(name, error.code, error.message);
      throw error;
    }
  }

  /** The start of a call: counted in progress (its state is its entry in the thread's calls), with the fd and path it works on, and the CPU's mode. */
  private enterCall(p: Process, name: string, fd: number | undefined): CallState {
    p.inSyscall++;
    const cpu = p.cpu;
    // the fd's path as the call found it: a close removes it before the call ends
    const path = this.soc.tracer && fd !== undefined ? p.files.peek(fd)?.pathName() : undefined;
    // a user access (load/store) is the program's own work: no kernel entry, user time
    const user = name === 'load' || name === 'store';
    const call = takeCallState(p, name, fd, this.clock.now, cpu, path, user);
    p.calls.push(call);
    cpu.mode = user ? 'user' : 'sys';
    cpu.call = user ? '' : name;
    return call;
  }

  private leaveCall(p: Process, call: CallState): void {
    p.inSyscall--;
    // calls end in the order they began unless a program leaves one unawaited: the last is the one to look at first
    const i = p.calls.lastIndexOf(call);
    // pop, not splice, for the last: splice makes an array of what it removed, at every call
    if (i === p.calls.length - 1) p.calls.pop();
    else if (i >= 0) p.calls.splice(i, 1);
  }

  /**
   * A user access found no memory (VM_FAULT_OOM, pagefault_out_of_memory):
   * the OOM killer ends the process with SIGKILL, which no handler can
   * catch, and says so as an `oom` finding. unimem has no badness score:
   * the victim is always the faulting process.
   */
  private async pagefaultOutOfMemory(p: Process, name: string, error: AccessFault): Promise<never> {
    this.soc.findings.report('oom', name, `Out of memory: Killed process ${p.pid} (${p.comm}) at 0x${error.fault.addr.toString(16)}: ${error.fault.why}`);
    p.group.fatalSignal = SIGKILL;
    await this.exitProcess(p, 128 + SIGKILL, SIGKILL);
    throw new ProcessUnwind(p.pid, 'killed');
  }

  /**
   * A load or store faulted (force_sig_fault): a handler that is installed
   * and not blocked runs with the address in si_addr and the call then
   * rejects with the SegfaultError; blocked or ignored, the action is reset
   * to the default, which kills the process (128 + the signal).
   */
  private async forceFault(p: Process, name: string, error: AccessFault): Promise<never> {
    const sig = error.fault.signal === 'SIGBUS' ? SIGBUS : SIGSEGV;
    const fault = new SegfaultError(name, error.fault.signal, error.fault.addr, error.fault.why);
    const act = p.signals.action(sig);
    if (typeof act.handler === 'function' && !p.signals.blocked.has(sig)) {
      const code = sig === SIGBUS ? BUS_ADRERR : /not (writable|readable)/.test(error.fault.why) ? SEGV_ACCERR : SEGV_MAPERR;
      await this.runHandler(p, sig, act, { si_signo: sig, si_code: code, si_errno: 0, si_addr: error.fault.addr });
      throw fault;
    }
    p.signals.actions.delete(sig);
    p.group.fatalSignal = sig;
    p.group.fault = { call: name, addr: error.fault.addr, why: error.fault.why, stack: fault.stack ?? '', site: currentProgramSite() };
    await this.exitProcess(p, 128 + sig, sig);
    throw fault;
  }

  /**
   * Counts the references the process layer itself holds on each file: fd
   * table entries, mappings and messages in flight. With no kernel users,
   * each file's count equals its entry here.
   */
  accountedRefs(): Map<File, number> {
    const refs = new Map<File, number>();
    const add = (f: File) => refs.set(f, (refs.get(f) ?? 0) + 1);
    for (const p of this.processes.values()) {
      // an exiting process holds its files until its teardown takes its fd table and mappings (then both are empty)
      for (const fd of p.files.fds()) add(p.files.lookup(fd));
      for (const f of p.mm.mappedFiles()) add(f);
    }
    for (const f of this.sockets.filesInFlight()) add(f);
    return refs;
  }

  /** Closes files an fd table gave up: flush each, drop the reference, wait for releases that sleep. */
  private async closeFiles(p: Process, files: File[]): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const f of files) {
      try {
        const r = f.fOp.flush?.(f, p);
        if (r instanceof Promise) await r;
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
      }
      const rel = f.put();
      if (rel) pending.push(rel);
    }
    if (pending.length > 0) await Promise.allSettled(pending);
  }

  private reap(c: Process): void {
    if (c.group.state === 'reaped') return;
    c.group.state = 'reaped';
    this.processes.delete(c.pid);
    for (const t of c.group.tasks) if (this.tasks.get(t.tid) === t) this.tasks.delete(t.tid);
    c.parent?.children.delete(c);
  }

  /**
   * Runs a thread's function as a simulated thread on the Clock: its
   * return is the thread's exit (threadExit with that value); an uncaught
   * error ends the whole process with status 1, as main's does.
   */
  private startThread(t: Process, fn: ThreadFn): void {
    const gen = t.group.generation;
    const sys = new Sys(this, t, gen);
    this.sysOf.set(t, sys);
    void runAsCpuContext(t.cpu, () => this.clock.spawn(async () => {
      let value: unknown;
      try {
        value = await fn(sys);
      } catch (e) {
        if (t.group.generation !== gen || t.group.exiting || t.taskExited || e instanceof ProcessUnwind) return;
        t.group.uncaughtError = e;
        await this.exitProcess(t, 1, 0);
        if (e instanceof KernelBug) throw e;
        return;
      }
      if (t.group.generation !== gen || t.group.exiting || t.taskExited) return;
      await this.exitThread(t, value);
    }));
  }

  private startImage(p: Process, main: ProgramMain<Sys>, args: string[]): void {
    const gen = ++p.group.generation;
    const sys = new Sys(this, p, gen);
    this.sysOf.set(p, sys);
    void runAsCpuContext(p.cpu, () => this.clock.spawn(async () => {
      let status = 0;
      try {
        const r = await main(sys, args);
        status = typeof r === 'number' ? r : 0;
      } catch (e) {
        if (p.group.generation !== gen || p.group.exiting || p.taskExited || e instanceof ProcessUnwind) return;
        p.group.uncaughtError = e;
        status = 1;
        if (e instanceof KernelBug) {
          await this.exitProcess(p, status, 0);
          throw e;
        }
      }
      // main returning is exit_group, as glibc's start code calls exit with its value
      if (p.group.generation !== gen || p.group.exiting || p.taskExited) return;
      await this.exitProcess(p, status, 0);
    }));
  }
}

/** Why a `sys` of image `gen` no longer runs: its process exited or was killed, its thread ended, or exec replaced it. */
function unwindReason(p: Process, gen: number): 'exit' | 'exec' {
  return p.group.exiting || p.taskExited || p.group.generation === gen ? 'exit' : 'exec';
}

/** Writes a user word where the kernel ignores a failure (put_user in kernel_clone and mm_release). */
function putUserIgnoringFault(mm: AddressSpace, addr: number, bytes: Uint8Array): void {
  try {
    userStore(mm, addr, bytes);
  } catch (e) {
    if (!(e instanceof AccessFault)) throw e;
  }
}

/** Creates the process side of a kernel on a SoC (the proc layer's boot). */
export function createProcSystem(opts: ProcSystemOptions): ProcKernel {
  return new ProcKernel(opts);
}

/**
 * Starts a program as a process (fork + execve from the kernel), a simulated
 * thread on the SoC's Clock; run the clock to let it go. `creds` defaults to
 * root. The program starts with fds 0, 1 and 2 open (see SpawnOptions.stdio).
 */
export function spawnProcess(kernel: ProcKernel, main: ProgramMain<Sys>, args: string[] = [], creds?: Cred, opts: Omit<SpawnOptions, 'cred'> = {}): SpawnedProcess {
  return kernel.spawn(main, args, { ...opts, cred: creds });
}

/** A call's body threw `error` as quickSyscall called it. */
class CallThrew {
  constructor(readonly error: unknown) {}
}

/** A call's body not called: a fatal signal came first. */
const NOT_RUN: unique symbol = Symbol('not run');

/** Where syscallBody picks up a run quickSyscall started: with `fn` called, or with its result at the end of the body's CPU work. */
type CallResume<T> = { state: CallState; at: 'fn'; from: unknown } | { state: CallState; at: 'end'; value: T };

/** Whether `v` is something `await` would wait for. */
function isThenable(v: unknown): boolean {
  return (typeof v === 'object' || typeof v === 'function') && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
