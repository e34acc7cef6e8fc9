import type { Clock } from '../../../hw/index.ts';
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, type Device, type DmaDirection } from '../../../dma/index.ts';
import { dmaBufFd, dmaBufGet, dmaBufPut, dmaBufTrackRef, dmaBufUntrackRef, type DmaBuf } from '../../../dmabuf/index.ts';
import { VM_READ, VM_SHARED, VM_WRITE, WaitQueueHead, pollWait, waitEvent, type File, type PollTable, type Task, type VmArea } from '../../../fs/index.ts';
import { KernelBug, PAGE_SIZE, alignUp, isKernelError, kerr } from '../../../lib/index.ts';
import {
  O_ACCMODE,
  O_CLOEXEC,
  POLLERR,
  POLLIN,
  POLLRDNORM,
  V4L2_BUF_FLAG_TIMESTAMP_MASK,
  V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC,
  V4L2_BUF_TYPE_VIDEO_OUTPUT,
  V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE,
  V4L2_FIELD_NONE,
  V4L2_MEMORY_DMABUF,
  V4L2_MEMORY_MMAP,
  V4L2_MEMORY_USERPTR,
} from '../../../uapi/index.ts';
import type { Vb2DmabufMem, Vb2Mem, Vb2MemOps } from './vb2-memops.ts';

/** Most buffers a queue holds (VB2_MAX_FRAME). */
export const VB2_MAX_FRAME = 32;

/** I/O modes a queue supports (enum vb2_io_modes). */
export const VB2_MMAP = 1 << 0;
/** USERPTR buffers. */
export const VB2_USERPTR = 1 << 1;
/** read() emulation. */
export const VB2_READ = 1 << 2;
/** write() emulation. */
export const VB2_WRITE = 1 << 3;
/** DMABUF imports. */
export const VB2_DMABUF = 1 << 4;

/** No memory type chosen yet (VB2_MEMORY_UNKNOWN). */
export const VB2_MEMORY_UNKNOWN = 0;

/** Where a buffer is (enum vb2_buffer_state): with userspace, queued, with the driver, or finished. */
export type Vb2BufferState = 'dequeued' | 'queued' | 'active' | 'done' | 'error';

/**
 * Pages of a process's memory pinned for USERPTR buffers (get_user_pages
 * through a frame vector). A Task that can pin its memory implements
 * this; one that cannot makes USERPTR queueing fail with EFAULT.
 */
export interface UserPagesTask {
  /** Pins the frames behind [addr, addr+len) and returns them; EFAULT for unmapped memory. */
  pinUserPages(addr: number, len: number, write: boolean): Uint32Array;
  /** Unpins what pinUserPages returned. */
  unpinUserPages(pfns: Uint32Array): void;
}

/**
 * What userspace passed for a buffer's plane at QBUF (struct vb2_plane as
 * fill_vb2_buffer fills it): the dma-buf fd, the user address and the
 * length (0: the whole dma-buf).
 */
export interface Vb2PlaneArg {
  fd: number;
  userptr: number;
  length: number;
}

/** Names a queue slot that holds an imported dma-buf, for the reference views: `vb2 queue of isp (capture) slot 2`. */
function vb2SlotName(vb: Vb2Buffer): string {
  const t = vb.queue.type;
  const dir = t === 1 || t === 9 ? 'capture' : t === 2 || t === 10 ? 'output' : `type ${t}`;
  return `vb2 queue of ${vb.queue.dev?.name ?? 'no device'} (${dir}) slot ${vb.index}`;
}

/** One buffer of a queue (struct vb2_buffer with its single plane). */
export class Vb2Buffer {
  readonly queue: Vb2Queue;
  readonly index: number;
  state: Vb2BufferState = 'dequeued';
  /** The plane's smallest acceptable size (min_length): what queue_setup asked for. */
  readonly minLength: number;
  /** The plane's length as userspace sees it. */
  length: number;
  /** The cookie userspace passes to mmap (m.offset). */
  memOffset = 0;
  /** Its memory and the driver's check are done, by PREPARE_BUF or QBUF, until it is dequeued (vb->prepared). */
  prepared = false;
  /** MMAP memory. */
  mem: Vb2Mem | null = null;
  /** DMABUF import. */
  dmabuf: Vb2DmabufMem | null = null;
  /** The fd the importing QBUF named, reported back by DQBUF (m.fd). */
  dmabufFd = 0;
  /** USERPTR address and its pinned frames. */
  userptr = 0;
  userPages: Uint32Array | null = null;
  userTask: UserPagesTask | null = null;
  /** Filled in by the driver when it completes the buffer. */
  bytesused = 0;
  field = V4L2_FIELD_NONE;
  sequence = 0;
  timestampNs = 0;

