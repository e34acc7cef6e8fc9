import { fputWhenDone } from './fput-when-done.ts';
import { KernelBug, isKernelError, kerr } from '../lib/index.ts';
import {
  FMODE_CAN_READ,
  FMODE_CAN_WRITE,
  FMODE_PREAD,
  FMODE_PWRITE,
  FMODE_READ,
  FMODE_WRITE,
  lookupPath,
  memfdFcntl,
  pipeFcntl,
  shmemInodeOf,
  shmemReopen,
  splitPath,
  vfsFallocate,
  vfsFsync,
  vfsFtruncate,
  vfsOpen,
  type File,
} from '../fs/index.ts';
import {
  FASYNC,
  _IOC_SIZE,
  compatIoctl,
  resizedIoctl,
  FD_CLOEXEC,
  FIOASYNC,
  FIOCLEX,
  FIONBIO,
  FIONCLEX,
  FIONREAD,
  F_ADD_SEALS,
  F_DUPFD,
  F_DUPFD_CLOEXEC,
  F_GETFD,
  F_GETFL,
  F_GETPIPE_SZ,
  F_GET_SEALS,
  F_SETFD,
  F_SETFL,
  F_SETPIPE_SZ,
  O_ACCMODE,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_NONBLOCK,
  O_RDONLY,
  O_TRUNC,
  SETFL_MASK,
  type Stat,
} from '../uapi/index.ts';
import type { ProcKernel } from './kernel.ts';
import type { Process } from './process.ts';
import { checkProcAccess, commText, fdinfoText, mapsText, parseProcPath, procTextFile, statusText } from './procfs.ts';
import { procDirFile, procPathTask } from './procfs-nodes.ts';
import { ioctlUserArg } from './usercopy.ts';

/** Waits for a release that sleeps; release errors are not the closer's (Linux ignores them), kernel bugs are. */
export async function awaitRelease(rel: Promise<void> | undefined): Promise<void> {
  if (!rel) return;
  try {
    await rel;
  } catch (e) {
    if (e instanceof KernelBug) throw e;
  }
}

/** The process a /proc path names, checked for access by `p`; ENOENT when gone. */
function procTarget(k: ProcKernel, p: Process, pid: number): Process {
  const t = k.processes.get(pid);
  if (!t || t.group.state === 'reaped') throw kerr('ENOENT', `/proc/${pid}`);
  checkProcAccess(p, t);
  return t;
}

/**
 * Opens a path to a new file description without installing an fd
 * (do_filp_open), /proc included: /proc/<pid>/fd/N reopens the target's
 * node, or the memfd itself (a pseudo or anonymous file cannot be
 * reopened: ENXIO), and fdinfo and maps open as generated text.
 */
export async function openFile(k: ProcKernel, p: Process, path: string, flags: number, mode: number): Promise<File> {
  const names = splitPath(path);
  const pp = path === '' ? null : parseProcPath(names, p.pid);
  if (!pp) return vfsOpen(k.vfs, p, path, flags, mode);
  const norm = '/' + names.join('/');
  if (pp.kind === 'dir') {
    // a directory is never opened for writing or created (may_open)
    if ((flags & O_ACCMODE) !== O_RDONLY || flags & O_CREAT) throw kerr('EISDIR', norm);
    if (pp.pid !== null) procTarget(k, p, pp.pid);
    return procDirFile(k, p, names, pp, flags);
  }
  if ((flags & O_ACCMODE) !== O_RDONLY || flags & (O_CREAT | O_TRUNC)) {
    if (pp.kind !== 'fd') throw kerr('EACCES', `${norm} is read-only`);
  }
  if (flags & O_DIRECTORY && pp.kind !== 'fd') throw kerr('ENOTDIR', norm);
  // comm and status are world-readable; the rest shows what only the owner (or root) may see
  const task = procPathTask(k, pp);
  if (pp.kind === 'comm') return procTextFile(k.vfs, k.procfs, norm, p, () => commText(task));
  if (pp.kind === 'status') return procTextFile(k.vfs, k.procfs, norm, p, () => statusText(task, p));
  const t = procTarget(k, p, pp.pid);
  if (pp.kind === 'fd') {
    const f = t.files.peek(pp.fd);
    if (!f) throw kerr('ENOENT', norm);
    const si = shmemInodeOf(f.inode);
    if (si) return shmemReopen(si, p, flags, f.pathName());
    const sb = f.inode.sb;
    if (sb !== k.vfs.rootfs && sb !== k.vfs.devtmpfs && sb !== k.vfs.debugfs) throw kerr('ENXIO', `${f.pathName()} cannot be reopened`);
    return vfsOpen(k.vfs, p, f.pathName(), flags & ~O_CREAT, mode);
  }
  if (pp.kind === 'fdinfo') {
    if (!t.files.peek(pp.fd)) throw kerr('ENOENT', norm);
    const fd = pp.fd;
    return procTextFile(k.vfs, k.procfs, norm, p, () => fdinfoText(t, fd));
  }
  return procTextFile(k.vfs, k.procfs, norm, p, () => mapsText(t));
}

