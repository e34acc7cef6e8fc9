import { SyscallError, withProgramSite, type Errno, wakeablePromise } from '../lib/index.ts';
import { SegfaultError, type ProgramMain, type SigActionArg, type SigInfo, type SignalHandler, type Sys, type UserCpuAccess } from '../proc/index.ts';
import { CLONE_THREAD_FLAGS, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MSG_NOSIGNAL, O_CLOEXEC, O_NONBLOCK, PROT_READ, PROT_WRITE, SCM_RIGHTS, SOL_SOCKET, S_IFCHR, S_IFDIR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK, SA_SIGINFO, SIGABRT, SIGBUS, SIGSEGV, SIG_DFL, SIG_IGN } from '../uapi/index.ts';
import { C_GLOBAL_BASE } from './c-build.ts';
import { wasmSourceLines, type WasmFrame, type WasmSourceLines } from './wasm-source-site.ts';

/*
 * A C program built by c-build.ts, run as a unimem process. Its memory IS
 * the process's memory: wasm address A is user address A. At start an
 * anonymous private mapping covers the wasm memory from C_GLOBAL_BASE (64
 * KiB, mmap_min_addr) to its end and receives the data segments (as the
 * ELF loader fills .data); each growth of the program break (the shim's
 * sbrk) grows the wasm memory and maps the new pages after it. Every load
 * and store of the program is a hook call (binaryen's instrument-memory)
 * that this host carries out through the process's page tables and the
 * CPU cache (Sys.userCpuAccess), so there is exactly one copy of every
 * byte: the simulated pages. No sync at system-call boundaries is needed,
 * a pointer the program passes to the kernel is a user address the kernel
 * copies from or to (copy_from_user / copy_to_user), and a store into a
 * mapped dma-buf lands in the cache like a TypeScript program's.
 *
 * The wasm linear memory itself holds no program data after the start:
 * a load hook writes the loaded bytes at the instruction's static offset
 * and returns 0 as the pointer, so the instruction reads them back from
 * there; a store hook returns 0 too, and the store lands in that scratch
 * space, harmlessly. Its first 64 KiB (never mapped in the process) also
 * hold asyncify's save area: while a system call waits, the wasm stack is
 * unwound into it, and rewound when the call's promise settles.
 *
 * A program's pthreads (c/pthread.c) are threads of the process (clone
 * with CLONE_THREAD), each with its own stack in the process's memory,
 * sharing the one instance. JavaScript runs one of them at a time: a
 * thread is inside the instance until a system call waits, and the
 * call's unwind lets another thread in (asyncify's coroutines). What is
 * a thread's own while it is out is kept with it: its stack pointer,
 * errno, the stores its unwound stack owes and, once another thread needs
 * the save area, a copy of its unwound stack.
 *
 * A signal handler (c/signal.c) runs on the thread the kernel delivers to,
 * which is then unwound in a system call (the kernel delivers at a call's
 * return, or a fault's replay): the kernel calls the host's handler with
 * that thread's Sys, and the host enters the C handler like one more
 * thread, on the interrupted thread's stack below its stack pointer, so
 * the handler may wait in calls of its own while the interrupted one
 * waits for it.
 *
 * A program is a 32-bit process (Sys.setCompat32): mmap returns addresses
 * below 4 GiB and the ioctls whose structs hold pointers or size_t take
 * their 32-bit layouts.
 */

/** asyncify's save area in the wasm memory (below C_GLOBAL_BASE, never a user address). */
const ASYNC_DATA = 0x1000;
const ASYNC_DATA_END = C_GLOBAL_BASE;
const WASM_PAGE = 65536;

/** WASI's errno numbers (wasi-libc's errno values), by Linux name; EIO for any it lacks. */
const WASI_ERRNO_NAMES =
  'ESUCCESS E2BIG EACCES EADDRINUSE EADDRNOTAVAIL EAFNOSUPPORT EAGAIN EALREADY EBADF EBADMSG EBUSY ECANCELED ECHILD ECONNABORTED ECONNREFUSED ECONNRESET EDEADLK EDESTADDRREQ EDOM EDQUOT EEXIST EFAULT EFBIG EHOSTUNREACH EIDRM EILSEQ EINPROGRESS EINTR EINVAL EIO EISCONN EISDIR ELOOP EMFILE EMLINK EMSGSIZE EMULTIHOP ENAMETOOLONG ENETDOWN ENETRESET ENETUNREACH ENFILE ENOBUFS ENODEV ENOENT ENOEXEC ENOLCK ENOLINK ENOMEM ENOMSG ENOPROTOOPT ENOSPC ENOSYS ENOTCONN ENOTDIR ENOTEMPTY ENOTRECOVERABLE ENOTSOCK ENOTSUP ENOTTY ENXIO EOVERFLOW EOWNERDEAD EPERM EPIPE EPROTO EPROTONOSUPPORT EPROTOTYPE ERANGE EROFS ESPIPE ESRCH ESTALE ETIMEDOUT ETXTBSY EXDEV ENOTCAPABLE'.split(' ');
const WASI_ERRNO = new Map(WASI_ERRNO_NAMES.map((n, i) => [n, i]));
const EAGAIN = WASI_ERRNO.get('EAGAIN')!;

/** The errno a C program sees for a kernel error code (wasi-libc numbers them its own way). */
function wasiErrno(code: Errno | string): number {
  if (code === 'EWOULDBLOCK') return EAGAIN;
  if (code === 'EOPNOTSUPP') return WASI_ERRNO.get('ENOTSUP')!;
  return WASI_ERRNO.get(code) ?? WASI_ERRNO.get('EIO')!;
}

/** The program called exit (proc_exit): unwinds the wasm stack to the runner. */
class WasmExit {
  constructor(readonly code: number) {}
}

/** A load or store of the program faulted: the runner replays it through the kernel, which delivers SIGSEGV or SIGBUS. */
class WasmFault {
  constructor(
    readonly addr: number,
    readonly len: number,
    readonly bytes: Uint8Array | null,
    readonly cause: unknown,
    /** The program's frames at the access (a C line for the signal's report), when the module has lines. */
    readonly frames: (() => WasmFrame[]) | undefined,
  ) {}
}

/** The thread called pthread_exit: unwinds its wasm stack to its runner, which ends the thread. */
class WasmThreadExit {}

/** What ends a thread's run in the instance for the runner to follow (exit, pthread_exit, a fault, a trap). */
function ending(e: unknown): boolean {
  return e instanceof WasmExit || e instanceof WasmThreadExit || e instanceof WasmFault || e instanceof WebAssembly.RuntimeError;
}

/** What C programs cannot do yet: a clear error in place of a crash. */
export class CUnsupported extends Error {
  constructor(what: string) {
    super(`a C program cannot ${what} in unimem yet`);
    this.name = 'CUnsupported';
  }
}

