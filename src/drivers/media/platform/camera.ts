import type { Device } from '../../../dma/index.ts';
import type { DmaBufSystem } from '../../../dmabuf/index.ts';
import type { File, Vfs } from '../../../fs/index.ts';
import { CaptureEngine, DmaFault, type Clock } from '../../../hw/index.ts';
import { isKernelError, kerr } from '../../../lib/index.ts';
import type { Mm } from '../../../mm/index.ts';
import {
  V4L2_BUF_TYPE_VIDEO_CAPTURE,
  V4L2_CAP_EXT_PIX_FORMAT,
  V4L2_CAP_STREAMING,
  V4L2_CAP_TIMEPERFRAME,
  V4L2_CAP_VIDEO_CAPTURE,
  V4L2_FRMIVAL_TYPE_DISCRETE,
  V4L2_FRMSIZE_TYPE_STEPWISE,
  V4L2_PIX_FMT_XBGR32,
  V4L2_PIX_FMT_YUYV,
  type V4l2Capability,
  type V4l2Fmtdesc,
  type V4l2Format,
  type V4l2Fract,
  type V4l2Frmivalenum,
  type V4l2Frmsizeenum,
  type V4l2PixFormat,
  type V4l2Streamparm,
} from '../../../uapi/index.ts';
import { vb2PlaneDma, vb2DmaSgMemops } from '../videobuf2/vb2-dma-sg.ts';
import { vb2NegotiatedMemops } from '../videobuf2/vb2-negotiated.ts';
import { frameFormat, type FrameFormat } from '../../../formats/index.ts';
import { VB2_DMABUF, VB2_MMAP, VB2_USERPTR, Vb2Queue, type Vb2Buffer } from '../videobuf2/index.ts';
import { completeFrame, FrameGenerator, videoRegisterDevice, framePixFormat, type VideoDevice } from '../v4l2-core/index.ts';
import { platformDriver } from '../../base/platform-driver.ts';
import type { IommuDomain } from '../../../iommu/index.ts';
import { CameraDebug } from './camera-debug.ts';

/** What registerCamera takes. */
export interface CameraOptions {
  vfs: Vfs;
  dbs: DmaBufSystem;
  mm: Mm;
  clock: Clock;
  /** The platform 'camera' device whose DMA writes the frames (usually behind an SMMU). */
  device: Device;
  /** N of /dev/videoN. */
  nr: number;
  /** Seed of the sensor's pattern. Default 1. */
  seed?: number;
  /** Frames per second at probe, the default frame interval (1/fps); S_PARM changes it. Default 30. */
  fps?: number;
  /** Initial frame size. Default 640x480. */
  width?: number;
  height?: number;
  /** The IOMMU domain of the camera's DMA, whose faults the driver handles; null or absent without an IOMMU. */
  iommuDomain?: IommuDomain | null;
}

const MIN_DIM = 16;
const MAX_WIDTH = 4096;
const MAX_HEIGHT = 3072;

/** Pixel formats of the sensor's two output paths, in ENUM_FMT order; the first is the default. */
const FORMATS: readonly { pixelformat: number; fourcc: 'YUYV' | 'XR24' }[] = [
  { pixelformat: V4L2_PIX_FMT_YUYV, fourcc: 'YUYV' },
  { pixelformat: V4L2_PIX_FMT_XBGR32, fourcc: 'XR24' },
];

/** Frame intervals the sensor's timing supports besides the probe default, in seconds per frame. */
const SENSOR_INTERVALS: readonly V4l2Fract[] = [
  { numerator: 1, denominator: 60 },
  { numerator: 1, denominator: 30 },
  { numerator: 1, denominator: 24 },
  { numerator: 1, denominator: 15 },
];

/** The frame interval of `fps` frames per second, exact for integer rates, in milliseconds' precision otherwise. */
function intervalOfFps(fps: number): V4l2Fract {
  if (Number.isInteger(fps)) return { numerator: 1, denominator: fps };
  return { numerator: 1000, denominator: Math.round(fps * 1000) };
}

/** An interval's length in ns, rounded. */
function intervalNs(t: V4l2Fract): number {
  return Math.round((t.numerator * 1e9) / t.denominator);
}

