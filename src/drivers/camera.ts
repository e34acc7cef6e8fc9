import type { Device, SgTable } from '../dma/index.ts';
import type { FrameFormat } from '../formats/index.ts';
import { TestPattern } from '../formats/index.ts';

/**
 * A camera's capture engine: a sensor producing a deterministic moving
 * pattern, written by the camera's DMA master into a buffer already mapped
 * for it, segment by segment, as a scatter-gather capture DMA does.
 */
export class CaptureEngine {
  readonly dev: Device;
  readonly fmt: FrameFormat;
  readonly pattern: TestPattern;
  private readonly line: Uint8Array;
  /** Frames written. */
  frames = 0;
  /** Bytes a faulty engine writes past the end of every frame (a buggy DMA descriptor). */
  overrun = 0;

  constructor(dev: Device, fmt: FrameFormat, seed: number) {
    this.dev = dev;
    this.fmt = fmt;
    this.pattern = new TestPattern(fmt, seed);
    this.line = new Uint8Array(fmt.size);
  }

  /**
   * Captures frame `n` into the device view of `sgt` (vb2 buf_queue ->
   * DMA -> buf_done). The bytes land when the transfer completes, after
   * the time the camera's port needs for the whole frame.
   */
  async capture(sgt: SgTable, n: number): Promise<void> {
    const m = this.dev.master;
    this.pattern.render(n, this.line);
    const ns = m.timeFor(this.fmt.size);
    m.trace(`capture frame ${n}`, this.dev.ctx.soc.clock.now, ns, sgt.sgl[0]?.dmaAddress ?? 0, this.fmt.size);
    await this.dev.ctx.soc.clock.sleep(ns);
    let off = 0;
    let end = 0;
    for (let i = 0; i < sgt.nents && off < this.fmt.size; i++) {
      const seg = sgt.sgl[i]!;
      const n2 = Math.min(seg.dmaLength, this.fmt.size - off);
      m.writeNow(seg.dmaAddress, this.line, off, n2);
      off += n2;
      end = seg.dmaAddress + n2;
    }
    // The overrun lands right after the last byte of the frame, wherever that maps.
    if (this.overrun > 0) m.writeNow(end, new Uint8Array(this.overrun).fill(0xbd));
    this.frames++;
  }
}
