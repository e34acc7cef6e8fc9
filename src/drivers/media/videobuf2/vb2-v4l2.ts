import type { File, Task } from '../../../fs/index.ts';
import { isKernelError, kerr } from '../../../lib/index.ts';
import {
  V4L2_BUF_CAP_SUPPORTS_DMABUF,
  V4L2_BUF_CAP_SUPPORTS_MMAP,
  V4L2_BUF_CAP_SUPPORTS_ORPHANED_BUFS,
  V4L2_BUF_CAP_SUPPORTS_REQUESTS,
  V4L2_BUF_CAP_SUPPORTS_USERPTR,
  V4L2_BUF_FLAG_DONE,
  V4L2_BUF_FLAG_ERROR,
  V4L2_BUF_FLAG_MAPPED,
  V4L2_BUF_FLAG_PREPARED,
  V4L2_BUF_FLAG_QUEUED,
  V4L2_MEMORY_DMABUF,
  V4L2_MEMORY_MMAP,
  V4L2_MEMORY_USERPTR,
  type V4l2Buffer,
  type V4l2CreateBuffers,
  type V4l2ExportBuffer,
  type V4l2RequestBuffers,
} from '../../../uapi/index.ts';
import { VB2_DMABUF, VB2_MMAP, VB2_USERPTR, type Vb2Buffer, type Vb2Queue } from './vb2-core.ts';

/*
 * The V4L2 side of videobuf2 (videobuf2-v4l2.c): struct v4l2_buffer and
 * v4l2_requestbuffers in and out, the checks V4L2 adds before the core
 * runs (buffer type, memory type, read() emulation owning the queue), and
 * the vb2_ioctl_* handlers a video node's ioctls go to, which also check
 * that the calling file owns the queue.
 */

/** The V4L2_BUF_CAP_* bits userspace sees in REQBUFS (fill_buf_caps). */
export function fillBufCaps(q: Vb2Queue): number {
  let caps = V4L2_BUF_CAP_SUPPORTS_ORPHANED_BUFS;
  if (q.ioModes & VB2_MMAP) caps |= V4L2_BUF_CAP_SUPPORTS_MMAP;
  if (q.ioModes & VB2_USERPTR) caps |= V4L2_BUF_CAP_SUPPORTS_USERPTR;
  if (q.ioModes & VB2_DMABUF) caps |= V4L2_BUF_CAP_SUPPORTS_DMABUF;
  if (q.supportsRequests) caps |= V4L2_BUF_CAP_SUPPORTS_REQUESTS;
  return caps;
}

/** EINVAL unless the memory type and buffer type suit the queue, EBUSY during read() emulation (vb2_verify_memory_type). */
export function vb2VerifyMemoryType(q: Vb2Queue, memory: number, type: number): void {
  if (memory !== V4L2_MEMORY_MMAP && memory !== V4L2_MEMORY_USERPTR && memory !== V4L2_MEMORY_DMABUF) throw kerr('EINVAL', `unsupported memory type ${memory}`);
  if (type !== q.type) throw kerr('EINVAL', `requested type ${type} is incorrect`);
  const mode = memory === V4L2_MEMORY_MMAP ? VB2_MMAP : memory === V4L2_MEMORY_USERPTR ? VB2_USERPTR : VB2_DMABUF;
  if (!(q.ioModes & mode)) throw kerr('EINVAL', `memory type ${memory} not supported by the queue`);
  q.checkNoFileio('reqbufs');
}

/** Fills in a v4l2_buffer from the buffer's state (__fill_v4l2_buffer). */
export function fillV4l2Buffer(q: Vb2Queue, vb: Vb2Buffer, b: V4l2Buffer): void {
  b.index = vb.index;
  b.type = q.type;
  b.memory = q.memory;
  b.bytesused = vb.bytesused;
  b.field = vb.field;
  b.sequence = vb.sequence;
  b.timestamp = { tv_sec: Math.floor(vb.timestampNs / 1e9), tv_usec: Math.floor((vb.timestampNs % 1e9) / 1e3) };
  b.length = vb.length;
  if (q.memory === V4L2_MEMORY_MMAP) b.m = { offset: vb.memOffset };
  else if (q.memory === V4L2_MEMORY_USERPTR) b.m = { userptr: vb.userptr };
  else if (q.memory === V4L2_MEMORY_DMABUF) b.m = { fd: vb.dmabufFd };
  let flags = q.timestampFlags;
  switch (vb.state) {
    case 'queued':
    case 'active':
      flags |= V4L2_BUF_FLAG_QUEUED;
      break;
    case 'error':
      flags |= V4L2_BUF_FLAG_ERROR | V4L2_BUF_FLAG_DONE;
      break;
    case 'done':
      flags |= V4L2_BUF_FLAG_DONE;
      break;
    case 'dequeued':
      break;
  }
  if (vb.mem && vb.mem.numUsers > 1) flags |= V4L2_BUF_FLAG_MAPPED;
  if (vb.state === 'dequeued' && vb.prepared) flags |= V4L2_BUF_FLAG_PREPARED;
  b.flags = flags;
  b.reserved2 = 0;
  b.request_fd = 0;
}

