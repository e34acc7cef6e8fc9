import { KernelBug, PAGE_SIZE, kerr } from '../lib/index.ts';
import {
  F_GETPIPE_SZ,
  F_SETPIPE_SZ,
  FIONREAD,
  O_DIRECT,
  O_NONBLOCK,
  O_RDONLY,
  O_WRONLY,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLOUT,
  POLLRDNORM,
  POLLWRNORM,
  S_IFIFO,
  SIGPIPE,
} from '../uapi/index.ts';
import type { Cred } from './cred.ts';
import { File, FMODE_READ, FMODE_WRITE, userArg, type FileOperations, type FilePos } from './file.ts';
import { Inode, type SuperBlock } from './inode.ts';
import { pollWait, type PollTable } from './poll.ts';
import type { Task } from './task.ts';
import type { Vfs } from './vfs.ts';
import { WaitQueueHead, waitEvent } from './wait.ts';

/** Buffers a new pipe has: 16 pages, 64 KiB (PIPE_DEF_BUFFERS). */
export const PIPE_DEF_BUFFERS = 16;
/** Writes up to this many bytes are atomic (PIPE_BUF). */
export const PIPE_BUF = PAGE_SIZE;
/** Largest capacity an unprivileged F_SETPIPE_SZ may ask for (/proc/sys/fs/pipe-max-size). */
export const PIPE_MAX_SIZE = 1 << 20;

/** The buffer may take more bytes after the ones it holds (PIPE_BUF_FLAG_CAN_MERGE). */
const BUF_CAN_MERGE = 1;
/** The buffer is one packet of an O_DIRECT writer; a read takes it whole (PIPE_BUF_FLAG_PACKET). */
const BUF_PACKET = 2;

const ALL_EVENTS = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM | POLLERR | POLLHUP;

/**
 * A pipe (struct pipe_inode_info): a ring of page-sized buffers, `maxUsage`
 * of them usable, and the counts of open read and write ends. Buffer
 * metadata lives in typed arrays; a slot's 4 KiB of bytes is allocated on
 * first use and reused. Readers sleep on rdWait, writers on wrWait;
 * poll and epoll register on both.
 */
export class Pipe {
  readonly inode: Inode;
  readers = 0;
  writers = 0;
  /** Slots in the ring (a power of two) and how many of them may hold data. */
  ringSize = PIPE_DEF_BUFFERS;
  maxUsage = PIPE_DEF_BUFFERS;
  /** Next slot to fill and next slot to read, as free-running counters. */
  head = 0;
  tail = 0;
  /** Bytes the buffers hold. */
  bytes = 0;
  readonly rdWait = new WaitQueueHead();
  readonly wrWait = new WaitQueueHead();
  private slots: (Uint8Array | null)[] = new Array<Uint8Array | null>(PIPE_DEF_BUFFERS).fill(null);
  private offs = new Int32Array(PIPE_DEF_BUFFERS);
  private lens = new Int32Array(PIPE_DEF_BUFFERS);
  private bflags = new Uint8Array(PIPE_DEF_BUFFERS);

  constructor(inode: Inode) {
    this.inode = inode;
  }

  /** True when no buffer holds data (pipe_empty). */
  get empty(): boolean {
    return this.head === this.tail;
  }

  /** True when every usable buffer is taken (pipe_full). */
  get full(): boolean {
    return this.head - this.tail >= this.maxUsage;
  }

  /** Capacity in bytes (F_GETPIPE_SZ). */
  get capacity(): number {
    return this.maxUsage * PAGE_SIZE;
  }

  /**
   * Copies out up to `len` bytes (pipe_read): what is there, without
   * waiting for more; a packet buffer is taken whole, its excess dropped.
   * Sleeps while the pipe is empty and a writer exists; end of file (an
   * empty result) when none does; EAGAIN for O_NONBLOCK; EINTR on a signal.
   */
  async read(file: File, len: number, task: Task): Promise<Uint8Array> {
    if (len === 0) return new Uint8Array(0);
    while (this.empty) {
      if (this.writers === 0) return new Uint8Array(0);
      if (file.flags & O_NONBLOCK) throw kerr('EAGAIN', 'pipe is empty');
      await waitEvent(this.rdWait, () => !this.empty || this.writers === 0, { task });
    }
    const wasFull = this.full;
    const out = new Uint8Array(Math.min(len, this.bytes));
    let got = 0;
    const mask = this.ringSize - 1;
    while (!this.empty && got < out.length) {
      const s = this.tail & mask;
      const n = Math.min(this.lens[s]!, out.length - got);
      out.set(this.slots[s]!.subarray(this.offs[s]!, this.offs[s]! + n), got);
      got += n;
      this.offs[s] = this.offs[s]! + n;
      this.lens[s] = this.lens[s]! - n;
      this.bytes -= n;
      if (this.bflags[s]! & BUF_PACKET) {
        this.bytes -= this.lens[s]!;
        this.lens[s] = 0;
      }
      if (this.lens[s] === 0) this.tail++;
      else break;
      if (this.bflags[s]! & BUF_PACKET) break;
    }
    if (wasFull || got > 0) this.wrWait.wakeUp(POLLOUT | POLLWRNORM);
    return got === out.length ? out : out.subarray(0, got);
  }

