import type { Device } from '../dma/index.ts';
import type { FrameFormat } from './pixel-format.ts';

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

  /** Scans out the framebuffer at device address `addr` (contiguous for the device); waits the fetch time. */
  async scanout(addr: number): Promise<Uint8Array> {
    const ns = this.dev.master.readNow(addr, this.shown, 0, this.fmt.size);
    this.scanouts++;
    await this.dev.ctx.soc.clock.sleep(ns);
    return this.shown;
  }
}
