import type { ScalerUnit } from '../../formats/index.ts';
import type { Clock } from '../clock.ts';
import type { DmaMaster } from '../dma-master.ts';
import { sgDmaRead, sgDmaWrite, type SgSegment } from './sg-dma.ts';

/**
 * An ISP's scaler and colour converter with its DMA: it reads the source
 * frame, converts it, and writes the result. Each transfer takes its
 * chain's time on the port; the source is read as memory is when the
 * transfer completes. The frame buffers are the caller's ScalerUnit's.
 */
export class IspEngine {
  readonly master: DmaMaster;
  readonly clock: Clock;

  constructor(master: DmaMaster, clock: Clock) {
    this.master = master;
    this.clock = clock;
  }

  /** Reads the `len`-byte source frame from `segs` into `buf`; returns the bytes read. */
  readFrame(segs: readonly SgSegment[], buf: Uint8Array, len: number): Promise<number> {
    return sgDmaRead(this.master, this.clock, segs, buf, len, 'isp read', { at: 'end' });
  }

  /** Converts the source frame in `unit.input` into `unit.output` (its formats and scale are the unit's). */
  convert(unit: ScalerUnit): void {
    unit.convert();
  }

  /** Writes the `len`-byte result in `buf` over `segs`; returns the bytes written. */
  writeFrame(segs: readonly SgSegment[], buf: Uint8Array, len: number): Promise<number> {
    return sgDmaWrite(this.master, this.clock, segs, buf, len, 'isp write');
  }
}
