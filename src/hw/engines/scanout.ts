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
  /** The segments of the last fetch, and memory's write stamp as it began. */
  private lastSegs: SgSegment[] = [];
  private lastStamp = -1;

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
    const m = this.master;
    const stamp = m.memoryStamp();
    // A framebuffer shown again, with nothing written in it since the last fetch, fetches the bytes `shown` holds.
    if (this.unchanged(segs, size)) this.reread(segs, size);
    else {
      // a fetch that faults part way leaves `shown` part new: nothing to reuse until one completes
      this.lastStamp = -1;
      sgDmaMove(m, segs, this.shown, size, false);
      this.lastSegs = segs.map((s) => ({ addr: s.addr, len: s.len }));
    }
    this.lastStamp = stamp;
    this.scanouts++;
    const ns = this.master.timeFor(size);
    this.master.trace('scanout', this.clock.now, ns, segs[0]?.addr ?? 0, size);
    await this.clock.sleep(ns);
    return this.shown;
  }

  /** The fetch of bytes `shown` holds already: each segment's transfer on the port, as sgDmaMove makes it. */
  private reread(segs: readonly SgSegment[], size: number): void {
    for (let i = 0, off = 0; i < segs.length && off < size; i++) {
      const n = Math.min(segs[i]!.len, size - off);
      this.master.rereadNow(segs[i]!.addr, n);
      off += n;
    }
  }

  /** Whether `segs` are the last fetch's and memory under their first `size` bytes has not been written since it began. */
  private unchanged(segs: readonly SgSegment[], size: number): boolean {
    const last = this.lastSegs;
    if (this.lastStamp < 0 || last.length !== segs.length) return false;
    for (let i = 0, off = 0; i < segs.length && off < size; i++) {
      const s = segs[i]!;
      const n = Math.min(s.len, size - off);
      if (s.addr !== last[i]!.addr || s.len !== last[i]!.len || !this.master.readUnchangedSince(s.addr, n, this.lastStamp)) return false;
      off += n;
    }
    return true;
  }
}
