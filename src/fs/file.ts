import { KernelBug, kerr } from '../lib/index.ts';
import { O_ACCMODE, O_CLOEXEC, O_RDONLY, O_RDWR, O_WRONLY } from '../uapi/index.ts';
import type { Cred } from './cred.ts';
import type { Inode } from './inode.ts';
import type { PollTable } from './poll.ts';
import type { DirContext } from './readdir.ts';
import type { Task } from './task.ts';
import type { VmArea } from './vma.ts';

/** f_mode bits (include/linux/fs.h); only what the VFS here checks. */
export const FMODE_READ = 0x1;
export const FMODE_WRITE = 0x2;
/** The file has a meaningful position: lseek may move it. */
export const FMODE_LSEEK = 0x4;
/** pread/pwrite allowed; pseudo files and sockets lack them (ESPIPE). */
export const FMODE_PREAD = 0x8;
export const FMODE_PWRITE = 0x10;
export const FMODE_CAN_READ = 0x20000;
export const FMODE_CAN_WRITE = 0x40000;

/** A file position passed by reference (loff_t *ppos): read/write advance it. */
export interface FilePos {
  pos: number;
}

/**
 * A file operations table (struct file_operations), filled in by whoever
 * creates the file: a driver, dma-buf, sync_file, a socket. Every member is
 * optional; a missing one gives the errno Linux gives (no read: EINVAL, no
 * ioctl: ENOTTY, no mmap: ENODEV, no llseek: ESPIPE, no poll: the default
 * mask). Operations that may sleep in Linux may return a Promise; poll,
 * llseek and showFdinfo must not sleep and are synchronous.
 */
export interface FileOperations {
  /** Driver or subsystem name, for messages (owner). */
  readonly name?: string;
  /** Called when an inode is opened (f_op->open); a throw fails the open, release is not called. */
  open?(inode: Inode, file: File, task: Task): void | Promise<void>;
  /** Called on every close of an fd that refers to the file (f_op->flush). */
  flush?(file: File, task: Task): void | Promise<void>;
  /** Called once, when the last reference goes (f_op->release). */
  release?(inode: Inode, file: File): void | Promise<void>;
  /** Reads up to `len` bytes at `ppos.pos` and advances it (f_op->read). */
  read?(file: File, len: number, ppos: FilePos, task: Task): Uint8Array | Promise<Uint8Array>;
  /** Writes `data` at `ppos.pos` and advances it; returns the bytes taken (f_op->write). */
  write?(file: File, data: Uint8Array, ppos: FilePos, task: Task): number | Promise<number>;
  /** Moves the position; returns the new offset (f_op->llseek). */
  llseek?(file: File, offset: number, whence: number): number;
  /**
   * Handles an ioctl (f_op->unlocked_ioctl). `arg` is the uapi struct as an
   * object (or a number for by-value ioctls); fields the kernel writes are
   * written back into it. Unknown requests throw ENOTTY.
   */
  unlockedIoctl?(file: File, cmd: number, arg: unknown, task: Task): number | Promise<number>;
  /** Sets up a user mapping: fills in the VMA's backing (f_op->mmap). */
  mmap?(file: File, vma: VmArea): void | Promise<void>;
  /**
   * Offers a directory's entries from ctx.pos on, advancing ctx.pos past
   * each one taken (f_op->iterate_shared); only directories have it. Never
   * sleeps.
   */
  iterateShared?(file: File, ctx: DirContext): void;
  /**
   * Allocates or frees file space (f_op->fallocate) after vfs_fallocate's
   * checks: `mode` FALLOC_FL_* bits, [offset, offset+len). Absent:
   * EOPNOTSUPP.
   */
  fallocate?(file: File, mode: number, offset: number, len: number): void | Promise<void>;
  /** Returns the ready mask and registers on wait queues through pollWait (f_op->poll). */
  poll?(file: File, pt: PollTable | null): number;
  /** Extra /proc/<pid>/fdinfo lines, each ending in "\n" (f_op->show_fdinfo). */
  showFdinfo?(file: File): string;
  /**
   * Writes the file's dirty data back (f_op->fsync); `datasync` skips
   * metadata that reading the data does not need. Absent: fsync is EINVAL.
   */
  fsync?(file: File, datasync: boolean): void | Promise<void>;
}

/**
 * Someone watching a file who must let go before the file's release runs:
 * an epoll item (the file's f_ep list). Watchers hold no reference; the
 * file tells them when its last reference goes (eventpoll_release).
 */
export interface FileWatcher {
  /** The file is being released: drop every pointer to it now. */
  fileReleased(file: File): void;
}

/** Whoever tracks open files and finishes asynchronous releases (the Vfs). */
export interface FileTracker {
  /** Registers a new file and returns its serial number. */
  fileOpened(file: File): number;
  fileReleased(file: File, release: Promise<void> | undefined): void;
}

