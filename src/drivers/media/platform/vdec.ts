import { DMA_TO_DEVICE, dmaMapSgtable, dmaUnmapSg, sgAllocTableFromPages, sgDmaSegments, type Device, type SgTable } from '../../../dma/index.ts';
import { dmaBufAttach, dmaBufDetach, dmaBufPut, dmaBufTrackRef, dmaBufUntrackRef, getDmaBuf, dmaBufMapAttachment, dmaBufUnmapAttachment, type DmaBuf, type DmaBufSystem } from '../../../dmabuf/index.ts';
import type { Vfs } from '../../../fs/index.ts';
import { VdecEngine, type Clock } from '../../../hw/index.ts';
import { KernelBug, KernelError, kerr } from '../../../lib/index.ts';
import { getPage, type Mm, pinPages, putPage, unpinPages } from '../../../mm/index.ts';
import {
  V4L2_BUF_TYPE_VIDEO_CAPTURE,
  V4L2_BUF_TYPE_VIDEO_OUTPUT,
  V4L2_COLORSPACE_SMPTE170M,
  V4L2_BUF_FLAG_TIMESTAMP_COPY,
  V4L2_FIELD_NONE,
  V4L2_FMT_FLAG_COMPRESSED,
  V4L2_PIX_FMT_NV12,
  V4L2_PIX_FMT_UVD1,
  V4L2_PIX_FMT_XBGR32,
  type V4l2Format,
  type V4l2PixFormat,
} from '../../../uapi/index.ts';
import { M2mDevice, M2mNode, type M2mJob } from '../v4l2-core/v4l2-mem2mem.ts';
import { SgBuf, checkDmaLength, vb2PlaneDma, vb2DmaSgMemops } from '../videobuf2/vb2-dma-sg.ts';
import { frameFormat, type FrameFormat } from '../../../formats/index.ts';
import { VB2_DMABUF, VB2_MMAP, VB2_USERPTR, type Vb2Buffer } from '../videobuf2/index.ts';
import { UvdDecoderUnit, uvdMaxPacketSize, uvdParseHeader } from '../../../formats/index.ts';
import { platformDriver } from '../../base/platform-driver.ts';

const MIN_DIM = 16;
const MAX_DIM = 4096;

/** Pixel formats of the CAPTURE queue (decoded pictures), in ENUM_FMT order; the first is the default. */
const CAPTURE_FORMATS: readonly { pixelformat: number; fourcc: 'NV12' | 'XR24' }[] = [
  { pixelformat: V4L2_PIX_FMT_NV12, fourcc: 'NV12' },
  { pixelformat: V4L2_PIX_FMT_XBGR32, fourcc: 'XR24' },
];

/** One ENUM_FMT answer (the fields of struct v4l2_fmtdesc the decoder fills). */
export interface VdecFmtDesc {
  index: number;
  type: number;
  flags: number;
  pixelformat: number;
  /** The driver's own name for the format; empty where the V4L2 core names it (v4l_fill_fmtdesc). */
  description: string;
}

/**
 * The capture buffer the decoder keeps as its reference: its memory stays
 * reachable by the device (a reference on MMAP memory, an own attachment
 * and mapping of a DMABUF, pinned and mapped USERPTR pages) while
 * userspace has it dequeued, until a later frame replaces it.
 */
interface RefHold {
  /** The memory held (SgBuf, DmaBuf or the pinned frames), to see that a new frame lands in the same buffer. */
  readonly owner: object;
  /** The device's view of the frame. */
  readonly sgt: SgTable;
  frame: number;
  release(): Promise<void>;
}

/** One file's decoder state: the formats, the engine's work buffers and the reference. */
export interface VdecState {
  /** Coded size, set by S_FMT on OUTPUT. */
  width: number;
  height: number;
  /** Decoded picture layout and its fourcc. */
  cap: FrameFormat;
  capPixelformat: number;
  /** OUTPUT sizeimage: the largest packet of either picture format at the coded size. */
  codedSize: number;
  /** The engine's packet, reference and picture buffers, and its decode over them. */
  unit: UvdDecoderUnit;
  ref: RefHold | null;
}

function newState(width: number, height: number, capPixelformat: number): VdecState {
  const c = CAPTURE_FORMATS.find((d) => d.pixelformat === capPixelformat) ?? CAPTURE_FORMATS[0]!;
  const cap = frameFormat(width, height, c.fourcc);
  const codedSize = uvdMaxPacketSize(frameFormat(width, height, 'XR24'));
  const unit = new UvdDecoderUnit(codedSize, cap.size);
  return {
    width,
    height,
    cap,
    capPixelformat: c.pixelformat,
    codedSize,
    unit,
    ref: null,
  };
}

