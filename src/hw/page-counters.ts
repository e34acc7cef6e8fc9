const CHUNK_PAGES = 1 << 16;

/**
 * A sparse per-page counter over the physical address space (page frame
 * number -> small count), materialised in 64 Ki-page chunks only where a
 * count is non-zero. Used by the CPU's MMU model to know which pages some
 * cacheable mapping covers.
 */
export class PageCounters {
  private readonly chunks = new Map<number, Uint16Array>();
  /** The sum of all counts: none is non-zero while it is 0, which every CPU access asks. */
  private total = 0;
  // the chunk last found (chunks are never dropped, so it stays right)
  private lastIndex = -1;
  private lastChunk: Uint16Array = new Uint16Array(0);

  /** Returns the count of page `pfn`. */
  get(pfn: number): number {
    if (this.total === 0) return 0;
    const ci = Math.floor(pfn / CHUNK_PAGES);
    const c = this.chunk(ci);
    return c ? c[pfn - ci * CHUNK_PAGES]! : 0;
  }

  private chunk(ci: number): Uint16Array | undefined {
    if (ci === this.lastIndex) return this.lastChunk;
    const c = this.chunks.get(ci);
    if (c) {
      this.lastIndex = ci;
      this.lastChunk = c;
    }
    return c;
  }

  /** Adds `delta` to pages [pfn, pfn+n); throws before changing anything if a count would leave 0..65535. */
  add(pfn: number, n: number, delta: number): void {
    this.check(pfn, n, delta);
    this.forEachPiece(pfn, n, (ci, lo, k) => {
      let c = this.chunks.get(ci);
      if (!c) {
        c = new Uint16Array(CHUNK_PAGES);
        this.chunks.set(ci, c);
      }
      for (let i = lo; i < lo + k; i++) c[i] = c[i]! + delta;
      return false;
    });
    this.total += n * delta;
  }

  /** True when any page in [pfn, pfn+n) has a non-zero count. */
  any(pfn: number, n: number): boolean {
    if (this.total === 0) return false;
    // asked at CPU accesses (dma-debug): its own loop, with no closure to make per call
    const end = pfn + n;
    for (let p = pfn; p < end; ) {
      const ci = Math.floor(p / CHUNK_PAGES);
      const lo = p - ci * CHUNK_PAGES;
      const k = Math.min(end - p, CHUNK_PAGES - lo);
      const c = this.chunk(ci);
      if (c) for (let i = lo; i < lo + k; i++) if (c[i] !== 0) return true;
      p += k;
    }
    return false;
  }

  /** Throws, naming the first page, when adding `delta` to [pfn, pfn+n) would take a count out of 0..65535. */
  private check(pfn: number, n: number, delta: number): void {
    // a count can only leave the range on the side `delta` moves it: one bound per page, over each chunk's array
    const fail = (page: number, v: number): never => {
      throw new Error(`page ${page}: mapping count would become ${v}`);
    };
    this.forEachPiece(pfn, n, (ci, lo, k) => {
      const c = this.chunks.get(ci);
      const base = ci * CHUNK_PAGES;
      if (!c) {
        if (delta < 0 || delta > 0xffff) fail(base + lo, delta);
      } else if (delta < 0) {
        for (let i = lo; i < lo + k; i++) if (c[i]! < -delta) fail(base + i, c[i]! + delta);
      } else {
        const max = 0xffff - delta;
        for (let i = lo; i < lo + k; i++) if (c[i]! > max) fail(base + i, c[i]! + delta);
      }
      return false;
    });
  }

  /**
   * Calls `fn(chunkIndex, first, count)` for each chunk's part of [pfn,
   * pfn+n), in order, until it returns true; returns whether one did.
   */
  private forEachPiece(pfn: number, n: number, fn: (ci: number, lo: number, k: number) => boolean): boolean {
    const end = pfn + n;
    for (let p = pfn; p < end; ) {
      const ci = Math.floor(p / CHUNK_PAGES);
      const lo = p - ci * CHUNK_PAGES;
      const k = Math.min(end - p, CHUNK_PAGES - lo);
      if (fn(ci, lo, k)) return true;
      p += k;
    }
    return false;
  }
}
