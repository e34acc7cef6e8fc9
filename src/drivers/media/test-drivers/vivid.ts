import type { Device } from '../../../dma/index.ts';
import type { DmaBufSystem } from '../../../dmabuf/index.ts';
import type { File, Vfs } from '../../../fs/index.ts';
import type { Clock } from '../../../hw/index.ts';
import { kerr } from '../../../lib/index.ts';
import type { Mm } from '../../../mm/index.ts';
import {
  V4L2_BUF_TYPE_VIDEO_CAPTURE,
  V4L2_CAP_TIMEPERFRAME,
  V4L2_COLORSPACE_SRGB,
  V4L2_FIELD_ALTERNATE,
  V4L2_FIELD_BOTTOM,
  V4L2_FIELD_INTERLACED,
  V4L2_FIELD_INTERLACED_BT,
  V4L2_FIELD_INTERLACED_TB,
  V4L2_FIELD_NONE,
  V4L2_FIELD_SEQ_BT,
  V4L2_FIELD_SEQ_TB,
  V4L2_FIELD_TOP,
  V4L2_PIX_FMT_YUYV,
  type V4l2Capability,
  type V4l2Fmtdesc,
  type V4l2Format,
  type V4l2Fract,
  type V4l2Frmivalenum,
  type V4l2Frmsizeenum,
  type V4l2Input,
  type V4l2PixFormat,
  type V4l2Streamparm,
} from '../../../uapi/index.ts';
import { VIVID_ALL_NODE_CAPS, VIVID_INPUTS, VIVID_VID_CAP_CAPS, vividEnumInput, vividInputInterval, vividInputSource } from './vivid-inputs.ts';
import {
  VIVID_MAX_HEIGHT,
  VIVID_MAX_WIDTH,
  VIVID_MIN_HEIGHT,
  VIVID_MIN_WIDTH,
  WEBCAM_INTERVALS,
  nearestWebcamSize,
  vividEnumFrameintervals,
  vividEnumFramesizes,
  webcamIvalCount,
} from './vivid-framesizes.ts';
import { VividVidOut } from './vivid-vid-out.ts';
import { frameFormat, Tpg, v4l2PixelFormat, type FrameFormat } from '../../../formats/index.ts';
import { vividFillbuff, type VividOsd } from './vivid-kthread-cap.ts';
import { VB2_DMABUF, VB2_MMAP, VB2_READ, VB2_USERPTR, Vb2Queue, vb2DmaContigMemops, vb2VmallocMemops, type Vb2Buffer } from '../videobuf2/index.ts';
import { completeFrame, FrameGenerator, videoRegisterDevice, yuyvPixFormat, type VideoDevice } from '../v4l2-core/index.ts';

/** True for fields that carry one field per buffer (V4L2_FIELD_HAS_T_OR_B). */
function hasTOrB(field: number): boolean {
  return field === V4L2_FIELD_TOP || field === V4L2_FIELD_BOTTOM || field === V4L2_FIELD_ALTERNATE;
}

/** Video nodes each vivid instance takes (capture, output, meta capture, meta output), so instance 1's capture is /dev/video4. */
export const VIVID_NODES_PER_INSTANCE = 4;

/** a >= b for frame intervals (V4L2_FRACT_COMPARE(a, >=, b)). */
function fractGe(a: V4l2Fract, b: V4l2Fract): boolean {
  return a.numerator * b.denominator >= b.numerator * a.denominator;
}

/** One vivid instance: which allocator its queues use, and the device that DMAs for dma-contig. */
export interface VividInstanceOptions {
  allocator: 'vmalloc' | 'dma-contig';
  /** The DMA device of a dma-contig instance (its platform device); ignored for vmalloc. */
  device?: Device;
}

/** What registerVivid takes. */
export interface VividOptions {
  vfs: Vfs;
  dbs: DmaBufSystem;
  mm: Mm;
  clock: Clock;
  /** One entry per instance (n_devs with allocators=); default one vmalloc instance. */
  instances?: VividInstanceOptions[];
  /** The platform's seed; vivid's frames do not depend on it (its test pattern at the default controls has no noise). */
  seed?: number;
  /** Frames per second of the capture thread until S_PARM sets a webcam interval (an integer, or the interval is rounded to ms). Default 30. */
  fps?: number;
}

