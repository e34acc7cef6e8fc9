import { KernelBug, PAGE_SIZE, hex, isPowerOfTwo, kerr, shouldFail, type FaultAttr } from '../lib/index.ts';
import { IOVA_RANGE_CACHE_MAX_SIZE, IovaRcache } from './iova-rcache.ts';
import { IovaTree } from './iova-tree.ts';

/** Above every limit: the anchor range that closes the top gap (IOVA_ANCHOR). */
const ANCHOR = Number.MAX_SAFE_INTEGER;
const CACHED_MAX_PAGES = 2 ** (IOVA_RANGE_CACHE_MAX_SIZE - 1);

/** Counters of an IOVA domain. */
export interface IovaStats {
  allocs: number;
  frees: number;
  /** Allocations served by the range caches. */
  rcacheHits: number;
  /** Allocations that failed (no space below the limit). */
  failures: number;
}

/**
 * The IOVA space of one domain (struct iova_domain, drivers/iommu/iova.c).
 * Allocations are page-frame ranges below a limit pfn (the device's DMA mask),
 * taken from the top down, aligned to their size rounded up to a power of
 * two. Allocated ranges live in an ordered tree with gap augmentation
 * (O(log n) per operation); sizes up to 128 KiB also go through per-size
 * range caches, whose IOVAs stay allocated in the tree while cached, so no
 * IOVA is ever handed out twice. Nothing here sleeps.
 */
export class IovaDomain {
  readonly granule: number;
  readonly shift: number;
  readonly startPfn: number;
  readonly stats: IovaStats = { allocs: 0, frees: 0, rcacheHits: 0, failures: 0 };
  private readonly tree: IovaTree;
  private readonly rcaches: IovaRcache[] = [];
  /**
   * Ranges of cacheable size that went through the fast path: start pfn ->
   * pages while allocated, -pages while parked in a range cache. Lets the
   * cached alloc/free pair check its argument in O(1).
   */
  private readonly fast = new Map<number, number>();
  private cached = 0;
  private readonly reserved = new Set<number>();
  /** The fail_iova_alloc fault point, set by the domain's owner; null injects nothing. */
  failAlloc: FaultAttr | null = null;
  private readonly spill = (pfn: number): void => {
    this.fast.delete(pfn);
    this.cached--;
    this.tree.remove(pfn);
  };

  /** Creates an empty domain of `granule`-byte pages whose lowest usable pfn is startPfn (init_iova_domain). */
  constructor(granule = PAGE_SIZE, startPfn = 1, capacity = 64) {
    if (!isPowerOfTwo(granule) || granule < 512) throw kerr('EINVAL', `iova: granule ${granule} is not a power of two >= 512`);
    if (!Number.isInteger(startPfn) || startPfn < 1) throw kerr('EINVAL', `iova: start pfn ${startPfn} must be >= 1 (pfn 0 is never allocated, as in Linux)`);
    this.granule = granule;
    this.shift = Math.log2(granule);
    this.startPfn = startPfn;
    this.tree = new IovaTree(capacity);
    // Sentinels: everything below startPfn, and the anchor above every limit.
    this.tree.insert(0, startPfn - 1);
    this.tree.insert(ANCHOR, ANCHOR);
    for (let i = 0; i < IOVA_RANGE_CACHE_MAX_SIZE; i++) this.rcaches.push(new IovaRcache());
  }

  /** Allocated ranges, cached ones included, reservations and sentinels not. */
  get liveRanges(): number {
    return this.tree.size - 2 - this.reserved.size;
  }

  /** IOVAs parked in the range caches. */
  get cachedRanges(): number {
    return this.cached;
  }

  /**
   * Allocates `size` pages ending at or below limitPfn, aligned to size
   * rounded up to a power of two when sizeAligned (alloc_iova). Returns the
   * first pfn. KernelError ENOMEM, with nothing changed, when there is no
   * room below the limit; KernelBug for a size that is not a positive
   * integer.
   */
  allocIova(size: number, limitPfn: number, sizeAligned = true): number {
    const pfn = this.tryAllocIova(size, limitPfn, sizeAligned);
    if (pfn === null) throw kerr('ENOMEM', `alloc_iova: no ${size} free pages below pfn ${hex(limitPfn)}`);
    return pfn;
  }

  /** As `allocIova`, but null instead of ENOMEM. */
  tryAllocIova(size: number, limitPfn: number, sizeAligned = true): number | null {
    if (!Number.isInteger(size) || size < 1) throw new KernelBug(`alloc_iova: bad size ${size}`);
    if (this.injectFailure(size, 'alloc_iova')) return null;
    return this.allocFit(size, limitPfn, sizeAligned);
  }

  /** Whether fail_iova_alloc fails this request; counted as a failure when it does. */
  private injectFailure(size: number, call: string): boolean {
    if (!shouldFail(this.failAlloc, size * this.granule, call)) return false;
    this.stats.failures++;
    return true;
  }