  constructor(queue: Vb2Queue, index: number, minLength: number) {
    this.queue = queue;
    this.index = index;
    this.minLength = minLength;
    this.length = minLength;
  }

  /** Kernel CPU address of the plane, or null (vb2_plane_vaddr). */
  planeVaddr(): number | null {
    if (this.mem) return this.mem.vaddr();
    if (this.dmabuf) return this.dmabuf.vaddr();
    return null;
  }

  /** Device address of the plane, or null (vb2_dma_contig_plane_dma_addr). */
  planeDmaAddr(): number | null {
    if (this.mem) return this.mem.dmaAddr();
    if (this.dmabuf) return this.dmabuf.dmaAddr();
    return null;
  }

  /** Frames of a USERPTR plane, or null. */
  planePages(): Uint32Array | null {
    return this.userPages;
  }

  /** Bytes the plane can hold (vb2_plane_size). */
  get planeSize(): number {
    return this.length;
  }
}

/** What the driver tells the queue about its buffers (struct vb2_ops). */
export interface Vb2Ops {
  /** Says how many buffers (at least `count` asks, adjusted) and how big each plane is (queue_setup). */
  queueSetup(q: Vb2Queue, count: number): { count: number; size: number };
  /** Checks a buffer before it is queued (buf_prepare); EINVAL when the plane is too small. */
  bufPrepare?(vb: Vb2Buffer): void;
  /** Hands a buffer to the driver (buf_queue); never sleeps. */
  bufQueue(vb: Vb2Buffer): void;
  /** Starts the hardware with `count` buffers already handed over (start_streaming). May sleep. */
  startStreaming(q: Vb2Queue, count: number): void | Promise<void>;
  /** Stops the hardware and gives every buffer back with vb2BufferDone (stop_streaming). May sleep. */
  stopStreaming(q: Vb2Queue): void | Promise<void>;
}

/** A queue's configuration (the fields a driver fills in before vb2_queue_init). */
export interface Vb2QueueConfig {
  /** V4L2_BUF_TYPE_*. */
  type: number;
  /** VB2_MMAP | VB2_USERPTR | VB2_DMABUF ... */
  ioModes: number;
  memOps: Vb2MemOps;
  ops: Vb2Ops;
  /** The device that allocates and DMAs (q->dev); null for CPU-only allocators. */
  dev: Device | null;
  /** Buffers that must be queued before start_streaming is called. */
  minBuffersNeeded?: number;
  /** The queue takes media requests (supports_requests). */
  supportsRequests?: boolean;
  /** For buffer timestamps. */
  clock: Clock;
  /**
   * Where the buffers' timestamps come from (q->timestamp_flags, the
   * V4L2_BUF_FLAG_TIMESTAMP_* bits QUERYBUF/QBUF/DQBUF report):
   * V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC, as capture drivers stamp frames,
   * unless told (mem-to-mem drivers copy userspace's: _COPY).
   */
  timestampFlags?: number;
}

/**
 * A videobuf2 queue (struct vb2_queue and videobuf2-core.c): buffers of
 * one memory type, allocated by REQBUFS, cycled through QBUF/DQBUF,
 * exported by EXPBUF, mapped by mmap, and read() emulation. The V4L2
 * structs and ioctls around it are vb2-v4l2.ts. The
 * file that allocated buffers owns the queue until it frees them or
 * closes. Freeing never waits for users of MMAP memory: still mapped or
 * exported memory is orphaned and goes with its last user. Waits
 * (DQBUF) sleep on the done queue in simulated time.
 */
