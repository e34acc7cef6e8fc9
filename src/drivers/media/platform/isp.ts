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
import { frameFormat, ScalerUnit, type FrameFormat } from '../../../formats/index.ts';
import { VB2_DMABUF, VB2_MMAP, VB2_USERPTR, type Vb2Buffer } from '../videobuf2/index.ts';
import { platformDriver } from '../../base/platform-driver.ts';

const MIN_DIM = 16;
const MAX_WIDTH = 4096;
const MAX_HEIGHT = 3072;

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
  /** The engine's frame buffers and conversion for these formats. */
  unit: ScalerUnit;
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
  return { ...f, unit: new ScalerUnit(f.src, f.scale, f.dst) };
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
    await vb2PlaneDma(src, dev, st.src.size, false, (segs) => engine.readFrame(segs, st.unit.input, st.src.size));
    engine.convert(st.unit);
    await vb2PlaneDma(dst, dev, st.dst.size, true, (segs) => engine.writeFrame(segs, st.unit.output, st.dst.size));
    dst.bytesused = st.dst.size;
  }
}

/** Registers the ISP's mem-to-mem node /dev/video`nr` (the probe of a SoC scaler driver). EEXIST when taken. */
export function registerIsp(opts: IspOptions): IspDevice {
  return new IspDevice(opts);
}

/** The driver table's row for ISPs / scalers: a mem-to-mem node each, asking for /dev/video9. */
export const ispPlatformDriver = platformDriver({
  kind: 'isp',
  name: 'unimem-isp',
  description: 'ISP / scaler: V4L2 mem-to-mem, YUYV/NV12 to NV12/XRGB8888 with a 1:1 or 2:1 scale',
  probe: (ctx) => {
    const isp = registerIsp({ ...ctx, nr: 9 });
    return { nodes: [{ path: isp.path, role: 'video' }], data: isp };
  },
});
