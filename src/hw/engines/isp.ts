import { nv12ToNv12, nv12ToXrgb8888, yuyvToNv12, yuyvToXrgb8888, type FrameFormat } from '../../formats/index.ts';
import type { Clock } from '../clock.ts';
import type { DmaMaster } from '../dma-master.ts';
import { sgDmaRead, sgDmaWrite, type SgSegment } from './sg-dma.ts';

/**
 * An ISP's scaler and colour converter with its DMA: it reads the source
 * frame, converts it, and writes the result. Each transfer takes its
 * chain's time on the port; the source is read as memory is when the
 * transfer completes. Work buffers are the caller's.
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

  /**
   * Converts the `src` frame in `inBuf` (YUYV or NV12) to `dst`'s layout
   * (NV12 or XRGB8888) at 1/`scale` of its size, into `outBuf`.
   */
  convert(src: FrameFormat, scale: 1 | 2, dst: FrameFormat, inBuf: Uint8Array, outBuf: Uint8Array): void {
    const rgb = dst.fourcc === 'XR24';
    if (src.fourcc === 'YUYV') (rgb ? yuyvToXrgb8888 : yuyvToNv12)(inBuf, src.width, src.height, scale, outBuf);
    else (rgb ? nv12ToXrgb8888 : nv12ToNv12)(inBuf, src.width, src.height, scale, outBuf);
  }

  /** Writes the `len`-byte result in `buf` over `segs`; returns the bytes written. */
  writeFrame(segs: readonly SgSegment[], buf: Uint8Array, len: number): Promise<number> {
    return sgDmaWrite(this.master, this.clock, segs, buf, len, 'isp write');
  }
}