export class Vb2Queue {
  readonly type: number;
  readonly ioModes: number;
  readonly memOps: Vb2MemOps;
  readonly ops: Vb2Ops;
  readonly dev: Device | null;
  readonly minBuffersNeeded: number;
  readonly supportsRequests: boolean;
  readonly clock: Clock;
  /** V4L2_BUF_FLAG_TIMESTAMP_* of every buffer (q->timestamp_flags). */
  readonly timestampFlags: number;
  /** V4L2_MEMORY_* of the buffers, VB2_MEMORY_UNKNOWN without any. */
  memory = VB2_MEMORY_UNKNOWN;
  bufs: Vb2Buffer[] = [];
  /** Buffers queued by userspace and not yet dequeued, in order (queued_list). */
  private queuedList: Vb2Buffer[] = [];
  /** Finished buffers waiting for DQBUF (done_list). */
  private doneList: Vb2Buffer[] = [];
  /** Woken when a buffer finishes or streaming stops (done_wq). */
  readonly doneWq = new WaitQueueHead();
  streaming = false;
  startStreamingCalled = false;
  /** Set by the driver on an unrecoverable error (vb2_queue_error). */
  error = false;
  /** The file that allocated the buffers (vdev->queue->owner). */
  owner: File | null = null;
  /** Buffers handed to the driver and not yet given back (owned_by_drv_count). */
  ownedByDrv = 0;
  /** The read() emulator's state (struct vb2_fileio_data): the buffer being read and how far. */
  private fileio: { cur: Vb2Buffer | null; pos: number } | null = null;
  /** The emulator's start while it allocates and queues (it may sleep). */
  private fileioStart: Promise<void> | null = null;
  /** A start begun by poll failed: the next poll reports POLLERR. */
  private fileioPollError = false;

  constructor(cfg: Vb2QueueConfig) {
    this.type = cfg.type;
    this.ioModes = cfg.ioModes;
    this.memOps = cfg.memOps;
    this.ops = cfg.ops;
    this.dev = cfg.dev;
    this.minBuffersNeeded = cfg.minBuffersNeeded ?? 0;
    this.supportsRequests = cfg.supportsRequests ?? false;
    this.clock = cfg.clock;
    this.timestampFlags = (cfg.timestampFlags ?? V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC) & V4L2_BUF_FLAG_TIMESTAMP_MASK;
  }

  /** True for output queues (V4L2_TYPE_IS_OUTPUT). */
  get isOutput(): boolean {
    return this.type === V4L2_BUF_TYPE_VIDEO_OUTPUT || this.type === V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;
  }

  /** Direction of the device's accesses to the buffers (q->dma_dir). */
  get dmaDir(): DmaDirection {
    return this.isOutput ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
  }

  /** Number of buffers allocated (num_buffers). */
  get numBuffers(): number {
    return this.bufs.length;
  }

  /** Buffers queued by userspace and not yet dequeued (queued_count). */
  get queuedCount(): number {
    return this.queuedList.length;
  }

  /** Buffers finished and not yet dequeued. */
  get doneCount(): number {
    return this.doneList.length;
  }

  /** True while buffers are allocated (vb2_is_busy). */
  get busy(): boolean {
    return this.bufs.length > 0;
  }

  /** True while read() emulation owns the buffers (vb2_fileio_is_active). */
  get fileioActive(): boolean {
    return this.fileio !== null || this.fileioStart !== null;
  }

  /** EBUSY while read() emulation owns the buffers (the vb2_fileio_is_active checks). */
  checkNoFileio(what: string): void {
    if (this.fileioActive) throw kerr('EBUSY', `${what}: file io in progress`);
  }

  /** True when another file than `file` owns the queue (vb2_queue_is_busy). */
  isBusyFor(file: File): boolean {
    return this.owner !== null && this.owner !== file;
  }

  /**
   * Allocates or frees `count` buffers of `memory` (V4L2_MEMORY_*) and
   * returns how many it allocated (vb2_core_reqbufs). EBUSY while
   * streaming, ENOMEM when not even the minimum could be allocated. Count
   * 0 frees everything (orphaning memory still mapped or exported). May
   * sleep.
   */
  async reqbufs(memory: number, count: number): Promise<number> {
    if (this.streaming) throw kerr('EBUSY', 'streaming active');
    if (count === 0 || this.bufs.length !== 0 || (this.memory !== VB2_MEMORY_UNKNOWN && this.memory !== memory)) {
      await this.cancel();
      await this.freeBuffers();
      if (count === 0) return 0;
    }
    const want = Math.min(Math.max(count, this.minBuffersNeeded), VB2_MAX_FRAME);
    const setup = this.ops.queueSetup(this, want);
    if (!(setup.size > 0)) throw kerr('EINVAL', `queue_setup gave plane size ${setup.size}`);
    this.memory = memory;
    try {
      await this.allocBuffers(memory, Math.min(setup.count, VB2_MAX_FRAME), setup.size, Math.max(1, this.minBuffersNeeded));
    } catch (e) {
      await this.freeBuffers();
      throw e;
    }
    if (this.bufs.length < this.minBuffersNeeded) {
      await this.freeBuffers();
      throw kerr('ENOMEM', `only ${this.bufs.length} buffers allocated`);
    }
    return this.bufs.length;
  }