type AsyncResult = number | bigint;

/** C's SIG_IGN (unimem's <signal.h>): a value no table index reaches, since wasm-ld gives a function Linux's 1. */
const C_SIG_IGN = 0xfffffffe;

/**
 * The innermost context of each thread of every running C program, by the
 * Sys of its task: where a handler the kernel calls with that Sys runs (a
 * forked child inherits its parent's handler functions and finds its own
 * threads here).
 */
const contexts = new WeakMap<Sys, { proc: WasmProcess; thread: WasmThread }>();

/** The C function (table index) behind each handler function registered with the kernel. */
const cHandlerIndex = new WeakMap<SignalHandler, number>();

/** The kernel's handler for C function `index`: runs it on the interrupted thread's stack (SA_SIGINFO: with siginfo and ucontext). */
function cHandler(index: number, siginfo: boolean): SignalHandler {
  const h: SignalHandler = async (sig: number, info: SigInfo, sys: Sys) => {
    const c = contexts.get(sys);
    if (!c) throw new CUnsupported(`run a signal handler outside the threads of its program`);
    await c.proc.runSignalHandler(c.thread, index, siginfo, sig, info);
  };
  cHandlerIndex.set(h, index);
  return h;
}

/** A 64-bit kernel signal mask (bit sig-1, two little-endian words) as a list of signals. */
function maskSignals(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < 64; b++) if (((b < 32 ? lo : hi) >>> b % 32) & 1) out.push(b + 1);
  return out;
}

/** A list of signals as a 64-bit kernel mask's two words. */
function signalMask(sigs: readonly number[]): [number, number] {
  let lo = 0;
  let hi = 0;
  for (const s of sigs) {
    if (s <= 32) lo |= 1 << (s - 1);
    else hi |= 1 << (s - 33);
  }
  return [lo >>> 0, hi >>> 0];
}

/**
 * The value hooks of loads (load_val_i32/i64/f32/f64: the loaded value
 * passes through, since the load hook already made it) as wasm functions,
 * so a load costs the program one call into JavaScript, not two. A module
 * of four functions `(id, v) => v`.
 */
const LOAD_VAL_MODULE = new WebAssembly.Module(
  new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    // types: (i32, T) -> T for T = i32, i64, f32, f64
    ...[0x01, 25, 4, 0x60, 2, 0x7f, 0x7f, 1, 0x7f, 0x60, 2, 0x7f, 0x7e, 1, 0x7e, 0x60, 2, 0x7f, 0x7d, 1, 0x7d, 0x60, 2, 0x7f, 0x7c, 1, 0x7c],
    ...[0x03, 5, 4, 0, 1, 2, 3],
    ...[0x07, 25, 4, ...(['i32', 'i64', 'f32', 'f64'] as const).flatMap((n, i) => [3, ...[...n].map((c) => c.charCodeAt(0)), 0, i])],
    // bodies: local.get 1
    ...[0x0a, 21, 4, ...[0, 1, 2, 3].flatMap(() => [4, 0, 0x20, 1, 0x0b])],
  ]),
);
const loadVal = new WebAssembly.Instance(LOAD_VAL_MODULE).exports;

/** A module section: its id and its bytes, prefixed by their count (every section here is under 128 bytes). */
function section(id: number, bytes: number[]): number[] {
  return [id, bytes.length, ...bytes];
}

/**
 * The value hooks of stores (store_val_i32/i64/f32/f64) as wasm functions
 * `(id, v) => { store v at 0 of this module's memory; storeWord(); return v }`:
 * the value reaches the host as bytes in that memory, with no BigInt made
 * for an i64 and no DataView call. One instance per process, whose
 * `storeWord` import finishes the store.
 */
const STORE_VAL_MODULE = new WebAssembly.Module(
  new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    // types: () -> (), then (i32, T) -> T for T = i32, i64, f32, f64
    ...section(1, [5, 0x60, 0, 0, ...[0x7f, 0x7e, 0x7d, 0x7c].flatMap((t) => [0x60, 2, 0x7f, t, 1, t])]),
    // import h.storeWord: () -> ()
    ...section(2, [1, 1, 0x68, 9, ...[...'storeWord'].map((c) => c.charCodeAt(0)), 0x00, 0]),
    ...section(3, [4, 1, 2, 3, 4]),
    // one page of memory, the word at 0
    ...section(5, [1, 0x00, 1]),
    ...section(7, [
      5,
      ...(['i32', 'i64', 'f32', 'f64'] as const).flatMap((n, i) => [3, ...[...n].map((c) => c.charCodeAt(0)), 0x00, i + 1]),
      6,
      ...[...'memory'].map((c) => c.charCodeAt(0)),
      0x02,
      0,
    ]),
    // bodies: i32.const 0; local.get 1; T.store (natural alignment); call storeWord; local.get 1
    ...section(10, [
      4,
      ...[
        [0x36, 2],
        [0x37, 3],
        [0x38, 2],
        [0x39, 3],
      ].flatMap(([op, align]) => [13, 0, 0x41, 0, 0x20, 1, op!, align!, 0, 0x10, 0, 0x20, 1, 0x0b]),
    ]),
  ]),
);

/**
 * Makes a process's program out of a built C module (the exec of its
 * binary): `main(sys, args)` maps its memory into the process, runs
 * `_start` and returns its exit status. The module is instantiated
 * synchronously inside the process, because awaiting an instantiation
 * would let the simulated clock run on without the program.
 */
export function wasmProgram(module: WebAssembly.Module, argv0: string): ProgramMain<Sys> {
  const lines = wasmSourceLines(module);
  return async (sys: Sys, args: string[]) => new WasmProcess(sys, module, [argv0, ...args], lines).run();
}

/**
 * What a forked child takes of the parent's program besides the memory the
 * kernel copied: the unwound wasm stack (asyncify's save area), the stack
 * pointer, the memory's size and the stores whose value had not come yet.
 */
interface ForkState {
  /** the forking thread's pthread (0 for the main thread): the child's only thread, which rewinds into the entry it was in */
  self: number;
  asyncData: Uint8Array;
  stackPointer: number;
  memoryBytes: number;
  storeAddr: Float64Array;
  storeLen: Uint8Array;
  storeTop: number;
}

/** One thread of the program (the main thread or a pthread) and what is its own while another runs in the instance. */
interface WasmThread {
  sys: Sys;
  /** its struct __pthread, 0 for the main thread */
  self: number;
  /** the export it runs in: _start, or unimem_thread_entry(self) */
  enter: () => void;
  stackPointer: number;
  errno: number;
  /** the stores its unwound stack owes their values (see storeAddr) */
  storeAddr: Float64Array | null;
  storeLen: Uint8Array | null;
  storeTop: number;
  /** its unwound stack, copied out of the save area when another thread entered: `savedLen` bytes of `saved` (kept for the next time) */
  saved: Uint8Array | null;
  savedLen: number;
  /** the result its waiting call returns on the rewind */
  result: AsyncResult;
  /** for a signal handler's context: the context it interrupted, on whose stack it runs */
  interrupted: WasmThread | null;
}

