const CHUNK_PAGES = 1 << 16;

/**
 * A sparse per-page counter over the physical address space (page frame
 * number -> small count), materialised in 64 Ki-page chunks only where a
 * count is non-zero. Used by the CPU's MMU model to know which pages some
 * cacheable mapping covers.
 */
export class PageCounters {
  private readonly chunks = new Map<number, Uint16Array>();

  /** Returns the count of page `pfn`. */
  get(pfn: number): number {
    const c = this.chunks.get(Math.floor(pfn / CHUNK_PAGES));
    return c ? c[pfn % CHUNK_PAGES]! : 0;
  }

  /** Adds `delta` to pages [pfn, pfn+n); throws before changing anything if a count would leave 0..65535. */
  add(pfn: number, n: number, delta: number): void {
    this.check(pfn, n, delta);
    let p = pfn;
    const end = pfn + n;
    while (p < end) {
      const ci = Math.floor(p / CHUNK_PAGES);
      const lo = p - ci * CHUNK_PAGES;
      const k = Math.min(end - p, CHUNK_PAGES - lo);
      let c = this.chunks.get(ci);
      if (!c) {
        c = new Uint16Array(CHUNK_PAGES);
        this.chunks.set(ci, c);
      }
      for (let i = lo; i < lo + k; i++) c[i] = c[i]! + delta;
      p += k;
    }
  }

  /** True when any page in [pfn, pfn+n) has a non-zero count. */
  any(pfn: number, n: number): boolean {
    let p = pfn;
    const end = pfn + n;
    while (p < end) {
      const ci = Math.floor(p / CHUNK_PAGES);
      const lo = p - ci * CHUNK_PAGES;
      const k = Math.min(end - p, CHUNK_PAGES - lo);
      const c = this.chunks.get(ci);
      if (c) for (let i = lo; i < lo + k; i++) if (c[i] !== 0) return true;
      p += k;
    }
    return false;
  }

  private check(pfn: number, n: number, delta: number): void {
    for (let p = pfn; p < pfn + n; p++) {
      const v = this.get(p) + delta;
      if (v < 0 || v > 0xffff) throw new Error(`page ${p}: mapping count would become ${v}`);
    }
  }
}
