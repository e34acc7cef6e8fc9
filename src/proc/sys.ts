import { kerr } from '../lib/index.ts';
import type { EpollEvent, LinuxDirent64, Stat, Timespec, Utsname } from '../uapi/index.ts';
import { AT_FDCWD, AT_SYMLINK_NOFOLLOW, MAP_ANONYMOUS, O_CLOEXEC, O_NONBLOCK } from '../uapi/index.ts';
import { CLONE_THREAD_FLAGS, ioctlName } from '../uapi/index.ts';
import type { CloneArgs, ProcKernel, WaitResult } from './kernel.ts';
import type { Process, ProgramMain, ThreadFn } from './process.ts';
import { sysFutex } from './futex.ts';
import { fputWhenDone } from './fput-when-done.ts';
import { cloneKind } from './thread.ts';
import {
  awaitRelease,
  sysClose,
  sysDup,
  sysDup2,
  sysFallocate,
  sysFcntl,
  sysFstat,
  sysFsync,
  sysFtruncate,
  sysIoctl,
  sysLseek,
  sysOpen,
  sysPread,
  sysPwrite,
  sysRead,
  sysReadFile,
  sysReadlink,
  sysWrite,
} from './file-syscalls.ts';
import { sysPoll, type PollFd } from './poll.ts';
import { sysEpollCreate1, sysEpollCtl, sysEpollWait } from './epoll.ts';
import { sysMemfdCreate } from './memfd.ts';
import { doMmap, doMunmap } from './mmap.ts';
import { doMremap } from './mremap.ts';
import { doMprotect } from './mprotect.ts';
import { sysGetdents64 } from './readdir.ts';
import { sysFaccessat, sysFstatat } from './stat.ts';
import { sysClockGettime, sysClockNanosleep, sysNanosleep } from './time.ts';
import { auxval, sysUname } from './utsname.ts';
import { UserTlb, userLoad, userStore } from './cpu-access.ts';
import { sysPipe2 } from './pipe.ts';
import { ProcessUnwind } from './errors.ts';
import { MMAP_BASE_32, TASK_SIZE_32 } from './address-space.ts';
import {
  argBuf,
  argCloneArgs,
  argCount,
  argFd,
  argFn,
  argInt,
  argIoctlRequest,
  argOptInt,
  argOptStruct,
  argPath,
  argPollFds,
  argRecvOpts,
  argSendMsg,
  argStrings,
  argTimeout,
  argUserPtr,
} from './uaccess-args.ts';
import { sysSigaction, sysSigpending, sysSigprocmask, type SigAction, type SigActionArg } from './signal.ts';
import type { RecvResult } from './unix-socket.ts';

export type { PollFd } from './poll.ts';
export type { EpollEvent, LinuxDirent64, Timespec, Utsname } from '../uapi/index.ts';
export type { RecvResult } from './unix-socket.ts';
export type { CloneArgs } from './kernel.ts';
export type { ThreadFn } from './process.ts';
export type { SigAction, SigActionArg, SigInfo, SignalHandler } from './signal.ts';

/**
 * The program's own loads and stores, as compiled code makes them between
 * system calls: synchronous, through the mappings and the CPU cache.
 * Each throws the access's fault (an AccessFault) rather than deliver a
 * signal: the caller replays the access with Sys.load or Sys.store, whose
 * kernel entry delivers SIGSEGV or SIGBUS.
 */
export interface UserCpuAccess {
  /** Loads `len` bytes at `addr` into `out` at `outOff` (by default, all of `out`). */
  load(addr: number, out: Uint8Array<ArrayBuffer>, outOff?: number, len?: number): void;
  /** Stores `bytes` at `addr`. */
  store(addr: number, bytes: Uint8Array): void;
  /** Forgets the translations kept since the last call (call it at every system call: any may change the mappings). */
  flush(): void;
  /** Runs the program's synchronous stretch between two calls, its accesses' costs charged to it in one go (CostLedger.batch). */
  run<T>(fn: () => T): T;
}

/** A message for sendmsg: bytes and the fds to pass (SCM_RIGHTS). */
export interface SendMsg {
  data?: Uint8Array;
  fds?: readonly number[];
}