/** One running instance of a C program in its process. */
class WasmProcess {
  private readonly sys: Sys;
  private readonly cpu: UserCpuAccess;
  private readonly argv: string[];
  private readonly instance: WebAssembly.Instance;
  private readonly memory: WebAssembly.Memory;
  private mem8: Uint8Array<ArrayBuffer>;
  private memView: DataView;
  /** The end of the part of the wasm memory mapped in the process. */
  private mappedEnd = C_GLOBAL_BASE;
  // the call in progress while the wasm stack is unwound, and its result on the rewind
  private pending: (() => Promise<AsyncResult>) | null = null;
  private pendingExclusive = false;
  private rewinding = false;
  private result: AsyncResult = 0;
  /** The thread inside the instance, or the last one that was. */
  private cur!: WasmThread;
  /** The thread whose unwound stack is in the save area. */
  private areaOwner: WasmThread | null = null;
  /** While a call that must not be interleaved waits (the program break inside malloc), no other thread enters. */
  private exclusive: Promise<void> | null = null;
  /** The thread whose call holds `exclusive`: a handler interrupting it runs inside that call. */
  private exclusiveHolder: WasmThread | null = null;
  /** errno's address (wasi-libc's is one variable), 0 in a module built before threads; -1 until the first switch asks. */
  private errnoAddr = -1;
  // one 8-byte word for the hooks' values (at 0 of the store hooks' memory), with views of each access size
  private wordView!: DataView;
  private readonly wordBytes: Uint8Array<ArrayBuffer>[] = [];
  // the stores whose value hook has not come yet (a store's value expression may hold other stores)
  private readonly storeAddr = new Float64Array(256);
  private readonly storeLen = new Uint8Array(256);
  private storeTop = 0;
  private readonly exports: {
    _start: () => void;
    asyncify_start_unwind: (p: number) => void;
    asyncify_stop_unwind: () => void;
    asyncify_start_rewind: (p: number) => void;
    asyncify_stop_rewind: () => void;
    unimem_thread_entry?: (self: number) => void;
    unimem_errno_location?: () => number;
    unimem_signal_entry?: (...a: number[]) => void;
  };

  private readonly module: WebAssembly.Module;
  private readonly forked: ForkState | undefined;
  /** The module's C source lines, when it carries a source map: what a finding's site names. */
  private readonly lines: WasmSourceLines | undefined;
  /** The site of a finding a load or store hook raises: the C line on the stack now. */
  private readonly hookSite: () => string | undefined;

  constructor(sys: Sys, module: WebAssembly.Module, argv: string[], lines: WasmSourceLines | undefined, forked?: ForkState) {
    this.sys = sys;
    this.module = module;
    this.forked = forked;
    this.lines = lines;
    this.hookSite = () => lines?.siteOf(lines.framesNow());
    this.cpu = sys.userCpuAccess();
    this.argv = argv;
    this.instance = new WebAssembly.Instance(module, this.imports());
    const ex = this.instance.exports as Record<string, unknown>;
    for (const n of ['_start', 'asyncify_start_unwind', 'asyncify_stop_unwind', 'asyncify_start_rewind', 'asyncify_stop_rewind']) {
      if (typeof ex[n] !== 'function') throw new CUnsupported(`run a module without a ${n} export (build it with \`unimem cc\`)`);
    }
    if (!(ex.memory instanceof WebAssembly.Memory)) throw new CUnsupported('run a module that does not export its memory');
    this.exports = ex as unknown as WasmProcess['exports'];
    this.memory = ex.memory;
    this.mem8 = new Uint8Array(this.memory.buffer);
    this.memView = new DataView(this.memory.buffer);
  }

  /** The stack pointer global (exported by `unimem cc` builds, which threads and fork need). */
  private stackPointerGlobal(what: string): WebAssembly.Global {
    const sp = this.instance.exports.__stack_pointer;
    if (!(sp instanceof WebAssembly.Global)) throw new CUnsupported(`${what} in a module that does not export __stack_pointer (build it again with \`unimem cc\`)`);
    return sp;
  }

  private newThread(sys: Sys, self: number, stackPointer: number): WasmThread {
    const entry = this.exports.unimem_thread_entry;
    const enter = self === 0 ? () => this.exports._start() : () => entry!(self);
    return { sys, self, enter, stackPointer, errno: 0, storeAddr: null, storeLen: null, storeTop: 0, saved: null, savedLen: 0, result: 0, interrupted: null };
  }

  /** Maps the memory, loads the data, runs _start to its end or exit, and returns the exit status. */
  async run(): Promise<number> {
    let main: WasmThread;
    if (this.forked) main = this.resumeForked(this.forked);
    else {
      await this.sys.setCompat32();
      const image = this.mem8.slice(C_GLOBAL_BASE);
      await this.mapTo(this.sys, this.mem8.length);
      this.loadImage(image);
      const sp = this.instance.exports.__stack_pointer;
      main = this.newThread(this.sys, 0, sp instanceof WebAssembly.Global ? (sp.value as number) : 0);
    }
    this.cur = main;
    contexts.set(this.sys, { proc: this, thread: main });
    // the hooks now go to the process's memory; the wasm memory is scratch space
    try {
      await this.runThread(main, this.forked !== undefined);
      return 0;
    } catch (e) {
      if (e instanceof WasmThreadExit) return this.sys.threadExit();
      if (!ending(e)) throw e;
      return this.ended(main, e);
    }
  }

  /**
   * What ends a thread's run in the instance, followed to the exit status:
   * exit, a fault (replayed through the kernel, whose handler may itself
   * exit or fault), a trap. Anything else goes on to the kernel.
   */
  private async ended(t: WasmThread, first: unknown): Promise<number> {
    let e = first;
    for (;;) {
      if (e instanceof WasmExit) return e.code;
      if (!ending(e)) throw e;
      const step = e instanceof WasmThreadExit ? t.sys.threadExit() : e instanceof WasmFault ? this.faulted(t, e) : this.trapped(t.sys, e as WebAssembly.RuntimeError);
      // each step ends by throwing: the kernel's unwind, or what a signal handler it ran threw
      const next: unknown = await step.then(
        () => e,
        (x: unknown) => x,
      );
      if (next === e) throw e;
      e = next;
    }
  }

  /** A pthread's task: runs its start routine in the instance until it returns or calls pthread_exit; exit() in it ends the process. */
  private async runPthread(t: WasmThread): Promise<void> {
    contexts.set(t.sys, { proc: this, thread: t });
    try {
      await this.runThread(t, false);
    } catch (e) {
      if (e instanceof WasmThreadExit) return;
      if (!ending(e)) throw e;
      await t.sys.exit(await this.ended(t, e));
    }
  }