  /**
   * Adds up to `count` buffers whose plane is `size` bytes after the
   * existing ones (vb2_core_create_bufs): ENOBUFS when the queue is full,
   * EINVAL for a memory type other than its buffers' or a size below what
   * the driver needs (queue_setup, which may raise the count). Not bound
   * by the driver's minimum. Returns how many were added; ENOMEM when not
   * one could be. May sleep.
   */
  async createBufs(memory: number, count: number, size: number): Promise<number> {
    if (this.bufs.length === VB2_MAX_FRAME) throw kerr('ENOBUFS', 'create_bufs: the maximum number of buffers is allocated');
    if (this.bufs.length !== 0 && this.memory !== memory) throw kerr('EINVAL', `create_bufs: memory type ${memory} is not the buffers' ${this.memory}`);
    const setup = this.ops.queueSetup(this, Math.min(count, VB2_MAX_FRAME - this.bufs.length));
    if (size < setup.size) throw kerr('EINVAL', `create_bufs: plane size ${size} below the ${setup.size} the driver needs`);
    const added = await this.allocBuffers(memory, Math.min(setup.count, VB2_MAX_FRAME - this.bufs.length), size, 1);
    this.memory = memory;
    return added;
  }

  /**
   * Appends `n` buffers of plane size `size` (__vb2_queue_alloc), MMAP ones
   * with memory at offsets after the last buffer's. An allocation failure
   * before `mustHave` of them exist gives the new ones back and throws;
   * after, it ends the loop. Returns how many were added.
   */
  private async allocBuffers(memory: number, n: number, size: number, mustHave: number): Promise<number> {
    const first = this.bufs.length;
    const last = this.bufs.at(-1);
    let off = last ? last.memOffset + alignUp(last.minLength, PAGE_SIZE) : 0;
    for (let i = 0; i < n; i++) {
      const vb = new Vb2Buffer(this, first + i, size);
      if (memory === V4L2_MEMORY_MMAP) {
        try {
          vb.mem = await this.memOps.alloc(this.dev, alignUp(size, PAGE_SIZE), this.dmaDir);
        } catch (e) {
          if (i >= mustHave) break;
          for (const made of this.bufs.splice(first)) {
            await made.mem?.release?.();
            made.mem?.put();
          }
          throw e;
        }
        vb.memOffset = off;
        off += alignUp(size, PAGE_SIZE);
      }
      this.bufs.push(vb);
    }
    return this.bufs.length - first;
  }

  /** Gives every buffer's memory back and forgets the memory type (__vb2_queue_free). */
  private async freeBuffers(): Promise<void> {
    const bufs = this.bufs;
    this.bufs = [];
    for (const vb of bufs) {
      if (vb.mem) {
        await vb.mem.release?.();
        vb.mem.put();
        vb.mem = null;
      }
      if (vb.dmabuf) await this.releaseDmabuf(vb);
      this.releaseUserptr(vb);
    }
    this.memory = VB2_MEMORY_UNKNOWN;
  }

  /** Unmaps, detaches and puts a plane's imported dma-buf (__vb2_plane_dmabuf_put). */
  private async releaseDmabuf(vb: Vb2Buffer): Promise<void> {
    const m = vb.dmabuf!;
    vb.dmabuf = null;
    vb.dmabufFd = 0;
    dmaBufUntrackRef(m.dbuf, 'vb2-slot', vb);
    try {
      await m.detach();
    } finally {
      await dmaBufPut(m.dbuf);
    }
  }

  /** Unpins a USERPTR plane's pages (vb2 put_userptr). */
  private releaseUserptr(vb: Vb2Buffer): void {
    if (vb.userPages && vb.userTask) vb.userTask.unpinUserPages(vb.userPages);
    vb.userPages = null;
    vb.userTask = null;
    vb.userptr = 0;
  }