/** recvmsg options: MSG_* flags (MSG_CMSG_CLOEXEC, MSG_DONTWAIT), the room for fds in the control buffer, the data buffer size. */
export interface RecvOptions {
  flags?: number;
  maxFds?: number;
  maxLen?: number;
}

/**
 * The system-call surface a userspace program gets (`main(sys, args)`),
 * named as Linux names the calls. Every call is async, because any may
 * sleep in simulated time. Failures are SyscallErrors carrying the errno
 * Linux gives for the same mistake; a bad memory access rejects with a
 * SegfaultError and kills the process unless a SIGSEGV/SIGBUS handler is
 * installed (sigaction). Once the process has exited, been
 * killed or replaced by exec, every call throws ProcessUnwind.
 */
export class Sys {
  private readonly k: ProcKernel;
  private readonly p: Process;
  private readonly gen: number;

  // the bodies of the calls that take no arguments, made once: a loop of getpid makes no closure per call
  private readonly pidOf = (): number => this.p.pid;
  private readonly tidOf = (): number => this.p.tid;

  constructor(kernel: ProcKernel, proc: Process, generation: number) {
    this.k = kernel;
    this.p = proc;
    this.gen = generation;
  }

  /**
   * Runs one call through the kernel's entry; `fd` is the descriptor it
   * works on, named if it never returns (a call ended by its process's
   * death is marked handled there, as the program may never await it).
   */
  private call<T>(name: string, fn: () => T | Promise<T>, fd?: number): Promise<T> {
    return this.k.syscall(this.p, this.gen, name, fn, fd);
  }

  /** The caller's process id, the same in every thread (getpid: the tgid). */
  getpid(): Promise<number> {
    return this.call('getpid', this.pidOf);
  }

  /** The calling thread's id (gettid): the pid in the main thread, a tid of its own in each other. */
  gettid(): Promise<number> {
    return this.call('gettid', this.tidOf);
  }

  /**
   * Creates a task running `fn(sys)` with a `sys` of its own (clone) and
   * returns its tid. With CLONE_THREAD_FLAGS (the default, what glibc's
   * pthread_create passes) it is a thread of this process: the same
   * address space, fd table, credentials and signal handlers, its own
   * tid; what `fn` returns is its exit value (threadJoin), an uncaught
   * error in it ends the process with status 1. `args.parent_tid` and
   * `args.child_tid` are user addresses of u32 words for
   * CLONE_PARENT_SETTID, CLONE_CHILD_SETTID and CLONE_CHILD_CLEARTID (the
   * word zeroed and futex-woken when the thread ends). Flags without
   * CLONE_VM, CLONE_FILES, CLONE_SIGHAND and CLONE_THREAD (low byte
   * SIGCHLD) make a child process as fork does, returning its pid.
   * EINVAL as Linux for CLONE_THREAD without CLONE_SIGHAND, CLONE_SIGHAND
   * without CLONE_VM, CLONE_FS with CLONE_NEWNS; EINVAL for sharing
   * combinations unimem does not model (namespaces, CLONE_VM without
   * CLONE_THREAD, a thread without CLONE_FILES).
   */
  clone(fn: ThreadFn<Sys>, flags: number = CLONE_THREAD_FLAGS, args: CloneArgs = {}): Promise<number> {
    return this.call('clone', () => {
      argFn(fn, 'fn');
      argInt(flags, 'flags');
      argCloneArgs(args);
      const kind = cloneKind(flags);
      if (kind === 'fork') return this.k.fork(this.p, async (child: Sys) => {
        const r = await fn(child);
        return typeof r === 'number' ? r : 0;
      });
      return this.k.cloneThread(this.p, fn as ThreadFn, flags, args);
    });
  }

  /**
   * Starts `fn(sys)` as a new thread of this process and returns its tid:
   * clone with CLONE_THREAD_FLAGS, as pthread_create (without the
   * tid words; threadJoin waits for it).
   */
  threadCreate(fn: ThreadFn<Sys>): Promise<number> {
    return this.clone(fn, CLONE_THREAD_FLAGS);
  }

  /**
   * Waits for thread `tid` of this process to end and returns its exit
   * value (pthread_join: its futex wait on the tid word the kernel clears
   * at the thread's exit); an ended thread keeps its value until joined.
   * ESRCH for no such thread in this process or one a join took, EDEADLK
   * for the calling thread, EINVAL while another thread joins it.
   */
  threadJoin(tid: number): Promise<unknown> {
    return this.call('threadJoin', () => {
      // pthread_join of a value that names no thread
      if (!Number.isInteger(tid)) throw kerr('ESRCH', `tid ${String(tid)}`);
      return this.k.threadJoin(this.p, tid);
    });
  }

