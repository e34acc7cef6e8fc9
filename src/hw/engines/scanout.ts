import type { FrameFormat, LentFrame } from '../../formats/index.ts';
import type { Clock } from '../clock.ts';
import type { DmaMaster } from '../dma-master.ts';
import { BusError } from '../memory.ts';
import { sgDmaMove, type SgSegment } from './sg-dma.ts';

/**
 * A display controller's scanout engine: at every vsync it fetches the
 * whole framebuffer through its master port, segment by segment, and
 * keeps what it read as the picture on the panel.
 *
 * The picture is memory as it was when the fetch began. A master that sees
 * memory as it is (no SMMU, no snooping) copies nothing at the fetch: the
 * picture stays where memory holds it, lent in place to whoever looks at
 * it, and is copied out only when asked for whole or just before a write
 * would change it (PhysicalMemory.watchWrites). Another master copies it
 * as it fetches.
 */
export class ScanoutEngine {
  readonly master: DmaMaster;
  readonly clock: Clock;
  readonly fmt: FrameFormat;
  /** Vsyncs that scanned a framebuffer out. */
  scanouts = 0;
  /** The picture, once copied out (always, for a master that cannot lend); made at the first copy (see `shown`). */
  private shownBytes: Uint8Array | null = null;
  /** Where memory still holds the picture, not yet copied into `shown`; null once it is. */
  private lent: { forEachView: (fn: (view: Uint8Array, at: number) => boolean) => boolean; stop: () => void }[] | null = null;
  /** The segments of the last fetch, and memory's write stamp as it began. */
  private lastSegs: SgSegment[] = [];
  private lastStamp = -1;
  /** The last fetch's picture, as the engine lends it. */
  readonly picture: LentFrame;

  constructor(master: DmaMaster, clock: Clock, fmt: FrameFormat) {
    this.master = master;
    this.clock = clock;
    this.fmt = fmt;
    this.picture = {
      length: fmt.size,
      forEachPiece: (fn) => this.forEachPiece(fn),
      bytes: () => this.copyOut(),
    };
  }

  /**
   * Scans out the framebuffer at `segs` (one segment for a contiguous
   * buffer): the picture is memory as it is at the start of the fetch;
   * then waits the fetch time. Returns the picture (the engine's, until
   * its next fetch). Throws the master's DmaFault or BusError.
   */
  async scanout(segs: readonly SgSegment[]): Promise<LentFrame> {
    const size = this.fmt.size;
    const m = this.master;
    const stamp = m.memoryStamp();
    // A framebuffer shown again, with nothing written in it since the last fetch, is the picture the engine holds.
    if (this.unchanged(segs, size)) this.reread(segs, size);
    else {
      // a fetch that faults part way leaves the picture part new: nothing to reuse until one completes
      this.lastStamp = -1;
      this.fetch(segs, size);
      this.lastSegs = segs.map((s) => ({ addr: s.addr, len: s.len }));
    }
    this.lastStamp = stamp;
    this.scanouts++;
    const ns = this.master.timeFor(size);
    this.master.trace('scanout', this.clock.now, ns, segs[0]?.addr ?? 0, size);
    await this.clock.sleep(ns);
    return this.picture;
  }

  /**
   * The fetch: the picture lent where memory holds it, when the master can
   * lend every byte of it; else (or when a segment does not decode, which
   * the copy then reports as it meets it) copied.
   */
  private fetch(segs: readonly SgSegment[], size: number): void {
    const lent: NonNullable<ScanoutEngine['lent']> = [];
    let off = 0;
    try {
      for (let i = 0; i < segs.length && off < size; i++) {
        const n = Math.min(segs[i]!.len, size - off);
        const l = this.master.lendNow(segs[i]!.addr, n, () => this.copyOut());
        if (!l) break;
        lent.push(l);
        off += n;
      }
    } catch (e) {
      if (!(e instanceof BusError)) throw e;
      off = -1;
    }
    if (off === size) {
      // the last picture is not needed any more: nothing copies it
      if (this.lent) for (const l of this.lent) l.stop();
      this.lent = lent;
      this.reread(segs, size);
      return;
    }
    for (const l of lent) l.stop();
    // a short chain leaves the rest of the last picture on the panel, as a fault part way leaves it part old
    this.copyOut();
    sgDmaMove(this.master, segs, this.shown, size, false);
  }

  /**
   * The picture's own bytes, zero until a fetch writes them: made when
   * first wanted, since a display that lends every picture never needs
   * them and a system boots one engine per display, used or not.
   */
  private get shown(): Uint8Array {
    return (this.shownBytes ??= new Uint8Array(this.fmt.size));
  }

  /** Copies the lent picture into `shown` (before a write would change it, or for a caller that wants it whole); returns `shown`. */
  private copyOut(): Uint8Array {
    const lent = this.lent;
    if (!lent) return this.shown;
    this.lent = null;
    let off = 0;
    for (const l of lent) {
      l.stop();
      l.forEachView((view) => {
        this.shown.set(view, off);
        off += view.length;
        return true;
      });
    }
    return this.shown;
  }

  /** Lends the picture's pieces: memory's, while it holds them; else `shown`. */
  private forEachPiece(fn: (piece: Uint8Array, at: number) => boolean): boolean {
    const lent = this.lent;
    if (!lent) return fn(this.shown, 0);
    let base = 0;
    for (const l of lent) {
      let len = 0;
      if (!l.forEachView((view, at) => ((len = at + view.length), fn(view, base + at)))) return false;
      base += len;
    }
    return true;
  }

  /** The fetch of bytes the picture holds already: each segment's transfer on the port, as sgDmaMove makes it. */
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