  /**
   * Copies `data` in (pipe_write): a write of at most PIPE_BUF bytes lands
   * in one buffer, whole; the tail of a larger one that is not a page
   * multiple first tops up the last buffer. Sleeps while the ring is full,
   * unless O_NONBLOCK (EAGAIN when nothing went in, else the count so far).
   * With no reader left: SIGPIPE to the writer and EPIPE (or the count so
   * far). An O_DIRECT writer makes one packet per buffer.
   */
  async write(file: File, data: Uint8Array, task: Task): Promise<number> {
    const total = data.length;
    if (total === 0) return 0;
    if (this.readers === 0) return this.brokenPipe(task, 0);
    const packet = (file.flags & O_DIRECT) !== 0;
    let done = 0;
    const chars = total & (PAGE_SIZE - 1);
    if (chars && !this.empty) {
      const s = (this.head - 1) & (this.ringSize - 1);
      const end = this.offs[s]! + this.lens[s]!;
      if (this.bflags[s]! & BUF_CAN_MERGE && end + chars <= PAGE_SIZE) {
        this.slots[s]!.set(data.subarray(0, chars), end);
        this.lens[s] = this.lens[s]! + chars;
        this.bytes += chars;
        done = chars;
      }
    }
    while (done < total) {
      if (this.readers === 0) return this.brokenPipe(task, done);
      if (!this.full) {
        const s = this.head & (this.ringSize - 1);
        const n = Math.min(PAGE_SIZE, total - done);
        let buf = this.slots[s];
        if (!buf) buf = this.slots[s] = new Uint8Array(PAGE_SIZE);
        buf.set(data.subarray(done, done + n), 0);
        this.offs[s] = 0;
        this.lens[s] = n;
        this.bflags[s] = packet ? BUF_PACKET : BUF_CAN_MERGE;
        this.head++;
        this.bytes += n;
        done += n;
        continue;
      }
      if (file.flags & O_NONBLOCK) {
        if (done === 0) throw kerr('EAGAIN', 'pipe is full');
        break;
      }
      if (task.signalPending()) {
        if (done === 0) throw kerr('EINTR', 'interrupted by a signal');
        break;
      }
      if (done > 0) this.rdWait.wakeUp(POLLIN | POLLRDNORM);
      try {
        await waitEvent(this.wrWait, () => !this.full || this.readers === 0, { task });
      } catch (e) {
        if (done === 0) throw e;
        break;
      }
    }
    if (done > 0) this.rdWait.wakeUp(POLLIN | POLLRDNORM);
    return done;
  }

  /** The poll mask one end of the pipe sees (pipe_poll). */
  poll(file: File, pt: PollTable | null): number {
    if (file.mode & FMODE_READ) pollWait(file, this.rdWait, pt);
    if (file.mode & FMODE_WRITE) pollWait(file, this.wrWait, pt);
    let mask = 0;
    if (file.mode & FMODE_READ) {
      if (!this.empty) mask |= POLLIN | POLLRDNORM;
      if (this.writers === 0) mask |= POLLHUP;
    }
    if (file.mode & FMODE_WRITE) {
      if (!this.full) mask |= POLLOUT | POLLWRNORM;
      // Linux reports POLLERR to writers of a pipe nobody reads
      if (this.readers === 0) mask |= POLLERR;
    }
    return mask;
  }

  /**
   * Sets the capacity (pipe_set_size): `size` rounded up to a power of two
   * of pages, at least one. EINVAL above 2 GiB, EPERM above PIPE_MAX_SIZE
   * for a caller other than root when it grows the pipe, EBUSY when the
   * data held would not fit. Returns the new capacity in bytes.
   */
  setSize(size: number, cred: Cred): number {
    if (!Number.isSafeInteger(size) || size < 0 || size > 2 ** 31) throw kerr('EINVAL', `pipe size ${size}`);
    let pages = 1;
    while (pages * PAGE_SIZE < size) pages *= 2;
    if (pages > this.maxUsage && pages * PAGE_SIZE > PIPE_MAX_SIZE && cred.uid !== 0) throw kerr('EPERM', `pipe size ${size} above pipe-max-size`);
    const used = this.head - this.tail;
    if (pages < used) throw kerr('EBUSY', `${used} buffers in use`);
    const slots = new Array<Uint8Array | null>(pages).fill(null);
    const offs = new Int32Array(pages);
    const lens = new Int32Array(pages);
    const bflags = new Uint8Array(pages);
    const mask = this.ringSize - 1;
    for (let i = 0; i < used; i++) {
      const s = (this.tail + i) & mask;
      slots[i] = this.slots[s]!;
      offs[i] = this.offs[s]!;
      lens[i] = this.lens[s]!;
      bflags[i] = this.bflags[s]!;
    }
    this.slots = slots;
    this.offs = offs;
    this.lens = lens;
    this.bflags = bflags;
    this.ringSize = pages;
    this.maxUsage = pages;
    this.tail = 0;
    this.head = used;
    this.wrWait.wakeUp(POLLOUT | POLLWRNORM);
    return this.capacity;
  }

