import type { Sys } from '../../proc/index.ts';
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  O_RDONLY,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  V4L2_BUF_FLAG_ERROR,
  V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP,
  V4L2_BUF_TYPE_VIDEO_OUTPUT as OUT,
  V4L2_MEMORY_USERPTR,
  V4L2_PIX_FMT_JPEG,
  VIDIOC_G_FMT,
  type V4l2Format,
} from '../../uapi/index.ts';
import type { StageContext } from './stage.ts';
import { dequeueBuffer, queueBuffer, requestBuffers, setFormat, streamOn, v4l2Buffer } from './uapi-calls.ts';

/**
 * A gallery app (use case 4): opens each photo file in its directory
 * (IMG_0000.jpg, IMG_0001.jpg, ... until one is missing), reads it into
 * its own anonymous memory, and has the hardware decoder turn it into
 * pixels in another buffer of its own -- both passed as USERPTR, so the
 * kernel pins the process's pages and maps them through the codec's IOMMU.
 */
export async function jpegDecodeStage(sys: Sys, ctx: StageContext): Promise<number> {
  const fmt = ctx.outFmt!;
  const v = await sys.open(ctx.devicePath, O_RDWR);
  await setFormat(sys, v, OUT, fmt, V4L2_PIX_FMT_JPEG);
  await setFormat(sys, v, CAP, fmt);
  // The largest bitstream for the picture size, as the decoder now reports it.
  const coded = { type: OUT } as V4l2Format;
  await sys.ioctl(v, VIDIOC_G_FMT, coded);
  await requestBuffers(sys, v, OUT, V4L2_MEMORY_USERPTR, 1);
  await requestBuffers(sys, v, CAP, V4L2_MEMORY_USERPTR, 1);
  await streamOn(sys, v, OUT);
  await streamOn(sys, v, CAP);
  const page = (n: number) => Math.ceil(n / 4096) * 4096;
  const codedMax = coded.fmt.pix!.sizeimage;
  const bits = await sys.mmap(0, page(codedMax), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const pixels = await sys.mmap(0, page(fmt.size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  for (let n = 0; n < ctx.frames; n++) {
    let f: number;
    try {
      f = await sys.open(`${ctx.input}/IMG_${String(n).padStart(4, '0')}.jpg`, O_RDONLY);
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') break;
      throw e;
    }
    const jpeg = await sys.read(f, codedMax);
    await sys.close(f);
    await sys.store(bits, jpeg);
    ctx.probe.produced(n);
    await queueBuffer(sys, v, v4l2Buffer(CAP, V4L2_MEMORY_USERPTR, 0, { userptr: pixels }, 0, fmt.size));
    await queueBuffer(sys, v, v4l2Buffer(OUT, V4L2_MEMORY_USERPTR, 0, { userptr: bits }, jpeg.length, codedMax));
    const out = await dequeueBuffer(sys, v, CAP, V4L2_MEMORY_USERPTR);
    await dequeueBuffer(sys, v, OUT, V4L2_MEMORY_USERPTR);
    if (out.flags & V4L2_BUF_FLAG_ERROR) {
      ctx.probe.failed(ctx.spec.name, n, 'the decoder flagged the photo');
      continue;
    }
    ctx.probe.consumed(ctx.spec.name, n, await sys.load(pixels, out.bytesused));
  }
  return 0;
}
