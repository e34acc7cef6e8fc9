import type { Sys } from '../../proc/index.ts';
import { V4L2_BUF_TYPE_VIDEO_OUTPUT as OUT, V4L2_MEMORY_DMABUF, type V4l2Buffer } from '../../uapi/index.ts';
import { waitFrameFence, type FrameMsg, type Upstream } from './link.ts';
import { dequeueBuffer, queueBuffer, v4l2Buffer } from './uapi-calls.ts';

/**
 * One mem-to-mem job on a received frame: queues the result buffer `cap`,
 * then the frame's dma-buf on OUTPUT (as DMABUF at the index of its slot,
 * so vb2 keeps each import mapped), dequeues both, and gives the frame
 * back to its producer. Returns the dequeued CAPTURE buffer.
 */
export async function m2mJobOnFrame(sys: Sys, fd: number, up: Upstream, m: FrameMsg, cap: V4l2Buffer, inSize: number): Promise<V4l2Buffer> {
  await queueBuffer(sys, fd, cap);
  // V4L2 queues cannot wait on a fence: the frame must be written before it is queued.
  await waitFrameFence(sys, m);
  await queueBuffer(sys, fd, v4l2Buffer(OUT, V4L2_MEMORY_DMABUF, m.slot, { fd: m.bufFd }, m.bytesused, inSize));
  const out = await dequeueBuffer(sys, fd, cap.type, cap.memory);
  await dequeueBuffer(sys, fd, OUT, V4L2_MEMORY_DMABUF);
  await sys.close(m.bufFd);
  await up.release(m.slot);
  return out;
}