  /** One end was released (pipe_release): counts drop and every sleeper and poller is woken. */
  endReleased(file: File): void {
    if (file.mode & FMODE_READ) this.readers--;
    if (file.mode & FMODE_WRITE) this.writers--;
    if (this.readers < 0 || this.writers < 0) throw new KernelBug('pipe end released twice');
    this.rdWait.wakeUp(ALL_EVENTS);
    this.wrWait.wakeUp(ALL_EVENTS);
  }

  private brokenPipe(task: Task, done: number): number {
    task.sendSig?.(SIGPIPE);
    if (done > 0) return done;
    throw kerr('EPIPE', 'no reader');
  }
}

/** The pipe behind a file, or null (get_pipe_info). */
export function pipeOf(file: File): Pipe | null {
  return file.fOp === pipeFileOps ? (file.privateData as Pipe) : null;
}

/**
 * File operations of both ends of a pipe (pipefifo_fops): no seek, no
 * positioned I/O, FIONREAD for the bytes held, no fsync.
 */
export const pipeFileOps: FileOperations = {
  name: 'pipe',
  /** Reads what the pipe holds (pipe_read). */
  read: (file: File, len: number, _ppos: FilePos, task: Task) => (file.privateData as Pipe).read(file, len, task),
  /** Writes into the pipe (pipe_write). */
  write: (file: File, data: Uint8Array, _ppos: FilePos, task: Task) => (file.privateData as Pipe).write(file, data, task),
  /** Reports the end's readiness (pipe_poll). */
  poll: (file: File, pt: PollTable | null) => (file.privateData as Pipe).poll(file, pt),
  /** FIONREAD: bytes waiting to be read (pipe_ioctl); everything else ENOTTY. */
  unlockedIoctl(file: File, cmd: number, arg: unknown): number {
    if (cmd !== FIONREAD) throw kerr('ENOTTY', `pipe ioctl 0x${cmd.toString(16)}`);
    userArg<{ value: number }>(arg).value = (file.privateData as Pipe).bytes;
    return 0;
  },
  /** Drops this end (pipe_release). */
  release(_inode: Inode, file: File): void {
    (file.privateData as Pipe).endReleased(file);
  },
};

/**
 * fcntl's pipe commands (pipe_fcntl): F_GETPIPE_SZ returns the capacity,
 * F_SETPIPE_SZ sets it (see Pipe.setSize). EBADF on a file that is not a
 * pipe.
 */
export function pipeFcntl(file: File, cmd: number, arg: number, cred: Cred): number {
  const p = pipeOf(file);
  if (!p) throw kerr('EBADF', `${file.pathName()} is not a pipe`);
  if (cmd === F_GETPIPE_SZ) return p.capacity;
  if (cmd === F_SETPIPE_SZ) return p.setSize(arg, cred);
  throw kerr('EINVAL', `pipe_fcntl command ${cmd}`);
}

/**
 * Creates a pipe on pipefs and its two files (create_pipe_files): the
 * read end O_RDONLY, the write end O_WRONLY, both with O_NONBLOCK from
 * `flags` and the write end with O_DIRECT (packet mode); readlink shows
 * "pipe:[ino]", fstat a FIFO of mode 0600 owned by the caller. The caller
 * owns one reference to each.
 */
export function createPipeFiles(vfs: Vfs, pipefs: SuperBlock, cred: Cred, flags: number): [File, File] {
  const inode = new Inode(pipefs, { mode: S_IFIFO | 0o600, uid: cred.uid, gid: cred.gid });
  const pipe = new Pipe(inode);
  inode.privateData = pipe;
  const name = `pipe:[${inode.ino}]`;
  const w = new File(vfs, { inode, fops: pipeFileOps, flags: O_WRONLY | (flags & (O_NONBLOCK | O_DIRECT)), cred, privateData: pipe, name });
  const r = new File(vfs, { inode, fops: pipeFileOps, flags: O_RDONLY | (flags & O_NONBLOCK), cred, privateData: pipe, name });
  pipe.readers = 1;
  pipe.writers = 1;
  return [r, w];
}