  /** Takes a range from the tree (alloc_iova's search), without the fault point. */
  private allocFit(size: number, limitPfn: number, sizeAligned: boolean): number | null {
    const align = sizeAligned ? roundupPow2(size) : 1;
    const limit = Math.min(limitPfn, ANCHOR - 1);
    // Gaps all lie above the start sentinel, so a fit is never below startPfn.
    const pfn = this.tree.allocFit(size, align, limit);
    if (pfn < 0) {
      this.stats.failures++;
      return null;
    }
    this.stats.allocs++;
    return pfn;
  }

  /**
   * Allocates through the range caches first (alloc_iova_fast). Cacheable
   * sizes are rounded up to a power of two so they can be cached on free.
   * When the tree has no room and flushRcache is set, the caches are
   * emptied into the tree and the allocation retried once. KernelError
   * ENOMEM, with nothing allocated, when that fails too.
   */
  allocIovaFast(size: number, limitPfn: number, flushRcache = true): number {
    const pfn = this.tryAllocIovaFast(size, limitPfn, flushRcache);
    if (pfn === null) throw kerr('ENOMEM', `alloc_iova_fast: no ${size} free pages below pfn ${hex(limitPfn)}`);
    return pfn;
  }

  /** As `allocIovaFast`, but null instead of ENOMEM. */
  tryAllocIovaFast(size: number, limitPfn: number, flushRcache = true): number | null {
    if (!Number.isInteger(size) || size < 1) throw new KernelBug(`alloc_iova_fast: bad size ${size}`);
    if (this.injectFailure(size, 'alloc_iova_fast')) return null;
    if (size < CACHED_MAX_PAGES) size = roundupPow2(size);
    const order = log2Ceil(size);
    if (order < IOVA_RANGE_CACHE_MAX_SIZE) {
      const pfn = this.rcaches[order]!.get(limitPfn - size + 1);
      if (pfn >= 0) {
        this.fast.set(pfn, size);
        this.cached--;
        this.stats.rcacheHits++;
        this.stats.allocs++;
        return pfn;
      }
    }
    let pfn = this.allocFit(size, limitPfn, true);
    if (pfn === null && flushRcache && this.cached > 0) {
      this.flushRcaches();
      pfn = this.allocFit(size, limitPfn, true);
    }
    if (pfn !== null && order < IOVA_RANGE_CACHE_MAX_SIZE) this.fast.set(pfn, size);
    return pfn;
  }

  /**
   * Frees the range starting at pfn (free_iova). KernelBug, with nothing
   * changed, when no allocated range starts there or it sits in a cache.
   */
  freeIova(pfn: number): void {
    const hi = this.tree.endOf(pfn);
    if (hi < 0 || pfn < this.startPfn || pfn === ANCHOR || this.reserved.has(pfn)) {
      throw new KernelBug(`free_iova: no allocated IOVA range starts at pfn ${hex(pfn)}`);
    }
    const f = this.fast.get(pfn);
    if (f !== undefined && f < 0) throw new KernelBug(`free_iova: pfn ${hex(pfn)} was already freed (it is in the range cache)`);
    if (f !== undefined) this.fast.delete(pfn);
    this.tree.remove(pfn);
    this.stats.frees++;
  }

  /**
   * Frees a range from allocIovaFast, into the range cache when its size is
   * cacheable (free_iova_fast). `size` is what was asked for. KernelBug, with
   * nothing changed, when the range is not allocated with that size or is
   * freed twice.
   */
  freeIovaFast(pfn: number, size: number): void {
    const rounded = size < CACHED_MAX_PAGES ? roundupPow2(size) : size;
    const order = log2Ceil(rounded);
    const cacheable = order < IOVA_RANGE_CACHE_MAX_SIZE && rounded === 2 ** order;
    const f = this.fast.get(pfn);
    if (f !== undefined) {
      if (f < 0) throw new KernelBug(`free_iova_fast: double free of pfn ${hex(pfn)}`);
      if (f !== rounded) throw new KernelBug(`free_iova_fast: pfn ${hex(pfn)} holds ${f} pages, freed as ${size}`);
    } else if (!cacheable) {
      // Not cached: check and remove in one descent (nothing changes when the check fails).
      if (pfn < this.startPfn || pfn === ANCHOR || this.reserved.has(pfn)) {
        throw new KernelBug(`free_iova_fast: no allocated IOVA range starts at pfn ${hex(pfn)}`);
      }
      const hi = this.tree.removeExact(pfn, pfn + rounded - 1);
      if (hi < 0) throw new KernelBug(`free_iova_fast: no allocated IOVA range starts at pfn ${hex(pfn)}`);
      if (hi - pfn + 1 !== rounded) throw new KernelBug(`free_iova_fast: pfn ${hex(pfn)} holds ${hi - pfn + 1} pages, freed as ${size}`);
      this.stats.frees++;
      return;
    } else {
      const hi = this.tree.endOf(pfn);
      if (hi < 0 || pfn < this.startPfn || pfn === ANCHOR || this.reserved.has(pfn)) {
        throw new KernelBug(`free_iova_fast: no allocated IOVA range starts at pfn ${hex(pfn)}`);
      }
      if (hi - pfn + 1 !== rounded) throw new KernelBug(`free_iova_fast: pfn ${hex(pfn)} holds ${hi - pfn + 1} pages, freed as ${size}`);
    }
    this.stats.frees++;
    if (cacheable) {
      this.fast.set(pfn, -rounded);
      this.cached++;
      this.rcaches[order]!.put(pfn, this.spill);
      return;
    }
    this.tree.remove(pfn);
  }

