import type { Sys } from '../../proc/index.ts';
import {
  O_CREAT,
  O_RDWR,
  O_WRONLY,
  V4L2_BUF_FLAG_ERROR,
  V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP,
  V4L2_BUF_TYPE_VIDEO_OUTPUT as OUT,
  V4L2_MEMORY_DMABUF,
  V4L2_MEMORY_MMAP,
  V4L2_PIX_FMT_JPEG,
} from '../../uapi/index.ts';
import { Upstream } from './link.ts';
import { m2mJobOnFrame } from './m2m-job.ts';
import type { StageContext } from './stage.ts';
import { mapBuffer, requestBuffers, setFormat, streamOn, v4l2Buffer } from './uapi-calls.ts';

/**
 * A camera app's save path: each frame it receives is queued, as the
 * dma-buf it came in, on the JPEG encoder's OUTPUT queue; the bitstream
 * lands in the encoder's MMAP buffer, which the process reads and writes
 * to a file (IMG_<frame>.jpg in the stage's directory, when it has one).
 */
export async function encodeStage(sys: Sys, ctx: StageContext): Promise<number> {
  const fmt = ctx.inFmt!;
  const v = await sys.open(ctx.devicePath, O_RDWR);
  await setFormat(sys, v, OUT, fmt);
  await setFormat(sys, v, CAP, fmt, V4L2_PIX_FMT_JPEG);
  await requestBuffers(sys, v, OUT, V4L2_MEMORY_DMABUF, ctx.upSlots);
  await requestBuffers(sys, v, CAP, V4L2_MEMORY_MMAP, 1);
  const bits = await mapBuffer(sys, v, CAP, 0);
  await streamOn(sys, v, OUT);
  await streamOn(sys, v, CAP);
  const up = new Upstream(sys, ctx.upFd);
  for (let m = await up.next(); m; m = await up.next()) {
    const out = await m2mJobOnFrame(sys, v, up, m, v4l2Buffer(CAP, V4L2_MEMORY_MMAP, 0, {}, 0, bits.length), fmt.size);
    if (out.flags & V4L2_BUF_FLAG_ERROR) {
      ctx.probe.failed(ctx.spec.name, m.frame, 'the encoder flagged the frame');
      continue;
    }
    const jpeg = await sys.load(bits.addr, out.bytesused);
    if (ctx.input) {
      const f = await sys.open(`${ctx.input}/IMG_${String(m.frame).padStart(4, '0')}.jpg`, O_WRONLY | O_CREAT, 0o644);
      await sys.write(f, jpeg);
      await sys.close(f);
    }
    ctx.probe.consumed(ctx.spec.name, m.frame, jpeg);
  }
  return 0;
}
