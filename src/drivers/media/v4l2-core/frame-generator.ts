import type { Clock, Timer } from '../../../hw/index.ts';
import { KernelBug } from '../../../lib/index.ts';
import { V4L2_COLORSPACE_SRGB, V4L2_FIELD_NONE, type V4l2PixFormat } from '../../../uapi/index.ts';
import { v4l2PixelFormat, type FrameFormat } from '../../../formats/index.ts';
import type { Vb2Buffer, Vb2Queue } from '../videobuf2/vb2-core.ts';

/**
 * A capture driver's frame thread (vivid's kthread_vid_cap, a SoC
 * camera's frame-end interrupt): once per frame period on the simulated
 * clock it hands the oldest queued buffer and the frame's sequence number
 * to the driver's `produce`, one frame at a time. Buffers are queued by the
 * driver's buf_queue; stopping waits for the frame in flight and fails
 * every buffer still queued, as stop_streaming must.
 */
export class FrameGenerator {
  /** Buffers queued to the driver, oldest first. */
  readonly active: Vb2Buffer[] = [];
  private readonly clock: Clock;
  private periodNs: number;
  private readonly produce: (vb: Vb2Buffer | undefined, n: number) => Promise<void>;
  private readonly name: string;
  private timer: Timer | null = null;
  private job: Promise<void> | null = null;
  private running = false;
  private sequence = 0;
  private startNs = 0;
  /** The sequence number the cadence counts from since startNs (changes when the period does). */
  private baseSeq = 0;

  constructor(name: string, clock: Clock, periodNs: number, produce: (vb: Vb2Buffer | undefined, n: number) => Promise<void>) {
    this.name = name;
    this.clock = clock;
    this.periodNs = periodNs;
    this.produce = produce;
  }

  /** Starts the thread at sequence 0 (start_streaming). */
  start(): void {
    if (this.running) throw new KernelBug(`${this.name}: frame thread already running`);
    this.running = true;
    this.sequence = 0;
    this.baseSeq = 0;
    this.startNs = this.clock.now;
    this.timer = this.clock.at(this.startNs + this.periodNs, () => this.tick());
  }

  /** The frame period in ns. */
  get period(): number {
    return this.periodNs;
  }

  /**
   * Sets the frame period (the driver's S_PARM). While running, the
   * cadence restarts from now, the next frame one new period away, and
   * the sequence goes on counting (vivid's cap_seq_resync).
   */
  setPeriod(periodNs: number): void {
    if (!(periodNs > 0) || !Number.isFinite(periodNs)) throw new KernelBug(`${this.name}: frame period ${periodNs} ns`);
    this.periodNs = periodNs;
    if (!this.running) return;
    this.timer?.cancel();
    this.startNs = this.clock.now;
    this.baseSeq = this.sequence;
    this.timer = this.clock.at(this.startNs + this.periodNs, () => this.tick());
  }

  /** Stops the thread and gives every queued buffer back as failed (stop_streaming). */
  async stop(queue: Vb2Queue): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    this.timer = null;
    if (this.job) await this.job;
    while (this.active.length > 0) queue.bufferDone(this.active.shift()!, 'error');
  }

  /**
   * One frame period: the sensor's frames come on a fixed cadence from
   * STREAMON, however long each frame's DMA takes; a frame that arrives
   * while the previous one is still being written finds no buffer.
   */
  private tick(): void {
    if (!this.running) return;
    const n = this.sequence++;
    this.timer = this.clock.at(this.startNs + (this.sequence - this.baseSeq + 1) * this.periodNs, () => this.tick());
    if (this.job) {
      void this.produce(undefined, n);
      return;
    }
    this.job = this.clock.spawn(() => this.produce(this.active.shift(), n)).finally(() => {
      this.job = null;
    });
    // a failed frame is kept and rethrown by the clock; the chain itself must not reject unobserved
    this.job.catch(() => undefined);
  }
}

/** Completes a captured buffer (vb2_buffer_done) with the frame's size, sequence, time and field (progressive unless told), or as failed. */
export function completeFrame(queue: Vb2Queue, vb: Vb2Buffer, ok: boolean, size: number, n: number, nowNs: number, field = V4L2_FIELD_NONE): void {
  vb.bytesused = ok ? size : 0;
  vb.sequence = n;
  vb.field = field;
  vb.timestampNs = nowNs;
  queue.bufferDone(vb, ok ? 'done' : 'error');
}

/** The V4L2 description of a progressive YUYV frame format (v4l2_pix_format). */
export function yuyvPixFormat(fmt: FrameFormat): V4l2PixFormat {
  return framePixFormat(fmt);
}

/** The V4L2 description of a progressive frame of any layout here (v4l2_pix_format, as v4l2_fill_pixfmt fills it). */
export function framePixFormat(fmt: FrameFormat): V4l2PixFormat {
  return {
    width: fmt.width,
    height: fmt.height,
    pixelformat: v4l2PixelFormat(fmt.fourcc),
    field: V4L2_FIELD_NONE,
    bytesperline: fmt.stride,
    sizeimage: fmt.size,
    colorspace: V4L2_COLORSPACE_SRGB,
    priv: 0,
    flags: 0,
    ycbcr_enc: 0,
    quantization: 0,
    xfer_func: 0,
  };
}