/** The corrected frame size S_FMT would set: width even, both clamped. */
function clampSize(width: number, height: number): { w: number; h: number } {
  return { w: Math.min(MAX_WIDTH, Math.max(MIN_DIM, (width >>> 0) & ~1)), h: Math.min(MAX_HEIGHT, Math.max(MIN_DIM, height >>> 0)) };
}

/**
 * A platform camera's V4L2 capture driver (the shape of a SoC CSI/capture
 * driver on vb2-dma-sg): the sensor gives a deterministic moving YUYV
 * pattern, and the camera's own DMA master writes each frame over the
 * buffer's scatterlist, through its IOMMU when it has one, once per frame
 * period on the simulated clock. Frames that find no buffer are dropped
 * but counted in the sequence. The period is the frame interval
 * (G_PARM/S_PARM's timeperframe: 1/60, 1/30, 1/24, 1/15 s or the probe's
 * 1/fps), set while not streaming; ENUM_FMT, TRY_FMT, ENUM_FRAMESIZES and
 * ENUM_FRAMEINTERVALS describe what S_FMT and S_PARM take.
 */
export class CameraDevice {
  readonly device: Device;
  readonly queue: Vb2Queue;
  readonly vdev: VideoDevice;
  readonly busInfo: string;
  private readonly clock: Clock;
  private readonly seed: number;
  private pix: V4l2PixFormat;
  private fmt: FrameFormat;
  /** The sensor and its DMA, rebuilt for each format. */
  private engine: CaptureEngine;
  private readonly frames: FrameGenerator;
  /** Frame intervals the sensor supports, shortest first; the default is one of them. */
  private readonly intervals: readonly V4l2Fract[];
  private readonly defaultInterval: V4l2Fract;
  private interval: V4l2Fract;
  /** Frames written into buffers. */
  framesCaptured = 0;
  /** Frame periods that found no buffer. */
  framesDropped = 0;
  /** Frames whose DMA failed: returned with V4L2_BUF_FLAG_ERROR. */
  framesFailed = 0;
  /** The debugfs test hooks and the IOMMU fault handler. */
  readonly debug: CameraDebug;