  /**
   * Ends the calling thread with `value` as its exit value (pthread_exit,
   * the exit system call); the process goes on while other threads run,
   * and ends with status 0 when the last one ends. Never returns.
   */
  threadExit(value?: unknown): Promise<never> {
    return this.call('threadExit', async () => {
      await this.k.exitThread(this.p, value, 1);
      throw new ProcessUnwind(this.p.pid, 'exit');
    });
  }

  /**
   * Fast user-space locking (futex): FUTEX_WAIT sleeps while the u32 at
   * `uaddr` holds `val` (EAGAIN when it does not, ETIMEDOUT after
   * `timeout`, a relative timespec), FUTEX_WAKE wakes up to `val`
   * sleepers and returns how many; the _BITSET forms take `val3` as the
   * bitset (and an absolute timeout). FUTEX_PRIVATE_FLAG may be set.
   * EINVAL for an unaligned word, EFAULT for an unmapped one, ENOSYS for
   * other operations.
   */
  futex(uaddr: number, op: number, val: number, timeout: Timespec | null = null, val3 = 0): Promise<number> {
    return this.call('futex', () => sysFutex(this.k, this.p, argUserPtr(uaddr, 'uaddr'), argInt(op, 'op'), argInt(val, 'val'), argOptStruct<Timespec>(timeout, 'timeout'), argInt(val3, 'val3')));
  }

  /**
   * Sets the word the kernel zeroes and futex-wakes when the calling
   * thread ends, as CLONE_CHILD_CLEARTID does (set_tid_address); 0 for
   * none. Returns the caller's tid.
   */
  set_tid_address(tidptr: number): Promise<number> {
    return this.call('set_tid_address', () => {
      this.p.clearChildTid = argUserPtr(tidptr, 'tidptr');
      return this.p.tid;
    });
  }

  /** Opens a path and returns the lowest free fd (open). `mode` applies with O_CREAT. */
  open(path: string, flags: number, mode?: number): Promise<number> {
    return this.call('open', () => sysOpen(this.k, this.p, argPath(path), argInt(flags, 'flags'), argOptInt(mode, 'mode')));
  }

  /** Closes an fd (close). */
  close(fd: number): Promise<void> {
    return this.call('close', () => sysClose(this.p, argFd(fd)), fd);
  }

  /** Duplicates an fd to the lowest free one (dup). */
  dup(fd: number): Promise<number> {
    return this.call('dup', () => sysDup(this.p, argFd(fd)));
  }

  /** Makes `newfd` refer to `oldfd`'s file (dup2). */
  dup2(oldfd: number, newfd: number): Promise<number> {
    return this.call('dup2', () => sysDup2(this.p, argFd(oldfd), argFd(newfd)));
  }

  /**
   * File-descriptor control (fcntl): F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD,
   * F_SETFD, F_GETFL, F_SETFL, F_ADD_SEALS and F_GET_SEALS on memfds,
   * F_GETPIPE_SZ and F_SETPIPE_SZ on pipes.
   */
  fcntl(fd: number, cmd: number, arg?: number): Promise<number> {
    return this.call('fcntl', () => sysFcntl(this.p, argFd(fd), argInt(cmd, 'cmd'), argOptInt(arg, 'arg')), fd);
  }

  /** Reads up to `len` bytes at the file position (read); an empty result is end of file. */
  read(fd: number, len: number): Promise<Uint8Array> {
    return this.call('read', () => sysRead(this.p, argFd(fd), argCount(len, 'count')), fd);
  }

  /** Reads at `offset` without moving the position (pread64). */
  pread(fd: number, len: number, offset: number): Promise<Uint8Array> {
    return this.call('pread', () => sysPread(this.p, argFd(fd), argCount(len, 'count'), argInt(offset, 'offset')), fd);
  }

  /** Writes bytes at the file position; returns how many were taken (write). */
  write(fd: number, bytes: Uint8Array): Promise<number> {
    return this.call('write', () => sysWrite(this.p, argFd(fd), argBuf(bytes, 'buf')), fd);
  }