  /**
   * Runs a thread in the instance until its entry returns: each time it
   * unwinds for a call that waits, the call runs with the instance free
   * for the other threads, and the thread rewinds into it afterwards.
   */
  private async runThread(t: WasmThread, rewinding: boolean): Promise<void> {
    for (;;) {
      while (this.exclusive && !this.interrupts(t, this.exclusiveHolder)) await this.exclusive;
      this.switchTo(t, rewinding);
      if (this.lines) this.cpu.run(() => withProgramSite(this.hookSite, t.enter));
      else this.cpu.run(t.enter);
      if (!this.pending) return;
      this.exports.asyncify_stop_unwind();
      this.unwound(t);
      // the call starts once the wasm stack is unwound, outside the program's stretch
      const start = this.pending;
      const exclusive = this.pendingExclusive;
      this.pending = null;
      this.pendingExclusive = false;
      let release = (): void => {};
      if (exclusive) {
        this.exclusive = wakeablePromise<void>((r) => (release = r));
        this.exclusiveHolder = t;
      }
      try {
        t.result = await start();
      } finally {
        if (exclusive) {
          this.exclusive = null;
          this.exclusiveHolder = null;
          release();
        }
      }
      this.cpu.flush();
      rewinding = true;
    }
  }

  /**
   * Makes `t` the thread inside the instance: the unwound stack of another
   * thread in the save area is copied out first (any code the entering
   * thread runs may write over it), then `t`'s stack pointer, owed stores
   * and errno go in, and its own unwound stack when it rewinds.
   */
  private switchTo(t: WasmThread, rewinding: boolean): void {
    const owner = this.areaOwner;
    if (owner && owner !== t) {
      const used = this.mem8.subarray(ASYNC_DATA, this.memView.getInt32(ASYNC_DATA, true));
      if (!owner.saved || owner.saved.length < used.length) owner.saved = new Uint8Array(Math.max(used.length, 1024));
      owner.saved.set(used);
      owner.savedLen = used.length;
      this.areaOwner = null;
    }
    if (this.cur !== t) {
      if (this.errnoAddr < 0) {
        const where = this.exports.unimem_errno_location;
        this.errnoAddr = where ? this.cpu.run(() => where()) : 0;
      }
      if (this.errnoAddr) {
        const e = this.wordBytes[4]!;
        this.cpu.load(this.errnoAddr, e);
        this.cur.errno = this.wordView.getInt32(0, true);
        this.wordView.setInt32(0, t.errno, true);
        this.cpu.store(this.errnoAddr, e);
      }
      this.cur = t;
      // a thread's stack pointer is its own; with one thread the global already holds it
      this.stackPointerGlobal('run threads').value = t.stackPointer;
    }
    this.storeTop = t.storeTop;
    if (t.storeTop > 0) {
      this.storeAddr.set(t.storeAddr!);
      this.storeLen.set(t.storeLen!);
    }
    if (!rewinding) return;
    if (t.savedLen > 0) {
      this.mem8.set(t.saved!.subarray(0, t.savedLen), ASYNC_DATA);
      t.savedLen = 0;
    }
    this.areaOwner = null;
    this.result = t.result;
    this.rewinding = true;
    this.exports.asyncify_start_rewind(ASYNC_DATA);
  }

  /** What `t` keeps of the instance's state once its stack is unwound into the save area. */
  private unwound(t: WasmThread): void {
    const sp = this.instance.exports.__stack_pointer;
    if (sp instanceof WebAssembly.Global) t.stackPointer = sp.value as number;
    t.storeTop = this.storeTop;
    if (this.storeTop > 0) {
      t.storeAddr = this.storeAddr.slice(0, this.storeTop);
      t.storeLen = this.storeLen.slice(0, this.storeTop);
    }
    this.areaOwner = t;
  }

  /**
   * A forked child: the kernel copied the process's memory and mappings;
   * the wasm side takes the forking thread's stack and the memory's size,
   * then rewinds into the fork call, which returns 0 here. The child has
   * that one thread, as on Linux.
   */
  private resumeForked(f: ForkState): WasmThread {
    const grow = f.memoryBytes / WASM_PAGE - this.memory.buffer.byteLength / WASM_PAGE;
    if (grow > 0) this.memory.grow(grow);
    this.refreshViews();
    this.mappedEnd = f.memoryBytes;
    this.mem8.set(f.asyncData, ASYNC_DATA);
    const t = this.newThread(this.sys, f.self, f.stackPointer);
    t.storeAddr = f.storeAddr;
    t.storeLen = f.storeLen;
    t.storeTop = f.storeTop;
    this.stackPointerGlobal('fork').value = f.stackPointer;
    this.areaOwner = t;
    t.result = 0;
    return t;
  }

  /** The forking thread's side of fork, taken once its wasm stack is unwound into the save area. */
  private forkState(t: WasmThread): ForkState {
    this.stackPointerGlobal('fork');
    return {
      self: t.self,
      asyncData: this.mem8.slice(ASYNC_DATA, ASYNC_DATA_END),
      stackPointer: t.stackPointer,
      memoryBytes: this.memory.buffer.byteLength,
      storeAddr: t.storeAddr ?? new Float64Array(0),
      storeLen: t.storeLen ?? new Uint8Array(0),
      storeTop: t.storeTop,
    };
  }