/**
 * One vivid instance (struct vivid_dev): its video capture and, in
 * VividVidOut, its video output. The capture side is a vb2 queue with
 * vivid's rules (at least two buffers, requests supported),
 * /dev/video(4*inst), the format, and the capture thread that fills one
 * queued buffer per frame period on the simulated clock with what vivid
 * draws: the kernel test-pattern generator's 75% colour bars and vivid's
 * OSD text (time since STREAMON, sequence, control values), deterministic
 * in simulated time. A vmalloc instance
 * writes frames with the CPU through the plane's kernel mapping; a
 * dma-contig instance has its device write them by DMA at the plane's
 * device address. Frames that find no buffer queued are dropped but
 * counted in the sequence, as vivid does. The one format modelled is
 * YUYV (ENUM_FMT lists it alone); G_PARM/S_PARM follow vivid's webcam
 * input: the interval table shrinks as the frame grows, and S_PARM works
 * while streaming. The node has vivid's four default inputs (webcam, TV,
 * S-Video, HDMI); S_INPUT resets the format to the input's, and a
 * non-webcam input fixes the interval to its own. ENUM_FRAMESIZES and
 * ENUM_FRAMEINTERVALS answer per input as vivid does.
 */
export class VividDevice {
  readonly inst: number;
  readonly allocator: 'vmalloc' | 'dma-contig';
  readonly busInfo: string;
  readonly queue: Vb2Queue;
  readonly vdev: VideoDevice;
  /** The instance's video output node (vid_out_dev). */
  readonly out: VividVidOut;
  readonly device: Device | null;
  private readonly mm: Mm;
  private readonly clock: Clock;
  private pix: V4l2PixFormat;
  private fmt: FrameFormat;
  private tpg: Tpg;
  private frame: Uint8Array;
  /** Buffers the driver holds, oldest first (vid_cap_active). */
  private readonly frames: FrameGenerator;
  /** The capture frame interval (timeperframe_vid_cap). */
  private interval: V4l2Fract;
  /** Which webcam interval S_PARM chose (webcam_ival_idx); null while the probe's fps rules. */
  private ivalIdx: number | null = null;
  /** The current input, an index into VIVID_INPUTS (dev->input). */
  private input = 0;
  /** The webcam's interval, kept while another input is current. */
  private webcamInterval: V4l2Fract;
  /** The webcam's frame size, which S_INPUT back to the webcam restores (webcam_size_idx). */
  private webcamFmt: FrameFormat;
  /** The capture field order (field_cap) and colorspace (the tpg's, set per input). */
  private field = V4L2_FIELD_NONE;
  private colorspace = V4L2_COLORSPACE_SRGB;
  /** Frames written into buffers since boot. */
  framesCaptured = 0;
  /** Frame periods that found no buffer. */
  framesDropped = 0;
  /** When the capture thread last (re)started counting: STREAMON or S_PARM while streaming (jiffies_vid_cap). */
  private osdEpochNs = 0;
  /** Frame periods since then, and the sequence number of the first. */
  private osdTicks = 0;
  private osdBase = 0;