  /** Writes at `offset` without moving the position (pwrite64). */
  pwrite(fd: number, bytes: Uint8Array, offset: number): Promise<number> {
    return this.call('pwrite', () => sysPwrite(this.p, argFd(fd), argBuf(bytes, 'buf'), argInt(offset, 'offset')), fd);
  }

  /** Moves the file position; returns the new offset (lseek). */
  lseek(fd: number, offset: number, whence: number): Promise<number> {
    return this.call('lseek', () => sysLseek(this.p, argFd(fd), argInt(offset, 'offset'), argInt(whence, 'whence')), fd);
  }

  /** The file's status (fstat). */
  fstat(fd: number): Promise<Stat> {
    return this.call('fstat', () => sysFstat(this.p, argFd(fd)), fd);
  }

  /** The status of what a path names, symlinks followed (stat). */
  stat(path: string): Promise<Stat> {
    return this.call('stat', () => sysFstatat(this.k, this.p, AT_FDCWD, argPath(path), 0));
  }

  /** The status of what a path names; a symlink (/proc/self, /proc/<pid>/fd/N) is described itself (lstat). */
  lstat(path: string): Promise<Stat> {
    return this.call('lstat', () => sysFstatat(this.k, this.p, AT_FDCWD, argPath(path), AT_SYMLINK_NOFOLLOW));
  }

  /**
   * The status of what `path` names relative to the directory `dirfd`
   * (or AT_FDCWD), in fstat's shape (newfstatat); `flags` may hold
   * AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH (an empty path is dirfd itself).
   */
  fstatat(dirfd: number, path: string, flags = 0): Promise<Stat> {
    return this.call('fstatat', () => sysFstatat(this.k, this.p, argFd(dirfd), argPath(path), argInt(flags, 'flags')));
  }

  /** Checks that the caller may R_OK/W_OK/X_OK what a path names, or that it exists (F_OK); EACCES, ENOENT (access). */
  access(path: string, mode: number): Promise<void> {
    return this.call('access', () => sysFaccessat(this.k, this.p, AT_FDCWD, argPath(path), argInt(mode, 'mode'), 0));
  }

  /**
   * access relative to `dirfd` (faccessat2; flags 0 is faccessat): `flags`
   * may hold AT_EACCESS, AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH.
   */
  faccessat(dirfd: number, path: string, mode: number, flags = 0): Promise<void> {
    return this.call('faccessat', () => sysFaccessat(this.k, this.p, argFd(dirfd), argPath(path), argInt(mode, 'mode'), argInt(flags, 'flags')));
  }

  /**
   * Reads a directory's entries from its position (getdents64): as many
   * struct linux_dirent64 as fit in `count` bytes, each `{d_ino, d_off,
   * d_reclen, d_type, d_name}`; an empty array at the end. EINVAL when
   * `count` cannot hold one entry, ENOTDIR for a file that is no directory.
   */
  getdents64(fd: number, count: number): Promise<LinuxDirent64[]> {
    return this.call('getdents64', () => sysGetdents64(this.p, argFd(fd), argCount(count, 'count')), fd);
  }

  /**
   * Allocates file space or punches a hole (fallocate): `mode` 0,
   * FALLOC_FL_KEEP_SIZE, or FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE on
   * memfds and tmpfs files; ENODEV on a dma-buf, ESPIPE on a pipe, EBADF
   * on a file not open for writing.
   */
  fallocate(fd: number, mode: number, offset: number, len: number): Promise<void> {
    return this.call('fallocate', () => sysFallocate(this.p, argFd(fd), argInt(mode, 'mode'), argInt(offset, 'offset'), argInt(len, 'len')), fd);
  }

  /** Sets the size of a regular file open for writing (ftruncate); a memfd's seals may forbid it (EPERM). */
  ftruncate(fd: number, length: number): Promise<void> {
    return this.call('ftruncate', () => sysFtruncate(this.p, argFd(fd), argInt(length, 'length')), fd);
  }

  /** Writes the file's data and metadata back (fsync); EINVAL for files that cannot be synced, such as dma-bufs. */
  fsync(fd: number): Promise<void> {
    return this.call('fsync', () => sysFsync(this.p, argFd(fd), false), fd);
  }

