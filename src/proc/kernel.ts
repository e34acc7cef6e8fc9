import { KernelBug, KernelError, SyscallError, kerr } from '../lib/index.ts';
import type { Clock, Soc } from '../hw/index.ts';
import { ROOT_CRED, ShmemFs, Vfs, waitEvent, type Cred, type File, type Inode, type SuperBlock } from '../fs/index.ts';
import type { Mm } from '../mm/index.ts';
import { BUS_ADRERR, CLD_EXITED, CLD_KILLED, SA_NOCLDWAIT, SA_NODEFER, SA_RESETHAND, SEGV_ACCERR, SEGV_MAPERR, SIGALRM, SIGBUS, SIGCHLD, SIGSEGV, SIGSTOP, SIG_IGN, SI_KERNEL, SI_USER } from '../uapi/index.ts';
import { AddressSpace } from './address-space.ts';
import { dupMmap } from './fork.ts';
import { exitMmap } from './mmap.ts';
import { AccessFault } from './vma.ts';
import { AnonMemory } from './anon-memory.ts';
import { ProcessUnwind, SegfaultError } from './errors.ts';
import { FdTable, NR_OPEN_DEFAULT } from './fdtable.ts';
import { Process, type ProgramMain } from './process.ts';
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
  /** The /proc root and /proc/self inodes, made on first lookup. */
  readonly procNodes = new Map<string, Inode>();
  /** Live and zombie processes by pid. */
  readonly processes = new Map<number, Process>();
  private nextPid = 1;

  constructor(opts: ProcSystemOptions) {
    this.soc = opts.soc;
    this.clock = opts.soc.clock;
    this.vfs = opts.vfs ?? new Vfs();
    this.sockets = new UnixSockets(this.vfs);
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
      new FdTable(opts.rlimitNofile ?? this.rlimitNofile),
      new AddressSpace(this.anon),
    );
    let stdio: Stdio | null = null;
    if (opts.stdio !== false) {
      stdio = new Stdio(opts.stdio ?? {});
      for (const f of stdio.files(this.vfs, this.pipefs, p.cred)) p.files.installLowest(f, false);
    }
    this.processes.set(p.pid, p);
    this.startImage(p, main, args);
    return { pid: p.pid, exitCode: p.exited, process: p, stdio };
  }

  /** Creates a child copying the parent's fds and mappings and starts `childMain` in it (fork). */
  fork(parent: Process, childMain: ProgramMain<Sys>): number {
    const c = new Process(this.nextPid++, parent, parent.cred, parent.comm, parent.files.copy(), dupMmap(parent.mm));
    c.signals = parent.signals.forkCopy();
    parent.children.add(c);
    this.processes.set(c.pid, c);
    this.startImage(c, childMain, []);
    return c.pid;
  }

  /**
   * Replaces the program (execve): closes close-on-exec fds, drops every
   * mapping, and starts `main` in the same process with the same pid and
   * remaining fds. The calling image is unwound with ProcessUnwind.
   */
  async exec(p: Process, main: ProgramMain<Sys>, args: string[]): Promise<never> {
    const closing = p.files.takeCloexec();
    exitMmap(p.mm);
    p.mm = new AddressSpace(this.anon);
    await this.closeFiles(p, closing);
    p.comm = main.name || p.comm;
    p.signals.resetForExec();
    this.startImage(p, main, args);
    throw new ProcessUnwind(p.pid, 'exec');
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
    const t = this.processes.get(pid);
    if (!Number.isInteger(pid) || pid <= 0 || !t || t.state === 'reaped') throw kerr('ESRCH', `no process ${pid}`);
    if (sender.cred.uid !== 0 && sender.cred.uid !== t.cred.uid) throw kerr('EPERM', `process ${pid} belongs to uid ${t.cred.uid}`);
    if (sig === 0 || t.state === 'zombie' || t.exiting) return;
    t.queueSignal(sig, { si_signo: sig, si_code: SI_USER, si_errno: 0, si_pid: sender.pid, si_uid: sender.cred.uid });
    // a process outside any system call dies now; one inside dies on its way out
    if (t.fatalSignal && t.inSyscall === 0) await this.exitProcess(t, 128 + t.fatalSignal, t.fatalSignal);
  }

  /**
   * Generates a signal from kernel context, outside the target's own calls
   * (a timer, a child's exit): like kill, a fatal one ends a process that
   * is not inside a system call at once.
   */
  postSignal(t: Process, sig: number, info: SigInfo): void {
    if (t.exiting || t.state !== 'running') return;
    t.queueSignal(sig, info);
    if (t.fatalSignal && t.inSyscall === 0) void this.clock.spawn(() => this.exitProcess(t, 128 + t.fatalSignal, t.fatalSignal));
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
    await waitEvent(p.signalWait, () => false, { task: p });
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
    await waitEvent(p.childWait, () => (found = [...p.children].find((c) => match(c) && c.state === 'zombie')) !== undefined || ![...p.children].some(match), { task: p });
    if (!found) throw kerr('ECHILD', `no child ${pid}`);
    const c = found;
    const r = { pid: c.pid, status: c.exitStatus!, signal: c.termSignal };
    this.reap(c);
    return r;
  }

  /**
   * Ends a process (do_exit): drops its mappings, closes its fds (waiting
   * for releases that sleep), collects unreachable sockets, reparents
   * children, then records the status and tells the parent.
   */
  async exitProcess(p: Process, status: number, signal: number): Promise<void> {
    if (p.exiting) return;
    p.exiting = true;
    p.generation++;
    p.signalWait.wakeUp();
    p.signals.exit();
    exitMmap(p.mm);
    await this.closeFiles(p, p.files.takeAll());
    this.sockets.gc();
    for (const c of p.children) {
      c.parent = null;
      if (c.state === 'zombie') this.reap(c);
    }
    p.children.clear();
    p.setExited(status & 0xff, signal);
    const parent = p.parent;
    if (parent && !parent.exiting) this.notifyParent(parent, p);
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
      const info = { si_signo: SIGCHLD, si_code: c.termSignal ? CLD_KILLED : CLD_EXITED, si_errno: 0, si_pid: c.pid, si_uid: c.cred.uid, si_status: c.termSignal || c.exitStatus! };
      this.postSignal(parent, SIGCHLD, info);
    }
    if (autoreap) this.reap(c);
    parent.childWait.wakeUp();
  }

  /**
   * Runs the handlers of the pending signals not blocked, lowest number
   * first, as the return to user mode does (get_signal + handle_signal).
   * A signal whose action became fatal meanwhile ends the process.
   */
  private async deliverSignals(p: Process, gen: number): Promise<void> {
    for (let sig = p.signals.nextDeliverable(); sig !== 0 && !p.exiting && p.generation === gen; sig = p.signals.nextDeliverable()) {
      const info = p.signals.pending.get(sig)!;
      p.signals.pending.delete(sig);
      const d = p.signals.disposition(sig);
      if (d === 'handle') await this.runHandler(p, sig, p.signals.action(sig), info);
      else if (d === 'fatal') {
        await this.exitProcess(p, 128 + sig, sig);
        throw new ProcessUnwind(p.pid, 'killed');
      }
    }
  }

  /**
   * Calls a handler (handle_signal + sigreturn): blocks its mask and, unless
   * SA_NODEFER, the signal itself while it runs; SA_RESETHAND puts SIG_DFL
   * back first. The old mask returns whether the handler returns or throws.
   */
  private async runHandler(p: Process, sig: number, act: SigAction, info: SigInfo): Promise<void> {
    const saved = p.signals.blocked;
    const blocked = new Set(saved);
    for (const m of act.mask) blocked.add(m);
    if (!(act.flags & SA_NODEFER)) blocked.add(sig);
    if (act.flags & SA_RESETHAND) p.signals.actions.delete(sig);
    p.signals.blocked = blocked;
    try {
      if (typeof act.handler === 'function') await act.handler(sig, info);
    } finally {
      p.signals.blocked = saved;
    }
  }

  /**
   * Runs one system call for `p` from image `gen`: a scheduling point on
   * entry, then `fn`; KernelErrors become SyscallErrors named `name`, an
   * access fault kills the process (SIGSEGV/SIGBUS) and rejects with a
   * SegfaultError, and a fatal signal that arrived meanwhile ends the
   * process and unwinds the program.
   */
  async syscall<T>(p: Process, gen: number, name: string, fn: () => T | Promise<T>, fd?: number): Promise<T> {
    if (p.generation !== gen || p.exiting) throw new ProcessUnwind(p.pid, p.exiting ? 'exit' : 'exec');
    // signals that came while the program ran outside the kernel are handled before the call
    if (p.signals.nextDeliverable() !== 0) {
      await this.deliverSignals(p, gen);
      if (p.generation !== gen || p.exiting) throw new ProcessUnwind(p.pid, p.exiting ? 'exit' : 'exec');
    }
    p.inSyscall++;
    const call = fd === undefined ? { name } : { name, fd };
    p.calls.add(call);
    const t0 = this.clock.now;
    let result: T | undefined;
    let error: unknown;
    let failed = false;
    try {
      if (p.fatalSignal === 0) {
        await this.clock.sleep(this.syscallNs);
        if (p.fatalSignal === 0) result = await fn();
      }
      // eslint-disable-next-line no-restricted-syntax -- the error is kept and rethrown (as a SyscallError when it is a KernelError) once the process state is settled
    } catch (e) {
      failed = true;
      error = e;
    } finally {
      p.inSyscall--;
      p.calls.delete(call);
    }
    const tr = this.soc.tracer;
    if (tr) {
      const err = failed && error instanceof KernelError ? { error: error.code } : undefined;
      tr.complete(tr.lane(`process ${p.pid}`, p.comm), name, 'syscall', t0, this.clock.now - t0, err);
    }
    if (failed && error instanceof ProcessUnwind) throw error;
    if (p.fatalSignal && !p.exiting) {
      await this.exitProcess(p, 128 + p.fatalSignal, p.fatalSignal);
      throw new ProcessUnwind(p.pid, 'killed');
    }
    if (p.exiting || p.generation !== gen) throw new ProcessUnwind(p.pid, p.exiting ? 'exit' : 'exec');
    if (failed && error instanceof AccessFault) await this.forceFault(p, name, error);
    // a handler that throws leaves the call with its error instead (the stand-in for siglongjmp)
    if (p.signals.nextDeliverable() !== 0) await this.deliverSignals(p, gen);
    if (!failed) return result as T;
    if (error instanceof KernelError) throw new SyscallError(name, error.code, error.message);
    throw error;
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
    p.fatalSignal = sig;
    p.fault = { call: name, addr: error.fault.addr, why: error.fault.why, stack: fault.stack ?? '' };
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
      if (p.exiting) continue;
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
    if (c.state === 'reaped') return;
    c.state = 'reaped';
    this.processes.delete(c.pid);
    c.parent?.children.delete(c);
  }

  private startImage(p: Process, main: ProgramMain<Sys>, args: string[]): void {
    const gen = ++p.generation;
    const sys = new Sys(this, p, gen);
    void this.clock.spawn(async () => {
      let status = 0;
      try {
        const r = await main(sys, args);
        status = typeof r === 'number' ? r : 0;
      } catch (e) {
        if (p.generation !== gen || p.exiting || e instanceof ProcessUnwind) return;
        p.uncaughtError = e;
        status = 1;
        if (e instanceof KernelBug) {
          await this.exitProcess(p, status, 0);
          throw e;
        }
      }
      if (p.generation !== gen || p.exiting) return;
      await this.exitProcess(p, status, 0);
    });
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