/** open(2): the lowest free fd for a new open file description. */
export async function sysOpen(k: ProcKernel, p: Process, path: string, flags: number, mode = 0o666): Promise<number> {
  if (typeof path !== 'string') throw kerr('EFAULT', 'path is not a string');
  p.files.allocFd(); // EMFILE before anything is opened, as get_unused_fd_flags does first
  const f = await openFile(k, p, path, flags, mode);
  try {
    return p.files.installLowest(f, (flags & O_CLOEXEC) !== 0);
  } catch (e) {
    await awaitRelease(f.put());
    throw e;
  }
}

/** close(2): removes the fd, runs flush, drops the reference (release runs if it was the last). */
export async function sysClose(p: Process, fd: number): Promise<void> {
  const f = p.files.remove(fd);
  try {
    await f.fOp.flush?.(f, p);
  } finally {
    // the reference goes whatever flush said; its error, if any, is close's
    await awaitRelease(f.put());
  }
}

/** dup(2): the lowest free fd for the same file, close-on-exec clear. */
export function sysDup(p: Process, fd: number): number {
  const f = p.files.lookup(fd).get();
  try {
    return p.files.installLowest(f, false);
  } catch (e) {
    f.put();
    throw e;
  }
}

/** dup2(2): `newfd` refers to `oldfd`'s file, closing what it referred to. EBADF for a bad fd or newfd beyond the limit. */
export async function sysDup2(p: Process, oldfd: number, newfd: number): Promise<number> {
  if (!Number.isInteger(newfd) || newfd < 0 || newfd >= p.files.limit) throw kerr('EBADF', `fd ${newfd}`);
  const f = p.files.lookup(oldfd);
  if (oldfd === newfd) return newfd;
  f.get();
  const old = p.files.peek(newfd) ? p.files.remove(newfd) : null;
  p.files.install(newfd, f, false);
  if (old) {
    try {
      await old.fOp.flush?.(old, p);
    } catch (e) {
      // dup2 ignores the flush result of the file it closes, as do_dup2 does
      if (!isKernelError(e)) throw e;
    }
    await awaitRelease(old.put());
  }
  return newfd;
}

/**
 * fcntl(2): F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL,
 * the sealing commands F_ADD_SEALS and F_GET_SEALS (which may sleep while
 * F_SEAL_WRITE waits for pinned pages) and the pipe commands F_GETPIPE_SZ
 * and F_SETPIPE_SZ; EINVAL for other commands.
 */
