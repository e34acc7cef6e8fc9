import { ujpgDecode, ujpgEncode, type FrameFormat } from '../../formats/index.ts';
import type { Clock } from '../clock.ts';
import type { DmaMaster } from '../dma-master.ts';
import { sgDmaRead, sgDmaWrite, type SgSegment } from './sg-dma.ts';

/**
 * A JPEG codec's hardware: one core that encodes raw frames to UJPG or
 * decodes them back, and the DMA that feeds it. Each transfer takes its
 * chain's time on the port; input is read as memory is when the transfer
 * completes. Work buffers are the caller's.
 */
export class JpegEngine {
  readonly master: DmaMaster;
  readonly clock: Clock;

  constructor(master: DmaMaster, clock: Clock) {
    this.master = master;
    this.clock = clock;
  }

  /** Reads `len` bytes of input (a raw frame or a bitstream) from `segs` into `buf`; `label` names the transfer on the trace. */
  read(segs: readonly SgSegment[], buf: Uint8Array, len: number, label: string): Promise<number> {
    return sgDmaRead(this.master, this.clock, segs, buf, len, label, { at: 'end' });
  }

  /** Encodes the raw frame in `raw` (`fmt`, V4L2 `pixelformat`) into `out`; returns the bitstream's length (ENOSPC when `out` is too small). */
  encode(raw: Uint8Array, fmt: FrameFormat, pixelformat: number, out: Uint8Array): number {
    return ujpgEncode(raw, fmt, pixelformat, out);
  }

  /** Decodes `len` bytes of bitstream into `out`; returns the raw size (EINVAL for a corrupt stream). */
  decode(bits: Uint8Array, len: number, out: Uint8Array): number {
    return ujpgDecode(bits, len, out);
  }

  /** Writes `len` bytes of output in `buf` over `segs`; returns the bytes written. */
  write(segs: readonly SgSegment[], buf: Uint8Array, len: number, label: string): Promise<number> {
    return sgDmaWrite(this.master, this.clock, segs, buf, len, label);
  }
}