  constructor(opts: CameraOptions) {
    this.device = opts.device;
    this.clock = opts.clock;
    this.seed = opts.seed ?? 1;
    const fps = opts.fps ?? 30;
    if (!(fps > 0)) throw kerr('EINVAL', `camera: fps ${fps}`);
    this.defaultInterval = intervalOfFps(fps);
    this.interval = this.defaultInterval;
    const d = this.defaultInterval;
    const known = SENSOR_INTERVALS.some((t) => t.numerator * d.denominator === d.numerator * t.denominator);
    this.intervals = (known ? SENSOR_INTERVALS : [...SENSOR_INTERVALS, d]).slice().sort((a, b) => a.numerator * b.denominator - b.numerator * a.denominator);
    this.frames = new FrameGenerator('camera', opts.clock, intervalNs(this.interval), (vb, n) => this.produce(vb, n));
    this.busInfo = `platform:${opts.device.name}`;
    this.fmt = frameFormat(opts.width ?? 640, opts.height ?? 480, 'YUYV');
    this.pix = framePixFormat(this.fmt);
    this.engine = new CaptureEngine(this.device.master, this.device.ctx.soc.clock, this.fmt, this.seed);
    this.debug = new CameraDebug(opts.vfs, opts.mm, opts.device, opts.iommuDomain ?? null);
    this.queue = new Vb2Queue({
      type: V4L2_BUF_TYPE_VIDEO_CAPTURE,
      ioModes: VB2_MMAP | VB2_DMABUF | VB2_USERPTR,
      // MMAP planes in the allocator's fixed pages, or movable ones when the debugfs hook asks (at REQBUFS).
      memOps: vb2NegotiatedMemops(opts.mm, opts.dbs, vb2DmaSgMemops(opts.mm, opts.dbs), () => this.debug.mobility, (p) => this.debug.movable.push(p.backing)),
      dev: opts.device,
      minBuffersNeeded: 2,
      clock: opts.clock,
      ops: {
        queueSetup: (q, count) => ({ count: Math.max(count, 2 - q.numBuffers), size: this.pix.sizeimage }),
        bufPrepare: (vb) => {
          if (vb.planeSize < this.pix.sizeimage) throw kerr('EINVAL', `camera: plane of ${vb.planeSize} bytes < ${this.pix.sizeimage}`);
        },
        bufQueue: (vb) => {
          this.frames.active.push(vb);
        },
        startStreaming: () => {
          this.debug.startStreaming();
          return this.frames.start();
        },
        stopStreaming: async () => {
          await this.frames.stop(this.queue);
          this.debug.stopStreaming();
        },
      },
    });
    this.vdev = videoRegisterDevice({
      vfs: opts.vfs,
      nr: opts.nr,
      name: `${opts.device.name}-capture`,
      deviceCaps: V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING | V4L2_CAP_EXT_PIX_FORMAT,
      queue: this.queue,
      ioctlOps: {
        querycap: (_f: File, cap: V4l2Capability) => {
          cap.driver = 'unimem-camera';
          cap.card = `${opts.device.name} camera`;
          cap.bus_info = this.busInfo;
        },
        gFmt: (_f: File, f: V4l2Format) => {
          f.fmt = { pix: { ...this.pix } };
        },
        sFmt: (_f: File, f: V4l2Format) => this.sFmt(f),
        enumFmt: (_f: File, d: V4l2Fmtdesc) => {
          const fmt = FORMATS[d.index >>> 0];
          if (!fmt || d.index >>> 0 !== d.index) throw kerr('EINVAL', `camera: no format ${d.index}`);
          d.pixelformat = fmt.pixelformat;
        },
        tryFmt: (_f: File, f: V4l2Format) => {
          f.fmt = { pix: framePixFormat(this.adjust(f)) };
        },
        gParm: (_f: File, p: V4l2Streamparm) => this.gParm(p),
        sParm: (_f: File, p: V4l2Streamparm) => this.sParm(p),
        enumFramesizes: (_f: File, fs: V4l2Frmsizeenum) => {
          this.formatOf(fs.pixel_format);
          if (fs.index !== 0) throw kerr('EINVAL', `camera: no frame size ${fs.index}`);
          fs.type = V4L2_FRMSIZE_TYPE_STEPWISE;
          fs.stepwise = { min_width: MIN_DIM, max_width: MAX_WIDTH, step_width: 2, min_height: MIN_DIM, max_height: MAX_HEIGHT, step_height: 1 };
        },
        enumFrameintervals: (_f: File, fi: V4l2Frmivalenum) => {
          this.formatOf(fi.pixel_format);
          const { w, h } = clampSize(fi.width, fi.height);
          if (w !== fi.width || h !== fi.height) throw kerr('EINVAL', `camera: no frame size ${fi.width}x${fi.height}`);
          const t = this.intervals[fi.index >>> 0];
          if (!t || fi.index >>> 0 !== fi.index) throw kerr('EINVAL', `camera: no frame interval ${fi.index}`);
          fi.type = V4L2_FRMIVAL_TYPE_DISCRETE;
          fi.discrete = { ...t };
        },
      },
    });
  }

  /** The current frame interval (timeperframe), seconds per frame. */
  get timeperframe(): V4l2Fract {
    return { ...this.interval };
  }

  /** The sensor format of a V4L2 pixelformat; EINVAL for one it does not give. */
  private formatOf(pixelformat: number): (typeof FORMATS)[number] {
    const f = FORMATS.find((d) => d.pixelformat === pixelformat >>> 0);
    if (!f) throw kerr('EINVAL', `camera: pixel format 0x${(pixelformat >>> 0).toString(16)} not supported`);
    return f;
  }

  /** Reports the frame interval (vidioc_g_parm): V4L2_CAP_TIMEPERFRAME, no read() buffers. */
  private gParm(p: V4l2Streamparm): void {
    p.parm = { capture: { capability: V4L2_CAP_TIMEPERFRAME, capturemode: 0, timeperframe: { ...this.interval }, extendedmode: 0, readbuffers: 0, reserved: [0, 0, 0, 0] } };
  }

