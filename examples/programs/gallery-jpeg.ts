// Use case 4 of the sources (the Android gallery): a "photo" is encoded by the
// hardware JPEG encoder (/dev/video10), then the hardware decoder (/dev/video11)
// decodes it straight into memory the program allocated itself -- an anonymous
// mmap passed as USERPTR, pinned by the kernel and mapped through the JPEG
// block's IOMMU. The JPEG is lossy: the program holds the decoded pixels to the
// original within a peak signal-to-noise ratio of 40 dB.
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP,
  V4L2_BUF_TYPE_VIDEO_OUTPUT as OUT,
  V4L2_MEMORY_USERPTR as USERPTR,
  V4L2_PIX_FMT_JPEG,
  V4L2_PIX_FMT_YUYV,
  VIDIOC_DQBUF,
  VIDIOC_QBUF,
  VIDIOC_REQBUFS,
  VIDIOC_S_FMT,
  VIDIOC_STREAMON,
} from 'unimem/uapi';
import type { Sys } from 'unimem';

const W = 640;
const H = 480;
const RAW = W * H * 2;

function buffer(type: number, userptr: number, length: number, bytesused = 0) {
  return { index: 0, type, bytesused, flags: 0, field: 0, timestamp: { tv_sec: 0, tv_usec: 0 }, sequence: 0, memory: USERPTR, m: { userptr }, length };
}

/** Runs one job on a mem-to-mem node: `input` (bytesused bytes) in, `output` out; returns the output's bytesused. */
async function job(sys: Sys, fd: number, input: number, inLen: number, used: number, output: number, outLen: number): Promise<number> {
  await sys.ioctl(fd, VIDIOC_QBUF, buffer(CAP, output, outLen));
  await sys.ioctl(fd, VIDIOC_QBUF, buffer(OUT, input, inLen, used));
  const done = buffer(CAP, 0, 0);
  await sys.ioctl(fd, VIDIOC_DQBUF, done);
  await sys.ioctl(fd, VIDIOC_DQBUF, buffer(OUT, 0, 0));
  if (done.flags & 0x40) throw new Error('the codec flagged the buffer as an error');
  return done.bytesused;
}

async function open(sys: Sys, path: string, out: number, cap: number) {
  const fd = await sys.open(path, O_RDWR);
  const f = (type: number, pixelformat: number) => ({ type, fmt: { pix: { width: W, height: H, pixelformat, field: 0, bytesperline: 0, sizeimage: 0 } } });
  const o = f(OUT, out);
  const c = f(CAP, cap);
  await sys.ioctl(fd, VIDIOC_S_FMT, o);
  await sys.ioctl(fd, VIDIOC_S_FMT, c);
  for (const type of [OUT, CAP]) await sys.ioctl(fd, VIDIOC_REQBUFS, { count: 1, type, memory: USERPTR, capabilities: 0, flags: 0 });
  for (const type of [OUT, CAP]) await sys.ioctl(fd, VIDIOC_STREAMON, type);
  return { fd, bitsMax: out === V4L2_PIX_FMT_JPEG ? o.fmt.pix.sizeimage : c.fmt.pix.sizeimage };
}

export default async function main(sys: Sys): Promise<number> {
  const enc = await open(sys, '/dev/video10', V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_JPEG);
  const dec = await open(sys, '/dev/video11', V4L2_PIX_FMT_JPEG, V4L2_PIX_FMT_YUYV);
  const anon = (len: number) => sys.mmap(0, Math.ceil(len / 4096) * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  // A smooth photo-like picture: a luma gradient under a chroma gradient, as real photos are smooth.
  const photo = new Uint8Array(RAW);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W * 2 + x * 2;
      photo[i] = 16 + ((x + y) * 219) / (W + H);
      photo[i + 1] = x & 1 ? 128 + (y * 64) / H : 96 + (x * 64) / W;
    }
  }
  const src = await anon(RAW);
  const bits = await anon(enc.bitsMax);
  const pixels = await anon(RAW);
  await sys.store(src, photo);
  const len = await job(sys, enc.fd, src, RAW, RAW, bits, enc.bitsMax);
  const got = await job(sys, dec.fd, bits, enc.bitsMax, len, pixels, RAW);
  const back = await sys.load(pixels, RAW);
  let se = 0;
  for (let i = 0; i < RAW; i++) se += (back[i]! - photo[i]!) ** 2;
  const psnr = se === 0 ? Infinity : 10 * Math.log10((255 * 255 * RAW) / se);
  const jfif = String.fromCharCode(...(await sys.load(bits + 6, 4))) === 'JFIF';
  const ok = got === RAW && jfif && psnr >= 40;
  await sys.write(1, new TextEncoder().encode(`encoded ${RAW} bytes into a ${len}-byte ${jfif ? 'JFIF' : 'non-JFIF'} file; decoded into the program's own memory at ${psnr.toFixed(1)} dB PSNR: ${ok ? 'ok' : 'TOO FAR'}\n`));
  return ok ? 0 : 1;
}
