import type { Device } from '../../../dma/index.ts';
import type { File, Vfs } from '../../../fs/index.ts';
import type { Clock, Timer } from '../../../hw/index.ts';
import { kerr } from '../../../lib/index.ts';
import {
  V4L2_BUF_TYPE_VIDEO_OUTPUT,
  V4L2_CAP_TIMEPERFRAME,
  V4L2_COLORSPACE_BT2020,
  V4L2_COLORSPACE_OPRGB,
  V4L2_COLORSPACE_REC709,
  V4L2_COLORSPACE_SMPTE170M,
  V4L2_COLORSPACE_SRGB,
  V4L2_FIELD_ALTERNATE,
  V4L2_FIELD_BOTTOM,
  V4L2_FIELD_INTERLACED,
  V4L2_FIELD_INTERLACED_BT,
  V4L2_FIELD_INTERLACED_TB,
  V4L2_FIELD_SEQ_BT,
  V4L2_FIELD_SEQ_TB,
  V4L2_FIELD_TOP,
  V4L2_PIX_FMT_YUYV,
  type V4l2Capability,
  type V4l2Fmtdesc,
  type V4l2Format,
  type V4l2Fract,
  type V4l2Output,
  type V4l2PixFormat,
  type V4l2Streamparm,
} from '../../../uapi/index.ts';
import { VB2_DMABUF, VB2_MMAP, VB2_USERPTR, Vb2Queue, type Vb2Buffer, type Vb2MemOps } from '../videobuf2/index.ts';
import { videoRegisterDevice, type VideoDevice } from '../v4l2-core/index.ts';
import { VIVID_ALL_NODE_CAPS } from './vivid-inputs.ts';
import { VIVID_OUTPUTS, VIVID_VID_OUT_CAPS, vividEnumOutput, vividOutputSink } from './vivid-outputs.ts';

/** Bounds of an output frame with vivid's scaler, crop and compose on (vivid_min_rect, vivid_max_rect: MAX_WIDTH/HEIGHT * MAX_ZOOM). */
const MIN_WIDTH = 16;
const MIN_HEIGHT = 16;
const MAX_ZOOM = 4;
const MAX_WIDTH = 4096 * MAX_ZOOM;
const MAX_HEIGHT = 2304 * MAX_ZOOM;
/** Bytes per YUYV pixel, the one format modelled. */
const YUYV_BPP = 2;
/** The widest line vivid accepts in bytes (MAX_ZOOM * MAX_WIDTH pixels of the format). */
const MAX_BYTESPERLINE = MAX_ZOOM * 4096 * YUYV_BPP;

/** True for fields that carry one field per buffer (V4L2_FIELD_HAS_T_OR_B). */
function hasTOrB(field: number): boolean {
  return field === V4L2_FIELD_TOP || field === V4L2_FIELD_BOTTOM || field === V4L2_FIELD_ALTERNATE;
}

/** What the output node needs of its instance. */
export interface VividVidOutOptions {
  vfs: Vfs;
  clock: Clock;
  inst: number;
  busInfo: string;
  /** The same allocator as the instance's capture queue. */
  memOps: Vb2MemOps;
  /** The DMA device of a dma-contig instance, null for vmalloc. */
  device: Device | null;
  /** USERPTR is offered (vmalloc instances). */
  userptr: boolean;
  /** /dev/videoN the node asks for. */
  nr: number;
}

/**
 * One vivid instance's video output (struct vivid_dev, output part): a vb2
 * queue of VIDEO_OUTPUT buffers with vivid's rules (at least two buffers,
 * requests supported, the instance's allocator), /dev/video(4*inst+1)
 * named vivid-00i-vid-out, the S-Video and HDMI outputs, and the output
 * thread (vivid_thread_vid_out). The thread ticks at STREAMON and then
 * once per frame interval; a tick takes the oldest queued buffer only
 * when another is queued behind it, so the last one stays with the driver
 * (this is what lets loopback show it), and gives it back with the tick's
 * sequence number and time. Nothing reads the frames: with loop_video off,
 * as by default, vivid consumes them unseen. The one format is YUYV, with
 * a bytesperline of userspace's choice from the width up.
 */
export class VividVidOut {
  readonly queue: Vb2Queue;
  readonly vdev: VideoDevice;
  private readonly clock: Clock;
  /** The current output, an index into VIVID_OUTPUTS (dev->output). */
  private output = 0;
  /** The format (fmt_out_rect, field_out, bytesperline_out, colorspace_out). */
  private pix: V4l2PixFormat;
  /** The output frame interval (timeperframe_vid_out). */
  private interval: V4l2Fract;
  /** Buffers with the driver, oldest first (vid_out_active). */
  private readonly active: Vb2Buffer[] = [];
  private timer: Timer | null = null;
  private startNs = 0;
  private ticks = 0;
  /** Frames given back since boot. */
  framesConsumed = 0;