  constructor(opts: VividOptions, inst: number, cfg: VividInstanceOptions) {
    this.inst = inst;
    this.allocator = cfg.allocator;
    this.busInfo = `platform:vivid-${String(inst).padStart(3, '0')}`;
    this.mm = opts.mm;
    this.clock = opts.clock;
    const fps = opts.fps ?? 30;
    if (!(fps > 0)) throw kerr('EINVAL', `vivid: fps ${fps}`);
    this.interval = Number.isInteger(fps) ? { numerator: 1, denominator: fps } : { numerator: 1000, denominator: Math.round(fps * 1000) };
    this.webcamInterval = { ...this.interval };
    this.frames = new FrameGenerator('vivid', opts.clock, Math.round((this.interval.numerator * 1e9) / this.interval.denominator), (vb, n) => this.produce(vb, n));
    if (cfg.allocator === 'dma-contig' && !cfg.device) throw kerr('EINVAL', 'vivid: a dma-contig instance needs a device');
    this.device = cfg.allocator === 'dma-contig' ? cfg.device! : null;
    this.fmt = frameFormat(640, 480, 'YUYV');
    this.webcamFmt = this.fmt;
    this.pix = this.capPix(this.fmt);
    this.tpg = vividTpg(this.fmt);
    this.frame = new Uint8Array(this.fmt.size);
    const memOps = cfg.allocator === 'vmalloc' ? vb2VmallocMemops(opts.mm, opts.dbs) : vb2DmaContigMemops(opts.dbs);
    this.queue = new Vb2Queue({
      type: V4L2_BUF_TYPE_VIDEO_CAPTURE,
      // vivid leaves USERPTR out for dma-contig, which cannot take scattered user pages
      ioModes: VB2_MMAP | VB2_DMABUF | VB2_READ | (cfg.allocator === 'vmalloc' ? VB2_USERPTR : 0),
      memOps,
      dev: this.device,
      minBuffersNeeded: 2,
      supportsRequests: true,
      clock: opts.clock,
      ops: {
        queueSetup: (q, count) => ({ count: Math.max(count, 2 - q.numBuffers), size: this.pix.sizeimage }),
        bufPrepare: (vb) => {
          if (vb.planeSize < this.pix.sizeimage) throw kerr('EINVAL', `vivid: plane of ${vb.planeSize} bytes < ${this.pix.sizeimage}`);
        },
        bufQueue: (vb) => {
          this.frames.active.push(vb);
        },
        startStreaming: () => {
          this.resyncOsd();
          this.frames.start();
        },
        stopStreaming: () => this.frames.stop(this.queue),
      },
    });
    this.vdev = videoRegisterDevice({
      vfs: opts.vfs,
      nr: inst * VIVID_NODES_PER_INSTANCE,
      name: `vivid-${String(inst).padStart(3, '0')}-vid-cap`,
      sysfsParent: `platform/vivid.${inst}`,
      deviceCaps: VIVID_VID_CAP_CAPS,
      queue: this.queue,
      ioctlOps: {
        querycap: (_f: File, cap: V4l2Capability) => {
          cap.driver = 'vivid';
          cap.card = 'vivid';
          cap.bus_info = this.busInfo;
          // the whole instance's caps, nodes not modelled here included (vidioc_querycap)
          cap.capabilities = VIVID_ALL_NODE_CAPS;
        },
        gFmt: (_f: File, f: V4l2Format) => {
          f.fmt = { pix: { ...this.pix } };
        },
        sFmt: (_f: File, f: V4l2Format) => this.sFmt(f),
        enumFmt: (_f: File, d: V4l2Fmtdesc) => {
          // the one vivid format modelled here; real vivid goes on with UYVY, YVYU, ...
          if (d.index !== 0) throw kerr('EINVAL', `vivid: no format ${d.index}`);
          d.pixelformat = V4L2_PIX_FMT_YUYV;
        },
        tryFmt: (_f: File, f: V4l2Format) => {
          const { fmt, field } = this.adjust(f);
          f.fmt = { pix: this.capPix(fmt, field) };
        },
        gParm: (_f: File, p: V4l2Streamparm) => this.gParm(p),
        sParm: (_f: File, p: V4l2Streamparm) => this.sParm(p),
        enumInput: (_f: File, inp: V4l2Input) => vividEnumInput(inp),
        gInput: () => this.input,
        sInput: (_f: File, i: number) => this.sInput(i),
        enumFramesizes: (_f: File, fs: V4l2Frmsizeenum) => vividEnumFramesizes(this.isWebcam, fs),
        enumFrameintervals: (_f: File, fi: V4l2Frmivalenum) => vividEnumFrameintervals(this.isWebcam, this.interval, fi),
      },
    });
    this.out = new VividVidOut({
      vfs: opts.vfs,
      clock: opts.clock,
      inst,
      busInfo: this.busInfo,
      memOps: cfg.allocator === 'vmalloc' ? vb2VmallocMemops(opts.mm, opts.dbs) : vb2DmaContigMemops(opts.dbs),
      device: this.device,
      userptr: cfg.allocator === 'vmalloc',
      nr: inst * VIVID_NODES_PER_INSTANCE + 1,
    });
  }

