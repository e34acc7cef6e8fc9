import { TestPattern, type FrameFormat } from '../../formats/index.ts';
import type { Clock } from '../clock.ts';
import type { DmaMaster } from '../dma-master.ts';
import { sgDmaEnd, sgDmaMove, sgDmaWriteFrom, type SgSegment } from './sg-dma.ts';

/**
 * A camera's capture engine: a sensor producing a deterministic moving
 * pattern, and a scatter-gather DMA that writes each frame over the
 * segments it is given, in order, through the camera's master port.
 */
export class CaptureEngine {
  readonly master: DmaMaster;
  readonly clock: Clock;
  readonly fmt: FrameFormat;
  readonly pattern: TestPattern;
  /** Frames written. */
  frames = 0;
  /** Bytes a faulty engine writes past the end of every frame (a buggy DMA descriptor). */
  overrun = 0;

  constructor(master: DmaMaster, clock: Clock, fmt: FrameFormat, seed: number) {
    this.master = master;
    this.clock = clock;
    this.fmt = fmt;
    this.pattern = new TestPattern(fmt, seed);
  }

  /**
   * Captures frame `n` over `segs`: the bytes land when the transfer
   * completes, after the time the port needs for the whole frame. Returns
   * the bytes written, short when the segments are; the overrun, if any,
   * lands right after the frame's last byte, wherever that maps. Throws
   * the master's DmaFault or BusError.
   */
  async capture(segs: readonly SgSegment[], n: number, label = `capture frame ${n}`): Promise<number> {
    const size = this.fmt.size;
    // the sensor's lines go straight to memory as the chain reaches them
    const written = await sgDmaWriteFrom(this.master, this.clock, segs, (dst, dstOff, from, k) => this.pattern.renderRange(n, from, k, dst, dstOff), size, label);
    if (this.overrun > 0) sgDmaMove(this.master, [{ addr: sgDmaEnd(segs, size), len: this.overrun }], new Uint8Array(this.overrun).fill(0xbd), this.overrun, true);
    this.frames++;
    return written;
  }
}