  constructor(opts: VividVidOutOptions) {
    this.clock = opts.clock;
    const sink = vividOutputSink(VIVID_OUTPUTS[0]!.kind);
    this.pix = sinkPix(sink);
    this.interval = sink.interval;
    this.queue = new Vb2Queue({
      type: V4L2_BUF_TYPE_VIDEO_OUTPUT,
      ioModes: VB2_MMAP | VB2_DMABUF | (opts.userptr ? VB2_USERPTR : 0),
      memOps: opts.memOps,
      dev: opts.device,
      minBuffersNeeded: 2,
      supportsRequests: true,
      clock: opts.clock,
      ops: {
        queueSetup: (_q, count) => ({ count, size: this.pix.sizeimage }),
        bufPrepare: (vb) => this.bufPrepare(vb),
        bufQueue: (vb) => {
          this.active.push(vb);
        },
        startStreaming: () => this.start(),
        stopStreaming: () => this.stop(),
      },
    });
    const name = `vivid-${String(opts.inst).padStart(3, '0')}-vid-out`;
    this.vdev = videoRegisterDevice({
      vfs: opts.vfs,
      nr: opts.nr,
      name,
      sysfsParent: `platform/vivid.${opts.inst}`,
      deviceCaps: VIVID_VID_OUT_CAPS,
      queue: this.queue,
      ioctlOps: {
        querycap: (_f: File, cap: V4l2Capability) => {
          cap.driver = 'vivid';
          cap.card = 'vivid';
          cap.bus_info = opts.busInfo;
          cap.capabilities = VIVID_ALL_NODE_CAPS;
        },
        enumFmt: (_f: File, d: V4l2Fmtdesc) => {
          if (d.index !== 0) throw kerr('EINVAL', `vivid: no format ${d.index}`);
          d.pixelformat = V4L2_PIX_FMT_YUYV;
        },
        gFmt: (_f: File, f: V4l2Format) => {
          f.fmt = { pix: { ...this.pix } };
        },
        tryFmt: (_f: File, f: V4l2Format) => {
          f.fmt = { pix: this.tryFmt(f) };
        },
        sFmt: (_f: File, f: V4l2Format) => this.sFmt(f),
        gParm: (_f: File, p: V4l2Streamparm) => {
          p.parm = { output: { capability: V4L2_CAP_TIMEPERFRAME, outputmode: 0, timeperframe: { ...this.interval }, extendedmode: 0, writebuffers: 1, reserved: [0, 0, 0, 0] } };
        },
        sParm: () => {
          // vivid's s_parm serves only its receivers: the output interval follows the output (vidioc_s_parm)
          throw kerr('ENOTTY', 'vivid: S_PARM on an output');
        },
        enumOutput: (_f: File, out: V4l2Output) => vividEnumOutput(out),
        gOutput: () => this.output,
        sOutput: (_f: File, o: number) => this.sOutput(o),
      },
    });
  }

  /** The node's path. */
  get path(): string {
    return this.vdev.node.path;
  }

  /** The output frame interval, seconds per frame. */
  get timeperframe(): V4l2Fract {
    return { ...this.interval };
  }

  /** True while the S-Video output is current (vivid_is_svid_out). */
  private get isSvid(): boolean {
    return VIVID_OUTPUTS[this.output]!.kind === 'svid';
  }

  /**
   * Selects output `o` (vidioc_s_output): EINVAL past the last output, a
   * no-op for the current one, EBUSY while buffers are allocated; the
   * format becomes the new output's (vivid_update_format_out).
   */
  private sOutput(o: number): void {
    if (o >= VIVID_OUTPUTS.length) throw kerr('EINVAL', `vivid: no output ${o}`);
    if (o === this.output) return;
    if (this.queue.busy) throw kerr('EBUSY', 'vivid: S_OUTPUT while buffers are allocated');
    this.output = o;
    const sink = vividOutputSink(VIVID_OUTPUTS[o]!.kind);
    this.pix = sinkPix(sink);
    this.interval = sink.interval;
  }

  /** The field an output can take for the one asked (vivid_field_out): S-Video keeps the interlaced orders, else INTERLACED; HDMI 720p is progressive. */
  private fieldOut(field: number): number {
    if (!this.isSvid) return vividOutputSink('hdmi').field;
    switch (field) {
      case V4L2_FIELD_INTERLACED_TB:
      case V4L2_FIELD_INTERLACED_BT:
      case V4L2_FIELD_SEQ_TB:
      case V4L2_FIELD_SEQ_BT:
      case V4L2_FIELD_ALTERNATE:
        return field;
      default:
        return V4L2_FIELD_INTERLACED;
    }
  }