  /** Returns the allocated range containing pfn as [lo, hi], or null (find_iova). */
  findIova(pfn: number): { lo: number; hi: number } | null {
    const lo = this.tree.find(pfn);
    if (lo < 0 || lo === ANCHOR || lo < this.startPfn || (this.fast.get(lo) ?? 0) < 0) return null;
    return { lo, hi: this.tree.endOf(lo) };
  }

  /**
   * Takes [loPfn, hiPfn] out of the allocatable space (reserve_iova), e.g. an
   * MSI window or a direct-mapped region. EBUSY when it overlaps a range
   * already allocated or reserved.
   */
  reserveIova(loPfn: number, hiPfn: number): void {
    if (!(hiPfn >= loPfn) || loPfn < this.startPfn) throw kerr('EINVAL', `reserve_iova: bad range ${hex(loPfn)}..${hex(hiPfn)}`);
    if (this.tree.overlaps(loPfn, hiPfn)) throw kerr('EBUSY', `reserve_iova: ${hex(loPfn)}..${hex(hiPfn)} overlaps an allocated range`);
    this.tree.insert(loPfn, hiPfn);
    this.reserved.add(loPfn);
  }

  /** Empties every range cache into the tree (free_cpu_cached_iovas + free_global_cached_iovas). */
  flushRcaches(): void {
    for (const rc of this.rcaches) rc.flush(this.spill);
  }

  /**
   * Allocates IOVA space for `bytes` below the bus address `dmaLimit`
   * (inclusive, e.g. the DMA mask) and returns its bus address (the IOVA
   * part of iommu_dma_alloc_iova). KernelError ENOMEM when the space is
   * full below the limit.
   */
  allocRange(bytes: number, dmaLimit: number): number {
    const addr = this.tryAllocRange(bytes, dmaLimit);
    if (addr === null) throw kerr('ENOMEM', `iommu_dma_alloc_iova: no ${hex(bytes)} bytes of IOVA space below ${hex(dmaLimit)}`);
    return addr;
  }

  /** As `allocRange`, but null instead of ENOMEM (never 0: bus address 0 may be valid elsewhere). */
  tryAllocRange(bytes: number, dmaLimit: number): number | null {
    const pages = Math.ceil(bytes / this.granule);
    const pfn = this.tryAllocIovaFast(pages, Math.floor(dmaLimit / this.granule));
    return pfn === null ? null : pfn * this.granule;
  }

  /** Frees IOVA space from allocRange (the IOVA part of iommu_dma_free_iova). */
  freeRange(addr: number, bytes: number): void {
    if (addr % this.granule !== 0) throw new KernelBug(`iommu_dma_free_iova: ${hex(addr)} is not granule aligned`);
    this.freeIovaFast(addr / this.granule, Math.ceil(bytes / this.granule));
  }

  /** Calls fn(lo, hi) for every allocated range (cached ones included), in address order. */
  forEachRange(fn: (lo: number, hi: number) => void): void {
    this.tree.forEach((lo, hi) => {
      if (lo >= this.startPfn && lo !== ANCHOR && !this.reserved.has(lo)) fn(lo, hi);
    });
  }

  /** Checks the tree's invariants (for tests). */
  verify(): void {
    this.tree.verify();
  }

  /** Releases everything (put_iova_domain): caches are dropped with the tree. */
  put(): void {
    this.flushRcaches();
    const los: number[] = [];
    this.tree.forEach((lo) => {
      if (lo >= this.startPfn && lo !== ANCHOR) los.push(lo);
    });
    for (const lo of los) this.tree.remove(lo);
    this.fast.clear();
    this.reserved.clear();
  }
}

/** The smallest power of two >= x (roundup_pow_of_two). */
function roundupPow2(x: number): number {
  return x <= 1 ? 1 : 2 ** Math.ceil(Math.log2(x));
}

/** ceil(log2(x)) for x >= 1 (order_base_2). */
function log2Ceil(x: number): number {
  return x <= 1 ? 0 : Math.ceil(Math.log2(x));
}
