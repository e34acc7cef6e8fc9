import type { Device } from '../../../dma/index.ts';
import type { DmaBufSystem } from '../../../dmabuf/index.ts';
import type { Vfs } from '../../../fs/index.ts';
import { IspEngine, type Clock } from '../../../hw/index.ts';
import { kerr } from '../../../lib/index.ts';
import type { Mm } from '../../../mm/index.ts';
import {
  V4L2_BUF_TYPE_VIDEO_CAPTURE,
  V4L2_BUF_TYPE_VIDEO_OUTPUT,
  V4L2_COLORSPACE_SMPTE170M,
  V4L2_FIELD_NONE,
  V4L2_PIX_FMT_NV12,
  V4L2_PIX_FMT_XBGR32,
  V4L2_PIX_FMT_YUYV,
  type V4l2Format,
  type V4l2PixFormat,
} from '../../../uapi/index.ts';
import { M2mDevice, M2mNode } from '../v4l2-core/v4l2-mem2mem.ts';
import { vb2PlaneDma, vb2DmaSgMemops } from '../videobuf2/vb2-dma-sg.ts';
import { frameFormat, type FrameFormat } from '../../../formats/index.ts';
import { VB2_DMABUF, VB2_MMAP, VB2_USERPTR, type Vb2Buffer } from '../videobuf2/index.ts';

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

/**
 * Copies or halves an NV12 frame of `sw`x`sh` into NV12 at 1/`scale` of
 * its size (the scaler with the format unchanged): luma and chroma both by
 * nearest sample, so at scale 2 output chroma sample (cx, cy) is source
 * chroma sample (2cx, 2cy). `dst` holds width*height*3/2 bytes of output.
 */
export function nv12ToNv12(src: Uint8Array, sw: number, sh: number, scale: 1 | 2, dst: Uint8Array): void {
  if (scale === 1) {
    dst.set(src.subarray(0, sw * sh + sw * (sh >> 1)));
    return;
  }
  const dw = sw >> 1;
  const dh = sh >> 1;
  for (let y = 0; y < dh; y++) {
    const s = 2 * y * sw;
    const d = y * dw;
    for (let x = 0; x < dw; x++) dst[d + x] = src[s + 2 * x]!;
  }
  const suv = sw * sh;
  const duv = dw * dh;
  for (let cy = 0; cy < dh >> 1; cy++) {
    const s = suv + 2 * cy * sw;
    const d = duv + cy * dw;
    for (let cx = 0; cx < dw; cx += 2) {
      // a chroma pair (U, V) per 2 output pixels; source pairs 4 bytes apart
      dst[d + cx] = src[s + 2 * cx]!;
      dst[d + cx + 1] = src[s + 2 * cx + 1]!;
    }
  }
}

/*
 * BT.601 limited range to full-range RGB in 8-bit fixed point: with
 * C = Y-16, D = U-128, E = V-128,
 *   R = (298C + 409E + 128) >> 8
 *   G = (298C - 100D - 208E + 128) >> 8
 *   B = (298C + 516D + 128) >> 8
 * each clamped to 0..255. Every sum lies in -71000..137000, so its >> 8
 * indexes CLAMP at +CLAMP_BIAS without a branch.
 */
const CLAMP_BIAS = 512;
const CLAMP = new Uint8Array(2048);
for (let i = 0; i < CLAMP.length; i++) CLAMP[i] = Math.min(255, Math.max(0, i - CLAMP_BIAS));

/** The X byte written with each pixel: XRGB8888's X is "don't care"; 0xff makes the same bytes an opaque ARGB8888. */
const XRGB_X = 0xff;

/**
 * Converts an NV12 frame of `sw`x`sh` (BT.601, limited range: the kernel's
 * V4L2_COLORSPACE_SMPTE170M with V4L2_YCBCR_ENC_601 and
 * V4L2_QUANTIZATION_LIM_RANGE) into XRGB8888 (DRM_FORMAT_XRGB8888, V4L2's
 * XBGR32 'XR24': bytes B, G, R, X per pixel, X = 0xff) at 1/`scale` of its
 * size. Output pixel (x, y) is source pixel (x*scale, y*scale) (nearest);
 * its chroma is the NV12 sample of the 2x2 source block holding that pixel
 * (nearest upsampling). Integer arithmetic: R = clamp((298(Y-16) +
 * 409(V-128) + 128) >> 8), G = clamp((298(Y-16) - 100(U-128) - 208(V-128)
 * + 128) >> 8), B = clamp((298(Y-16) + 516(U-128) + 128) >> 8). `dst` holds
 * width*height*4 bytes of output. Allocates nothing.
 */