  /** The buffer a request names by type and index (the checks of vb2_queue_or_prepare_buf); EINVAL. */
  lookup(type: number, index: number, what: string): Vb2Buffer {
    if (type !== this.type) throw kerr('EINVAL', `${what}: buffer type ${type} is not the queue's ${this.type}`);
    if (!Number.isInteger(index) || index < 0 || index >= this.bufs.length) throw kerr('EINVAL', `${what}: buffer index ${index} out of range`);
    return this.bufs[index]!;
  }

  /**
   * Queues buffer `vb` (vb2_core_qbuf): EIO after a queue error, EINVAL
   * for a buffer already queued, and for a DMABUF fd that is no dma-buf or
   * smaller than the plane; EFAULT when the allocator cannot use the
   * dma-buf or the task cannot pin USERPTR memory. `plane` is what
   * userspace passed for it. Starts streaming once enough buffers are
   * queued. May sleep.
   */
  async qbuf(task: Task, vb: Vb2Buffer, plane: Vb2PlaneArg): Promise<void> {
    if (this.error) throw kerr('EIO', 'qbuf: fatal error on the queue');
    if (vb.state !== 'dequeued') throw kerr('EINVAL', `qbuf: buffer ${vb.index} still being processed (${vb.state})`);
    // a buffer PREPARE_BUF made ready keeps that memory: what this QBUF names for it is not looked at
    if (!vb.prepared) await this.bufPrepare(task, vb, plane);
    await this.queuePrepared(vb);
  }

  /**
   * Readies a dequeued buffer's memory and has the driver check it without
   * queueing it (vb2_core_prepare_buf), so that a later QBUF is cheap:
   * EINVAL for a buffer queued or already prepared, then as QBUF's
   * preparation. May sleep.
   */
  async prepareBuf(task: Task, vb: Vb2Buffer, plane: Vb2PlaneArg): Promise<void> {
    if (vb.state !== 'dequeued') throw kerr('EINVAL', `prepare_buf: buffer ${vb.index} still being processed (${vb.state})`);
    if (vb.prepared) throw kerr('EINVAL', `prepare_buf: buffer ${vb.index} already prepared`);
    await this.bufPrepare(task, vb, plane);
  }

  /** Takes in the plane's memory and runs the driver's check (__buf_prepare). */
  private async bufPrepare(task: Task, vb: Vb2Buffer, plane: Vb2PlaneArg): Promise<void> {
    if (this.memory === V4L2_MEMORY_DMABUF) await this.prepareDmabuf(task, vb, plane);
    else if (this.memory === V4L2_MEMORY_USERPTR) this.prepareUserptr(task, vb, plane);
    else await vb.mem?.prepare?.();
    this.ops.bufPrepare?.(vb);
    vb.prepared = true;
  }

  /** Queues a prepared buffer, and hands it to the driver when it runs (vb2_core_qbuf's tail). */
  private async queuePrepared(vb: Vb2Buffer): Promise<void> {
    vb.state = 'queued';
    this.queuedList.push(vb);
    if (this.startStreamingCalled) this.enqueue(vb);
    if (this.streaming && !this.startStreamingCalled && this.queuedList.length >= this.minBuffersNeeded) await this.startStreaming();
  }

  /** Takes the dma-buf behind the fd into the plane, reusing the import when it is the same buffer (__prepare_dmabuf). */
  private async prepareDmabuf(task: Task, vb: Vb2Buffer, plane: Vb2PlaneArg): Promise<void> {
    const fd = plane.fd;
    let dbuf: DmaBuf;
    try {
      dbuf = dmaBufGet(task, fd);
    } catch (e) {
      if (!isKernelError(e, 'EBADF', 'EINVAL')) throw e;
      throw kerr('EINVAL', `qbuf: invalid dmabuf fd ${fd}`);
    }
    const length = plane.length || dbuf.size;
    if (length < vb.minLength) {
      await dmaBufPut(dbuf);
      throw kerr('EINVAL', `qbuf: invalid dmabuf length ${length}, minimum ${vb.minLength}`);
    }
    if (vb.dmabuf && vb.dmabuf.dbuf === dbuf && vb.length === length) {
      await dmaBufPut(dbuf);
      vb.dmabufFd = fd;
      return;
    }
    if (vb.dmabuf) await this.releaseDmabuf(vb);
    let m: Vb2DmabufMem;
    try {
      m = await this.memOps.attachDmabuf(this.dev, dbuf, length, this.dmaDir);
    } catch (e) {
      await dmaBufPut(dbuf);
      throw e;
    }
    vb.dmabuf = m;
    dmaBufTrackRef(dbuf, 'vb2-slot', vb, vb2SlotName, 'vb2_core_qbuf');
    vb.length = length;
    vb.dmabufFd = fd;
    try {
      await m.map();
    } catch (e) {
      await this.releaseDmabuf(vb);
      vb.length = vb.minLength;
      throw e;
    }
  }

