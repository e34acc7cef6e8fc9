import type { Device } from '../../../dma/index.ts';
import type { DmaBufSystem } from '../../../dmabuf/index.ts';
import type { Vfs } from '../../../fs/index.ts';
import { JpegEngine, type Clock } from '../../../hw/index.ts';
import { kerr } from '../../../lib/index.ts';
import type { Mm } from '../../../mm/index.ts';
import {
  V4L2_BUF_TYPE_VIDEO_OUTPUT,
  V4L2_COLORSPACE_JPEG,
  V4L2_COLORSPACE_SRGB,
  V4L2_FIELD_NONE,
  V4L2_PIX_FMT_JPEG,
  V4L2_PIX_FMT_NV12,
  V4L2_PIX_FMT_XBGR32,
  V4L2_PIX_FMT_YUYV,
  type V4l2Fmtdesc,
  type V4l2Format,
  type V4l2PixFormat,
} from '../../../uapi/index.ts';
import { M2mDevice, M2mNode } from '../v4l2-core/v4l2-mem2mem.ts';
import { vb2PlaneDma, vb2DmaSgMemops } from '../videobuf2/vb2-dma-sg.ts';
import { frameFormat, JPEG_MIN_SIZE, jpegMaxSize, type FrameFormat } from '../../../formats/index.ts';
import { VB2_DMABUF, VB2_MMAP, VB2_USERPTR, type Vb2Buffer } from '../videobuf2/index.ts';
import { platformDriver } from '../../base/platform-driver.ts';

const RAW_FORMATS: [number, FrameFormat['fourcc']][] = [
  [V4L2_PIX_FMT_YUYV, 'YUYV'],
  [V4L2_PIX_FMT_NV12, 'NV12'],
  [V4L2_PIX_FMT_XBGR32, 'XR24'],
];

/**
 * Names the `f.index`-th format of the queue holding raw frames (YUYV,
 * NV12, XBGR32) or the bitstream (JPEG alone; the core marks it
 * compressed); EINVAL past the last (vidioc_enum_fmt_vid_*).
 */
function enumFmt(encoder: boolean, f: V4l2Fmtdesc): void {
  const raw = (f.type === V4L2_BUF_TYPE_VIDEO_OUTPUT) === encoder;
  const i = f.index >>> 0;
  if (raw) {
    const r = RAW_FORMATS[i];
    if (!r || i !== f.index) throw kerr('EINVAL', `jpeg: no raw format ${f.index}`);
    f.pixelformat = r[0];
  } else {
    if (f.index !== 0) throw kerr('EINVAL', `jpeg: no coded format ${f.index}`);
    f.pixelformat = V4L2_PIX_FMT_JPEG;
  }
}

function rawFourcc(pixelformat: number): [number, FrameFormat['fourcc']] {
  return RAW_FORMATS.find(([p]) => p === pixelformat) ?? RAW_FORMATS[0]!;
}

/** One file's codec state: the raw format, the bitstream buffer size, and the engine's work buffers. */
interface JpegState {
  encoder: boolean;
  raw: FrameFormat;
  pixelformat: number;
  /** sizeimage of the compressed side. */
  codedSize: number;
  rawBuf: Uint8Array;
  codedBuf: Uint8Array;
}

function state(encoder: boolean, raw: FrameFormat, pixelformat: number, codedSize = jpegMaxSize(raw)): JpegState {
  return { encoder, raw, pixelformat, codedSize, rawBuf: new Uint8Array(raw.size), codedBuf: new Uint8Array(codedSize) };
}

function rawPix(st: JpegState): V4l2PixFormat {
  return { width: st.raw.width, height: st.raw.height, pixelformat: st.pixelformat, field: V4L2_FIELD_NONE, bytesperline: st.raw.stride, sizeimage: st.raw.size, colorspace: V4L2_COLORSPACE_SRGB, priv: 0, flags: 0, ycbcr_enc: 0, quantization: 0, xfer_func: 0 };
}

function codedPix(st: JpegState): V4l2PixFormat {
  return { width: st.raw.width, height: st.raw.height, pixelformat: V4L2_PIX_FMT_JPEG, field: V4L2_FIELD_NONE, bytesperline: 0, sizeimage: st.codedSize, colorspace: V4L2_COLORSPACE_JPEG, priv: 0, flags: 0, ycbcr_enc: 0, quantization: 0, xfer_func: 0 };
}

