import type { FrameFormat } from '../../formats/index.ts';
import type { Clock } from '../clock.ts';
import type { DmaMaster } from '../dma-master.ts';
import { sgDmaMove, type SgSegment } from './sg-dma.ts';

/**
 * A display controller's scanout engine: at every vsync it fetches the
 * whole framebuffer through its master port, segment by segment, and
 * keeps what it read as the picture on the panel.
 */
export class ScanoutEngine {
  readonly master: DmaMaster;
  readonly clock: Clock;
  readonly fmt: FrameFormat;
  /** What the last scanout read. */
  readonly shown: Uint8Array;
  /** Vsyncs that scanned a framebuffer out. */
  scanouts = 0;

  constructor(master: DmaMaster, clock: Clock, fmt: FrameFormat) {
    this.master = master;
    this.clock = clock;
    this.fmt = fmt;
    this.shown = new Uint8Array(fmt.size);
  }

  /**
   * Scans out the framebuffer at `segs` (one segment for a contiguous
   * buffer): the picture is memory as it is at the start of the fetch;
   * then waits the fetch time. Throws the master's DmaFault or BusError.
   */
  async scanout(segs: readonly SgSegment[]): Promise<Uint8Array> {
    const size = this.fmt.size;
    sgDmaMove(this.master, segs, this.shown, size, false);
    this.scanouts++;
    const ns = this.master.timeFor(size);
    this.master.trace('scanout', this.clock.now, ns, segs[0]?.addr ?? 0, size);
    await this.clock.sleep(ns);
    return this.shown;
  }
}
