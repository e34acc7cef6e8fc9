import { jpegDecode, jpegEncode, type FrameFormat } from '../../formats/index.ts';
import type { Clock } from '../clock.ts';
import type { DmaMaster } from '../dma-master.ts';
import { sgDmaRead, sgDmaWrite, type SgSegment } from './sg-dma.ts';

/**
 * A JPEG codec's hardware: one core that encodes raw frames to baseline
 * JPEG (JFIF) files or decodes such files back to frames, and the DMA
 * that feeds it. Each transfer takes its chain's time on the port; input
 * is read as memory is when the transfer completes. Work buffers are the
 * caller's.
 */
export class JpegEngine {
  readonly master: DmaMaster;
  readonly clock: Clock;

  constructor(master: DmaMaster, clock: Clock) {
    this.master = master;
    this.clock = clock;
  }

  /** Reads `len` bytes of input (a raw frame or a JPEG file) from `segs` into `buf`; `label` names the transfer on the trace. */
  read(segs: readonly SgSegment[], buf: Uint8Array, len: number, label: string): Promise<number> {
    return sgDmaRead(this.master, this.clock, segs, buf, len, label, { at: 'end' });
  }

  /** Encodes the raw frame in `raw` (`fmt`) into a JFIF file in `out`; returns its length (ENOSPC when `out` is too small). */
  encode(raw: Uint8Array, fmt: FrameFormat, out: Uint8Array): number {
    return jpegEncode(raw, fmt, out);
  }

  /** Decodes the `len`-byte JPEG file in `bits` into `out` as a frame of `fmt`; returns the frame's size (EINVAL for a corrupt or unsupported file, or one of another size). */
  decode(bits: Uint8Array, len: number, fmt: FrameFormat, out: Uint8Array): number {
    return jpegDecode(bits, len, fmt, out);
  }

  /** Writes `len` bytes of output in `buf` over `segs`; returns the bytes written. */
  write(segs: readonly SgSegment[], buf: Uint8Array, len: number, label: string): Promise<number> {
    return sgDmaWrite(this.master, this.clock, segs, buf, len, label);
  }
}