  /** Pins the user memory of a USERPTR plane (__prepare_userptr); EFAULT when the task cannot pin it. */
  private prepareUserptr(task: Task, vb: Vb2Buffer, plane: Vb2PlaneArg): void {
    const addr = plane.userptr;
    const length = plane.length;
    if (length < vb.minLength) throw kerr('EINVAL', `qbuf: userptr length ${length}, minimum ${vb.minLength}`);
    if (vb.userPages && vb.userptr === addr && vb.length === length) return;
    const ut = task as Partial<UserPagesTask>;
    if (typeof ut.pinUserPages !== 'function' || typeof ut.unpinUserPages !== 'function') throw kerr('EFAULT', 'qbuf: this task cannot pin user pages');
    this.releaseUserptr(vb);
    vb.userPages = ut.pinUserPages(addr, length, !this.isOutput);
    vb.userTask = ut as UserPagesTask;
    vb.userptr = addr;
    vb.length = length;
  }

  /** Hands a queued buffer to the driver (__enqueue_in_driver). */
  private enqueue(vb: Vb2Buffer): void {
    vb.state = 'active';
    this.ownedByDrv++;
    this.ops.bufQueue(vb);
  }

  /** Hands every queued buffer to the driver and starts it (vb2_start_streaming). */
  private async startStreaming(): Promise<void> {
    for (const vb of this.queuedList) if (vb.state === 'queued') this.enqueue(vb);
    this.startStreamingCalled = true;
    try {
      await this.ops.startStreaming(this, this.queuedList.length);
    } catch (e) {
      this.startStreamingCalled = false;
      // the driver gives the buffers back in the queued state on failure
      for (const vb of this.queuedList) {
        if (vb.state === 'active') {
          vb.state = 'queued';
          this.ownedByDrv--;
        }
      }
      throw e;
    }
  }

  /**
   * Gives a buffer back from the driver (vb2_buffer_done) as done or
   * failed, waking DQBUF and pollers. Never sleeps.
   */
  bufferDone(vb: Vb2Buffer, state: 'done' | 'error'): void {
    if (vb.queue !== this || vb.state !== 'active') throw new KernelBug(`vb2_buffer_done on buffer ${vb.index} in state ${vb.state}`);
    vb.state = state;
    this.ownedByDrv--;
    vb.mem?.done?.();
    this.doneList.push(vb);
    this.doneWq.wakeUp(POLLIN | POLLRDNORM);
  }

  /** Marks the queue failed: DQBUF and poll report it until streaming stops (vb2_queue_error). */
  queueError(): void {
    this.error = true;
    this.doneWq.wakeUp(POLLERR);
  }

  /**
   * Dequeues the oldest finished buffer (vb2_core_dqbuf): EINVAL when not
   * streaming, EIO after a queue error, EAGAIN when none is done and
   * `nonblocking`; otherwise sleeps until one is (EINTR on a signal).
   * `fillUser` describes it to userspace while it still has its finished
   * state (the fill_user_buffer buf_op).
   */
  async dqbuf(task: Task, nonblocking: boolean, fillUser: (vb: Vb2Buffer) => void): Promise<Vb2Buffer> {
    const vb = await this.waitDone(task, nonblocking);
    await vb.mem?.finish?.();
    fillUser(vb);
    this.takeBack(vb);
    return vb;
  }

  /** Waits for the oldest finished buffer and takes it off the done list (__vb2_get_done_vb). */
  private async waitDone(task: Task, nonblocking: boolean): Promise<Vb2Buffer> {
    for (;;) {
      if (!this.streaming) throw kerr('EINVAL', 'dqbuf: streaming off');
      if (this.error) throw kerr('EIO', 'dqbuf: queue in error state');
      if (this.doneList.length > 0) break;
      if (nonblocking) throw kerr('EAGAIN', 'dqbuf: no buffer done');
      await waitEvent(this.doneWq, () => this.doneList.length > 0 || !this.streaming || this.error, { task });
    }
    return this.doneList.shift()!;
  }

