import type { Device } from '../dma/index.ts';
import type { DmaBufSystem } from '../dmabuf/index.ts';
import type { File, Vfs } from '../fs/index.ts';
import type { Clock } from '../hw/index.ts';
import { kerr } from '../lib/index.ts';
import type { Mm } from '../mm/index.ts';
import {
  V4L2_BUF_TYPE_VIDEO_CAPTURE,
  V4L2_CAP_EXT_PIX_FORMAT,
  V4L2_CAP_STREAMING,
  V4L2_CAP_VIDEO_CAPTURE,
  V4L2_PIX_FMT_XBGR32,
  type V4l2Capability,
  type V4l2Format,
  type V4l2PixFormat,
} from '../uapi/index.ts';
import { dmaWriteSg, sgPlaneForDevice, vb2DmaSgMemops } from './media/vb2-dma-sg.ts';
import { frameFormat, type FrameFormat } from './pixel-format.ts';
import { TestPattern } from './test-pattern.ts';
import { completeFrame, FrameGenerator, VB2_DMABUF, VB2_MMAP, VB2_USERPTR, Vb2Queue, videoRegisterDevice, framePixFormat, type Vb2Buffer, type VideoDevice } from './v4l2/index.ts';

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
  /** Frames per second. Default 30. */
  fps?: number;
  /** Initial frame size. Default 640x480. */
  width?: number;
  height?: number;
}

const MIN_DIM = 16;
const MAX_WIDTH = 4096;
const MAX_HEIGHT = 3072;

/**
 * A platform camera's V4L2 capture driver (the shape of a SoC CSI/capture
 * driver on vb2-dma-sg): the sensor gives a deterministic moving YUYV
 * pattern, and the camera's own DMA master writes each frame over the
 * buffer's scatterlist, through its IOMMU when it has one, once per frame
 * period on the simulated clock. Frames that find no buffer are dropped
 * but counted in the sequence.
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
  private pattern: TestPattern;
  private frame: Uint8Array;
  private readonly frames: FrameGenerator;
  /** Frames written into buffers. */
  framesCaptured = 0;
  /** Frame periods that found no buffer. */
  framesDropped = 0;

  constructor(opts: CameraOptions) {
    this.device = opts.device;
    this.clock = opts.clock;
    this.seed = opts.seed ?? 1;
    const fps = opts.fps ?? 30;
    if (!(fps > 0)) throw kerr('EINVAL', `camera: fps ${fps}`);
    this.frames = new FrameGenerator('camera', opts.clock, Math.round(1e9 / fps), (vb, n) => this.produce(vb, n));
    this.busInfo = `platform:${opts.device.name}`;
    this.fmt = frameFormat(opts.width ?? 640, opts.height ?? 480, 'YUYV');
    this.pix = framePixFormat(this.fmt);
    this.pattern = new TestPattern(this.fmt, this.seed);
    this.frame = new Uint8Array(this.fmt.size);
    this.queue = new Vb2Queue({
      type: V4L2_BUF_TYPE_VIDEO_CAPTURE,
      ioModes: VB2_MMAP | VB2_DMABUF | VB2_USERPTR,
      memOps: vb2DmaSgMemops(opts.mm, opts.dbs),
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
        startStreaming: () => this.frames.start(),
        stopStreaming: () => this.frames.stop(this.queue),
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
      },
    });
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
    return this.pattern.frame(n);
  }

  /**
   * Sets the format: even width, sizes clamped, YUYV from the sensor or
   * XRGB8888 from its RGB output path (any other pixelformat is corrected
   * to YUYV, as V4L2 corrects rather than refuses); EBUSY while buffers
   * exist (s_fmt_vid_cap).
   */
  private sFmt(f: V4l2Format): void {
    const req = f.fmt?.pix;
    if (!req) throw kerr('EFAULT', 'S_FMT: no pix format');
    if (this.queue.busy) {
      f.fmt = { pix: { ...this.pix } };
      throw kerr('EBUSY', 'camera: S_FMT while buffers are allocated');
    }
    const w = Math.min(MAX_WIDTH, Math.max(MIN_DIM, (req.width >>> 0) & ~1));
    const h = Math.min(MAX_HEIGHT, Math.max(MIN_DIM, req.height >>> 0));
    this.fmt = frameFormat(w, h, req.pixelformat === V4L2_PIX_FMT_XBGR32 ? 'XR24' : 'YUYV');
    this.pix = framePixFormat(this.fmt);
    this.pattern = new TestPattern(this.fmt, this.seed);
    this.frame = new Uint8Array(this.fmt.size);
    f.fmt = { pix: { ...this.pix } };
  }

  /** Has the camera's DMA write frame `n` into the oldest buffer, or counts a drop. */
  private async produce(vb: Vb2Buffer | undefined, n: number): Promise<void> {
    if (!vb) {
      this.framesDropped++;
      return;
    }
    const size = this.fmt.size;
    this.pattern.render(n, this.frame);
    let ok = true;
    try {
      const plane = sgPlaneForDevice(vb, this.device);
      try {
        await dmaWriteSg(this.device, plane.sgt, this.frame, size, `camera frame ${n}`);
      } finally {
        plane.done();
      }
    } catch {
      // a DMA fault (an unmapped IOVA, a short scatterlist) fails the buffer, not the kernel
      ok = false;
    }
    if (ok) this.framesCaptured++;
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