  /** Writes the file's data back (fdatasync). */
  fdatasync(fd: number): Promise<void> {
    return this.call('fdatasync', () => sysFsync(this.p, argFd(fd), true), fd);
  }

  /**
   * Creates an anonymous file whose pages live in DRAM, at the lowest free
   * fd (memfd_create); `flags` may hold MFD_CLOEXEC and MFD_ALLOW_SEALING.
   */
  memfd_create(name: string, flags = 0): Promise<number> {
    return this.call('memfd_create', () => sysMemfdCreate(this.k, this.p, argPath(name, 'name'), argInt(flags, 'flags')));
  }

  /** Creates a pipe; returns [read end, write end] (pipe). */
  pipe(): Promise<[number, number]> {
    return this.call('pipe', () => sysPipe2(this.k, this.p, 0));
  }

  /** Creates a pipe with O_CLOEXEC, O_NONBLOCK or O_DIRECT (packet mode); returns [read end, write end] (pipe2). */
  pipe2(flags: number): Promise<[number, number]> {
    return this.call('pipe2', () => sysPipe2(this.k, this.p, argInt(flags, 'flags')));
  }

  /** Creates an epoll instance (epoll_create); `size` is only checked to be positive. */
  epoll_create(size: number): Promise<number> {
    return this.call('epoll_create', () => {
      if (!Number.isInteger(size) || size <= 0) throw kerr('EINVAL', `size ${String(size)}`);
      return sysEpollCreate1(this.k, this.p, 0);
    });
  }

  /** Creates an epoll instance; `flags` may hold EPOLL_CLOEXEC (epoll_create1). */
  epoll_create1(flags = 0): Promise<number> {
    return this.call('epoll_create1', () => sysEpollCreate1(this.k, this.p, argInt(flags, 'flags')));
  }

  /** Adds, changes or removes the watch of `fd` in epoll instance `epfd` (epoll_ctl); `event` is `{events, data}`. */
  epoll_ctl(epfd: number, op: number, fd: number, event?: EpollEvent): Promise<void> {
    return this.call('epoll_ctl', () => sysEpollCtl(this.p, argFd(epfd), argInt(op, 'op'), argFd(fd), event), epfd);
  }

  /**
   * Waits up to `timeoutMs` of simulated time (negative: forever, 0: not
   * at all) for watched fds to become ready, and returns at most
   * `maxevents` of them as `{events, data}` (epoll_wait); empty on timeout.
   */
  epoll_wait(epfd: number, maxevents: number, timeoutMs: number): Promise<EpollEvent[]> {
    return this.call('epoll_wait', () => sysEpollWait(this.k, this.p, argFd(epfd), argInt(maxevents, 'maxevents'), argTimeout(timeoutMs)), epfd);
  }

  /**
   * Device control (ioctl). `arg` is the uapi struct as an object with the
   * header's field names (or a number for by-value requests); fields the
   * kernel writes are written back into it. A bigint is a user address:
   * the struct is copied in and out of process memory (EFAULT when it
   * cannot be). Returns the ioctl's result.
   */
  ioctl(fd: number, request: number, arg?: unknown): Promise<number> {
    return this.call(
      'ioctl',
      () => {
        const req = argIoctlRequest(request);
        this.p.cpu.call = ioctlCallName(req);
        return sysIoctl(this.p, argFd(fd), req, arg);
      },
      fd,
    );
  }

  /** Maps a file (or anonymous memory with MAP_ANONYMOUS) and returns the address (mmap). */
  mmap(addr: number, len: number, prot: number, flags: number, fd: number, offset: number): Promise<number> {
    return this.call('mmap', async () => {
      argInt(addr, 'addr');
      argCount(len, 'length');
      argInt(prot, 'prot');
      argInt(flags, 'flags');
      argInt(offset, 'offset');
      if (flags & MAP_ANONYMOUS) return doMmap(this.p.mm, addr, len, prot, flags, null, offset);
      const f = this.p.fget(argFd(fd));
      try {
        const start = await doMmap(this.p.mm, addr, len, prot, flags, f, offset);
        // where the mapping's file reference came from, for the dma-buf reference views
        const v = this.p.mm.find(start);
        if (v) {
          v.site = this.k.soc.costs.siteHere('mmap_region');
          v.since = this.k.clock.now;
        }
        return start;
      } finally {
        await awaitRelease(f.put());
      }
    });
  }