/** What registerJpeg takes. */
export interface JpegOptions {
  vfs: Vfs;
  dbs: DmaBufSystem;
  mm: Mm;
  clock: Clock;
  /** The codec's DMA device. */
  device: Device;
  /** The encoder is /dev/video`nr`, the decoder /dev/video`nr+1`. */
  nr: number;
}

/**
 * The JPEG codec as two mem-to-mem nodes on one engine (the s5p-jpeg
 * shape): the encoder takes raw frames on OUTPUT and gives baseline JPEG
 * (JFIF) files on CAPTURE, bytesused their length; the decoder takes JPEG
 * files on OUTPUT (their length is the QBUF bytesused) and gives raw
 * frames of the CAPTURE format, failing the buffers (ERROR flag) when the
 * file is corrupt, not baseline, or of another picture size. Both read and write by DMA on vb2-dma-sg
 * buffers and take MMAP, DMABUF and USERPTR buffers.
 */
export class JpegCodec {
  readonly m2m: M2mDevice;
  readonly encoder: M2mNode<JpegState>;
  readonly decoder: M2mNode<JpegState>;
  /** The codec core and its DMA, shared by both nodes. */
  readonly engine: JpegEngine;

  constructor(opts: JpegOptions) {
    this.m2m = new M2mDevice(opts.device, opts.clock);
    this.engine = new JpegEngine(opts.device.master, opts.device.ctx.soc.clock);
    const memOps = vb2DmaSgMemops(opts.mm, opts.dbs);
    const ioModes = VB2_MMAP | VB2_DMABUF | VB2_USERPTR;
    const dflt = () => frameFormat(640, 480, 'YUYV');
    const common = { vfs: opts.vfs, dev: this.m2m, driver: 'unimem-jpeg', memOps, ioModes };
    this.encoder = new M2mNode<JpegState>({
      ...common,
      nr: opts.nr,
      name: `${opts.device.name}-jpeg-enc`,
      card: `${opts.device.name} jpeg encoder`,
      ops: {
        createState: () => state(true, dflt(), V4L2_PIX_FMT_YUYV),
        planeSize: (st, type) => (type === V4L2_BUF_TYPE_VIDEO_OUTPUT ? st.raw.size : st.codedSize),
        gFmt: (st, f) => {
          f.fmt = { pix: f.type === V4L2_BUF_TYPE_VIDEO_OUTPUT ? rawPix(st) : codedPix(st) };
        },
        sFmt: (st, f) => {
          Object.assign(st, this.adjust(st, f));
          f.fmt = { pix: f.type === V4L2_BUF_TYPE_VIDEO_OUTPUT ? rawPix(st) : codedPix(st) };
        },
        enumFmt: (_st, f) => enumFmt(true, f),
        tryFmt: (st, f) => {
          const next = this.adjust(st, f);
          f.fmt = { pix: f.type === V4L2_BUF_TYPE_VIDEO_OUTPUT ? rawPix(next) : codedPix(next) };
        },
        deviceRun: (st, src, dst) => this.encode(st, src, dst),
      },
    });
    this.decoder = new M2mNode<JpegState>({
      ...common,
      nr: opts.nr + 1,
      name: `${opts.device.name}-jpeg-dec`,
      card: `${opts.device.name} jpeg decoder`,
      ops: {
        createState: () => state(false, dflt(), V4L2_PIX_FMT_YUYV),
        planeSize: (st, type) => (type === V4L2_BUF_TYPE_VIDEO_OUTPUT ? st.codedSize : st.raw.size),
        gFmt: (st, f) => {
          f.fmt = { pix: f.type === V4L2_BUF_TYPE_VIDEO_OUTPUT ? codedPix(st) : rawPix(st) };
        },
        sFmt: (st, f) => {
          Object.assign(st, this.adjust(st, f));
          f.fmt = { pix: f.type === V4L2_BUF_TYPE_VIDEO_OUTPUT ? codedPix(st) : rawPix(st) };
        },
        enumFmt: (_st, f) => enumFmt(false, f),
        tryFmt: (st, f) => {
          const next = this.adjust(st, f);
          f.fmt = { pix: f.type === V4L2_BUF_TYPE_VIDEO_OUTPUT ? codedPix(next) : rawPix(next) };
        },
        deviceRun: (st, src, dst) => this.decode(st, src, dst),
      },
    });
  }