function capPix(st: VdecState): V4l2PixFormat {
  return { width: st.width, height: st.height, pixelformat: st.capPixelformat, field: V4L2_FIELD_NONE, bytesperline: st.cap.stride, sizeimage: st.cap.size, colorspace: V4L2_COLORSPACE_SMPTE170M, priv: 0, flags: 0, ycbcr_enc: 0, quantization: 0, xfer_func: 0 };
}

function codedPix(st: VdecState): V4l2PixFormat {
  return { width: st.width, height: st.height, pixelformat: V4L2_PIX_FMT_UVD1, field: V4L2_FIELD_NONE, bytesperline: 0, sizeimage: st.codedSize, colorspace: V4L2_COLORSPACE_SMPTE170M, priv: 0, flags: 0, ycbcr_enc: 0, quantization: 0, xfer_func: 0 };
}

/**
 * The state S_FMT of `f` would leave (the driver's try_fmt): OUTPUT is
 * always UVD1, its size clamped to 16..4096 and made even, and CAPTURE
 * follows it; CAPTURE takes NV12 or XBGR32 (anything else becomes NV12)
 * at the coded size whatever size was asked. EINVAL for another buffer
 * type, EFAULT without a pix format.
 */
function adjust(st: VdecState, f: V4l2Format): VdecState {
  const req = f.fmt?.pix;
  if (!req) throw kerr('EFAULT', 'vdec: no pix format');
  if (f.type === V4L2_BUF_TYPE_VIDEO_OUTPUT) {
    const w = Math.min(MAX_DIM, Math.max(MIN_DIM, req.width >>> 0)) & ~1;
    const h = Math.min(MAX_DIM, Math.max(MIN_DIM, req.height >>> 0)) & ~1;
    return newState(w, h, st.capPixelformat);
  }
  if (f.type === V4L2_BUF_TYPE_VIDEO_CAPTURE) return newState(st.width, st.height, req.pixelformat >>> 0);
  throw kerr('EINVAL', `vdec: buffer type ${f.type} not supported`);
}

/** What registerVideoDecoder takes. */
export interface VdecOptions {
  vfs: Vfs;
  dbs: DmaBufSystem;
  mm: Mm;
  clock: Clock;
  /** The decoder's DMA device (usually behind an SMMU). */
  device: Device;
  /** N of /dev/videoN. */
  nr: number;
}

/**
 * A stateful video decoder as a mem-to-mem V4L2 device (the shape of
 * s5p-mfc, venus, coda): OUTPUT takes UVD1 packets, one per buffer
 * (bytesused = the packet's length); CAPTURE gives the decoded pictures,
 * NV12 or XBGR32 at the coded size. A job reads the packet by DMA, for a
 * P-frame reads the reference (the previous decoded picture, in the
 * capture buffer that received it) by DMA, decodes, and writes the
 * picture by DMA. The reference's buffer stays mapped for the device
 * after userspace dequeues it, until the next decoded picture replaces it,
 * either queue stops, or the file closes; requeueing it as the destination
 * is fine (the reference is read before the picture is written). A
 * corrupt packet, a P-frame without a reference or a checksum that does
 * not match (userspace wrote into the reference) fails the buffers with
 * V4L2_BUF_FLAG_ERROR and drops the reference, so decoding resumes at the
 * next I-frame. A CAPTURE buffer's sequence is the frame number of the
 * picture in it, and both queues report copied timestamps
 * (V4L2_BUF_FLAG_TIMESTAMP_COPY). Buffers are vb2-dma-sg on the
 * decoder's device (MMAP, USERPTR, DMABUF).
 */
export class VideoDecoder {
  readonly m2m: M2mDevice;
  readonly node: M2mNode<VdecState>;
  /** The decode core and its DMA. */
  readonly engine: VdecEngine;
  /** Pictures decoded and failed since probe. */
  framesDecoded = 0;
  framesFailed = 0;
  private readonly mm: Mm;