/**
 * Allocates or frees the buffers (vb2_reqbufs). `capabilities` is filled
 * in even when the call fails. EINVAL for a bad type or memory, EBUSY
 * while streaming, ENOMEM when not even the minimum could be allocated.
 * Writes back the count allocated. May sleep.
 */
export async function vb2Reqbufs(q: Vb2Queue, req: V4l2RequestBuffers): Promise<void> {
  req.capabilities = fillBufCaps(q);
  req.flags = 0;
  vb2VerifyMemoryType(q, req.memory, req.type);
  req.count = await q.reqbufs(req.memory, req.count >>> 0);
}

/** What VIDIOC_CREATE_BUFS writes into the format's `priv` for the single-planar types (V4L2_PIX_FMT_PRIV_MAGIC). */
export const V4L2_PIX_FMT_PRIV_MAGIC = 0xfeedcafe;

/**
 * Adds buffers of the size `cb.format` asks for (vb2_create_bufs):
 * `index` becomes the first new buffer's, `capabilities` the queue's,
 * both even when the call fails. A count of 0 only asks for those (EINVAL
 * still for a bad memory or buffer type). EINVAL for a size of 0, then as
 * the core's create_bufs; writes back the count added. May sleep.
 */
export async function vb2CreateBufs(q: Vb2Queue, cb: V4l2CreateBuffers): Promise<void> {
  cb.capabilities = fillBufCaps(q);
  cb.flags = 0;
  cb.index = q.numBuffers;
  if (cb.count === 0) {
    try {
      vb2VerifyMemoryType(q, cb.memory, cb.format.type);
    } catch (e) {
      if (!isKernelError(e, 'EBUSY')) throw e;
    }
    return;
  }
  vb2VerifyMemoryType(q, cb.memory, cb.format.type);
  const size = cb.format.fmt.pix?.sizeimage ?? 0;
  if (!size) throw kerr('EINVAL', 'create_bufs: requested plane size 0');
  cb.count = await q.createBufs(cb.memory, cb.count >>> 0, size >>> 0);
}

/**
 * Readies a buffer for a later QBUF (vb2_prepare_buf): EINVAL for a bad
 * type, index or memory type, then as the core's prepare_buf. Writes the
 * buffer's state back, V4L2_BUF_FLAG_PREPARED set. May sleep.
 */
export async function vb2PrepareBuf(q: Vb2Queue, task: Task, b: V4l2Buffer): Promise<void> {
  q.checkNoFileio('prepare_buf');
  const vb = q.lookup(b.type, b.index, 'prepare_buf');
  if (b.memory !== q.memory) throw kerr('EINVAL', `prepare_buf: invalid memory type ${b.memory} for a queue of ${q.memory}`);
  await q.prepareBuf(task, vb, { fd: b.m?.fd ?? -1, userptr: b.m?.userptr ?? 0, length: b.length >>> 0 });
  fillV4l2Buffer(q, vb, b);
}

/** Describes a buffer (vb2_querybuf); EINVAL for a bad type or index. */
export function vb2Querybuf(q: Vb2Queue, b: V4l2Buffer): void {
  fillV4l2Buffer(q, q.lookup(b.type, b.index, 'querybuf'), b);
}

/**
 * Queues a buffer (vb2_qbuf): EINVAL for a bad type, index or memory
 * type, then as the core's qbuf. Writes the buffer's new state back.
 * May sleep.
 */
export async function vb2Qbuf(q: Vb2Queue, task: Task, b: V4l2Buffer): Promise<void> {
  q.checkNoFileio('qbuf');
  const vb = q.lookup(b.type, b.index, 'qbuf');
  if (b.memory !== q.memory) throw kerr('EINVAL', `qbuf: invalid memory type ${b.memory} for a queue of ${q.memory}`);
  await q.qbuf(task, vb, { fd: b.m?.fd ?? -1, userptr: b.m?.userptr ?? 0, length: b.length >>> 0 });
  fillV4l2Buffer(q, vb, b);
}

/**
 * Dequeues a finished buffer into `b` (vb2_dqbuf): EINVAL for a bad type,
 * then as the core's dqbuf (EINVAL not streaming, EIO, EAGAIN, EINTR).
 */
export async function vb2Dqbuf(q: Vb2Queue, task: Task, b: V4l2Buffer, nonblocking: boolean): Promise<void> {
  q.checkNoFileio('dqbuf');
  if (b.type !== q.type) throw kerr('EINVAL', `dqbuf: buffer type ${b.type} is not the queue's`);
  await q.dqbuf(task, nonblocking, (vb) => fillV4l2Buffer(q, vb, b));
  b.flags &= ~(V4L2_BUF_FLAG_DONE | V4L2_BUF_FLAG_QUEUED);
}

