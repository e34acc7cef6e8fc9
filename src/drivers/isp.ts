import type { Device } from '../dma/index.ts';
import type { DmaBufSystem } from '../dmabuf/index.ts';
import type { Vfs } from '../fs/index.ts';
import type { Clock } from '../hw/index.ts';
import { kerr } from '../lib/index.ts';
import type { Mm } from '../mm/index.ts';
import {
  V4L2_BUF_TYPE_VIDEO_OUTPUT,
  V4L2_COLORSPACE_SMPTE170M,
  V4L2_FIELD_NONE,
  V4L2_PIX_FMT_NV12,
  V4L2_PIX_FMT_YUYV,
  type V4l2PixFormat,
} from '../uapi/index.ts';
import { M2mDevice, M2mNode } from './media/m2m.ts';
import { dmaReadSg, dmaWriteSg, sgPlaneForDevice, vb2DmaSgMemops } from './media/vb2-dma-sg.ts';
import { frameFormat, type FrameFormat } from './pixel-format.ts';
import { VB2_DMABUF, VB2_MMAP, VB2_USERPTR, type Vb2Buffer } from './v4l2/index.ts';

const MIN_DIM = 16;
const MAX_WIDTH = 4096;
const MAX_HEIGHT = 3072;

/**
 * Converts a YUYV frame of `sw`x`sh` into NV12 at 1/`scale` of its size
 * (what the ISP's scaler and chroma resampler compute): luma by nearest
 * sample (every `scale`-th pixel of every `scale`-th line); each NV12
 * chroma sample, which covers a 2x2 block of output pixels, is the
 * rounded mean of the U (and V) the two source lines of that block carry
 * at its left pixel (BT.601 4:2:2 to 4:2:0 vertical subsampling, chroma
 * sited as MPEG-2). `dst` holds the output frame (width*height*3/2 bytes).
 */
export function yuyvToNv12(src: Uint8Array, sw: number, sh: number, scale: 1 | 2, dst: Uint8Array): void {
  const dw = sw / scale;
  const dh = sh / scale;
  const stride = sw * 2;
  for (let y = 0; y < dh; y++) {
    const s = y * scale * stride;
    const d = y * dw;
    for (let x = 0; x < dw; x++) dst[d + x] = src[s + x * scale * 2]!;
  }
  const uv = dw * dh;
  for (let cy = 0; cy < dh / 2; cy++) {
    const s0 = 2 * cy * scale * stride;
    const s1 = Math.min((2 * cy + 1) * scale, sh - 1) * stride;
    const d = uv + cy * dw;
    for (let cx = 0; cx < dw / 2; cx++) {
      // the left source pixel of the block; its pair (4 bytes Y0 U Y1 V) starts at an even pixel
      const px = (2 * cx * scale) & ~1;
      const o = px * 2;
      dst[d + 2 * cx] = (src[s0 + o + 1]! + src[s1 + o + 1]! + 1) >> 1;
      dst[d + 2 * cx + 1] = (src[s0 + o + 3]! + src[s1 + o + 3]! + 1) >> 1;
    }
  }
}

/** One file's ISP state: the two formats and the engine's line buffers for them. */
interface IspState {
  src: FrameFormat;
  scale: 1 | 2;
  dst: FrameFormat;
  inBuf: Uint8Array;
  outBuf: Uint8Array;
}

function pix(fmt: FrameFormat, pixelformat: number): V4l2PixFormat {
  return {
    width: fmt.width,
    height: fmt.height,
    pixelformat,
    field: V4L2_FIELD_NONE,
    bytesperline: fmt.stride,
    sizeimage: fmt.size,
    colorspace: V4L2_COLORSPACE_SMPTE170M,
    priv: 0,
    flags: 0,
    ycbcr_enc: 0,
    quantization: 0,
    xfer_func: 0,
  };
}

function withFormats(src: FrameFormat, scale: 1 | 2): IspState {
  const dst = frameFormat(src.width / scale, src.height / scale, 'NV12');
  return { src, scale, dst, inBuf: new Uint8Array(src.size), outBuf: new Uint8Array(dst.size) };
}

