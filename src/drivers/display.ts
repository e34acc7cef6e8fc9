import type { Device, SgTable } from '../dma/index.ts';
import type { FrameFormat } from '../formats/index.ts';

/**
 * A display controller's scanout engine: at every vsync it reads the whole
 * framebuffer through its DMA master, as a CRTC fetching the primary plane
 * does, and hands the bytes it read to whoever checks them.
 */
export class ScanoutEngine {
  readonly dev: Device;
  readonly fmt: FrameFormat;
  /** What the last scanout read. */
  readonly shown: Uint8Array;
  /** Vsyncs that scanned a framebuffer out. */
  scanouts = 0;

  constructor(dev: Device, fmt: FrameFormat) {
    this.dev = dev;
    this.fmt = fmt;
    this.shown = new Uint8Array(fmt.size);
  }

  /**
   * Scans out the framebuffer mapped for the display as `sgt`, segment by
   * segment in order (one segment for a contiguous buffer); waits the fetch
   * time.
   */
  async scanout(sgt: SgTable): Promise<Uint8Array> {
    const m = this.dev.master;
    let off = 0;
    for (let i = 0; i < sgt.nents && off < this.fmt.size; i++) {
      const seg = sgt.sgl[i]!;
      const n = Math.min(seg.dmaLength, this.fmt.size - off);
      m.readNow(seg.dmaAddress, this.shown, off, n);
      off += n;
    }
    this.scanouts++;
    const ns = m.timeFor(this.fmt.size);
    m.trace('scanout', this.dev.ctx.soc.clock.now, ns, sgt.sgl[0]?.dmaAddress ?? 0, this.fmt.size);
    await this.dev.ctx.soc.clock.sleep(ns);
    return this.shown;
  }
}