/** Exports an MMAP buffer as a dma-buf fd, written to `eb.fd` (vb2_expbuf); errors as the core's expbuf. */
export function vb2Expbuf(q: Vb2Queue, task: Task, eb: V4l2ExportBuffer): void {
  eb.fd = q.expbuf(task, eb.type, eb.index, eb.plane, eb.flags >>> 0);
}

/** Starts streaming (vb2_streamon): EINVAL for a bad type, then as the core's streamon. May sleep. */
export async function vb2Streamon(q: Vb2Queue, type: number): Promise<void> {
  q.checkNoFileio('streamon');
  if (type !== q.type) throw kerr('EINVAL', `streamon: type ${type} is not the queue's`);
  await q.streamon();
}

/** Stops streaming and returns every buffer to userspace (vb2_streamoff): EINVAL for a bad type. May sleep. */
export async function vb2Streamoff(q: Vb2Queue, type: number): Promise<void> {
  q.checkNoFileio('streamoff');
  if (type !== q.type) throw kerr('EINVAL', `streamoff: type ${type} is not the queue's`);
  await q.streamoff();
}

/** EBUSY when another file than `file` owns the queue of node `name` (vb2_queue_is_busy). */
export function vb2CheckOwner(q: Vb2Queue, file: File, name: string): void {
  if (q.isBusyFor(file)) throw kerr('EBUSY', `${name}: queue owned by another file`);
}

/**
 * VIDIOC_REQBUFS on a video node (vb2_ioctl_reqbufs): as vb2Reqbufs, for
 * the file that owns the queue or any file when none does; the caller
 * becomes the owner when buffers remain, and none is when they are freed.
 */
export async function vb2IoctlReqbufs(q: Vb2Queue, file: File, req: V4l2RequestBuffers, name: string): Promise<void> {
  req.capabilities = fillBufCaps(q);
  vb2VerifyMemoryType(q, req.memory, req.type);
  vb2CheckOwner(q, file, name);
  await vb2Reqbufs(q, req);
  q.owner = req.count ? file : null;
}

/**
 * VIDIOC_CREATE_BUFS on a video node (vb2_ioctl_create_bufs, after
 * v4l_create_bufs): as vb2CreateBufs, EBUSY when another file owns the
 * queue; the caller owns it after buffers were added. The format's priv
 * field comes back as V4L2_PIX_FMT_PRIV_MAGIC.
 */
export async function vb2IoctlCreateBufs(q: Vb2Queue, file: File, cb: V4l2CreateBuffers, name: string): Promise<void> {
  try {
    if (cb.count !== 0) {
      cb.index = q.numBuffers;
      cb.capabilities = fillBufCaps(q);
      vb2VerifyMemoryType(q, cb.memory, cb.format.type);
      vb2CheckOwner(q, file, name);
    }
    await vb2CreateBufs(q, cb);
    if (cb.count !== 0) q.owner = file;
  } finally {
    if (cb.format.fmt.pix) cb.format.fmt.pix.priv = V4L2_PIX_FMT_PRIV_MAGIC;
  }
}

/** VIDIOC_PREPARE_BUF on a video node (vb2_ioctl_prepare_buf): EBUSY unless the file owns the queue, then as vb2PrepareBuf. */
export async function vb2IoctlPrepareBuf(q: Vb2Queue, file: File, task: Task, b: V4l2Buffer, name: string): Promise<void> {
  vb2CheckOwner(q, file, name);
  await vb2PrepareBuf(q, task, b);
}

/** VIDIOC_QBUF on a video node (vb2_ioctl_qbuf): EBUSY unless the file owns the queue, then as vb2Qbuf. */
export async function vb2IoctlQbuf(q: Vb2Queue, file: File, task: Task, b: V4l2Buffer, name: string): Promise<void> {
  vb2CheckOwner(q, file, name);
  await vb2Qbuf(q, task, b);
}

/** VIDIOC_DQBUF on a video node (vb2_ioctl_dqbuf): EBUSY unless the file owns the queue, then as vb2Dqbuf. */
export async function vb2IoctlDqbuf(q: Vb2Queue, file: File, task: Task, b: V4l2Buffer, nonblocking: boolean, name: string): Promise<void> {
  vb2CheckOwner(q, file, name);
  await vb2Dqbuf(q, task, b, nonblocking);
}

/** VIDIOC_STREAMON on a video node (vb2_ioctl_streamon): EBUSY unless the file owns the queue, then as vb2Streamon. */
export async function vb2IoctlStreamon(q: Vb2Queue, file: File, type: number, name: string): Promise<void> {
  vb2CheckOwner(q, file, name);
  await vb2Streamon(q, type);
}

/** VIDIOC_STREAMOFF on a video node (vb2_ioctl_streamoff): EBUSY unless the file owns the queue, then as vb2Streamoff. */
export async function vb2IoctlStreamoff(q: Vb2Queue, file: File, type: number, name: string): Promise<void> {
  vb2CheckOwner(q, file, name);
  await vb2Streamoff(q, type);
}