  /** The capture format userspace sees for a frame layout: YUYV with the current field and colorspace (vivid_g_fmt_vid_cap). */
  private capPix(fmt: FrameFormat, field = this.field): V4l2PixFormat {
    return { ...yuyvPixFormat(fmt), field, colorspace: this.colorspace };
  }

  /** The capture frame interval, seconds per frame. */
  get timeperframe(): V4l2Fract {
    return { ...this.interval };
  }

  /** Reports the frame interval (vivid_vid_cap_g_parm): V4L2_CAP_TIMEPERFRAME, one read() buffer. */
  private gParm(p: V4l2Streamparm): void {
    p.parm = { capture: { capability: V4L2_CAP_TIMEPERFRAME, capturemode: 0, timeperframe: { ...this.interval }, extendedmode: 0, readbuffers: 1, reserved: [0, 0, 0, 0] } };
  }

  /** True while the webcam input is current (vivid_is_webcam). */
  private get isWebcam(): boolean {
    return VIVID_INPUTS[this.input]!.kind === 'webcam';
  }

  /**
   * Selects input `i` (vidioc_s_input): EINVAL past the last input, a no-op
   * for the current one, EBUSY while buffers are allocated. The format
   * becomes the new input's (vivid_update_format_cap): a TV or S-Video
   * input brings PAL's 720x576 interlaced frames in SMPTE 170M at 25 Hz,
   * HDMI 720p60's progressive 1280x720 in Rec. 709; back on the webcam,
   * the size and interval it had return, progressive sRGB.
   */
  private sInput(i: number): void {
    if (i >= VIVID_INPUTS.length) throw kerr('EINVAL', `vivid: no input ${i}`);
    if (i === this.input) return;
    if (this.queue.busy) throw kerr('EBUSY', 'vivid: S_INPUT while buffers are allocated');
    if (this.isWebcam) this.webcamInterval = { ...this.interval };
    this.input = i;
    const kind = VIVID_INPUTS[i]!.kind;
    if (kind === 'webcam') {
      this.interval = { ...this.webcamInterval };
      this.field = V4L2_FIELD_NONE;
      this.colorspace = V4L2_COLORSPACE_SRGB;
      this.setFormat(this.webcamFmt, V4L2_FIELD_NONE);
    } else {
      const src = vividInputSource(kind);
      this.interval = vividInputInterval(kind);
      this.colorspace = src.colorspace;
      this.setFormat(frameFormat(src.width, hasTOrB(src.field) ? src.height / 2 : src.height, 'YUYV'), src.field);
    }
    this.frames.setPeriod(Math.round((this.interval.numerator * 1e9) / this.interval.denominator));
  }

  /** Makes `fmt` with `field` the capture format, the pattern drawn at its size. */
  private setFormat(fmt: FrameFormat, field: number): void {
    this.fmt = fmt;
    this.field = field;
    this.pix = this.capPix(fmt, field);
    this.tpg = vividTpg(fmt, this.colorspace);
    this.frame = new Uint8Array(fmt.size);
  }

  /** How many webcam intervals the current frame size offers. */
  private get ivalCount(): number {
    return webcamIvalCount(nearestWebcamSize(this.fmt.width, this.fmt.height));
  }

  /**
   * Sets the frame interval as vivid's webcam input does
   * (vivid_vid_cap_s_parm): the longest offered interval not longer than
   * the one asked for, else the shortest offered; a zero denominator asks
   * for the shortest. Allowed while streaming: the capture thread resyncs
   * and frames come at the new interval from now on.
   */
  private sParm(p: V4l2Streamparm): void {
    // only the webcam has a choice of intervals; other inputs report theirs
    if (!this.isWebcam) return this.gParm(p);
    const n = this.ivalCount;
    let tpf = p.parm.capture!.timeperframe;
    if ((tpf.denominator >>> 0) === 0) tpf = WEBCAM_INTERVALS[n - 1]!;
    let i = 0;
    while (i < n && !fractGe({ numerator: tpf.numerator >>> 0, denominator: tpf.denominator >>> 0 }, WEBCAM_INTERVALS[i]!)) i++;
    this.setInterval(Math.min(i, n - 1));
    this.gParm(p);
  }