export function nv12ToXrgb8888(src: Uint8Array, sw: number, sh: number, scale: 1 | 2, dst: Uint8Array): void {
  const dw = sw / scale;
  const dh = sh / scale;
  const uv = sw * sh;
  // at scale 1 two output pixels share a chroma pair; at scale 2 each output pixel has its own
  const perChroma = scale === 1 ? 2 : 1;
  for (let y = 0; y < dh; y++) {
    const sy = y * scale;
    const ys = sy * sw;
    const cs = uv + (sy >> 1) * sw;
    let d = y * dw * 4;
    for (let x = 0; x < dw; x += perChroma) {
      const sx = x * scale;
      const c = cs + (sx & ~1);
      const u = src[c]! - 128;
      const v = src[c + 1]! - 128;
      const rv = 409 * v + 128 + (CLAMP_BIAS << 8);
      const guv = -100 * u - 208 * v + 128 + (CLAMP_BIAS << 8);
      const bu = 516 * u + 128 + (CLAMP_BIAS << 8);
      const l0 = 298 * (src[ys + sx]! - 16);
      dst[d] = CLAMP[(l0 + bu) >> 8]!;
      dst[d + 1] = CLAMP[(l0 + guv) >> 8]!;
      dst[d + 2] = CLAMP[(l0 + rv) >> 8]!;
      dst[d + 3] = XRGB_X;
      d += 4;
      if (perChroma === 2) {
        const l1 = 298 * (src[ys + sx + 1]! - 16);
        dst[d] = CLAMP[(l1 + bu) >> 8]!;
        dst[d + 1] = CLAMP[(l1 + guv) >> 8]!;
        dst[d + 2] = CLAMP[(l1 + rv) >> 8]!;
        dst[d + 3] = XRGB_X;
        d += 4;
      }
    }
  }
}

/**
 * Converts a YUYV frame of `sw`x`sh` (BT.601 limited range, as
 * nv12ToXrgb8888) into XRGB8888 (bytes B, G, R, X = 0xff) at 1/`scale` of
 * its size: output pixel (x, y) is source pixel (x*scale, y*scale); each
 * source pixel pair (Y0 U Y1 V) shares its U and V. Same integer formulas
 * as nv12ToXrgb8888. `dst` holds width*height*4 bytes. Allocates nothing.
 */
export function yuyvToXrgb8888(src: Uint8Array, sw: number, sh: number, scale: 1 | 2, dst: Uint8Array): void {
  const dw = sw / scale;
  const dh = sh / scale;
  const stride = sw * 2;
  const perChroma = scale === 1 ? 2 : 1;
  for (let y = 0; y < dh; y++) {
    const s = y * scale * stride;
    let d = y * dw * 4;
    for (let x = 0; x < dw; x += perChroma) {
      const sx = x * scale;
      // the pair Y0 U Y1 V holding source pixel sx
      const p = s + (sx & ~1) * 2;
      const u = src[p + 1]! - 128;
      const v = src[p + 3]! - 128;
      const rv = 409 * v + 128 + (CLAMP_BIAS << 8);
      const guv = -100 * u - 208 * v + 128 + (CLAMP_BIAS << 8);
      const bu = 516 * u + 128 + (CLAMP_BIAS << 8);
      const l0 = 298 * (src[s + sx * 2]! - 16);
      dst[d] = CLAMP[(l0 + bu) >> 8]!;
      dst[d + 1] = CLAMP[(l0 + guv) >> 8]!;
      dst[d + 2] = CLAMP[(l0 + rv) >> 8]!;
      dst[d + 3] = XRGB_X;
      d += 4;
      if (perChroma === 2) {
        const l1 = 298 * (src[p + 2]! - 16);
        dst[d] = CLAMP[(l1 + bu) >> 8]!;
        dst[d + 1] = CLAMP[(l1 + guv) >> 8]!;
        dst[d + 2] = CLAMP[(l1 + rv) >> 8]!;
        dst[d + 3] = XRGB_X;
        d += 4;
      }
    }
  }
}

/** Pixel formats of the OUTPUT queue (frames in), in ENUM_FMT order; the first is the default. */
const OUTPUT_FORMATS: readonly { pixelformat: number; fourcc: 'YUYV' | 'NV12' }[] = [
  { pixelformat: V4L2_PIX_FMT_YUYV, fourcc: 'YUYV' },
  { pixelformat: V4L2_PIX_FMT_NV12, fourcc: 'NV12' },
];

