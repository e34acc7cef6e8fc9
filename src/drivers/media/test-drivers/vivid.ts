import type { Device } from '../../../dma/index.ts';
import type { DmaBufSystem } from '../../../dmabuf/index.ts';
import type { File, Vfs } from '../../../fs/index.ts';
import type { Clock } from '../../../hw/index.ts';
import { kerr } from '../../../lib/index.ts';
import type { Mm } from '../../../mm/index.ts';
import {
  V4L2_BUF_TYPE_VIDEO_CAPTURE,
  V4L2_CAP_TIMEPERFRAME,
  V4L2_PIX_FMT_YUYV,
  type V4l2Capability,
  type V4l2Fmtdesc,
  type V4l2Format,
  type V4l2Fract,
  type V4l2Input,
  type V4l2PixFormat,
  type V4l2Streamparm,
} from '../../../uapi/index.ts';
import { VIVID_ALL_NODE_CAPS, VIVID_INPUTS, VIVID_VID_CAP_CAPS, vividEnumInput, vividInputInterval } from './vivid-inputs.ts';
import { frameFormat, Tpg, v4l2PixelFormat, type FrameFormat } from '../../../formats/index.ts';
import { vividFillbuff, type VividOsd } from './vivid-kthread-cap.ts';
import { VB2_DMABUF, VB2_MMAP, VB2_READ, VB2_USERPTR, Vb2Queue, vb2DmaContigMemops, vb2VmallocMemops, type Vb2Buffer } from '../videobuf2/index.ts';
import { completeFrame, FrameGenerator, videoRegisterDevice, yuyvPixFormat, type VideoDevice } from '../v4l2-core/index.ts';

/** Video nodes each vivid instance takes (capture, output, meta capture, meta output), so instance 1's capture is /dev/video4. */
export const VIVID_NODES_PER_INSTANCE = 4;

/** Limits of vivid's capture format (MAX_WIDTH/MAX_HEIGHT, MIN_*). */
const MIN_WIDTH = 16;
const MIN_HEIGHT = 16;
const MAX_WIDTH = 4096;
const MAX_HEIGHT = 2304;

/** vivid's webcam frame sizes, smallest first (webcam_sizes). */
const WEBCAM_SIZES: readonly { width: number; height: number }[] = [
  { width: 320, height: 180 },
  { width: 640, height: 360 },
  { width: 640, height: 480 },
  { width: 1280, height: 720 },
  { width: 1920, height: 1080 },
  { width: 3840, height: 2160 },
];

/**
 * vivid's webcam frame intervals, longest first (webcam_intervals): a
 * frame size of index i offers the first 2*(6-i) of them, so larger
 * frames cannot go as fast.
 */
const WEBCAM_INTERVALS: readonly V4l2Fract[] = [
  [1, 1], [1, 2], [1, 4], [1, 5], [1, 10], [2, 25], [1, 15], [1, 25], [1, 30], [1, 40], [1, 50], [1, 60],
].map(([numerator, denominator]) => ({ numerator: numerator!, denominator: denominator! }));

/** Index of the webcam size nearest `w`x`h`, the first on a tie (v4l2_find_nearest_size). */
function nearestWebcamSize(w: number, h: number): number {
  let best = 0;
  let bestErr = Infinity;
  for (let i = 0; i < WEBCAM_SIZES.length; i++) {
    const err = Math.abs(WEBCAM_SIZES[i]!.width - w) + Math.abs(WEBCAM_SIZES[i]!.height - h);
    if (err < bestErr) {
      bestErr = err;
      best = i;
    }
  }
  return best;
}

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
 * One vivid instance's video capture (struct vivid_dev, capture part): a
 * vb2 queue with vivid's rules (at least two buffers, requests
 * supported), /dev/video(4*inst), the format, and the capture thread that
 * fills one queued buffer per frame period on the simulated clock with
 * what vivid draws: the kernel test-pattern generator's 75% colour bars
 * and vivid's OSD text (time since STREAMON, sequence, control values),
 * deterministic in simulated time. A vmalloc
 * instance writes frames with the CPU through the plane's kernel mapping;
 * a dma-contig instance has its device write them by DMA at the plane's
 * device address. Frames that find no buffer queued are dropped but
 * counted in the sequence, as vivid does. The one format modelled is
 * YUYV (ENUM_FMT lists it alone); G_PARM/S_PARM follow vivid's webcam
 * input: the interval table shrinks as the frame grows, and S_PARM works
 * while streaming. The node has vivid's four default inputs (webcam, TV,
 * S-Video, HDMI); a non-webcam input fixes the interval to its own.
 */