  /** Makes webcam interval `idx` current and the capture thread's period. */
  private setInterval(idx: number): void {
    this.ivalIdx = idx;
    this.interval = { ...WEBCAM_INTERVALS[idx]! };
    this.frames.setPeriod(Math.round((this.interval.numerator * 1e9) / this.interval.denominator));
    // a new interval while streaming restarts the thread's count, and the OSD's clock with it (cap_seq_resync)
    this.resyncOsd();
  }

  /** Starts the OSD's time and frame count from now. */
  private resyncOsd(): void {
    this.osdEpochNs = this.clock.now;
    this.osdTicks = 0;
  }

  /** What the OSD of frame `n` shows, frame `n` coming `k` periods after the thread's epoch. */
  private osd(n: number, k: number): VividOsd {
    return { k, sequence: n, epochNs: this.osdEpochNs, interval: this.interval, width: this.fmt.width, height: this.fmt.height, input: this.input };
  }

  /** The field the current input can give for the one asked (vivid_field_cap): TV and S-Video keep an interlaced or one-field order, else INTERLACED; HDMI 720p and the webcam are progressive. */
  private fieldCap(field: number): number {
    const kind = VIVID_INPUTS[this.input]!.kind;
    if (kind !== 'tv' && kind !== 'svid') return V4L2_FIELD_NONE;
    switch (field) {
      case V4L2_FIELD_INTERLACED_TB:
      case V4L2_FIELD_INTERLACED_BT:
      case V4L2_FIELD_SEQ_TB:
      case V4L2_FIELD_SEQ_BT:
      case V4L2_FIELD_TOP:
      case V4L2_FIELD_BOTTOM:
      case V4L2_FIELD_ALTERNATE:
        return field;
      default:
        return V4L2_FIELD_INTERLACED;
    }
  }

  /**
   * The frame layout and field S_FMT of `f` would set (vivid_try_fmt_vid_cap
   * here): the field one the input gives, sizes clamped to vivid's limits
   * (in frame lines for a one-field order), widths made even, always YUYV.
   * EFAULT without a pix format.
   */
  private adjust(f: V4l2Format): { fmt: FrameFormat; field: number } {
    const req = f.fmt?.pix;
    if (!req) throw kerr('EFAULT', 'vivid: no pix format');
    const field = this.fieldCap(req.field >>> 0);
    const factor = hasTOrB(field) ? 2 : 1;
    const w = Math.min(VIVID_MAX_WIDTH, Math.max(VIVID_MIN_WIDTH, (req.width >>> 0) & ~1));
    const h = Math.floor(Math.min(VIVID_MAX_HEIGHT, Math.max(VIVID_MIN_HEIGHT, (req.height >>> 0) * factor)) / factor);
    return { fmt: frameFormat(w, h, 'YUYV'), field };
  }

  /** The node's path. */
  get path(): string {
    return this.vdev.node.path;
  }

  /** The current capture format. */
  get format(): FrameFormat {
    return this.fmt;
  }

  /** The frame vivid draws for sequence number `n` of the current stream, as it lands in a buffer. */
  expectedFrame(n: number): Uint8Array {
    const out = new Uint8Array(this.fmt.size);
    vividFillbuff(this.tpg, out, this.osd(n, n - this.osdBase));
    return out;
  }