  /** Maps the wasm memory up to `end` into the process (anonymous, private, read-write): the program's data, stack and heap. */
  private async mapTo(sys: Sys, end: number): Promise<void> {
    if (end <= this.mappedEnd) return;
    await sys.mmap(this.mappedEnd, end - this.mappedEnd, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    this.mappedEnd = end;
  }

  /** Stores the pages of the initial image that are not zero (the loader filling .data; .bss stays untouched, zero on first touch). */
  private loadImage(image: Uint8Array): void {
    const words = new Uint32Array(image.buffer, image.byteOffset, image.length >> 2);
    for (let page = 0; page < image.length; page += 4096) {
      let nonzero = false;
      for (let w = page >> 2; w < (page + 4096) >> 2 && !nonzero; w++) nonzero = words[w] !== 0;
      if (nonzero) this.cpu.store(C_GLOBAL_BASE + page, image.subarray(page, page + 4096));
    }
  }

  /** A load or store faulted: the same access through the kernel's entry, which delivers the signal (and kills the process unless it is handled). */
  private async replayFault(sys: Sys, f: WasmFault): Promise<number> {
    const lines = this.lines;
    const frames = f.frames;
    const replay = () => (f.bytes ? sys.store(f.addr, f.bytes) : sys.load(f.addr, f.len));
    await (lines && frames ? withProgramSite(() => lines.siteOf(frames()), replay) : replay());
    // the replay went through: what failed was no access fault
    throw f.cause;
  }

  /**
   * A load or store of `t` faulted: the replay through the kernel runs the
   * SIGSEGV/SIGBUS handler, its frame below the one the fault left. Linux
   * would retry the access once the handler returns; unimem cannot, since
   * the fault threw through the wasm stack: the retry under the default
   * action ends the process as the same fault would again.
   */
  private async faulted(t: WasmThread, f: WasmFault): Promise<never> {
    const sp = this.instance.exports.__stack_pointer;
    if (sp instanceof WebAssembly.Global) t.stackPointer = sp.value as number;
    try {
      await this.replayFault(t.sys, f);
    } catch (e) {
      if (!(e instanceof SegfaultError)) throw e;
      await t.sys.sigaction(e.signal === 'SIGBUS' ? SIGBUS : SIGSEGV, { handler: SIG_DFL });
      await this.replayFault(t.sys, f);
    }
    throw new CUnsupported('go on with an access its SIGSEGV handler made valid');
  }

  /** Whether `t` is `other` or a signal handler's context running on top of it. */
  private interrupts(t: WasmThread, other: WasmThread | null): boolean {
    for (let c: WasmThread | null = t; c; c = c.interrupted) if (c === other) return true;
    return false;
  }

  /**
   * Runs C handler `fn` for `sig` on thread context `t` (handle_signal
   * with the frame on the user stack): a context of its own below t's
   * stack pointer, entered like a thread, so its system calls may wait
   * and unwind it while t stays unwound in its own call. What it throws
   * (exit, a trap) leaves through the kernel into t's call; a fault in it
   * is delivered while the handler's mask still holds, so a fault in a
   * SIGSEGV handler kills the process as on Linux.
   */
  async runSignalHandler(t: WasmThread, fn: number, siginfo: boolean, sig: number, info: SigInfo): Promise<void> {
    const entry = this.exports.unimem_signal_entry;
    if (!entry) throw new CUnsupported('run a signal handler in a module built before signals (build it again with `unimem cc`)');
    // the C stack grows down: the handler's frame goes below the interrupted one, 16-byte aligned
    const h = this.newThread(t.sys, t.self, ((t.stackPointer >>> 0) - 128) & ~15);
    h.interrupted = t;
    h.errno = t.errno;
    const fault = info.si_addr !== undefined;
    const args = [fn, sig, siginfo ? 1 : 0, info.si_code, info.si_errno, info.si_pid ?? 0, info.si_uid ?? 0, info.si_status ?? 0, (info.si_addr ?? 0) >>> 0, fault ? 1 : 0];
    h.enter = () => entry(...args);
    contexts.set(t.sys, { proc: this, thread: h });
    try {
      await this.runThread(h, false);
    } catch (e) {
      if (e instanceof WasmFault) await this.faulted(h, e);
      throw e;
    } finally {
      contexts.set(t.sys, { proc: this, thread: t });
    }
  }

  /** The module trapped (abort(), __builtin_trap, an out-of-bounds scratch access): SIGABRT as abort raises it. */
  private async trapped(sys: Sys, e: WebAssembly.RuntimeError): Promise<number> {
    const pid = await sys.getpid();
    await sys.kill(pid, SIGABRT);
    // a SIGABRT handler ran and returned: abort() puts the default action back and raises it again
    await sys.sigaction(SIGABRT, { handler: SIG_DFL });
    await sys.kill(pid, SIGABRT);
    throw e;
  }

  /** Views of the wasm memory after it grew (its ArrayBuffer is replaced). */
  private refreshViews(): void {
    this.mem8 = new Uint8Array(this.memory.buffer);
    this.memView = new DataView(this.memory.buffer);
  }

  /**
   * An import that is a system call: the first call starts it and unwinds
   * the wasm stack (the runner awaits it); the call made again by the
   * rewind returns its result. A kernel error becomes `onError(code)`.
   * `fn` gets the calling thread's Sys. An `exclusive` call keeps the
   * other threads out of the instance until it returns.
   */
  private syscall<A extends unknown[]>(fn: (sys: Sys, ...a: A) => Promise<AsyncResult>, onError: (errno: number) => AsyncResult, exclusive = false): (...a: A) => AsyncResult {
    return (...a: A) => {
      if (this.rewinding) {
        this.rewinding = false;
        this.exports.asyncify_stop_rewind();
        return this.result;
      }
      // the call may change any mapping: the translations the program's accesses kept go
      this.cpu.flush();
      const sys = this.cur.sys;
      this.pendingExclusive = exclusive;
      const call = () =>
        fn(sys, ...a).catch((e: unknown) => {
          if (e instanceof SyscallError) return onError(wasiErrno(e.code));
          throw e;
        });
      const lines = this.lines;
      if (lines) {
        // the wasm frames are on the stack only now, before the unwind: kept unformatted, read if a finding needs its site
        const frames = lines.framesHere();
        this.pending = () => withProgramSite(() => lines.siteOf(frames()), call);
      } else this.pending = call;
      this.memView.setInt32(ASYNC_DATA, ASYNC_DATA + 8, true);
      this.memView.setInt32(ASYNC_DATA + 4, ASYNC_DATA_END, true);
      this.exports.asyncify_start_unwind(ASYNC_DATA);
      return 0;
    };
  }

  /** A Linux-style call: the value, or -errno. */
  private linux<A extends unknown[]>(fn: (sys: Sys, ...a: A) => Promise<AsyncResult>, exclusive = false): (...a: A) => AsyncResult {
    return this.syscall(fn, (errno) => -errno, exclusive);
  }

  /** A WASI call: 0 or the errno. */
  private wasi<A extends unknown[]>(fn: (sys: Sys, ...a: A) => Promise<void>): (...a: A) => AsyncResult {
    return this.syscall(async (sys: Sys, ...a: A) => {
      await fn(sys, ...a);
      return 0;
    }, (errno) => errno);
  }

  /** Reads user memory for the host's own use (the shim's arguments: iovecs, paths), as copy_from_user does. */
  private userRead(addr: number, len: number): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(len);
    if (len > 0) this.cpu.load(addr >>> 0, out);
    return out;
  }

  private userWrite(addr: number, bytes: Uint8Array): void {
    if (bytes.length > 0) this.cpu.store(addr >>> 0, bytes);
  }

  private userU32(addr: number, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.userWrite(addr, b);
  }

  private userU64(addr: number, v: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
    this.userWrite(addr, b);
  }

  /** A NUL-terminated string at a user address (strncpy_from_user, PATH_MAX). */
  private userString(addr: number): string {
    const parts: number[] = [];
    for (let a = addr >>> 0; parts.length < 4096; a += 64 - (a % 64)) {
      const chunk = this.userRead(a, 64 - (a % 64));
      const nul = chunk.indexOf(0);
      for (const b of nul < 0 ? chunk : chunk.subarray(0, nul)) parts.push(b);
      if (nul >= 0) break;
    }
    return new TextDecoder().decode(new Uint8Array(parts));
  }