  constructor(opts: VdecOptions) {
    this.mm = opts.mm;
    this.m2m = new M2mDevice(opts.device, opts.clock);
    const dev = opts.device;
    this.engine = new VdecEngine(dev.master, dev.ctx.soc.clock);
    this.node = new M2mNode<VdecState>({
      vfs: opts.vfs,
      dev: this.m2m,
      nr: opts.nr,
      name: `${dev.name}-vdec`,
      driver: 'unimem-vdec',
      card: 'video decoder',
      memOps: vb2DmaSgMemops(opts.mm, opts.dbs),
      ioModes: VB2_MMAP | VB2_DMABUF | VB2_USERPTR,
      // a codec's results carry the timestamps userspace gave the packets
      timestampFlags: V4L2_BUF_FLAG_TIMESTAMP_COPY,
      ops: {
        createState: () => newState(640, 480, V4L2_PIX_FMT_NV12),
        planeSize: (st, type) => (type === V4L2_BUF_TYPE_VIDEO_OUTPUT ? st.codedSize : st.cap.size),
        gFmt: (st, f) => {
          f.fmt = { pix: f.type === V4L2_BUF_TYPE_VIDEO_OUTPUT ? codedPix(st) : capPix(st) };
        },
        sFmt: (st, f) => {
          const next = adjust(st, f);
          if (st.ref) throw new KernelBug('vdec: format change while holding a reference');
          Object.assign(st, next);
          f.fmt = { pix: f.type === V4L2_BUF_TYPE_VIDEO_OUTPUT ? codedPix(st) : capPix(st) };
        },
        enumFmt: (_st, f) => {
          const d = this.enumFmt(f.type, f.index);
          f.pixelformat = d.pixelformat;
          f.flags = d.flags;
          f.description = d.description;
        },
        tryFmt: (st, f) => this.tryFmt(st, f),
        deviceRun: (st, src, dst, job) => this.run(st, src, dst, job),
        // once a queue stops, the buffers it gave back may be freed, and decoding restarts at an I-frame anyway
        stopStreaming: (st) => this.dropRef(st),
        release: (st) => this.dropRef(st),
      },
    });
  }

  /** The node's path. */
  get path(): string {
    return this.node.path;
  }

  /** Contexts now holding a reference picture (for leak checks). */
  get heldReferences(): number {
    let n = 0;
    for (const ctx of this.node.contexts) if (ctx.state.ref) n++;
    return n;
  }

  /**
   * Names the `index`-th pixel format of queue `type` (vidioc_enum_fmt_vid_out / _cap):
   * OUTPUT UVD1 (compressed); CAPTURE NV12, XBGR32. EINVAL past the end or for another type.
   */
  enumFmt(type: number, index: number): VdecFmtDesc {
    if (type === V4L2_BUF_TYPE_VIDEO_OUTPUT) {
      if (index !== 0) throw kerr('EINVAL', `vdec: no format ${index}`);
      return { index, type, flags: V4L2_FMT_FLAG_COMPRESSED, pixelformat: V4L2_PIX_FMT_UVD1, description: 'unimem UVD1 video' };
    }
    if (type !== V4L2_BUF_TYPE_VIDEO_CAPTURE) throw kerr('EINVAL', `vdec: buffer type ${type} not supported`);
    const d = CAPTURE_FORMATS[index >>> 0];
    if (!d) throw kerr('EINVAL', `vdec: no format ${index}`);
    return { index, type, flags: 0, pixelformat: d.pixelformat, description: '' };
  }

  /**
   * Corrects `f` to what S_FMT would set for the file whose state is `st`
   * without setting it (vidioc_try_fmt_vid_out / _cap). EINVAL for another
   * buffer type, EFAULT without a pix format.
   */
  tryFmt(st: VdecState, f: V4l2Format): void {
    const next = adjust(st, f);
    f.fmt = { pix: f.type === V4L2_BUF_TYPE_VIDEO_OUTPUT ? codedPix(next) : capPix(next) };
  }

  /** Lets go of the reference picture, if any. */
  private async dropRef(st: VdecState): Promise<void> {
    const ref = st.ref;
    st.ref = null;
    if (ref) await ref.release();
  }

