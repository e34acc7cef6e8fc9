import type { UvdDecoderUnit } from '../../formats/index.ts';
import type { Clock } from '../clock.ts';
import type { DmaMaster } from '../dma-master.ts';
import { sgDmaRead, sgDmaWrite, type SgSegment } from './sg-dma.ts';

/**
 * A video decoder's hardware: a decode core for UVD1 packets and the DMA
 * that feeds it, which reads the packet and, for a P-frame, the whole
 * reference picture before it writes anything (so the destination may be
 * the reference itself). Each transfer takes its chain's time on the
 * port and reads memory as it is when the transfer completes. The work
 * buffers are the caller's UvdDecoderUnit: one per stream context.
 */
export class VdecEngine {
  readonly master: DmaMaster;
  readonly clock: Clock;

  constructor(master: DmaMaster, clock: Clock) {
    this.master = master;
    this.clock = clock;
  }

  /** Reads `len` bytes of packet from `segs` into `pkt`; returns the bytes read. */
  readPacket(segs: readonly SgSegment[], pkt: Uint8Array, len: number): Promise<number> {
    return sgDmaRead(this.master, this.clock, segs, pkt, len, 'vdec read packet', { at: 'end' });
  }

  /** Reads the `size`-byte reference picture from `segs` into `ref`; returns the bytes read. */
  readReference(segs: readonly SgSegment[], ref: Uint8Array, size: number): Promise<number> {
    return sgDmaRead(this.master, this.clock, segs, ref, size, 'vdec read reference', { at: 'end' });
  }

  /** Decodes the `len` bytes of `unit.packet` into `unit.picture`, against `unit.ref` when `withRef`; throws on a corrupt packet. */
  decode(unit: UvdDecoderUnit, len: number, withRef: boolean): void {
    unit.decode(len, withRef);
  }

  /** Writes the `size`-byte picture in `out` over `segs`; returns the bytes written. */
  writePicture(segs: readonly SgSegment[], out: Uint8Array, size: number): Promise<number> {
    return sgDmaWrite(this.master, this.clock, segs, out, size, 'vdec write picture');
  }
}