export class VividDevice {
  readonly inst: number;
  readonly allocator: 'vmalloc' | 'dma-contig';
  readonly busInfo: string;
  readonly queue: Vb2Queue;
  readonly vdev: VideoDevice;
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
    this.pix = yuyvPixFormat(this.fmt);
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
          f.fmt = { pix: yuyvPixFormat(this.adjust(f)) };
        },
        gParm: (_f: File, p: V4l2Streamparm) => this.gParm(p),
        sParm: (_f: File, p: V4l2Streamparm) => this.sParm(p),
        enumInput: (_f: File, inp: V4l2Input) => vividEnumInput(inp),
        gInput: () => this.input,
        sInput: (_f: File, i: number) => this.sInput(i),
      },
    });
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
   * for the current one, EBUSY while buffers are allocated. A TV, S-Video
   * or HDMI input brings its own frame interval (PAL's 25 Hz, 720p60's);
   * back on the webcam, the interval it had returns. The frame size stays:
   * the model does not reset the format to the input's as vivid does.
   */
  private sInput(i: number): void {
    if (i >= VIVID_INPUTS.length) throw kerr('EINVAL', `vivid: no input ${i}`);
    if (i === this.input) return;
    if (this.queue.busy) throw kerr('EBUSY', 'vivid: S_INPUT while buffers are allocated');
    if (this.isWebcam) this.webcamInterval = { ...this.interval };
    this.input = i;
    const kind = VIVID_INPUTS[i]!.kind;
    this.interval = kind === 'webcam' ? { ...this.webcamInterval } : vividInputInterval(kind);
    this.frames.setPeriod(Math.round((this.interval.numerator * 1e9) / this.interval.denominator));
  }

  /** How many webcam intervals the current frame size offers. */
  private get ivalCount(): number {
    return 2 * (WEBCAM_SIZES.length - nearestWebcamSize(this.fmt.width, this.fmt.height));
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

  /** The frame layout S_FMT of `f` would set (vivid_try_fmt_vid_cap here): sizes clamped, width even, always YUYV. EFAULT without a pix format. */
  private adjust(f: V4l2Format): FrameFormat {
    const req = f.fmt?.pix;
    if (!req) throw kerr('EFAULT', 'vivid: no pix format');
    const w = Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, (req.width >>> 0) & ~1));
    const h = Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, req.height >>> 0));
    return frameFormat(w, h, 'YUYV');
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
   * becomes YUYV, the field progressive; EBUSY while buffers exist.
   */
  private sFmt(f: V4l2Format): void {
    const fmt = this.adjust(f);
    const pix = yuyvPixFormat(fmt);
    if (this.queue.busy) {
      f.fmt = { pix: { ...this.pix } };
      throw kerr('EBUSY', 'vivid: S_FMT while buffers are allocated');
    }
    this.fmt = fmt;
    this.pix = pix;
    this.tpg = vividTpg(fmt);
    this.frame = new Uint8Array(fmt.size);
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
    completeFrame(this.queue, vb, ok, size, n, this.clock.now);
  }
}

/** The test-pattern generator for a capture format, its lines as long as the format's. */
function vividTpg(fmt: FrameFormat): Tpg {
  return new Tpg({ pixelformat: v4l2PixelFormat(fmt.fourcc), width: fmt.width, height: fmt.height, bytesperline: fmt.stride });
}

/**
 * Registers vivid's capture devices (vivid_probe for n_devs instances):
 * instance i gets /dev/video(4*i) and bus_info platform:vivid-00i, with
 * vb2-vmalloc or vb2-dma-contig buffers as its options say. EEXIST when a
 * node is taken.
 */
export function registerVivid(opts: VividOptions): VividDevice[] {
  const insts = opts.instances ?? [{ allocator: 'vmalloc' }];
  return insts.map((cfg, i) => new VividDevice(opts, i, cfg));
}
