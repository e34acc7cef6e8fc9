import type { Sys } from '../../proc/index.ts';
import { O_RDWR, V4L2_BUF_FLAG_ERROR, V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP, V4L2_BUF_TYPE_VIDEO_OUTPUT as OUT, V4L2_MEMORY_DMABUF, V4L2_MEMORY_MMAP } from '../../uapi/index.ts';
import { Downstream, Upstream } from './link.ts';
import { m2mJobOnFrame } from './m2m-job.ts';
import type { StageContext } from './stage.ts';
import { exportBuffer, heapAllocate, requestBuffers, setFormat, streamOn, v4l2Buffer } from './uapi-calls.ts';

/**
 * An ISP process (a mem-to-mem transform): each frame it receives is
 * queued, as the dma-buf it came in, on the ISP's OUTPUT queue (the slot
 * is the buffer index, so vb2 keeps each import mapped), the result lands
 * in one of its own buffers on CAPTURE; the source goes back to its
 * producer once the ISP has read it, the result goes on.
 */
export async function convertStage(sys: Sys, ctx: StageContext): Promise<number> {
  const inFmt = ctx.inFmt!;
  const outFmt = ctx.outFmt!;
  const v = await sys.open(ctx.devicePath, O_RDWR);
  await setFormat(sys, v, OUT, inFmt);
  await setFormat(sys, v, CAP, outFmt);
  await requestBuffers(sys, v, OUT, V4L2_MEMORY_DMABUF, ctx.upSlots);
  const memory = ctx.heap === 'driver' ? V4L2_MEMORY_MMAP : V4L2_MEMORY_DMABUF;
  const n = await requestBuffers(sys, v, CAP, memory, ctx.slots);
  const fds: number[] = [];
  for (let i = 0; i < n; i++) fds.push(memory === V4L2_MEMORY_MMAP ? await exportBuffer(sys, v, CAP, i) : await heapAllocate(sys, ctx.heap, outFmt.size));
  await streamOn(sys, v, OUT);
  await streamOn(sys, v, CAP);
  const up = new Upstream(sys, ctx.upFd);
  const down = new Downstream(sys, ctx.downFd, n);
  for (let m = await up.next(); m; m = await up.next()) {
    const slot = await down.acquire();
    if (slot === null) {
      await sys.close(m.bufFd);
      break;
    }
    const out = await m2mJobOnFrame(sys, v, up, m, v4l2Buffer(CAP, memory, slot, memory === V4L2_MEMORY_DMABUF ? { fd: fds[slot] } : {}, 0, outFmt.size), inFmt.size);
    if (out.flags & V4L2_BUF_FLAG_ERROR) {
      ctx.probe.failed(ctx.spec.name, m.frame, 'the ISP flagged the frame');
      down.putBack(slot);
      continue;
    }
    if (!(await down.send(m.frame, slot, out.bytesused, fds[slot]!))) break;
  }
  return 0;
}