/** What a new File is made of (the arguments of alloc_file). */
export interface FileInit {
  inode: Inode;
  fops: FileOperations;
  /** open() flags; O_CLOEXEC belongs to the fd and is dropped here. */
  flags: number;
  cred: Cred;
  /** Extra f_mode bits (FMODE_LSEEK, FMODE_PREAD, FMODE_PWRITE). */
  fmode?: number;
  privateData?: unknown;
  /** What readlink(/proc/self/fd/N) shows: a path, or a function of the file for pseudo files (d_dname). */
  name: string | ((file: File) => string);
}

/**
 * An open file description (struct file): the operations, the access mode
 * and flags, the position and the opener's credentials, shared by every fd
 * that dup, fork or SCM_RIGHTS made from one open. Reference counted: fd
 * tables, mappings, messages in flight and kernel users each hold one
 * (getFile/fput), and release runs when the last one goes.
 */
export class File {
  /** A serial number, for messages and leak reports. */
  readonly id: number;
  readonly inode: Inode;
  readonly fOp: FileOperations;
  /** FMODE_* bits. */
  mode: number;
  /** f_flags: O_ACCMODE, O_NONBLOCK, O_APPEND, ... (never O_CLOEXEC, which is per fd). */
  flags: number;
  /** f_pos. */
  pos = 0;
  readonly cred: Cred;
  privateData: unknown;
  /** Epoll items watching this file (f_ep), told before release runs; null when none. */
  watchers: Set<FileWatcher> | null = null;
  private refs = 1;
  private readonly tracker: FileTracker;
  private readonly nameOf: string | ((file: File) => string);

  constructor(tracker: FileTracker, init: FileInit) {
    this.tracker = tracker;
    this.inode = init.inode;
    this.fOp = init.fops;
    this.flags = init.flags & ~O_CLOEXEC;
    this.cred = init.cred;
    this.privateData = init.privateData;
    this.nameOf = init.name;
    this.mode = openFmode(init.flags) | (init.fmode ?? 0);
    if (this.mode & FMODE_READ && init.fops.read) this.mode |= FMODE_CAN_READ;
    if (this.mode & FMODE_WRITE && init.fops.write) this.mode |= FMODE_CAN_WRITE;
    this.id = tracker.fileOpened(this);
  }

  /** Number of references (file_count). */
  get count(): number {
    return this.refs;
  }

  /** True once the last reference went and release ran. */
  get released(): boolean {
    return this.refs === 0;
  }

  /** The access mode bits of f_flags as O_RDONLY/O_WRONLY/O_RDWR. */
  get accMode(): number {
    return this.flags & O_ACCMODE;
  }

  /** What readlink(/proc/<pid>/fd/N) gives for this file (d_path). */
  pathName(): string {
    return typeof this.nameOf === 'string' ? this.nameOf : this.nameOf(this);
  }

  /** Takes a reference (get_file). */
  get(): this {
    if (this.refs <= 0) throw new KernelBug(`get_file on released file #${this.id} (${this.pathName()})`);
    this.refs++;
    return this;
  }

  /**
   * Drops a reference (fput); the last one runs release. Returns the
   * release's promise when release sleeps, so an async caller can wait for
   * it (the deferred __fput); the tracker keeps it too.
   */
  put(): Promise<void> | undefined {
    if (this.refs <= 0) throw new KernelBug(`fput on released file #${this.id} (${this.pathName()})`);
    if (--this.refs > 0) return undefined;
    // watchers let go first, as __fput calls eventpoll_release before f_op->release
    const w = this.watchers;
    if (w) {
      this.watchers = null;
      for (const x of w) x.fileReleased(this);
    }
    let p: Promise<void> | undefined;
    try {
      const r = this.fOp.release?.(this.inode, this);
      if (r instanceof Promise) p = r;
    } finally {
      this.tracker.fileReleased(this, p);
    }
    return p;
  }

  /**
   * Marks a file whose open failed as gone without calling release, as
   * do_dentry_open does (fput of a file that never opened).
   */
  abortOpen(): void {
    if (this.refs !== 1) throw new KernelBug(`abortOpen on file #${this.id} with ${this.refs} references`);
    this.refs = 0;
    this.tracker.fileReleased(this, undefined);
  }
}

/** Takes a reference to `file` (get_file). */
export function getFile<F extends File>(file: F): F {
  return file.get();
}

/** Drops a reference to `file`; the last one runs release (fput). */
export function fput(file: File): Promise<void> | undefined {
  return file.put();
}

/** FMODE_READ/FMODE_WRITE for open flags (OPEN_FMODE). */
export function openFmode(flags: number): number {
  switch (flags & O_ACCMODE) {
    case O_RDONLY:
      return FMODE_READ;
    case O_WRONLY:
      return FMODE_WRITE;
    case O_RDWR:
      return FMODE_READ | FMODE_WRITE;
    default:
      return 0;
  }
}

/** Throws EFAULT unless `arg` is an object an ioctl can read and write (copy_from_user). */
export function userArg<T extends object>(arg: unknown): T {
  if (arg === null || arg === undefined || typeof arg !== 'object') throw kerr('EFAULT', 'bad ioctl argument pointer');
  return arg as T;
}