  /**
   * The state S_FMT of `f` would leave (the driver's try_fmt): the raw
   * side takes the format as rawState corrects it; the encoder's
   * bitstream side follows the raw format whatever is asked; the
   * decoder's bitstream buffer size is the application's choice, at
   * least the smallest JFIF file's headers, at most the encoder's largest
   * file of the raw format (0 asks for that largest). EFAULT without a pix format.
   */
  private adjust(st: JpegState, f: V4l2Format): JpegState {
    if (!f.fmt?.pix) throw kerr('EFAULT', 'jpeg: no pix format');
    const raw = (f.type === V4L2_BUF_TYPE_VIDEO_OUTPUT) === st.encoder;
    if (raw) return this.rawState(st.encoder, f);
    if (st.encoder) return st;
    const max = jpegMaxSize(st.raw);
    const want = f.fmt.pix.sizeimage >>> 0;
    return state(false, st.raw, st.pixelformat, Math.min(max, Math.max(JPEG_MIN_SIZE, want || max)));
  }

  /** A state for the raw format `f` asks for: sizes clamped and even, unknown formats become YUYV. */
  private rawState(encoder: boolean, f: V4l2Format): JpegState {
    const req = f.fmt?.pix;
    if (!req) throw kerr('EFAULT', 'S_FMT: no pix format');
    const [pixelformat, fourcc] = rawFourcc(req.pixelformat >>> 0);
    const w = Math.min(4096, Math.max(16, req.width >>> 0)) & ~1;
    const h = Math.min(4096, Math.max(16, req.height >>> 0)) & ~1;
    return state(encoder, frameFormat(w, h, fourcc), pixelformat);
  }

  /** One encode job: DMA the raw frame in, code it, DMA the bitstream out; bytesused is its length. */
  private async encode(st: JpegState, src: Vb2Buffer, dst: Vb2Buffer): Promise<void> {
    const dev = this.m2m.device;
    if (src.bytesused < st.raw.size) throw kerr('EINVAL', `jpeg: raw frame of ${src.bytesused} bytes < ${st.raw.size}`);
    const engine = this.engine;
    await vb2PlaneDma(src, dev, st.raw.size, false, (segs) => engine.read(segs, st.rawBuf, st.raw.size, 'jpeg enc read'));
    const len = engine.encode(st.rawBuf, st.raw, st.codedBuf.subarray(0, Math.min(st.codedSize, dst.length)));
    await vb2PlaneDma(dst, dev, len, true, (segs) => engine.write(segs, st.codedBuf, len, 'jpeg enc write'));
    dst.bytesused = len;
  }

  /** One decode job: DMA bytesused bytes of JPEG file in, decode it to the CAPTURE format (EINVAL for another picture size), DMA the frame out. */
  private async decode(st: JpegState, src: Vb2Buffer, dst: Vb2Buffer): Promise<void> {
    const dev = this.m2m.device;
    const len = Math.min(src.bytesused, src.length, st.codedBuf.length);
    const engine = this.engine;
    await vb2PlaneDma(src, dev, len, false, (segs) => engine.read(segs, st.codedBuf, len, 'jpeg dec read'));
    engine.decode(st.codedBuf, len, st.raw, st.rawBuf);
    await vb2PlaneDma(dst, dev, st.raw.size, true, (segs) => engine.write(segs, st.rawBuf, st.raw.size, 'jpeg dec write'));
    dst.bytesused = st.raw.size;
  }
}

/**
 * Registers the JPEG codec's encoder (/dev/video`nr`) and decoder
 * (/dev/video`nr+1`) on one engine (the probe of s5p-jpeg's shape).
 * EEXIST when a node is taken.
 */
export function registerJpeg(opts: JpegOptions): JpegCodec {
  return new JpegCodec(opts);
}

/** The driver table's row for JPEG codecs: an encoder and a decoder node each, asking for /dev/video10 and 11. */
export const jpegPlatformDriver = platformDriver({
  kind: 'jpeg',
  name: 'unimem-jpeg',
  description: 'JPEG codec: baseline JPEG (JFIF) encoder and decoder, V4L2 mem-to-mem nodes on one engine',
  probe: (ctx) => {
    const codec = registerJpeg({ ...ctx, nr: 10 });
    return {
      nodes: [
        { path: codec.encoder.path, role: 'encoder' },
        { path: codec.decoder.path, role: 'decoder' },
      ],
      data: codec,
    };
  },
});