  /** Removes mappings in [addr, addr+len) (munmap). */
  munmap(addr: number, len: number): Promise<void> {
    return this.call('munmap', () => doMunmap(this.p.mm, argInt(addr, 'addr'), argCount(len, 'length')));
  }

  /**
   * Shrinks, grows or moves a mapping and returns its address (mremap);
   * `flags` may hold MREMAP_MAYMOVE, MREMAP_FIXED (with `newAddr`) and
   * MREMAP_DONTUNMAP.
   */
  mremap(oldAddr: number, oldLen: number, newLen: number, flags = 0, newAddr = 0): Promise<number> {
    return this.call('mremap', () => doMremap(this.p.mm, argInt(oldAddr, 'old_address'), argCount(oldLen, 'old_size'), argCount(newLen, 'new_size'), argInt(flags, 'flags'), argInt(newAddr, 'new_address')));
  }

  /**
   * Changes the protection of the mappings in [addr, addr+len) (mprotect),
   * splitting those it covers in part; EINVAL for an unaligned address,
   * ENOMEM where nothing is mapped, EACCES for PROT_WRITE on a shared
   * mapping of a file open read-only.
   */
  mprotect(addr: number, len: number, prot: number): Promise<void> {
    return this.call('mprotect', () => doMprotect(this.p.mm, argInt(addr, 'addr'), argCount(len, 'len'), argInt(prot, 'prot')));
  }

  /**
   * Reads `len` bytes at a user address: CPU loads through the mappings and
   * the cache, so stale or fresh bytes come back as the hardware would
   * return them. The CPU's memory time is the process's user time, run
   * on a core before the load returns.
   */
  load(addr: number, len: number): Promise<Uint8Array> {
    return this.call('load', () => {
      argUserPtr(addr, 'addr');
      argCount(len, 'len');
      return userLoad(this.p.mm, addr, len);
    });
  }

  /** Writes bytes at a user address: CPU stores through the mappings and the cache. */
  store(addr: number, bytes: Uint8Array): Promise<void> {
    return this.call('store', () => {
      argUserPtr(addr, 'addr');
      argBuf(bytes, 'bytes');
      userStore(this.p.mm, addr, bytes);
    });
  }

  /**
   * The program's loads and stores without a kernel entry, for code that
   * runs between calls without awaiting (a WebAssembly program's memory
   * instructions): the same path as load and store, the CPU time the
   * process's user time, run on a core at its next call.
   */
  userCpuAccess(): UserCpuAccess {
    const p = this.p;
    const tlb = new UserTlb(() => p.mm);
    return {
      load: (addr, out, outOff, len) => tlb.load(addr, out, outOff, len),
      store: (addr, bytes) => tlb.store(addr, bytes),
      flush: () => tlb.flush(),
      run: (fn) => this.k.soc.costs.batch(fn),
    };
  }

  /**
   * Makes the process a 32-bit (compat) one, as exec of a 32-bit binary
   * does (arch_pick_mmap_layout for a compat task, TIF_32BIT): its address
   * space ends at ARM Linux's TASK_SIZE (0xbf000000), mmap places mappings
   * from ARM Linux's mmap_base down, and ioctls whose
   * structs hold pointers, longs or size_t take their 32-bit layouts
   * (compat_ioctl). Its children inherit it.
   */
  setCompat32(): Promise<void> {
    return this.call('personality', () => {
      this.p.mm.mmapBase = MMAP_BASE_32;
      this.p.mm.taskSize = TASK_SIZE_32;
      this.p.mm.compat32 = true;
    });
  }

  /** The time on a clock (clock_gettime): CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, ..._RAW, ..._COARSE, CLOCK_TAI; EINVAL for others. */
  clock_gettime(clockid: number): Promise<Timespec> {
    return this.call('clock_gettime', () => sysClockGettime(this.k, argInt(clockid, 'clockid')));
  }

  /** Sleeps `req` ({tv_sec, tv_nsec}) of simulated time (nanosleep); EINVAL when tv_nsec is out of range. */
  nanosleep(req: Timespec): Promise<void> {
    return this.call('nanosleep', () => sysNanosleep(this.k, this.p, req));
  }