  /**
   * Corrects a format as vivid_try_fmt_vid_out does with its scaler, crop
   * and compose on (the default controls): every pixel format becomes
   * YUYV, the field one the output takes, the size within vivid's bounds
   * (in frame lines for a one-field-per-buffer order), bytesperline kept
   * between the width's and vivid's widest, the colorspace the output's
   * (HDMI keeps a colorspace a CE sink takes). EFAULT without a pix format.
   */
  private tryFmt(f: V4l2Format): V4l2PixFormat {
    const req = f.fmt?.pix;
    if (!req) throw kerr('EFAULT', 'vivid: no pix format');
    const field = this.fieldOut(req.field >>> 0);
    const factor = hasTOrB(field) ? 2 : 1;
    const width = Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, req.width >>> 0));
    const height = Math.floor(Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, (req.height >>> 0) * factor)) / factor);
    const minBpl = width * YUYV_BPP;
    const bytesperline = Math.max(minBpl, Math.min(MAX_BYTESPERLINE, req.bytesperline >>> 0));
    let colorspace = req.colorspace >>> 0;
    if (this.isSvid) colorspace = V4L2_COLORSPACE_SMPTE170M;
    else if (![V4L2_COLORSPACE_SMPTE170M, V4L2_COLORSPACE_REC709, V4L2_COLORSPACE_OPRGB, V4L2_COLORSPACE_BT2020, V4L2_COLORSPACE_SRGB].includes(colorspace)) colorspace = V4L2_COLORSPACE_REC709;
    return {
      width,
      height,
      pixelformat: V4L2_PIX_FMT_YUYV,
      field,
      bytesperline,
      sizeimage: bytesperline * height,
      colorspace,
      priv: 0,
      flags: 0,
      ycbcr_enc: 0,
      quantization: 0,
      xfer_func: 0,
    };
  }

  /**
   * Sets the format (vivid_s_fmt_vid_out): EBUSY while buffers exist,
   * unless only the colorspace changes on the HDMI output (an HDMI
   * transmitter can change it on the fly); on EBUSY nothing is written back.
   */
  private sFmt(f: V4l2Format): void {
    const pix = this.tryFmt(f);
    if (this.queue.busy) {
      const cur = this.pix;
      if (this.isSvid || pix.width !== cur.width || pix.height !== cur.height || pix.pixelformat !== cur.pixelformat || pix.field !== cur.field) {
        throw kerr('EBUSY', 'vivid: S_FMT on the output while buffers are allocated');
      }
      this.pix = { ...cur, colorspace: pix.colorspace };
      f.fmt = { pix };
      return;
    }
    this.pix = pix;
    f.fmt = { pix: { ...pix } };
  }

  /**
   * Checks a queued buffer (vid_out_buf_out_validate, vid_out_buf_prepare):
   * its field becomes the format's, or must be TOP or BOTTOM for
   * ALTERNATE (EINVAL); the bytes userspace filled must cover the frame (EINVAL).
   */
  private bufPrepare(vb: Vb2Buffer): void {
    if (this.pix.field !== V4L2_FIELD_ALTERNATE) vb.field = this.pix.field;
    else if (vb.field !== V4L2_FIELD_TOP && vb.field !== V4L2_FIELD_BOTTOM) throw kerr('EINVAL', `vivid: output field ${vb.field} with ALTERNATE`);
    const size = this.pix.bytesperline * this.pix.height;
    if (vb.bytesused < size) throw kerr('EINVAL', `vivid: payload of ${vb.bytesused} bytes < ${size}`);
  }

  /** Nanoseconds between ticks: the frame interval, halved when each buffer is one field. */
  private get periodNs(): number {
    const fields = this.pix.field === V4L2_FIELD_ALTERNATE ? 2 : 1;
    return Math.round((this.interval.numerator * 1e9) / (this.interval.denominator * fields));
  }

  /** Starts the output thread (vivid_start_generating_vid_out): its first tick comes at once, at sequence 0. */
  private start(): void {
    this.startNs = this.clock.now;
    this.ticks = 0;
    this.timer = this.clock.at(this.startNs, () => this.tick());
  }

  /**
   * One tick of the output thread (vivid_thread_vid_out_tick): consumes
   * the oldest buffer when another waits behind it, stamping it with the
   * tick's number (frames, not fields, for ALTERNATE) and the time.
   */
  private tick(): void {
    const n = this.ticks++;
    this.timer = this.clock.at(this.startNs + this.ticks * this.periodNs, () => this.tick());
    if (this.active.length < 2) return;
    const vb = this.active.shift()!;
    vb.sequence = this.pix.field === V4L2_FIELD_ALTERNATE ? n >>> 1 : n;
    vb.timestampNs = this.clock.now;
    this.framesConsumed++;
    this.queue.bufferDone(vb, 'done');
  }

  /** Stops the thread and gives every buffer it holds back as failed (vivid_stop_generating_vid_out). */
  private stop(): void {
    this.timer?.cancel();
    this.timer = null;
    while (this.active.length > 0) this.queue.bufferDone(this.active.shift()!, 'error');
  }
}

/** The output format a sink starts with: YUYV lines of the sink's width (vivid_update_format_out). */
function sinkPix(sink: ReturnType<typeof vividOutputSink>): V4l2PixFormat {
  const height = hasTOrB(sink.field) ? sink.height / 2 : sink.height;
  const bytesperline = sink.width * YUYV_BPP;
  return {
    width: sink.width,
    height,
    pixelformat: V4L2_PIX_FMT_YUYV,
    field: sink.field,
    bytesperline,
    sizeimage: bytesperline * height,
    colorspace: sink.colorspace,
    priv: 0,
    flags: 0,
    ycbcr_enc: 0,
    quantization: 0,
    xfer_func: 0,
  };
}