export async function sysFcntl(p: Process, fd: number, cmd: number, arg = 0): Promise<number> {
  const f = p.files.lookup(fd);
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      if (!Number.isInteger(arg) || arg < 0 || arg >= p.files.limit) throw kerr('EINVAL', `F_DUPFD from ${arg}`);
      f.get();
      try {
        return p.files.installLowest(f, cmd === F_DUPFD_CLOEXEC, arg);
      } catch (e) {
        f.put();
        throw e;
      }
    }
    case F_GETFD:
      return p.files.getCloexec(fd) ? FD_CLOEXEC : 0;
    case F_SETFD:
      p.files.setCloexec(fd, (arg & FD_CLOEXEC) !== 0);
      return 0;
    case F_GETFL:
      return f.flags;
    case F_SETFL:
      f.flags = (arg & SETFL_MASK) | (f.flags & ~SETFL_MASK);
      return 0;
    case F_ADD_SEALS:
    case F_GET_SEALS: {
      // the file may be closed by another thread while sealing waits: hold it
      f.get();
      try {
        return await memfdFcntl(f, cmd, arg, p);
      } finally {
        await awaitRelease(f.put());
      }
    }
    case F_GETPIPE_SZ:
    case F_SETPIPE_SZ:
      return pipeFcntl(f, cmd, arg, p.cred);
    default:
      throw kerr('EINVAL', `fcntl command ${cmd}`);
  }
}

/**
 * ftruncate(2): EINVAL for a negative length (before the fd is looked
 * up), EBADF, then the VFS's checks: EINVAL unless a regular file open for
 * writing (a dma-buf is not), EPERM for a memfd seal, EFBIG beyond the
 * filesystem's limit.
 */
export async function sysFtruncate(p: Process, fd: number, length: number): Promise<void> {
  if (!Number.isSafeInteger(length) || length < 0) throw kerr('EINVAL', `length ${length}`);
  const f = p.fget(fd);
  try {
    await vfsFtruncate(f, length);
  } finally {
    await awaitRelease(f.put());
  }
}

/** fsync(2) and fdatasync(2): EBADF, then EINVAL for a file without an fsync op (a dma-buf, a pipe, a socket). */
export async function sysFsync(p: Process, fd: number, datasync: boolean): Promise<void> {
  const f = p.fget(fd);
  try {
    await vfsFsync(f, datasync);
  } finally {
    await awaitRelease(f.put());
  }
}

/**
 * fallocate(2): EBADF for a bad fd, then vfs_fallocate's checks (EINVAL,
 * EOPNOTSUPP, EBADF when not open for writing, ESPIPE for a pipe, ENODEV
 * for a dma-buf or device, EFBIG) and the filesystem's (shmem: allocation
 * and PUNCH_HOLE|KEEP_SIZE only, EPERM under seals).
 */
export async function sysFallocate(p: Process, fd: number, mode: number, offset: number, len: number): Promise<void> {
  const f = p.fget(fd);
  try {
    await vfsFallocate(f, mode, offset, len);
  } finally {
    await awaitRelease(f.put());
  }
}

/** read(2) at the file position. EBADF if not open for reading, EINVAL if the file cannot be read. */
export function sysRead(p: Process, fd: number, len: number): Uint8Array | Promise<Uint8Array> {
  const f = p.fget(fd);
  let r: Uint8Array | Promise<Uint8Array>;
  try {
    if (!(f.mode & FMODE_READ)) throw kerr('EBADF', 'not open for reading');
    if (!(f.mode & FMODE_CAN_READ) || !f.fOp.read) throw kerr('EINVAL', `${f.pathName()} cannot be read`);
    if (!Number.isSafeInteger(len) || len < 0) throw kerr('EINVAL', `length ${len}`);
    r = f.fOp.read(f, len, f, p);
  } catch (e) {
    f.put();
    throw e;
  }
  return fputWhenDone(f, r);
}

/** pread(2) at `offset`, position unchanged. EINVAL for a negative offset, ESPIPE for a file without positioned reads. */
export function sysPread(p: Process, fd: number, len: number, offset: number): Uint8Array | Promise<Uint8Array> {
  if (!Number.isSafeInteger(offset) || offset < 0) throw kerr('EINVAL', `offset ${offset}`);
  const f = p.fget(fd);
  let r: Uint8Array | Promise<Uint8Array>;
  try {
    if (!(f.mode & FMODE_PREAD)) throw kerr('ESPIPE', `${f.pathName()} has no positioned reads`);
    if (!(f.mode & FMODE_READ)) throw kerr('EBADF', 'not open for reading');
    if (!(f.mode & FMODE_CAN_READ) || !f.fOp.read) throw kerr('EINVAL', `${f.pathName()} cannot be read`);
    if (!Number.isSafeInteger(len) || len < 0) throw kerr('EINVAL', `length ${len}`);
    r = f.fOp.read(f, len, { pos: offset }, p);
  } catch (e) {
    f.put();
    throw e;
  }
  return fputWhenDone(f, r);
}