  /** One job; a failure drops the reference and fails both buffers (EINVAL with the reason). */
  private async run(st: VdecState, src: Vb2Buffer, dst: Vb2Buffer, job: M2mJob): Promise<void> {
    try {
      await this.decode(st, src, dst, job);
      this.framesDecoded++;
    } catch (e) {
      if (e instanceof KernelBug) throw e;
      this.framesFailed++;
      await this.dropRef(st);
      if (e instanceof KernelError) throw e;
      throw kerr('EINVAL', `vdec: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** DMA the packet in, the reference in (P-frames), decode, DMA the picture out, and keep it as the next reference. */
  private async decode(st: VdecState, src: Vb2Buffer, dst: Vb2Buffer, job: M2mJob): Promise<void> {
    const dev = this.m2m.device;
    const len = Math.min(src.bytesused, src.length, st.unit.packet.length);
    const engine = this.engine;
    await vb2PlaneDma(src, dev, len, false, (segs) => engine.readPacket(segs, st.unit.packet, len));
    const h = uvdParseHeader(st.unit.packet, len);
    // the picture's sequence is its frame number, known once the header parses, even if decoding then fails
    job.sequence = h.frame;
    if (h.width !== st.width || h.height !== st.height || h.pixelformat !== st.capPixelformat) {
      throw kerr('EINVAL', `vdec: frame ${h.frame} is ${h.width}x${h.height}, not the capture format ${st.width}x${st.height}`);
    }
    let withRef = false;
    if (h.type === 'P' && st.ref) {
      // the reference is read whole before anything is written, so the destination may be the reference itself
      checkDmaLength(dev, await engine.readReference(sgDmaSegments(st.ref.sgt), st.unit.ref, st.cap.size), st.cap.size, false);
      withRef = true;
    }
    engine.decode(st.unit, len, withRef);
    await vb2PlaneDma(dst, dev, st.cap.size, true, (segs) => engine.writePicture(segs, st.unit.picture, st.cap.size));
    dst.bytesused = st.cap.size;
    await this.keepRef(st, dst, h.frame);
  }

  /** Makes `dst` the reference: held for the device until replaced; the same memory keeps its hold. */
  private async keepRef(st: VdecState, dst: Vb2Buffer, frame: number): Promise<void> {
    const owner: object | null = dst.mem ?? dst.dmabuf?.dbuf ?? dst.userPages;
    if (!owner) throw new KernelBug(`vdec: capture buffer ${dst.index} has no memory`);
    if (st.ref && st.ref.owner === owner) {
      st.ref.frame = frame;
      return;
    }
    const hold = await this.hold(dst, owner, frame);
    const old = st.ref;
    st.ref = hold;
    if (old) await old.release();
  }

  /** Holds a capture buffer's memory for device reads (the reference mapping: DMA_TO_DEVICE, the device only reads it). */
  private async hold(vb: Vb2Buffer, owner: object, frame: number): Promise<RefHold> {
    const dev = this.m2m.device;
    if (vb.mem instanceof SgBuf) {
      const m = vb.mem;
      m.get();
      return { owner, sgt: m.sgt, frame, release: async () => m.put() };
    }
    if (vb.dmabuf) {
      const dbuf: DmaBuf = getDmaBuf(vb.dmabuf.dbuf);
      let att;
      try {
        att = await dmaBufAttach(dbuf, dev);
      } catch (e) {
        await dmaBufPut(dbuf);
        throw e;
      }
      let sgt: SgTable;
      try {
        sgt = await dmaBufMapAttachment(att, DMA_TO_DEVICE);
      } catch (e) {
        await dmaBufDetach(dbuf, att);
        await dmaBufPut(dbuf);
        throw e;
      }
      const a = att;
      const hold: RefHold = {
        owner,
        sgt,
        frame,
        release: async () => {
          dmaBufUntrackRef(dbuf, 'device-job', hold);
          await dmaBufUnmapAttachment(a, sgt, DMA_TO_DEVICE);
          await dmaBufDetach(dbuf, a);
          await dmaBufPut(dbuf);
        },
      };
      dmaBufTrackRef(dbuf, 'device-job', hold, (h) => `${dev.name} decoder's reference frame ${h.frame}`, 'vdec_keep_reference');
      return hold;
    }
    if (vb.userPages) {
      const pages = vb.userPages.slice();
      const pa = this.mm.pages;
      for (let i = 0; i < pages.length; i++) {
        getPage(pa, pages[i]!);
        pinPages(pa, pages[i]!, 1);
      }
      const unpin = () => {
        for (let i = 0; i < pages.length; i++) {
          unpinPages(pa, pages[i]!, 1);
          putPage(pa, pages[i]!);
        }
      };
      let sgt: SgTable;
      try {
        sgt = sgAllocTableFromPages(pages, 0, vb.length, dev.maxSegmentSize);
        dmaMapSgtable(dev, sgt, DMA_TO_DEVICE);
      } catch (e) {
        unpin();
        throw e;
      }
      return {
        owner,
        sgt,
        frame,
        release: async () => {
          dmaUnmapSg(dev, sgt, DMA_TO_DEVICE);
          unpin();
        },
      };
    }
    throw kerr('EFAULT', `vdec: capture buffer ${vb.index} has no memory for the device`);
  }
}

/** Registers the video decoder's mem-to-mem node /dev/video`nr` (the probe of a SoC codec driver). EEXIST when taken. */
export function registerVideoDecoder(opts: VdecOptions): VideoDecoder {
  return new VideoDecoder(opts);
}

/** The driver table's row for video decoders: a stateful mem-to-mem node each, asking for /dev/video12. */
export const videoDecoderPlatformDriver = platformDriver({
  kind: 'video',
  name: 'unimem-vdec',
  description: 'video decoder: V4L2 stateful mem-to-mem, UVD1 stream to NV12/XBGR32',
  probe: (ctx) => {
    const vdec = registerVideoDecoder({ ...ctx, nr: 12 });
    return { nodes: [{ path: vdec.path, role: 'video' }], data: vdec };
  },
});