  /** The iovecs at `iovs` (struct iovec: u32 base, u32 len). */
  private iovecs(iovs: number, n: number): [number, number][] {
    const raw = this.userRead(iovs, n * 8);
    const dv = new DataView(raw.buffer);
    return Array.from({ length: n }, (_, i) => [dv.getUint32(i * 8, true), dv.getUint32(i * 8 + 4, true)] as [number, number]);
  }

  private imports(): WebAssembly.Imports {
    const bytesOf = this.wordBytes;
    const load = (_id: number, bytes: number, offset: number, ptr: number): number => {
      const addr = (ptr >>> 0) + (offset >>> 0);
      // a memory the module grew itself: its old buffer is detached, of length 0
      if (this.mem8.length === 0) this.refreshViews();
      // straight to where the instruction reads (a fault replays the load, so bytes left there do not matter)
      try {
        this.cpu.load(addr, this.mem8, offset >>> 0, bytes);
      } catch (e) {
        throw new WasmFault(addr, bytes, null, e, this.lines?.framesHere());
      }
      return 0;
    };
    const storePtr = (_id: number, bytes: number, offset: number, ptr: number): number => {
      this.storeAddr[this.storeTop] = (ptr >>> 0) + (offset >>> 0);
      this.storeLen[this.storeTop++] = bytes;
      return 0;
    };
    const storeWord = (): void => {
      const addr = this.storeAddr[--this.storeTop]!;
      const buf = bytesOf[this.storeLen[this.storeTop]!]!;
      try {
        this.cpu.store(addr, buf);
      } catch (e) {
        throw new WasmFault(addr, buf.length, buf.slice(), e, this.lines?.framesHere());
      }
    };
    const storeVal = new WebAssembly.Instance(STORE_VAL_MODULE, { h: { storeWord } }).exports;
    const word = (storeVal.memory as WebAssembly.Memory).buffer;
    for (let n = 0; n <= 8; n++) bytesOf[n] = new Uint8Array(word, 0, n);
    this.wordView = new DataView(word);
    const env = {
      load_ptr: load,
      load_val_i32: loadVal.i32,
      load_val_i64: loadVal.i64,
      load_val_f32: loadVal.f32,
      load_val_f64: loadVal.f64,
      store_ptr: storePtr,
      store_val_i32: storeVal.i32,
      store_val_i64: storeVal.i64,
      store_val_f32: storeVal.f32,
      store_val_f64: storeVal.f64,
    };
    const unimem = {
      open: this.linux(async (sys: Sys, path: number, flags: number, mode: number) => sys.open(this.userString(path), flags, mode)),
      ioctl: this.linux(async (sys: Sys, fd: number, req: number, arg: number) => sys.ioctl(fd, req >>> 0, BigInt(arg >>> 0))),
      mmap: this.linux(async (sys: Sys, addr: number, len: number, prot: number, flags: number, fd: number, off: bigint) => {
        const a = await sys.mmap(addr >>> 0, len >>> 0, prot, flags, fd, Number(off));
        if (a >= 2 ** 32) throw new CUnsupported(`use the 64-bit address 0x${a.toString(16)} mmap returned`);
        return a | 0;
      }),
      munmap: this.linux(async (sys: Sys, addr: number, len: number) => {
        await sys.munmap(addr >>> 0, len >>> 0);
        return 0;
      }),
      mprotect: this.linux(async (sys: Sys, addr: number, len: number, prot: number) => {
        await sys.mprotect(addr >>> 0, len >>> 0, prot);
        return 0;
      }),
      getdents64: this.linux(async (sys: Sys, fd: number, buf: number, count: number) => {
        const out = new Uint8Array(count);
        const dv = new DataView(out.buffer);
        let off = 0;
        for (const e of await sys.getdents64(fd, count)) {
          const name = new TextEncoder().encode(e.d_name);
          const reclen = (19 + name.length + 1 + 7) & ~7;
          dv.setBigUint64(off, BigInt(e.d_ino), true);
          dv.setBigInt64(off + 8, BigInt(e.d_off), true);
          dv.setUint16(off + 16, reclen, true);
          out[off + 18] = e.d_type;
          out.set(name, off + 19);
          off += reclen;
        }
        this.userWrite(buf, out.subarray(0, off));
        return off;
      }),
      getpid: this.linux((sys: Sys) => sys.getpid()),
      getauxval: this.linux((sys: Sys, type: number) => sys.getauxval(type)),
      fork: this.linux(async (sys: Sys) => {
        const state = this.forkState(this.cur);
        return sys.fork(async (child: Sys) => new WasmProcess(child, this.module, this.argv, this.lines, state).run());
      }),
      wait: this.linux(async (sys: Sys, pid: number, status: number) => {
        const w = await sys.wait(pid);
        // Linux's status word: the exit code in bits 8-15, or the signal in bits 0-6
        if (status !== 0) this.userU32(status, w.signal ? w.signal : (w.status & 0xff) << 8);
        return w.pid;
      }),
      socketpair: this.linux(async (sys: Sys, type: number, sv: number) => {
        // SOCK_CLOEXEC and SOCK_NONBLOCK are O_CLOEXEC and O_NONBLOCK
        const [a, b] = await sys.socketpair(type & (O_CLOEXEC | O_NONBLOCK));
        this.userU32(sv, a);
        this.userU32(sv + 4, b);
        return 0;
      }),
      sendmsg: this.linux(async (sys: Sys, fd: number, msg: number, flags: number) => {
        if (flags & ~MSG_NOSIGNAL) throw new SyscallError('sendmsg', 'EOPNOTSUPP', `flags 0x${flags.toString(16)}`);
        const h = new DataView(this.userRead(msg, 28).buffer);
        const parts = this.iovecs(h.getUint32(8, true), h.getInt32(12, true)).map(([base, len]) => this.userRead(base, len));
        const data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const p of parts) {
          data.set(p, at);
          at += p.length;
        }
        // SCM_RIGHTS messages of the control buffer (struct cmsghdr: len, level, type, then ints)
        const control = h.getUint32(16, true);
        const controlLen = h.getUint32(20, true);
        const cbuf = new DataView(this.userRead(control, controlLen).buffer);
        const fds: number[] = [];
        for (let off = 0; off + 12 <= controlLen; ) {
          const len = cbuf.getUint32(off, true);
          if (len < 12 || off + len > controlLen) throw new SyscallError('sendmsg', 'EINVAL', 'bad cmsg_len');
          if (cbuf.getInt32(off + 4, true) === SOL_SOCKET && cbuf.getInt32(off + 8, true) === SCM_RIGHTS) {
            for (let k = off + 12; k + 4 <= off + len; k += 4) fds.push(cbuf.getInt32(k, true));
          }
          off += (len + 3) & ~3;
        }
        return sys.sendmsg(fd, { data, fds });
      }),
      recvmsg: this.linux(async (sys: Sys, fd: number, msg: number, flags: number) => {
        const h = new DataView(this.userRead(msg, 28).buffer);
        const vecs = this.iovecs(h.getUint32(8, true), h.getInt32(12, true));
        const control = h.getUint32(16, true);
        const controlLen = h.getUint32(20, true);
        const maxFds = controlLen >= 12 ? Math.floor((controlLen - 12) / 4) : 0;
        const r = await sys.recvmsg(fd, { flags, maxFds, maxLen: vecs.reduce((n, [, len]) => n + len, 0) });
        let at = 0;
        for (const [base, len] of vecs) {
          if (at >= r.data.length) break;
          const part = r.data.subarray(at, at + len);
          this.userWrite(base, part);
          at += part.length;
        }
        let used = 0;
        if (r.fds.length > 0) {
          const c = new Uint8Array(12 + 4 * r.fds.length);
          const dv = new DataView(c.buffer);
          dv.setUint32(0, c.length, true);
          dv.setInt32(4, SOL_SOCKET, true);
          dv.setInt32(8, SCM_RIGHTS, true);
          r.fds.forEach((f, i) => dv.setInt32(12 + 4 * i, f, true));
          this.userWrite(control, c);
          used = c.length;
        }
        this.userU32(msg + 20, used);
        this.userU32(msg + 24, r.flags);
        return r.data.length;
      }),
      fcntl: this.linux(async (sys: Sys, fd: number, cmd: number, arg: number) => sys.fcntl(fd, cmd, arg)),
      memfd_create: this.linux(async (sys: Sys, name: number, flags: number) => sys.memfd_create(this.userString(name), flags >>> 0)),
      ftruncate: this.linux(async (sys: Sys, fd: number, length: bigint) => {
        await sys.ftruncate(fd, Number(length));
        return 0;
      }),
      // malloc's sbrk: no other thread may enter malloc while its state is half changed
      brk_grow: this.linux(async (sys: Sys, pages: number) => {
        const old = this.memory.grow(pages);
        this.refreshViews();
        await this.mapTo(sys, (old + pages) * WASM_PAGE);
        return old;
      }, true),
      pipe2: this.linux(async (sys: Sys, fds: number, flags: number) => {
        const [r, w] = await sys.pipe2(flags);
        this.userU32(fds, r);
        this.userU32(fds + 4, w);
        return 0;
      }),
      poll: this.linux(async (sys: Sys, fds: number, n: number, timeout: number) => {
        // struct pollfd: int fd, short events, short revents (Linux's POLL* values, unimem's <poll.h>)
        const raw = new DataView(this.userRead(fds, n * 8).buffer);
        const list = Array.from({ length: n }, (_, i) => ({ fd: raw.getInt32(i * 8, true), events: raw.getUint16(i * 8 + 4, true), revents: 0 }));
        const ready = await sys.poll(list, timeout);
        list.forEach((f, i) => raw.setUint16(i * 8 + 6, f.revents, true));
        this.userWrite(fds, new Uint8Array(raw.buffer));
        return ready;
      }),
      stat: this.linux(async (sys: Sys, fd: number, path: number, nofollow: number, out: number) => {
        const name = path === 0 ? '' : this.userString(path);
        const st = path === 0 ? await sys.fstat(fd) : nofollow ? await sys.lstat(name) : await sys.stat(name);
        // the shim's struct unimem_stat
        const b = new DataView(new ArrayBuffer(64));
        [st.st_mode, st.st_nlink, st.st_uid, st.st_gid].forEach((v, i) => b.setUint32(i * 4, v, true));
        [st.st_dev, st.st_ino, st.st_rdev, st.st_size, st.st_blksize, st.st_blocks].forEach((v, i) => b.setBigUint64(16 + i * 8, BigInt.asUintN(64, BigInt(v)), true));
        this.userWrite(out, new Uint8Array(b.buffer));
        return 0;
      }),
      futex: this.linux(async (sys: Sys, uaddr: number, op: number, val: number, timeoutNs: bigint) => {
        const timeout = timeoutNs < 0n ? null : { tv_sec: Number(timeoutNs / 1_000_000_000n), tv_nsec: Number(timeoutNs % 1_000_000_000n) };
        return sys.futex(uaddr >>> 0, op, val, timeout);
      }),
      // pthread_create: a thread of the process (CLONE_THREAD, glibc's flags) entering the instance on its own stack
      thread_spawn: this.linux(async (sys: Sys, self: number, stackTop: number, tidAddr: number) => {
        if (!this.exports.unimem_thread_entry) throw new CUnsupported('start a thread in a module built before threads (build it again with `unimem cc`)');
        this.stackPointerGlobal('start a thread');
        return sys.clone((t: Sys) => this.runPthread(this.newThread(t, self >>> 0, stackTop >>> 0)), CLONE_THREAD_FLAGS, { parent_tid: tidAddr >>> 0, child_tid: tidAddr >>> 0 });
      }),
      thread_join: this.linux(async (sys: Sys, tid: number) => {
        await sys.threadJoin(tid);
        return 0;
      }),
      thread_exit: () => {
        throw new WasmThreadExit();
      },
      thread_self: () => this.cur.self,
      // signals: the kernel's struct sigaction (handler as a table index, flags, restorer, a 64-bit mask)
      rt_sigaction: this.linux(async (sys: Sys, sig: number, act: number, oact: number) => {
        let arg: SigActionArg | null = null;
        if (act !== 0) {
          const k = new DataView(this.userRead(act, 20).buffer);
          const fn = k.getUint32(0, true);
          const flags = k.getUint32(4, true);
          const handler = fn === 0 ? SIG_DFL : fn === C_SIG_IGN ? SIG_IGN : cHandler(fn, (flags & SA_SIGINFO) !== 0);
          arg = { handler, flags, mask: maskSignals(k.getUint32(12, true), k.getUint32(16, true)) };
        }
        const old = await sys.sigaction(sig, arg);
        if (oact !== 0) {
          const k = new DataView(new ArrayBuffer(20));
          k.setUint32(0, old.handler === SIG_DFL ? 0 : old.handler === SIG_IGN ? C_SIG_IGN : (cHandlerIndex.get(old.handler) ?? 0), true);
          k.setUint32(4, old.flags >>> 0, true);
          signalMask(old.mask).forEach((w, i) => k.setUint32(12 + 4 * i, w, true));
          this.userWrite(oact, new Uint8Array(k.buffer));
        }
        return 0;
      }),
      rt_sigprocmask: this.linux(async (sys: Sys, how: number, set: number, oset: number) => {
        const k = set === 0 ? null : new DataView(this.userRead(set, 8).buffer);
        const old = await sys.sigprocmask(how, k ? maskSignals(k.getUint32(0, true), k.getUint32(4, true)) : null);
        if (oset !== 0) signalMask(old).forEach((w, i) => this.userU32(oset + 4 * i, w));
        return 0;
      }),
      sigpending: this.linux(async (sys: Sys, set: number) => {
        signalMask(await sys.sigpending()).forEach((w, i) => this.userU32(set + 4 * i, w));
        return 0;
      }),
      kill: this.linux(async (sys: Sys, pid: number, sig: number) => {
        await sys.kill(pid, sig);
        return 0;
      }),
      alarm: this.linux(async (sys: Sys, seconds: number) => sys.alarm(seconds >>> 0)),
      pause: this.linux(async (sys: Sys) => sys.pause()),
      sigsuspend: this.linux(async (sys: Sys, set: number) => {
        const k = new DataView(this.userRead(set, 8).buffer);
        return sys.sigsuspend(maskSignals(k.getUint32(0, true), k.getUint32(4, true)));
      }),
    };
    const enc = new TextEncoder();
    const argvBytes = () => this.argv.map((a) => enc.encode(`${a}\0`));
    const wasi = {
      // the arguments and environment are the process's own, read without a system call
      args_sizes_get: (argc: number, size: number) => {
        const b = argvBytes();
        this.userU32(argc, b.length);
        this.userU32(size, b.reduce((n, x) => n + x.length, 0));
        return 0;
      },
      args_get: (argv: number, buf: number) => {
        let at = buf >>> 0;
        argvBytes().forEach((b, i) => {
          this.userU32(argv + i * 4, at);
          this.userWrite(at, b);
          at += b.length;
        });
        return 0;
      },
      environ_sizes_get: (count: number, size: number) => {
        this.userU32(count, 0);
        this.userU32(size, 0);
        return 0;
      },
      environ_get: () => 0,
      fd_prestat_get: () => WASI_ERRNO.get('EBADF')!,
      fd_prestat_dir_name: () => WASI_ERRNO.get('EBADF')!,
      fd_write: this.wasi(async (sys: Sys, fd: number, iovs: number, n: number, nwritten: number) => {
        const parts = this.iovecs(iovs, n).map(([base, len]) => this.userRead(base, len));
        const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
        let at = 0;
        for (const p of parts) {
          all.set(p, at);
          at += p.length;
        }
        this.userU32(nwritten, await sys.write(fd, all));
      }),
      fd_read: this.wasi(async (sys: Sys, fd: number, iovs: number, n: number, nread: number) => {
        const vecs = this.iovecs(iovs, n);
        const got = await sys.read(fd, vecs.reduce((s, [, len]) => s + len, 0));
        let at = 0;
        for (const [base, len] of vecs) {
          if (at >= got.length) break;
          const part = got.subarray(at, at + len);
          this.userWrite(base, part);
          at += part.length;
        }
        this.userU32(nread, got.length);
      }),
      fd_seek: this.wasi(async (sys: Sys, fd: number, offset: bigint, whence: number, newOffset: number) => {
        this.userU64(newOffset, BigInt(await sys.lseek(fd, Number(offset), whence)));
      }),
      fd_close: this.wasi(async (sys: Sys, fd: number) => sys.close(fd)),
      fd_sync: this.wasi(async (sys: Sys, fd: number) => sys.fsync(fd)),
      fd_fdstat_get: this.wasi(async (sys: Sys, fd: number, out: number) => {
        const st = await sys.fstat(fd);
        const fmt = st.st_mode & S_IFMT;
        // WASI filetypes; a character device without seek rights is what wasi-libc's isatty calls a terminal
        const type = fmt === S_IFCHR ? 2 : fmt === S_IFDIR ? 3 : fmt === S_IFREG ? 4 : fmt === S_IFSOCK ? 6 : fmt === S_IFIFO ? 0 : 0;
        const b = new Uint8Array(24);
        const dv = new DataView(b.buffer);
        b[0] = type;
        dv.setBigUint64(8, fmt === S_IFCHR ? 0n : 0x1fffffffn, true);
        dv.setBigUint64(16, 0x1fffffffn, true);
        this.userWrite(out, b);
      }),
      clock_time_get: this.wasi(async (sys: Sys, id: number, _precision: bigint, out: number) => {
        // WASI's clock ids are Linux's first four (REALTIME, MONOTONIC, PROCESS_CPUTIME, THREAD_CPUTIME)
        const t = await sys.clock_gettime(id);
        this.userU64(out, BigInt(t.tv_sec) * 1_000_000_000n + BigInt(t.tv_nsec));
      }),
      poll_oneoff: this.wasi(async (sys: Sys, subs: number, events: number, n: number, nevents: number) => this.pollClocks(sys, subs, events, n, nevents)),
      sched_yield: this.wasi(async (_sys: Sys) => {}),
      random_get: this.wasi(async (_sys: Sys) => {
        throw new SyscallError('getrandom', 'ENOSYS', 'no entropy source for C programs yet');
      }),
      proc_exit: (code: number) => {
        throw new WasmExit(code);
      },
    };
    return { env, unimem, wasi_snapshot_preview1: wasi };
  }

  /** poll_oneoff with clock subscriptions only (nanosleep, sleep): sleeps until the earliest; others are ENOTSUP. */
  private async pollClocks(sys: Sys, subs: number, events: number, n: number, nevents: number): Promise<void> {
    const raw = this.userRead(subs, n * 48);
    const dv = new DataView(raw.buffer);
    let best = -1;
    let bestNs = Infinity;
    for (let i = 0; i < n; i++) {
      if (raw[i * 48 + 8] !== 0) throw new SyscallError('poll_oneoff', 'EOPNOTSUPP', 'a C program may only wait on clocks');
      const clock = dv.getUint32(i * 48 + 16, true);
      let ns = Number(dv.getBigUint64(i * 48 + 24, true));
      if (dv.getUint16(i * 48 + 40, true) & 1) {
        const now = await sys.clock_gettime(clock);
        ns -= now.tv_sec * 1e9 + now.tv_nsec;
      }
      if (ns < bestNs) {
        bestNs = Math.max(0, ns);
        best = i;
      }
    }
    if (best < 0) throw new SyscallError('poll_oneoff', 'EINVAL', 'no subscriptions');
    await sys.nanosleep({ tv_sec: Math.floor(bestNs / 1e9), tv_nsec: bestNs % 1e9 });
    const ev = new Uint8Array(32);
    ev.set(raw.subarray(best * 48, best * 48 + 8), 0);
    this.userWrite(events, ev);
    this.userU32(nevents, 1);
  }
}