/** write(2) at the file position. EBADF if not open for writing, EINVAL if the file cannot be written. */
export function sysWrite(p: Process, fd: number, data: Uint8Array): number | Promise<number> {
  const f = p.fget(fd);
  let r: number | Promise<number>;
  try {
    if (!(f.mode & FMODE_WRITE)) throw kerr('EBADF', 'not open for writing');
    if (!(f.mode & FMODE_CAN_WRITE) || !f.fOp.write) throw kerr('EINVAL', `${f.pathName()} cannot be written`);
    if (!(data instanceof Uint8Array)) throw kerr('EFAULT', 'buffer is not a Uint8Array');
    r = f.fOp.write(f, data, f, p);
  } catch (e) {
    f.put();
    throw e;
  }
  return fputWhenDone(f, r);
}

/** pwrite(2) at `offset`. */
export function sysPwrite(p: Process, fd: number, data: Uint8Array, offset: number): number | Promise<number> {
  if (!Number.isSafeInteger(offset) || offset < 0) throw kerr('EINVAL', `offset ${offset}`);
  const f = p.fget(fd);
  let r: number | Promise<number>;
  try {
    if (!(f.mode & FMODE_PWRITE)) throw kerr('ESPIPE', `${f.pathName()} has no positioned writes`);
    if (!(f.mode & FMODE_WRITE)) throw kerr('EBADF', 'not open for writing');
    if (!(f.mode & FMODE_CAN_WRITE) || !f.fOp.write) throw kerr('EINVAL', `${f.pathName()} cannot be written`);
    r = f.fOp.write(f, data, { pos: offset }, p);
  } catch (e) {
    f.put();
    throw e;
  }
  return fputWhenDone(f, r);
}

/** lseek(2) through the file's llseek; ESPIPE when it has none. */
export function sysLseek(p: Process, fd: number, offset: number, whence: number): number {
  const f = p.files.lookup(fd);
  if (!f.fOp.llseek) throw kerr('ESPIPE', `${f.pathName()} is not seekable`);
  return f.fOp.llseek(f, offset, whence);
}

/** fstat(2). */
export function sysFstat(p: Process, fd: number): Stat {
  return p.files.lookup(fd).inode.stat();
}

/** Reads an int-pointer ioctl argument: a number, or `{ value }`; EFAULT for none. */
function intArg(arg: unknown): number {
  if (typeof arg === 'number') return arg;
  if (arg && typeof arg === 'object' && typeof (arg as { value?: unknown }).value === 'number') return (arg as { value: number }).value;
  throw kerr('EFAULT', 'bad int pointer');
}

/**
 * ioctl(2): the generic requests first (FIOCLEX, FIONCLEX, FIONBIO,
 * FIOASYNC, FIONREAD on regular files), as do_vfs_ioctl does, then the
 * file's unlocked_ioctl; ENOTTY when it has none. `arg` is a user address
 * when it is a bigint (the struct is copied in and out of the process's
 * memory by the request's uapi layout, EFAULT for an address not mapped,
 * not readable or, for what the kernel writes back, not writable);
 * otherwise the handler's object itself, a number for by-value requests,
 * null for NULL.
 */
export function sysIoctl(p: Process, fd: number, request: number, arg: unknown): number | Promise<number> {
  const f = p.fget(fd);
  let r: number | Promise<number>;
  try {
    const cmd = request >>> 0;
    r = typeof arg === 'bigint' ? ioctlFromUser(p, f, fd, cmd, arg) : doIoctl(p, f, fd, cmd, arg);
  } catch (e) {
    f.put();
    throw e;
  }
  return fputWhenDone(f, r);
}