  /** Sleeps on a clock for `req`, or with TIMER_ABSTIME until the clock reads `req` (clock_nanosleep). */
  clock_nanosleep(clockid: number, flags: number, req: Timespec): Promise<void> {
    return this.call('clock_nanosleep', () => sysClockNanosleep(this.k, this.p, argInt(clockid, 'clockid'), argInt(flags, 'flags'), req));
  }

  /** The system's names: sysname, nodename, release, version, machine, domainname (uname). */
  uname(): Promise<Utsname> {
    return this.call('uname', () => sysUname());
  }

  /**
   * An entry of the auxiliary vector the kernel handed the program
   * (getauxval): AT_PAGESZ is the page size, which is where glibc's
   * getpagesize() and sysconf(_SC_PAGESIZE) read it. ENOENT for a missing type.
   */
  getauxval(type: number): Promise<number> {
    return this.call('getauxval', () => {
      // getauxval's answer for a type the vector lacks
      if (!Number.isInteger(type)) throw kerr('ENOENT', `type ${String(type)}`);
      return auxval(this.p, type);
    });
  }

  /** Waits for events on fds (poll); writes `revents` into each entry and returns the ready count. */
  poll(fds: PollFd[], timeoutMs: number): Promise<number> {
    return this.call('poll', () => sysPoll(this.k, this.p, argPollFds<PollFd>(fds), argTimeout(timeoutMs)));
  }

  /** Creates a connected AF_UNIX SOCK_SEQPACKET pair (socketpair); `flags` may hold O_CLOEXEC, O_NONBLOCK. */
  socketpair(flags = 0): Promise<[number, number]> {
    return this.call('socketpair', async () => {
      argInt(flags, 'flags');
      const p = this.p;
      p.files.allocFd();
      const [a, b] = this.k.sockets.socketpair(p.cred, flags & O_NONBLOCK);
      const cloexec = (flags & O_CLOEXEC) !== 0;
      let fa = -1;
      try {
        fa = p.files.installLowest(a, cloexec);
        const fb = p.files.installLowest(b, cloexec);
        return [fa, fb] as [number, number];
      } catch (e) {
        if (fa >= 0) p.files.remove(fa);
        a.put();
        b.put();
        throw e;
      }
    });
  }

  /** Sends a message with fds (sendmsg with SCM_RIGHTS); returns the bytes sent. */
  sendmsg(fd: number, msg: SendMsg): Promise<number> {
    return this.call('sendmsg', () => {
      const m = argSendMsg(msg);
      const f = this.p.fget(argFd(fd));
      let r: number | Promise<number>;
      try {
        r = this.k.sockets.sendmsg(this.p, f, m.data, m.fds);
      } catch (e) {
        f.put();
        throw e;
      }
      return fputWhenDone(f, r);
    }, fd);
  }

  /** Receives a message and the fds it carries (recvmsg); MSG_CTRUNC in `flags` when fds were dropped. */
  recvmsg(fd: number, opts: RecvOptions = {}): Promise<RecvResult> {
    return this.call('recvmsg', () => {
      const o = argRecvOpts(opts);
      const f = this.p.fget(argFd(fd));
      let r: RecvResult | Promise<RecvResult>;
      try {
        r = this.k.sockets.recvmsg(this.p, f, o);
      } catch (e) {
        f.put();
        throw e;
      }
      return fputWhenDone(f, r);
    }, fd);
  }

  /** Creates a child process running `childMain` with copies of the fds and mappings; returns its pid (fork). */
  fork(childMain: ProgramMain<Sys>): Promise<number> {
    return this.call('fork', () => this.k.fork(this.p, argFn(childMain, 'childMain')));
  }

  /** Replaces the program, keeping pid and the fds without close-on-exec (execve). Never returns. */
  exec(main: ProgramMain<Sys>, args: string[] = []): Promise<never> {
    return this.call('exec', () => this.k.exec(this.p, argFn(main, 'main'), argStrings(args, 'argv')));
  }

  /** Waits for a child (pid, or -1 for any) to end and reaps it (wait4). */
  wait(pid = -1): Promise<WaitResult> {
    return this.call('wait', () => this.k.wait(this.p, argInt(pid, 'pid')));
  }

  /** Sends a signal (kill). */
  kill(pid: number, sig: number): Promise<void> {
    return this.call('kill', () => this.k.kill(this.p, argInt(pid, 'pid'), argInt(sig, 'sig')));
  }