  /**
   * Sets the capture format (vivid_s_fmt_vid_cap after try_fmt): sizes are
   * clamped to vivid's limits, widths made even, every pixel format
   * becomes YUYV, the field one the input gives; EBUSY while buffers
   * exist. On the webcam the size is the one S_INPUT back to it restores.
   */
  private sFmt(f: V4l2Format): void {
    const { fmt, field } = this.adjust(f);
    if (this.queue.busy) {
      f.fmt = { pix: { ...this.pix } };
      throw kerr('EBUSY', 'vivid: S_FMT while buffers are allocated');
    }
    this.setFormat(fmt, field);
    const pix = this.pix;
    if (this.isWebcam) this.webcamFmt = fmt;
    // a larger frame offers fewer intervals: a chosen one past them becomes the last (vivid_s_fmt_vid_cap)
    if (this.isWebcam && this.ivalIdx !== null && this.ivalIdx >= this.ivalCount) this.setInterval(this.ivalCount - 1);
    f.fmt = { pix: { ...pix } };
  }

  /** Writes frame `n` into the oldest active buffer and completes it, or counts a drop. */
  private async produce(vb: Vb2Buffer | undefined, n: number): Promise<void> {
    const k = this.osdTicks++;
    this.osdBase = n - k;
    const tracer = this.mm.soc.tracer;
    if (!vb) {
      this.framesDropped++;
      tracer?.instant(tracer.lane('drivers', this.vdev.name), `drop ${n}`, 'frame', { reason: 'no buffer queued' });
      return;
    }
    const start = this.clock.now;
    const size = this.fmt.size;
    vividFillbuff(this.tpg, this.frame, this.osd(n, k));
    let ok = true;
    if (this.allocator === 'vmalloc') {
      let va = vb.planeVaddr();
      const pages = va === null ? vb.planePages() : null;
      if (pages) va = this.mm.kas.vmap(pages, 'wb');
      if (va === null) ok = false;
      else {
        this.mm.kas.store(va, this.frame, 0, size);
        if (pages) this.mm.kas.vunmap(va);
      }
    } else {
      const addr = vb.planeDmaAddr();
      if (addr === null) ok = false;
      else {
        const m = this.device!.master;
        m.trace(`vivid frame ${n}`, this.clock.now, m.timeFor(size), addr, size);
        await m.write(addr, this.frame, 0, size);
      }
    }
    if (ok) this.framesCaptured++;
    tracer?.complete(tracer.lane('drivers', this.vdev.name), `frame ${n}`, 'frame', start, this.clock.now - start, { index: vb.index, bytes: ok ? size : 0, by: this.allocator === 'vmalloc' ? 'cpu' : 'dma' });
    // one field per buffer with ALTERNATE: 50 Hz starts on the top field, and the sequence counts frames (vivid_thread_vid_cap_tick)
    const alt = this.field === V4L2_FIELD_ALTERNATE;
    completeFrame(this.queue, vb, ok, size, alt ? n >>> 1 : n, this.clock.now, alt ? (n & 1 ? V4L2_FIELD_BOTTOM : V4L2_FIELD_TOP) : this.field);
  }
}

/**
 * The test-pattern generator for a capture format, its lines as long as the
 * format's, in the input's colorspace (tpg_s_colorspace in
 * vivid_update_format_cap): HDMI's Rec. 709 frames take the 709 Y'CbCr
 * encoding.
 */
function vividTpg(fmt: FrameFormat, colorspace = V4L2_COLORSPACE_SRGB): Tpg {
  return new Tpg({ pixelformat: v4l2PixelFormat(fmt.fourcc), width: fmt.width, height: fmt.height, bytesperline: fmt.stride, colorspace });
}

/**
 * Registers vivid's instances (vivid_probe for n_devs instances): instance
 * i gets its capture node /dev/video(4*i) and its output node
 * /dev/video(4*i+1), registered in that order as vivid_create_devnodes
 * does (its meta capture and output nodes, not simulated, would take the
 * next two), bus_info platform:vivid-00i, and vb2-vmalloc or
 * vb2-dma-contig buffers for both queues as its options say. A taken
 * number moves a node to the next free one.
 */
export function registerVivid(opts: VividOptions): VividDevice[] {
  const insts = opts.instances ?? [{ allocator: 'vmalloc' }];
  return insts.map((cfg, i) => new VividDevice(opts, i, cfg));
}