/** Pixel formats of the CAPTURE queue (frames out), in ENUM_FMT order; the first is the default. */
const CAPTURE_FORMATS: readonly { pixelformat: number; fourcc: 'NV12' | 'XR24' }[] = [
  { pixelformat: V4L2_PIX_FMT_NV12, fourcc: 'NV12' },
  { pixelformat: V4L2_PIX_FMT_XBGR32, fourcc: 'XR24' },
];

/** One ENUM_FMT answer (the fields of struct v4l2_fmtdesc the ISP fills). */
export interface IspFmtDesc {
  index: number;
  type: number;
  pixelformat: number;
  /** The driver's own name for the format; empty where the V4L2 core names it (v4l_fill_fmtdesc). */
  description: string;
}

/** One file's ISP state: the two formats and the engine's line buffers for them. */
export interface IspState {
  src: FrameFormat;
  scale: 1 | 2;
  dst: FrameFormat;
  inBuf: Uint8Array;
  outBuf: Uint8Array;
}

function pixelformatOf(fourcc: FrameFormat['fourcc']): number {
  return fourcc === 'YUYV' ? V4L2_PIX_FMT_YUYV : fourcc === 'NV12' ? V4L2_PIX_FMT_NV12 : V4L2_PIX_FMT_XBGR32;
}

function pix(fmt: FrameFormat): V4l2PixFormat {
  return {
    width: fmt.width,
    height: fmt.height,
    pixelformat: pixelformatOf(fmt.fourcc),
    field: V4L2_FIELD_NONE,
    bytesperline: fmt.stride,
    sizeimage: fmt.size,
    // the defaults of SMPTE170M: BT.601 encoding, limited range for YUV and full range for RGB, which is what the engine makes
    colorspace: V4L2_COLORSPACE_SMPTE170M,
    priv: 0,
    flags: 0,
    ycbcr_enc: 0,
    quantization: 0,
    xfer_func: 0,
  };
}

/** The file's state for formats `f`, with the engine buffers they need. */
function withFormats(f: { src: FrameFormat; scale: 1 | 2; dst: FrameFormat }): IspState {
  return { ...f, inBuf: new Uint8Array(f.src.size), outBuf: new Uint8Array(f.dst.size) };
}

/**
 * The formats S_FMT of `f` would leave (the driver's try_fmt): an
 * unsupported pixelformat becomes the queue's first format, OUTPUT sizes
 * are clamped to 16..4096 x 16..3072 and rounded down to multiples of 4,
 * and CAPTURE picks the scale (a width at most half the source's halves)
 * at the source's size, so its size follows the source. EFAULT without a pix format.
 */