  /**
   * Examines and changes a signal's action (rt_sigaction): `act` is
   * `{ handler, flags?, mask? }` with a handler function, SIG_DFL or
   * SIG_IGN, or null to only read; returns the old action. A handler is
   * `async (sig, info, sys) => …`, run in this process at a system-call
   * boundary of the thread it interrupts, whose `sys` it gets; it may make
   * calls. EINVAL for SIGKILL and SIGSTOP.
   */
  sigaction(sig: number, act: SigActionArg | null = null): Promise<SigAction> {
    return this.call('sigaction', () => sysSigaction(this.p.signals, argInt(sig, 'sig'), argOptStruct<SigActionArg>(act, 'act')));
  }

  /**
   * Changes this thread's blocked signals (rt_sigprocmask): SIG_BLOCK adds
   * `set`, SIG_UNBLOCK removes it, SIG_SETMASK replaces the mask; a null
   * `set` only reads it. SIGKILL and SIGSTOP are never blocked. Returns the
   * old mask. A pending signal it unblocks is handled as the call returns.
   * EINVAL for another `how` or a bad signal number.
   */
  sigprocmask(how: number, set: readonly number[] | null = null): Promise<number[]> {
    return this.call('sigprocmask', () => sysSigprocmask(this.p.signals, argInt(how, 'how'), set));
  }

  /** The signals pending for this thread that it blocks (sigpending). */
  sigpending(): Promise<number[]> {
    return this.call('sigpending', () => sysSigpending(this.p.signals));
  }

  /** Delivers SIGALRM after `seconds` of simulated time, 0 cancels; returns the seconds the previous alarm had left (alarm). */
  alarm(seconds: number): Promise<number> {
    return this.call('alarm', () => this.k.alarm(this.p, argCount(seconds, 'seconds')));
  }

  /**
   * Blocks exactly the signals of `mask` and sleeps until a signal's
   * handler runs under that mask, then puts the old mask back and rejects
   * with EINTR (sigsuspend): a signal the caller unblocks only here cannot
   * slip in between an unblock and a pause.
   */
  sigsuspend(mask: readonly number[]): Promise<never> {
    return this.call('sigsuspend', () => {
      if (!Array.isArray(mask)) throw kerr('EFAULT', 'bad sigset pointer');
      return this.k.sigsuspend(this.p, mask);
    });
  }

  /** Sleeps until a signal's handler runs, then rejects with EINTR (pause). */
  pause(): Promise<never> {
    return this.call('pause', () => this.k.pause(this.p));
  }

  /**
   * Ends the process, every thread of it, with `code` (exit_group, what
   * glibc's exit and _exit call). Never returns.
   */
  exit(code = 0): Promise<never> {
    return this.call('exit', () => this.exitGroupCall(code));
  }

  /** Ends the process, every thread of it, with `code` (exit_group); the same as exit. Never returns. */
  exit_group(code = 0): Promise<never> {
    return this.call('exit_group', () => this.exitGroupCall(code));
  }

  private async exitGroupCall(code: number): Promise<never> {
    if (!Number.isInteger(code)) throw kerr('EINVAL', `exit code ${code}`);
    await this.k.exitProcess(this.p, code & 0xff, 0, 1);
    throw new ProcessUnwind(this.p.pid, 'exit');
  }

  /** Reads a whole file as text, e.g. /proc/self/fdinfo/3 or /proc/self/maps. */
  readFile(path: string): Promise<string> {
    return this.call('readFile', () => sysReadFile(this.k, this.p, argPath(path)));
  }

  /** What a symlink points to, e.g. /proc/self/fd/3 (readlink). */
  readlink(path: string): Promise<string> {
    return this.call('readlink', () => sysReadlink(this.k, this.p, argPath(path)));
  }
}

const IOCTL_CALL_NAMES = new Map<number, string>();

/** The CPU's call while an ioctl runs (`ioctl VIDIOC_QBUF`), made once per request the uapi names (a request it does not name is not kept: a fuzzer tries millions). */
function ioctlCallName(req: number): string {
  let s = IOCTL_CALL_NAMES.get(req);
  if (s === undefined) {
    const name = ioctlName(req);
    s = `ioctl ${name}`;
    if (!name.startsWith('0x')) IOCTL_CALL_NAMES.set(req, s);
  }
  return s;
}