/** What registerIsp takes. */
export interface IspOptions {
  vfs: Vfs;
  dbs: DmaBufSystem;
  mm: Mm;
  clock: Clock;
  /** The ISP's DMA device (usually behind an SMMU). */
  device: Device;
  /** N of /dev/videoN. */
  nr: number;
}

/**
 * The ISP / scaler as a mem-to-mem V4L2 device: OUTPUT takes YUYV frames
 * (width and height multiples of 4), CAPTURE gives NV12 at full or half
 * size (S_FMT on CAPTURE picks the scale: a width at most half the
 * source's halves). The engine reads the source by DMA, converts, and
 * writes the result by DMA, one job per buffer pair. Buffers are
 * vb2-dma-sg on the ISP's device.
 */
export class IspDevice {
  readonly m2m: M2mDevice;
  readonly node: M2mNode<IspState>;

  constructor(opts: IspOptions) {
    this.m2m = new M2mDevice(opts.device, opts.clock);
    const dev = opts.device;
    this.node = new M2mNode<IspState>({
      vfs: opts.vfs,
      dev: this.m2m,
      nr: opts.nr,
      name: `${dev.name}-m2m`,
      driver: 'unimem-isp',
      card: `${dev.name} scaler`,
      memOps: vb2DmaSgMemops(opts.mm, opts.dbs),
      ioModes: VB2_MMAP | VB2_DMABUF | VB2_USERPTR,
      ops: {
        createState: () => withFormats(frameFormat(640, 480, 'YUYV'), 1),
        planeSize: (st, type) => (type === V4L2_BUF_TYPE_VIDEO_OUTPUT ? st.src.size : st.dst.size),
        gFmt: (st, f) => {
          f.fmt = { pix: f.type === V4L2_BUF_TYPE_VIDEO_OUTPUT ? pix(st.src, V4L2_PIX_FMT_YUYV) : pix(st.dst, V4L2_PIX_FMT_NV12) };
        },
        sFmt: (st, f) => {
          const req = f.fmt?.pix;
          if (!req) throw kerr('EFAULT', 'S_FMT: no pix format');
          if (f.type === V4L2_BUF_TYPE_VIDEO_OUTPUT) {
            const w = Math.min(MAX_WIDTH, Math.max(MIN_DIM, req.width >>> 0)) & ~3;
            const h = Math.min(MAX_HEIGHT, Math.max(MIN_DIM, req.height >>> 0)) & ~3;
            Object.assign(st, withFormats(frameFormat(w, h, 'YUYV'), st.scale));
            f.fmt = { pix: pix(st.src, V4L2_PIX_FMT_YUYV) };
          } else {
            const scale = (req.width >>> 0) <= st.src.width / 2 ? 2 : 1;
            Object.assign(st, withFormats(st.src, scale));
            f.fmt = { pix: pix(st.dst, V4L2_PIX_FMT_NV12) };
          }
        },
        deviceRun: (st, src, dst) => this.run(st, src, dst),
      },
    });
  }

  /** The node's path. */
  get path(): string {
    return this.node.path;
  }

  /** One job: DMA the YUYV frame in, convert and scale, DMA the NV12 frame out. EINVAL for a short source. */
  private async run(st: IspState, src: Vb2Buffer, dst: Vb2Buffer): Promise<void> {
    const dev = this.m2m.device;
    if (src.bytesused < st.src.size) throw kerr('EINVAL', `isp: source of ${src.bytesused} bytes < ${st.src.size}`);
    const inp = sgPlaneForDevice(src, dev);
    try {
      await dmaReadSg(dev, inp.sgt, st.inBuf, st.src.size, 'isp read');
    } finally {
      inp.done();
    }
    yuyvToNv12(st.inBuf, st.src.width, st.src.height, st.scale, st.outBuf);
    const out = sgPlaneForDevice(dst, dev);
    try {
      await dmaWriteSg(dev, out.sgt, st.outBuf, st.dst.size, 'isp write');
    } finally {
      out.done();
    }
    dst.bytesused = st.dst.size;
  }
}

/** Registers the ISP's mem-to-mem node /dev/video`nr` (the probe of a SoC scaler driver). EEXIST when taken. */
export function registerIsp(opts: IspOptions): IspDevice {
  return new IspDevice(opts);
}