  /** Takes a finished buffer off the queue back to userspace (vb2_core_dqbuf's tail). */
  private takeBack(vb: Vb2Buffer): void {
    const i = this.queuedList.indexOf(vb);
    if (i >= 0) this.queuedList.splice(i, 1);
    vb.state = 'dequeued';
    vb.prepared = false;
  }

  /**
   * Starts streaming (vb2_core_streamon): EINVAL without buffers or with
   * fewer than the driver needs; a second STREAMON is a no-op. The driver
   * starts once enough buffers are queued. May sleep.
   */
  async streamon(): Promise<void> {
    if (this.streaming) return;
    if (this.bufs.length === 0) throw kerr('EINVAL', 'streamon: no buffers have been allocated');
    if (this.bufs.length < this.minBuffersNeeded) throw kerr('EINVAL', `streamon: need at least ${this.minBuffersNeeded} buffers`);
    if (this.queuedList.length >= this.minBuffersNeeded) await this.startStreaming();
    this.streaming = true;
  }

  /** Stops streaming and returns every buffer to userspace, dequeued (vb2_core_streamoff). May sleep. */
  async streamoff(): Promise<void> {
    await this.cancel();
  }

  /** Stops the driver and empties both lists (__vb2_queue_cancel). */
  private async cancel(): Promise<void> {
    if (this.startStreamingCalled) await this.ops.stopStreaming(this);
    if (this.ownedByDrv > 0) {
      // a driver that kept buffers: Linux warns and takes them back
      for (const vb of this.bufs) if (vb.state === 'active') this.bufferDone(vb, 'error');
    }
    this.streaming = false;
    this.startStreamingCalled = false;
    this.error = false;
    this.queuedList = [];
    this.doneList = [];
    for (const vb of this.bufs) {
      vb.state = 'dequeued';
      vb.prepared = false;
      await vb.mem?.finish?.();
    }
    this.doneWq.wakeUp(POLLERR);
  }

  /**
   * Exports an MMAP buffer as a dma-buf fd in the caller's table and
   * returns the fd (vb2_core_expbuf): EINVAL unless the queue holds MMAP
   * buffers, for flags other than O_CLOEXEC and the access mode, a bad
   * type, index or plane. Each call makes a new dma-buf.
   */
  expbuf(task: Task, type: number, index: number, plane: number | undefined, flags: number): number {
    this.checkNoFileio('expbuf');
    if (this.memory !== V4L2_MEMORY_MMAP) throw kerr('EINVAL', 'expbuf: queue is not currently set up for mmap');
    if (flags & ~(O_CLOEXEC | O_ACCMODE)) throw kerr('EINVAL', `expbuf: invalid flags 0x${flags.toString(16)}`);
    const vb = this.lookup(type, index, 'expbuf');
    if ((plane ?? 0) !== 0) throw kerr('EINVAL', `expbuf: plane ${plane} out of range`);
    const dbuf = vb.mem!.getDmabuf(flags & O_ACCMODE);
    try {
      return dmaBufFd(task, dbuf, flags & ~O_ACCMODE);
    } catch (e) {
      void dmaBufPut(dbuf);
      throw e;
    }
  }

  /**
   * Maps an MMAP buffer chosen by the offset cookie (vb2_mmap): EINVAL
   * unless the queue holds MMAP buffers, the mapping is shared and
   * readable (capture) or writable (output), the offset names a buffer
   * and the length fits it. The whole buffer is mapped from its start.
   */
  mmap(vma: VmArea): void {
    if (this.memory !== V4L2_MEMORY_MMAP) throw kerr('EINVAL', 'mmap: queue is not currently set up for mmap');
    if (!(vma.flags & VM_SHARED)) throw kerr('EINVAL', 'mmap: invalid vma flags, VM_SHARED needed');
    if (this.isOutput ? !(vma.flags & VM_WRITE) : !(vma.flags & VM_READ)) throw kerr('EINVAL', `mmap: invalid vma flags, VM_${this.isOutput ? 'WRITE' : 'READ'} needed`);
    this.checkNoFileio('mmap');
    const off = vma.pgoff * PAGE_SIZE;
    const vb = this.bufs.find((b) => b.mem && b.memOffset === off);
    if (!vb) throw kerr('EINVAL', `mmap: no buffer at offset 0x${off.toString(16)}`);
    if (alignUp(vb.length, PAGE_SIZE) < vma.length) throw kerr('EINVAL', `mmap: requested ${vma.length} bytes of a ${vb.length}-byte buffer`);
    vma.pgoff = 0;
    vb.mem!.mmap(vma);
  }

