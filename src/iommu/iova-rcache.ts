/** IOVAs one magazine holds (IOVA_MAG_SIZE). */
export const IOVA_MAG_SIZE = 128;
/** Full magazines the depot keeps per size (MAX_GLOBAL_MAGS). */
export const IOVA_MAX_DEPOT = 32;
/** Sizes up to 2^(IOVA_RANGE_CACHE_MAX_SIZE-1) pages are cached (IOVA_RANGE_CACHE_MAX_SIZE). */
export const IOVA_RANGE_CACHE_MAX_SIZE = 6;

/** A fixed-size stack of cached start pfns (struct iova_magazine). */
class Magazine {
  readonly pfns = new Float64Array(IOVA_MAG_SIZE);
  size = 0;

  get full(): boolean {
    return this.size === IOVA_MAG_SIZE;
  }

  /** Takes the most recently pushed pfn at or below limit, or -1 (iova_magazine_pop). */
  pop(limit: number): number {
    let i = this.size - 1;
    while (i >= 0 && this.pfns[i]! > limit) i--;
    if (i < 0) return -1;
    const pfn = this.pfns[i]!;
    this.pfns[i] = this.pfns[--this.size]!;
    return pfn;
  }

  push(pfn: number): void {
    this.pfns[this.size++] = pfn;
  }
}

/**
 * The range cache of one IOVA size (struct iova_rcache): freed IOVAs of
 * that size are kept in magazines and handed out again without touching the
 * tree. The simulated system has one CPU, so there is one loaded and one
 * spare magazine, backed by a depot of full ones. Cached IOVAs stay
 * allocated in the tree, so nothing else can be given their space.
 */
export class IovaRcache {
  private loaded = new Magazine();
  private prev = new Magazine();
  private readonly depot: Magazine[] = [];
  /** IOVAs currently cached. */
  cached = 0;

  /** Takes a cached pfn at or below limit, or -1 (__iova_rcache_get). */
  get(limit: number): number {
    if (this.loaded.size === 0) {
      if (this.prev.size > 0) {
        const t = this.loaded;
        this.loaded = this.prev;
        this.prev = t;
      } else if (this.depot.length > 0) {
        this.loaded = this.depot.pop()!;
      } else {
        return -1;
      }
    }
    const pfn = this.loaded.pop(limit);
    if (pfn >= 0) this.cached--;
    return pfn;
  }

  /**
   * Caches a freed pfn (__iova_rcache_insert). When the depot is full too,
   * the loaded magazine's pfns are handed to `spill` (freed to the tree) to
   * make room.
   */
  put(pfn: number, spill: (pfn: number) => void): void {
    if (this.loaded.full) {
      if (!this.prev.full) {
        const t = this.loaded;
        this.loaded = this.prev;
        this.prev = t;
      } else if (this.depot.length < IOVA_MAX_DEPOT) {
        this.depot.push(this.loaded);
        this.loaded = new Magazine();
      } else {
        for (let i = 0; i < this.loaded.size; i++) spill(this.loaded.pfns[i]!);
        this.cached -= this.loaded.size;
        this.loaded.size = 0;
      }
    }
    this.loaded.push(pfn);
    this.cached++;
  }

  /** Hands every cached pfn to `spill` and empties the cache (free_cpu_cached_iovas + free_global_cached_iovas). */
  flush(spill: (pfn: number) => void): void {
    for (const m of [this.loaded, this.prev, ...this.depot]) {
      for (let i = 0; i < m.size; i++) spill(m.pfns[i]!);
      m.size = 0;
    }
    this.depot.length = 0;
    this.cached = 0;
  }

  /** True when pfn is in the cache (a linear scan; for checks, not hot paths). */
  holds(pfn: number): boolean {
    for (const m of [this.loaded, this.prev, ...this.depot]) {
      for (let i = 0; i < m.size; i++) if (m.pfns[i] === pfn) return true;
    }
    return false;
  }
}
