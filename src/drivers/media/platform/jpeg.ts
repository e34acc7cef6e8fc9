import type { Device } from '../../../dma/index.ts';
import type { DmaBufSystem } from '../../../dmabuf/index.ts';
import type { Vfs } from '../../../fs/index.ts';
import { JpegEngine, type Clock } from '../../../hw/index.ts';
import { kerr } from '../../../lib/index.ts';
import type { Mm } from '../../../mm/index.ts';
import {
  V4L2_BUF_TYPE_VIDEO_OUTPUT,
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
import { frameFormat, type FrameFormat } from '../../../formats/index.ts';
import { VB2_DMABUF, VB2_MMAP, VB2_USERPTR, type Vb2Buffer } from '../videobuf2/index.ts';

/**
 * DOC: the codec's bitstream ("UJPG", version 1) — not real JPEG, but a
 * deterministic lossless format with the same role: a header that says
 * what frame it holds, then the coded frame.
 *
 * Header, 32 bytes, little endian:
 *   0  'U' 'J' 'P' 'G'        magic
 *   4  u8 version = 1, 3 zero bytes
 *   8  u32 pixelformat        V4L2 fourcc of the raw frame (YUYV, NV12, XR24)
 *   12 u32 width, 16 u32 height
 *   20 u32 raw size           bytes of the raw frame
 *   24 u32 payload length     bytes after the header
 *   28 u32 checksum           sum of the raw bytes mod 2^32
 * Payload: the raw bytes delta coded (d[i] = raw[i] - raw[i-1] mod 256,
 * raw[-1] = 0), then run-length coded PackBits style: a control byte c
 * below 128 is followed by c+1 literal bytes; c from 128 is followed by
 * one byte repeated c-125 times (3..130). Smooth images (constant
 * gradients) become long runs; the worst case is raw + ceil(raw/128).
 */
export const UJPG_HEADER = 32;
const MAGIC = 0x47504a55; // 'UJPG' read little endian

/** Largest bitstream of a `raw`-byte frame (the encoder's CAPTURE sizeimage). */
export function ujpgMaxSize(raw: number): number {
  return UJPG_HEADER + raw + Math.ceil(raw / 128);
}

/**
 * Encodes `raw` (a frame of `fmt` with V4L2 `pixelformat`) into `out`;
 * returns the bitstream's length. ENOSPC when `out` is too small.
 */
export function ujpgEncode(raw: Uint8Array, fmt: FrameFormat, pixelformat: number, out: Uint8Array): number {
  const n = fmt.size;
  if (out.length < UJPG_HEADER) throw kerr('ENOSPC', 'ujpg: no room for the header');
  let o = UJPG_HEADER;
  let sum = 0;
  let lit = -1; // index of the pending literal run's control byte
  let prev = 0;
  let i = 0;
  const cap = out.length;
  while (i < n) {
    const d = (raw[i]! - prev) & 0xff;
    // length of the run of equal deltas starting at i
    let r = 1;
    let p = raw[i]!;
    while (r < 130 && i + r < n && ((raw[i + r]! - p) & 0xff) === d) {
      p = raw[i + r]!;
      r++;
    }
    if (r >= 3) {
      if (o + 2 > cap) throw kerr('ENOSPC', 'ujpg: bitstream buffer too small');
      out[o++] = r + 125;
      out[o++] = d;
      lit = -1;
    } else {
      r = 1;
      if (lit < 0 || out[lit] === 127) {
        if (o + 1 > cap) throw kerr('ENOSPC', 'ujpg: bitstream buffer too small');
        lit = o;
        out[o++] = 0xff; // becomes 0 with the first literal
      }
      if (o + 1 > cap) throw kerr('ENOSPC', 'ujpg: bitstream buffer too small');
      out[lit] = (out[lit]! + 1) & 0xff;
      out[o++] = d;
    }
    for (let k = 0; k < r; k++) sum = (sum + raw[i + k]!) >>> 0;
    prev = raw[i + r - 1]!;
    i += r;
  }
  const v = new DataView(out.buffer, out.byteOffset, UJPG_HEADER);
  v.setUint32(0, MAGIC, true);
  v.setUint32(4, 1, true);
  v.setUint32(8, pixelformat >>> 0, true);
  v.setUint32(12, fmt.width, true);
  v.setUint32(16, fmt.height, true);
  v.setUint32(20, n, true);
  v.setUint32(24, o - UJPG_HEADER, true);
  v.setUint32(28, sum, true);
  return o;
}

/** A bitstream's header fields; EINVAL for a bad magic or version or a stream shorter than it claims. */
export function ujpgParse(bits: Uint8Array, len: number): { pixelformat: number; width: number; height: number; raw: number; payload: number; checksum: number } {
  if (len < UJPG_HEADER) throw kerr('EINVAL', `ujpg: ${len} bytes hold no header`);
  const v = new DataView(bits.buffer, bits.byteOffset, UJPG_HEADER);
  if (v.getUint32(0, true) !== MAGIC || v.getUint8(4) !== 1) throw kerr('EINVAL', 'ujpg: bad magic or version');
  const h = { pixelformat: v.getUint32(8, true), width: v.getUint32(12, true), height: v.getUint32(16, true), raw: v.getUint32(20, true), payload: v.getUint32(24, true), checksum: v.getUint32(28, true) };
  if (UJPG_HEADER + h.payload > len) throw kerr('EINVAL', `ujpg: payload of ${h.payload} bytes in a ${len}-byte buffer`);
  return h;
}

/**
 * Decodes a bitstream of `len` bytes into `out` (which must hold exactly
 * the header's raw size); returns the raw size. EINVAL for a corrupt
 * payload or checksum.
 */
export function ujpgDecode(bits: Uint8Array, len: number, out: Uint8Array): number {
  const h = ujpgParse(bits, len);
  if (out.length < h.raw) throw kerr('ENOSPC', `ujpg: ${h.raw}-byte frame in a ${out.length}-byte buffer`);
  const end = UJPG_HEADER + h.payload;
  let i = UJPG_HEADER;
  let o = 0;
  let prev = 0;
  let sum = 0;
  while (i < end) {
    const c = bits[i++]!;
    if (c < 128) {
      const m = c + 1;
      if (i + m > end || o + m > h.raw) throw kerr('EINVAL', 'ujpg: literal past the end');
      for (let k = 0; k < m; k++) {
        prev = (prev + bits[i + k]!) & 0xff;
        out[o + k] = prev;
        sum = (sum + prev) >>> 0;
      }
      i += m;
      o += m;
    } else {
      const m = c - 125;
      if (i + 1 > end || o + m > h.raw) throw kerr('EINVAL', 'ujpg: run past the end');
      const d = bits[i++]!;
      for (let k = 0; k < m; k++) {
        prev = (prev + d) & 0xff;
        out[o + k] = prev;
        sum = (sum + prev) >>> 0;
      }
      o += m;
    }
  }
  if (o !== h.raw) throw kerr('EINVAL', `ujpg: payload gave ${o} of ${h.raw} bytes`);
  if (sum !== h.checksum) throw kerr('EINVAL', 'ujpg: checksum mismatch');
  return o;
}

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

function state(encoder: boolean, raw: FrameFormat, pixelformat: number, codedSize = ujpgMaxSize(raw.size)): JpegState {
  return { encoder, raw, pixelformat, codedSize, rawBuf: new Uint8Array(raw.size), codedBuf: new Uint8Array(codedSize) };
}

function rawPix(st: JpegState): V4l2PixFormat {
  return { width: st.raw.width, height: st.raw.height, pixelformat: st.pixelformat, field: V4L2_FIELD_NONE, bytesperline: st.raw.stride, sizeimage: st.raw.size, colorspace: V4L2_COLORSPACE_SRGB, priv: 0, flags: 0, ycbcr_enc: 0, quantization: 0, xfer_func: 0 };
}

function codedPix(st: JpegState): V4l2PixFormat {
  return { width: st.raw.width, height: st.raw.height, pixelformat: V4L2_PIX_FMT_JPEG, field: V4L2_FIELD_NONE, bytesperline: 0, sizeimage: st.codedSize, colorspace: V4L2_COLORSPACE_SRGB, priv: 0, flags: 0, ycbcr_enc: 0, quantization: 0, xfer_func: 0 };
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
 * shape): the encoder takes raw frames on OUTPUT and gives UJPG
 * bitstreams on CAPTURE; the decoder takes bitstreams on OUTPUT (their
 * length is the QBUF bytesused) and gives raw frames of the CAPTURE
 * format, failing the buffers (ERROR flag) when the stream is corrupt or
 * describes another format. Both read and write by DMA on vb2-dma-sg
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
   * least a header and a byte, at most the largest stream of the raw
   * format (0 asks for that largest). EFAULT without a pix format.
   */
  private adjust(st: JpegState, f: V4l2Format): JpegState {
    if (!f.fmt?.pix) throw kerr('EFAULT', 'jpeg: no pix format');
    const raw = (f.type === V4L2_BUF_TYPE_VIDEO_OUTPUT) === st.encoder;
    if (raw) return this.rawState(st.encoder, f);
    if (st.encoder) return st;
    const max = ujpgMaxSize(st.raw.size);
    const want = f.fmt.pix.sizeimage >>> 0;
    return state(false, st.raw, st.pixelformat, Math.min(max, Math.max(UJPG_HEADER + 1, want || max)));
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
    const len = ujpgEncode(st.rawBuf, st.raw, st.pixelformat, st.codedBuf.subarray(0, Math.min(st.codedSize, dst.length)));
    await vb2PlaneDma(dst, dev, len, true, (segs) => engine.write(segs, st.codedBuf, len, 'jpeg enc write'));
    dst.bytesused = len;
  }

  /** One decode job: DMA bytesused bytes of bitstream in, decode, check it is the CAPTURE format, DMA the frame out. */
  private async decode(st: JpegState, src: Vb2Buffer, dst: Vb2Buffer): Promise<void> {
    const dev = this.m2m.device;
    const len = Math.min(src.bytesused, src.length, st.codedBuf.length);
    const engine = this.engine;
    await vb2PlaneDma(src, dev, len, false, (segs) => engine.read(segs, st.codedBuf, len, 'jpeg dec read'));
    const h = ujpgParse(st.codedBuf, len);
    if (h.pixelformat !== st.pixelformat || h.width !== st.raw.width || h.height !== st.raw.height || h.raw !== st.raw.size) {
      throw kerr('EINVAL', `jpeg: stream of ${h.width}x${h.height} does not match the capture format ${st.raw.width}x${st.raw.height}`);
    }
    ujpgDecode(st.codedBuf, len, st.rawBuf);
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