  /**
   * The poll mask (vb2_core_poll): nothing when the caller does not ask
   * for input on a capture queue, POLLERR when not streaming or failed,
   * POLLIN|POLLRDNORM once a buffer is done. Never sleeps.
   */
  poll(file: File, pt: PollTable | null): number {
    const req = pt ? pt.key : ~0;
    if (!this.isOutput && !(req & (POLLIN | POLLRDNORM))) return 0;
    pollWait(file, this.doneWq, pt);
    if (this.fileioPollError) {
      this.fileioPollError = false;
      return POLLERR;
    }
    if (this.bufs.length === 0 && !this.fileioActive && !this.isOutput && this.ioModes & VB2_READ) {
      // poll starts read() emulation as vb2_poll does; the start allocates, so it runs on and wakes the queue
      this.owner = file;
      this.startFileio().catch(() => {
        this.fileioPollError = true;
        if (this.owner === file) this.owner = null;
        this.doneWq.wakeUp(POLLERR);
      });
      return 0;
    }
    if (this.fileioStart) return 0;
    if (!this.streaming || this.error) return POLLERR;
    const vb = this.doneList[0];
    if (vb && (vb.state === 'done' || vb.state === 'error')) return POLLIN | POLLRDNORM;
    return 0;
  }

  /** Stops streaming and frees every buffer (vb2_queue_release), when the owner's file closes. May sleep. */
  async release(): Promise<void> {
    if (this.fileioStart) await this.fileioStart.catch(() => undefined);
    await this.cancel();
    await this.freeBuffers();
    this.fileio = null;
    this.owner = null;
  }

  /**
   * Starts read() emulation (__vb2_init_fileio): EBUSY once the streaming
   * API has buffers or streams; allocates the driver's minimum of MMAP
   * buffers, queues them all and starts streaming. May sleep.
   */
  private startFileio(): Promise<void> {
    if (this.fileioStart) return this.fileioStart;
    if (this.fileio) return Promise.resolve();
    if (this.streaming || this.bufs.length > 0) return Promise.reject(kerr('EBUSY', 'read: streaming API in use'));
    const start = (async () => {
      await this.reqbufs(V4L2_MEMORY_MMAP, 1);
      try {
        for (const vb of this.bufs) if (vb.mem!.vaddr() === null) throw kerr('EINVAL', 'read: buffers have no kernel mapping');
        this.fileio = { cur: null, pos: 0 };
        for (const vb of this.bufs) await this.queuePrepared(vb);
        await this.streamon();
      } catch (e) {
        this.fileio = null;
        await this.cancel();
        await this.freeBuffers();
        throw e;
      }
    })();
    this.fileioStart = start;
    const clear = (): void => {
      if (this.fileioStart === start) this.fileioStart = null;
    };
    start.then(clear, clear);
    return start;
  }

  /**
   * Reads captured bytes (vb2_read): starts the emulation on first use,
   * then hands out each finished buffer's bytes in order, never more than
   * one buffer per call, and requeues a buffer once it is read whole.
   * EINVAL for a queue without read I/O, EBUSY when the streaming API has
   * buffers, EAGAIN when `nonblocking` and no frame is ready. May sleep.
   */
  async read(task: Task, len: number, nonblocking: boolean): Promise<Uint8Array> {
    if (this.isOutput || !(this.ioModes & VB2_READ)) throw kerr('EINVAL', 'read: not supported by the queue');
    if (!this.fileio) await this.startFileio();
    const f = this.fileio;
    if (!f) throw kerr('EINVAL', 'read: emulation stopped');
    if (len === 0) return new Uint8Array(0);
    if (!f.cur) {
      const vb = await this.waitDone(task, nonblocking);
      this.takeBack(vb);
      f.cur = vb;
      f.pos = 0;
    }
    const vb = f.cur;
    const n = Math.min(len, vb.bytesused - f.pos);
    const out = new Uint8Array(Math.max(0, n));
    if (n > 0) vb.mem!.copyOut(f.pos, out);
    f.pos += Math.max(0, n);
    if (f.pos >= vb.bytesused) {
      f.cur = null;
      await this.queuePrepared(vb);
    }
    return out;
  }
}
