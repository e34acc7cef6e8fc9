import { AverageUnit } from '../../formats/index.ts';
import type { Clock } from '../clock.ts';
import type { DmaMaster } from '../dma-master.ts';
import type { KeptRead } from '../kept-read.ts';
import { sgDmaMove, sgDmaReadKept, type SgSegment } from './sg-dma.ts';

/**
 * A 2D GPU's blend unit: it fetches two sources, averages them byte by
 * byte (rounding down) into its line buffers, and stores the result. The
 * sources are read as memory is when the job starts; the port is busy for
 * both fetches as one transfer, then for the store, whose bytes are in
 * memory from the moment it begins.
 */
export class BlendEngine {
  readonly master: DmaMaster;
  readonly clock: Clock;
  /** The line buffers and the average over them, reused by every job (one job runs at a time). */
  private readonly unit = new AverageUnit();
  /**
   * What the second line buffer holds (the average is written into the
   * first): a compositor's layer that the next job blends again is not
   * fetched again while memory under it is unchanged (KeptRead).
   */
  private readonly keptB: KeptRead[] = [];

  constructor(master: DmaMaster, clock: Clock) {
    this.master = master;
    this.clock = clock;
  }

  /**
   * Blends `len` bytes of `src0` and `src1` into `dst` (each a segment
   * list), waiting the port's time; the whole job is one span on the
   * trace. Returns the bytes written. Throws the master's DmaFault or
   * BusError.
   */
  async average(dst: readonly SgSegment[], src0: readonly SgSegment[], src1: readonly SgSegment[], len: number): Promise<number> {
    const { a, b } = this.unit.buffers(len);
    const { master: m, clock } = this;
    const t0 = clock.now;
    sgDmaMove(m, src0, a, len, false);
    sgDmaReadKept(m, src1, b, len, this.keptB);
    await clock.sleep(m.timeFor(2 * len));
    this.unit.average();
    const written = sgDmaMove(m, dst, a, len, true);
    await clock.sleep(m.timeFor(len));
    m.trace('compose', t0, clock.now - t0, dst[0]?.addr ?? 0, len);
    return written;
  }
}
