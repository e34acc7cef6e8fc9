import { SyscallError, type Errno } from '../lib/index.ts';
import type { ProgramMain, Sys, UserCpuAccess } from '../proc/index.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MSG_NOSIGNAL, O_CLOEXEC, O_NONBLOCK, PROT_READ, PROT_WRITE, SCM_RIGHTS, SOL_SOCKET, S_IFCHR, S_IFDIR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK, SIGABRT } from '../uapi/index.ts';
import { C_GLOBAL_BASE } from './c-build.ts';

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
  ) {}
}

/** What C programs cannot do yet: a clear error in place of a crash. */
export class CUnsupported extends Error {
  constructor(what: string) {
    super(`a C program cannot ${what} in unimem yet`);
    this.name = 'CUnsupported';
  }
}

type AsyncResult = number | bigint;

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
  return async (sys: Sys, args: string[]) => new WasmProcess(sys, module, [argv0, ...args]).run();
}

/**
 * What a forked child takes of the parent's program besides the memory the
 * kernel copied: the unwound wasm stack (asyncify's save area), the stack
 * pointer, the memory's size and the stores whose value had not come yet.
 */
interface ForkState {
  asyncData: Uint8Array;
  stackPointer: number;
  memoryBytes: number;
  storeAddr: Float64Array;
  storeLen: Uint8Array;
  storeTop: number;
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
  private rewinding = false;
  private result: AsyncResult = 0;
  // one 8-byte word for the hooks' values (at 0 of the store hooks' memory), with views of each access size
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
  };

  private readonly module: WebAssembly.Module;
  private readonly forked: ForkState | undefined;

  constructor(sys: Sys, module: WebAssembly.Module, argv: string[], forked?: ForkState) {
    this.sys = sys;
    this.module = module;
    this.forked = forked;
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

  /** Maps the memory, loads the data, runs _start to its end or exit, and returns the exit status. */
  async run(): Promise<number> {
    if (this.forked) this.resumeForked(this.forked);
    else {
      await this.sys.setCompat32();
      const image = this.mem8.slice(C_GLOBAL_BASE);
      await this.mapTo(this.mem8.length);
      this.loadImage(image);
    }
    // the hooks now go to the process's memory; the wasm memory is scratch space
    for (;;) {
      try {
        this.cpu.run(() => this.exports._start());
      } catch (e) {
        if (e instanceof WasmExit) return e.code;
        if (e instanceof WasmFault) return this.replayFault(e);
        if (e instanceof WebAssembly.RuntimeError) return this.trapped(e);
        throw e;
      }
      if (!this.pending) return 0;
      this.exports.asyncify_stop_unwind();
      // the call starts once the wasm stack is unwound, outside the program's stretch
      const start = this.pending;
      this.pending = null;
      this.result = await start();
      this.cpu.flush();
      this.rewinding = true;
      this.exports.asyncify_start_rewind(ASYNC_DATA);
    }
  }

  /**
   * A forked child: the kernel copied the process's memory and mappings;
   * the wasm side takes the parent's stack and size, then rewinds into the
   * fork call, which returns 0 here.
   */
  private resumeForked(f: ForkState): void {
    const grow = f.memoryBytes / WASM_PAGE - this.memory.buffer.byteLength / WASM_PAGE;
    if (grow > 0) this.memory.grow(grow);
    this.refreshViews();
    this.mappedEnd = f.memoryBytes;
    this.mem8.set(f.asyncData, ASYNC_DATA);
    this.storeAddr.set(f.storeAddr);
    this.storeLen.set(f.storeLen);
    this.storeTop = f.storeTop;
    (this.instance.exports.__stack_pointer as WebAssembly.Global).value = f.stackPointer;
    this.result = 0;
    this.rewinding = true;
    this.exports.asyncify_start_rewind(ASYNC_DATA);
  }

  /** The parent's side of fork, taken once its wasm stack is unwound into the save area. */
  private forkState(): ForkState {
    const sp = this.instance.exports.__stack_pointer;
    if (!(sp instanceof WebAssembly.Global)) throw new CUnsupported('fork in a module that does not export __stack_pointer (build it again with `unimem cc`)');
    return {
      asyncData: this.mem8.slice(ASYNC_DATA, ASYNC_DATA_END),
      stackPointer: sp.value as number,
      memoryBytes: this.memory.buffer.byteLength,
      storeAddr: this.storeAddr.slice(),
      storeLen: this.storeLen.slice(),
      storeTop: this.storeTop,
    };
  }

  /** Maps the wasm memory up to `end` into the process (anonymous, private, read-write): the program's data, stack and heap. */
  private async mapTo(end: number): Promise<void> {
    if (end <= this.mappedEnd) return;
    await this.sys.mmap(this.mappedEnd, end - this.mappedEnd, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
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
  private async replayFault(f: WasmFault): Promise<number> {
    if (f.bytes) await this.sys.store(f.addr, f.bytes);
    else await this.sys.load(f.addr, f.len);
    // the replay went through: what failed was no access fault
    throw f.cause;
  }

  /** The module trapped (abort(), __builtin_trap, an out-of-bounds scratch access): SIGABRT as abort raises it. */
  private async trapped(e: WebAssembly.RuntimeError): Promise<number> {
    await this.sys.kill(await this.sys.getpid(), SIGABRT);
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
   */
  private syscall<A extends unknown[]>(fn: (...a: A) => Promise<AsyncResult>, onError: (errno: number) => AsyncResult): (...a: A) => AsyncResult {
    return (...a: A) => {
      if (this.rewinding) {
        this.rewinding = false;
        this.exports.asyncify_stop_rewind();
        return this.result;
      }
      // the call may change any mapping: the translations the program's accesses kept go
      this.cpu.flush();
      this.pending = () =>
        fn(...a).catch((e: unknown) => {
          if (e instanceof SyscallError) return onError(wasiErrno(e.code));
          throw e;
        });
      this.memView.setInt32(ASYNC_DATA, ASYNC_DATA + 8, true);
      this.memView.setInt32(ASYNC_DATA + 4, ASYNC_DATA_END, true);
      this.exports.asyncify_start_unwind(ASYNC_DATA);
      return 0;
    };
  }

  /** A Linux-style call: the value, or -errno. */
  private linux<A extends unknown[]>(fn: (...a: A) => Promise<AsyncResult>): (...a: A) => AsyncResult {
    return this.syscall(fn, (errno) => -errno);
  }

  /** A WASI call: 0 or the errno. */
  private wasi<A extends unknown[]>(fn: (...a: A) => Promise<void>): (...a: A) => AsyncResult {
    return this.syscall(async (...a: A) => {
      await fn(...a);
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
    const sys = this.sys;
    const bytesOf = this.wordBytes;
    const load = (_id: number, bytes: number, offset: number, ptr: number): number => {
      const addr = (ptr >>> 0) + (offset >>> 0);
      // a memory the module grew itself: its old buffer is detached, of length 0
      if (this.mem8.length === 0) this.refreshViews();
      // straight to where the instruction reads (a fault replays the load, so bytes left there do not matter)
      try {
        this.cpu.load(addr, this.mem8, offset >>> 0, bytes);
      } catch (e) {
        throw new WasmFault(addr, bytes, null, e);
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
        throw new WasmFault(addr, buf.length, buf.slice(), e);
      }
    };
    const storeVal = new WebAssembly.Instance(STORE_VAL_MODULE, { h: { storeWord } }).exports;
    const word = (storeVal.memory as WebAssembly.Memory).buffer;
    for (let n = 0; n <= 8; n++) bytesOf[n] = new Uint8Array(word, 0, n);
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
      open: this.linux(async (path: number, flags: number, mode: number) => sys.open(this.userString(path), flags, mode)),
      ioctl: this.linux(async (fd: number, req: number, arg: number) => sys.ioctl(fd, req >>> 0, BigInt(arg >>> 0))),
      mmap: this.linux(async (addr: number, len: number, prot: number, flags: number, fd: number, off: bigint) => {
        const a = await sys.mmap(addr >>> 0, len >>> 0, prot, flags, fd, Number(off));
        if (a >= 2 ** 32) throw new CUnsupported(`use the 64-bit address 0x${a.toString(16)} mmap returned`);
        return a | 0;
      }),
      munmap: this.linux(async (addr: number, len: number) => {
        await sys.munmap(addr >>> 0, len >>> 0);
        return 0;
      }),
      mprotect: this.linux(async (addr: number, len: number, prot: number) => {
        await sys.mprotect(addr >>> 0, len >>> 0, prot);
        return 0;
      }),
      getdents64: this.linux(async (fd: number, buf: number, count: number) => {
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
      getpid: this.linux(() => sys.getpid()),
      getauxval: this.linux((type: number) => sys.getauxval(type)),
      fork: this.linux(async () => {
        const state = this.forkState();
        return sys.fork(async (child: Sys) => new WasmProcess(child, this.module, this.argv, state).run());
      }),
      wait: this.linux(async (pid: number, status: number) => {
        const w = await sys.wait(pid);
        // Linux's status word: the exit code in bits 8-15, or the signal in bits 0-6
        if (status !== 0) this.userU32(status, w.signal ? w.signal : (w.status & 0xff) << 8);
        return w.pid;
      }),
      socketpair: this.linux(async (type: number, sv: number) => {
        // SOCK_CLOEXEC and SOCK_NONBLOCK are O_CLOEXEC and O_NONBLOCK
        const [a, b] = await sys.socketpair(type & (O_CLOEXEC | O_NONBLOCK));
        this.userU32(sv, a);
        this.userU32(sv + 4, b);
        return 0;
      }),
      sendmsg: this.linux(async (fd: number, msg: number, flags: number) => {
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
      recvmsg: this.linux(async (fd: number, msg: number, flags: number) => {
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
      fcntl: this.linux(async (fd: number, cmd: number, arg: number) => sys.fcntl(fd, cmd, arg)),
      memfd_create: this.linux(async (name: number, flags: number) => sys.memfd_create(this.userString(name), flags >>> 0)),
      ftruncate: this.linux(async (fd: number, length: bigint) => {
        await sys.ftruncate(fd, Number(length));
        return 0;
      }),
      brk_grow: this.linux(async (pages: number) => {
        const old = this.memory.grow(pages);
        this.refreshViews();
        await this.mapTo((old + pages) * WASM_PAGE);
        return old;
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
      fd_write: this.wasi(async (fd: number, iovs: number, n: number, nwritten: number) => {
        const parts = this.iovecs(iovs, n).map(([base, len]) => this.userRead(base, len));
        const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
        let at = 0;
        for (const p of parts) {
          all.set(p, at);
          at += p.length;
        }
        this.userU32(nwritten, await sys.write(fd, all));
      }),
      fd_read: this.wasi(async (fd: number, iovs: number, n: number, nread: number) => {
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
      fd_seek: this.wasi(async (fd: number, offset: bigint, whence: number, newOffset: number) => {
        this.userU64(newOffset, BigInt(await sys.lseek(fd, Number(offset), whence)));
      }),
      fd_close: this.wasi(async (fd: number) => sys.close(fd)),
      fd_sync: this.wasi(async (fd: number) => sys.fsync(fd)),
      fd_fdstat_get: this.wasi(async (fd: number, out: number) => {
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
      clock_time_get: this.wasi(async (id: number, _precision: bigint, out: number) => {
        // WASI's clock ids are Linux's first four (REALTIME, MONOTONIC, PROCESS_CPUTIME, THREAD_CPUTIME)
        const t = await sys.clock_gettime(id);
        this.userU64(out, BigInt(t.tv_sec) * 1_000_000_000n + BigInt(t.tv_nsec));
      }),
      poll_oneoff: this.wasi(async (subs: number, events: number, n: number, nevents: number) => this.pollClocks(subs, events, n, nevents)),
      sched_yield: this.wasi(async () => {}),
      random_get: this.wasi(async () => {
        throw new SyscallError('getrandom', 'ENOSYS', 'no entropy source for C programs yet');
      }),
      proc_exit: (code: number) => {
        throw new WasmExit(code);
      },
    };
    return { env, unimem, wasi_snapshot_preview1: wasi };
  }

  /** poll_oneoff with clock subscriptions only (nanosleep, sleep): sleeps until the earliest; others are ENOTSUP. */
  private async pollClocks(subs: number, events: number, n: number, nevents: number): Promise<void> {
    const raw = this.userRead(subs, n * 48);
    const dv = new DataView(raw.buffer);
    let best = -1;
    let bestNs = Infinity;
    for (let i = 0; i < n; i++) {
      if (raw[i * 48 + 8] !== 0) throw new SyscallError('poll_oneoff', 'EOPNOTSUPP', 'a C program may only wait on clocks');
      const clock = dv.getUint32(i * 48 + 16, true);
      let ns = Number(dv.getBigUint64(i * 48 + 24, true));
      if (dv.getUint16(i * 48 + 40, true) & 1) {
        const now = await this.sys.clock_gettime(clock);
        ns -= now.tv_sec * 1e9 + now.tv_nsec;
      }
      if (ns < bestNs) {
        bestNs = Math.max(0, ns);
        best = i;
      }
    }
    if (best < 0) throw new SyscallError('poll_oneoff', 'EINVAL', 'no subscriptions');
    await this.sys.nanosleep({ tv_sec: Math.floor(bestNs / 1e9), tv_nsec: bestNs % 1e9 });
    const ev = new Uint8Array(32);
    ev.set(raw.subarray(best * 48, best * 48 + 8), 0);
    this.userWrite(events, ev);
    this.userU32(nevents, 1);
  }
}