/** An ioctl whose argument is a user address: its struct copied in and out by the request's layout (ioctlUserArg). */
function ioctlFromUser(p: Process, f: File, fd: number, cmd: number, arg: bigint): Promise<number> {
  // a 32-bit caller's request whose struct differs by word size is its compat form: the native call over the 32-bit struct
  const compat = p.mm.compat32 ? compatIoctl(cmd) : undefined;
  // a subsystem that matches requests by number takes a struct of another size (dma_heap_ioctl)
  const resized = compat ? undefined : resizedIoctl(cmd);
  const native = compat ? compat.native >>> 0 : resized ? resized.cmd >>> 0 : cmd;
  return ioctlUserArg(
    p.mm,
    native,
    arg,
    (karg) => doIoctl(p, f, fd, native, karg),
    async (newFd) => {
      // put_unused_fd and fput: the fd never reached the caller
      await awaitRelease(p.files.remove(newFd).put());
    },
    compat ? { spec: compat.spec } : resized ? { userSize: _IOC_SIZE(cmd) } : {},
  );
}

/** The generic requests, then the file's unlocked_ioctl, with the argument object (do_vfs_ioctl, vfs_ioctl). */
function doIoctl(p: Process, f: File, fd: number, cmd: number, arg: unknown): number | Promise<number> {
  switch (cmd) {
    case FIOCLEX:
      p.files.setCloexec(fd, true);
      return 0;
    case FIONCLEX:
      p.files.setCloexec(fd, false);
      return 0;
    case FIONBIO:
      f.flags = intArg(arg) ? f.flags | O_NONBLOCK : f.flags & ~O_NONBLOCK;
      return 0;
    case FIOASYNC:
      f.flags = intArg(arg) ? f.flags | FASYNC : f.flags & ~FASYNC;
      return 0;
    case FIONREAD:
      if (f.inode.isReg) {
        if (!arg || typeof arg !== 'object') throw kerr('EFAULT', 'bad int pointer');
        (arg as { value: number }).value = Math.max(0, f.inode.size - f.pos);
        return 0;
      }
      break;
  }
  if (!f.fOp.unlockedIoctl) throw kerr('ENOTTY', `${f.pathName()} has no ioctls`);
  return f.fOp.unlockedIoctl(f, cmd, arg, p);
}

/**
 * readlink(2): /proc/self, /proc/<pid>/fd/N (what the fd refers to: a
 * path, "anon_inode:<name>", "/dmabuf:<name>", "socket:[ino]"), and the
 * symbolic links of the tree (sysfs's class and device links). EINVAL for
 * a path that is not a symlink, ENOENT for one that does not exist.
 */
export function sysReadlink(k: ProcKernel, p: Process, path: string): string {
  const names = splitPath(path);
  const pp = parseProcPath(names, p.pid);
  if (pp) {
    if (names.length === 2 && names[1] === 'self') return String(p.pid);
    if (pp.kind === 'fd') {
      const t = procTarget(k, p, pp.pid);
      const f = t.files.peek(pp.fd);
      if (!f) throw kerr('ENOENT', '/' + names.join('/'));
      return f.pathName();
    }
    if (pp.pid !== null) procTarget(k, p, pp.pid);
    throw kerr('EINVAL', `${'/' + names.join('/')} is not a symlink`);
  }
  const l = lookupPath(k.vfs, p, path, false);
  if (!l.inode) throw kerr('ENOENT', l.path);
  if (l.inode.symlink !== undefined) return l.inode.symlink;
  throw kerr('EINVAL', `${l.path} is not a symlink`);
}

const decoder = new TextDecoder();

/** Reads a whole file as text (open, read to end of file, close), /proc included. */
export async function sysReadFile(k: ProcKernel, p: Process, path: string): Promise<string> {
  const f = await openFile(k, p, path, O_RDONLY, 0);
  try {
    if (!f.fOp.read) throw kerr('EINVAL', `${f.pathName()} cannot be read`);
    const parts: Uint8Array[] = [];
    let total = 0;
    while (true) {
      const chunk = await f.fOp.read(f, 65536, f, p);
      if (chunk.length === 0) break;
      parts.push(chunk);
      total += chunk.length;
    }
    const all = new Uint8Array(total);
    let o = 0;
    for (const c of parts) {
      all.set(c, o);
      o += c.length;
    }
    return decoder.decode(all);
  } finally {
    await awaitRelease(f.put());
  }
}