function adjust(st: IspState, f: V4l2Format): { src: FrameFormat; scale: 1 | 2; dst: FrameFormat } {
  const req = f.fmt?.pix;
  if (!req) throw kerr('EFAULT', 'isp: no pix format');
  if (f.type === V4L2_BUF_TYPE_VIDEO_OUTPUT) {
    const w = Math.min(MAX_WIDTH, Math.max(MIN_DIM, req.width >>> 0)) & ~3;
    const h = Math.min(MAX_HEIGHT, Math.max(MIN_DIM, req.height >>> 0)) & ~3;
    const fourcc = (OUTPUT_FORMATS.find((d) => d.pixelformat === req.pixelformat >>> 0) ?? OUTPUT_FORMATS[0]!).fourcc;
    const src = frameFormat(w, h, fourcc);
    return { src, scale: st.scale, dst: frameFormat(w / st.scale, h / st.scale, st.dst.fourcc) };
  }
  const scale = (req.width >>> 0) <= st.src.width / 2 ? 2 : 1;
  const fourcc = (CAPTURE_FORMATS.find((d) => d.pixelformat === req.pixelformat >>> 0) ?? CAPTURE_FORMATS[0]!).fourcc;
  return { src: st.src, scale, dst: frameFormat(st.src.width / scale, st.src.height / scale, fourcc) };
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
 * The ISP / scaler as a mem-to-mem V4L2 device: OUTPUT takes YUYV or NV12
 * frames (width and height multiples of 4), CAPTURE gives NV12 or XBGR32
 * ('XR24', the bytes of DRM_FORMAT_XRGB8888, so the GPU and display take
 * it as is) at full or half size (S_FMT on CAPTURE picks the scale: a
 * width at most half the source's halves). YUV to RGB is BT.601 limited
 * range. The engine reads the source by DMA, converts, and writes the
 * result by DMA, one job per buffer pair. Buffers are vb2-dma-sg on the
 * ISP's device.
 */
export class IspDevice {
  readonly m2m: M2mDevice;
  readonly node: M2mNode<IspState>;
  /** The scaler and its DMA. */
  readonly engine: IspEngine;

  constructor(opts: IspOptions) {
    this.m2m = new M2mDevice(opts.device, opts.clock);
    const dev = opts.device;
    this.engine = new IspEngine(dev.master, dev.ctx.soc.clock);
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
        createState: () => withFormats({ src: frameFormat(640, 480, 'YUYV'), scale: 1, dst: frameFormat(640, 480, 'NV12') }),
        planeSize: (st, type) => (type === V4L2_BUF_TYPE_VIDEO_OUTPUT ? st.src.size : st.dst.size),
        gFmt: (st, f) => {
          f.fmt = { pix: pix(f.type === V4L2_BUF_TYPE_VIDEO_OUTPUT ? st.src : st.dst) };
        },
        sFmt: (st, f) => {
          Object.assign(st, withFormats(adjust(st, f)));
          f.fmt = { pix: pix(f.type === V4L2_BUF_TYPE_VIDEO_OUTPUT ? st.src : st.dst) };
        },
        enumFmt: (_st, f) => {
          const d = this.enumFmt(f.type, f.index);
          f.pixelformat = d.pixelformat;
          f.description = d.description;
        },
        tryFmt: (st, f) => this.tryFmt(st, f),
        deviceRun: (st, src, dst) => this.run(st, src, dst),
      },
    });
  }

  /** The node's path. */
  get path(): string {
    return this.node.path;
  }

  /**
   * Names the `index`-th pixel format of queue `type` (vidioc_enum_fmt_vid_out / _cap):
   * OUTPUT YUYV, NV12; CAPTURE NV12, XBGR32. EINVAL past the end or for another type.
   */
  enumFmt(type: number, index: number): IspFmtDesc {
    const list = type === V4L2_BUF_TYPE_VIDEO_OUTPUT ? OUTPUT_FORMATS : type === V4L2_BUF_TYPE_VIDEO_CAPTURE ? CAPTURE_FORMATS : null;
    if (!list) throw kerr('EINVAL', `isp: buffer type ${type} not supported`);
    const d = list[index >>> 0];
    if (!d) throw kerr('EINVAL', `isp: no format ${index}`);
    return { index, type, pixelformat: d.pixelformat, description: '' };
  }

  /**
   * Corrects `f` to what S_FMT would set for the file whose state is `st`
   * without setting it (vidioc_try_fmt_vid_out / _cap). EINVAL for another
   * buffer type, EFAULT without a pix format.
   */
  tryFmt(st: IspState, f: V4l2Format): void {
    if (f.type !== V4L2_BUF_TYPE_VIDEO_OUTPUT && f.type !== V4L2_BUF_TYPE_VIDEO_CAPTURE) throw kerr('EINVAL', `isp: buffer type ${f.type} not supported`);
    const a = adjust(st, f);
    f.fmt = { pix: pix(f.type === V4L2_BUF_TYPE_VIDEO_OUTPUT ? a.src : a.dst) };
  }

  /** One job: DMA the source frame in, convert and scale, DMA the result out. EINVAL for a short source. */
  private async run(st: IspState, src: Vb2Buffer, dst: Vb2Buffer): Promise<void> {
    const dev = this.m2m.device;
    if (src.bytesused < st.src.size) throw kerr('EINVAL', `isp: source of ${src.bytesused} bytes < ${st.src.size}`);
    const engine = this.engine;
    await vb2PlaneDma(src, dev, st.src.size, false, (segs) => engine.readFrame(segs, st.inBuf, st.src.size));
    convert(st);
    await vb2PlaneDma(dst, dev, st.dst.size, true, (segs) => engine.writeFrame(segs, st.outBuf, st.dst.size));
    dst.bytesused = st.dst.size;
  }
}

/** Runs the engine's conversion for the file's formats from inBuf to outBuf. */
function convert(st: IspState): void {
  const { src, scale, dst, inBuf, outBuf } = st;
  const rgb = dst.fourcc === 'XR24';
  if (src.fourcc === 'YUYV') (rgb ? yuyvToXrgb8888 : yuyvToNv12)(inBuf, src.width, src.height, scale, outBuf);
  else (rgb ? nv12ToXrgb8888 : nv12ToNv12)(inBuf, src.width, src.height, scale, outBuf);
}

/** Registers the ISP's mem-to-mem node /dev/video`nr` (the probe of a SoC scaler driver). EEXIST when taken. */
export function registerIsp(opts: IspOptions): IspDevice {
  return new IspDevice(opts);
}