  /**
   * Sets the frame interval (vidioc_s_parm): the supported interval
   * nearest the one asked for (the longer on a tie), the default for a
   * zero numerator or denominator, written back with
   * V4L2_CAP_TIMEPERFRAME; EBUSY while streaming, since the sensor's
   * timing is programmed at STREAMON.
   */
  private sParm(p: V4l2Streamparm): void {
    const want = p.parm.capture!.timeperframe;
    if (this.queue.streaming) {
      this.gParm(p);
      throw kerr('EBUSY', 'camera: S_PARM while streaming');
    }
    const num = want.numerator >>> 0;
    const den = want.denominator >>> 0;
    let best = this.defaultInterval;
    if (num !== 0 && den !== 0) {
      const asked = num / den;
      let bestErr = Infinity;
      for (const t of this.intervals) {
        const err = Math.abs(t.numerator / t.denominator - asked);
        if (err <= bestErr) {
          bestErr = err;
          best = t;
        }
      }
    }
    this.interval = { ...best };
    this.frames.setPeriod(intervalNs(best));
    this.gParm(p);
  }

  /** The frame layout S_FMT of `f` would set: even width, sizes clamped, YUYV unless XBGR32 is asked. EFAULT without a pix format. */
  private adjust(f: V4l2Format): FrameFormat {
    const req = f.fmt?.pix;
    if (!req) throw kerr('EFAULT', 'camera: no pix format');
    const { w, h } = clampSize(req.width, req.height);
    return frameFormat(w, h, (FORMATS.find((d) => d.pixelformat === req.pixelformat >>> 0) ?? FORMATS[0]!).fourcc);
  }

  /** The node's path. */
  get path(): string {
    return this.vdev.node.path;
  }

  /** The current format. */
  get format(): FrameFormat {
    return this.fmt;
  }

  /** The frame the sensor gives for sequence number `n`. */
  expectedFrame(n: number): Uint8Array {
    return this.engine.pattern.frame(n);
  }

  /**
   * Sets the format: even width, sizes clamped, YUYV from the sensor or
   * XRGB8888 from its RGB output path (any other pixelformat is corrected
   * to YUYV, as V4L2 corrects rather than refuses); EBUSY while buffers
   * exist (s_fmt_vid_cap).
   */
  private sFmt(f: V4l2Format): void {
    if (!f.fmt?.pix) throw kerr('EFAULT', 'S_FMT: no pix format');
    if (this.queue.busy) {
      f.fmt = { pix: { ...this.pix } };
      throw kerr('EBUSY', 'camera: S_FMT while buffers are allocated');
    }
    this.fmt = this.adjust(f);
    this.pix = framePixFormat(this.fmt);
    this.engine = new CaptureEngine(this.device.master, this.device.ctx.soc.clock, this.fmt, this.seed);
    f.fmt = { pix: { ...this.pix } };
  }

  /** Has the camera's DMA write frame `n` into the oldest buffer, or counts a drop. */
  private async produce(vb: Vb2Buffer | undefined, n: number): Promise<void> {
    if (!vb) {
      this.framesDropped++;
      return;
    }
    const size = this.fmt.size;
    const engine = this.engine;
    // The debugfs hook: a descriptor that runs this many bytes past the buffer.
    engine.overrun = this.debug.dmaOverrun;
    let ok = true;
    try {
      await vb2PlaneDma(vb, this.device, size, true, (segs) => engine.capture(segs, n, `camera frame ${n}`));
    } catch (e) {
      // a DMA fault (an unmapped IOVA), a short scatterlist or a failed per-job
      // mapping fails the buffer, not the kernel
      if (!(e instanceof DmaFault) && !isKernelError(e, 'EFAULT', 'EINVAL', 'ENOMEM', 'EIO')) throw e;
      ok = false;
    }
    if (ok) this.framesCaptured++;
    else this.framesFailed++;
    completeFrame(this.queue, vb, ok, size, n, this.clock.now);
  }
}

/**
 * Registers a platform camera's capture node /dev/video`nr` on vb2-dma-sg
 * (the probe of a SoC capture driver). EEXIST when the node is taken.
 */
export function registerCamera(opts: CameraOptions): CameraDevice {
  return new CameraDevice(opts);
}

/** The driver table's row for image sensors: a capture node each, asking for /dev/video8 (the driver's video_nr). */
export const cameraPlatformDriver = platformDriver({
  kind: 'camera',
  name: 'unimem-camera',
  description: 'image sensor with a capture DMA: V4L2 capture on videobuf2-dma-sg',
  probe: (ctx) => {
    const cam = registerCamera({ ...ctx, nr: 8, fps: ctx.params.cameraFps, iommuDomain: ctx.iommuDomain ?? null });
    return { nodes: [{ path: cam.path, role: 'video' }], data: cam };
  },
});
