import { KernelBug, hex, isKernelError, isPowerOfTwo, kerr, shouldFail, type FaultAttr } from '../lib/index.ts';
import { clearBits, countSet, findNextSetBit, findNextZeroBit, findZeroArea, setBits } from './bitmap.ts';
import { allocContigRange, type ContigTally } from './contig.ts';
import { PAGEBLOCK_PAGES } from './frames.ts';
import type { MigrationEnv } from './migrate.ts';
import { SimMutex } from './mutex.ts';
import { pinPages, unpinPages } from './page-ref.ts';

/** A CMA area to reserve at boot (cma_declare_contiguous / a reserved-memory node). */
export interface CmaAreaConfig {
  name: string;
  /** Bytes; rounded up to whole pageblocks (4 MiB). */
  size: number;
  /** Fixed physical base; otherwise placed top-down below `limit` in lowmem. */
  base?: number;
  /** Alignment of the base in bytes (power of two, at least a pageblock). */
  alignment?: number;
  /** Highest physical address + 1 the area may reach when placed automatically. */
  limit?: number;
}

/** Debug statistics of one CMA area (debugfs cma/<name>/). */
export interface CmaStats {
  name: string;
  basePfn: number;
  count: number;
  /** Pages handed out as CMA buffers. */
  usedPages: number;
  freePages: number;
  /** Longest run of pages no CMA buffer holds (maxchunk). */
  largestFreeRun: number;
  peakUsedPages: number;
  /** Live buffers. */
  buffers: number;
  allocations: number;
  releases: number;
  /** cma_alloc calls that returned nothing. */
  failures: number;
  /** Ranges abandoned because a page could not be migrated (retries at the next position). */
  busyRetries: number;
  pagesMigrated: number;
  /** Simulated ns spent inside cma_alloc (mutex held), migration included. */
  timeNs: number;
  /** Pages of the area that the page allocator currently uses for movable data. */
  borrowedPages: number;
  pinnedBuffers: number;
}

/**
 * Why the last cma_alloc without a fallback failed, with the area's state
 * at that moment: what a user needs to size the area.
 */
export interface CmaFailure {
  /** Pages asked for, and the alignment order of the range. */
  count: number;
  alignOrder: number;
  /** Pages held by buffers, and how many buffers held them. */
  usedPages: number;
  buffers: number;
  /** Longest run of pages no buffer held (pages borrowed for movable data count as free: they can be vacated). */
  largestFreeRun: number;
  /** 'no-range': no aligned free range could be vacated; 'injected': fail_cma_alloc said so. */
  why: 'no-range' | 'injected';
  /** Simulated ns of the failure. */
  timeNs: number;
  /** cma_alloc calls without a fallback that failed so far (the last one is described). */
  failures: number;
}

interface CmaBuffer {
  count: number;
  pins: number;
}

/**
 * A contiguous memory area (struct cma, mm/cma.c). Its pageblocks are
 * MIGRATE_CMA, so while no buffer needs them the page allocator lends them
 * out for movable pages; `alloc` takes a range from the area's bitmap and
 * vacates it by migration (alloc_contig_range). One allocation runs at a
 * time per area (the area's mutex, held across migration); `release` does
 * not sleep.
 */
export class CmaArea {
  readonly name: string;
  readonly basePfn: number;
  /** Pages in the area. */
  readonly count: number;
  private readonly env: MigrationEnv;
  private readonly bitmap: Uint32Array;
  private readonly buffers = new Map<number, CmaBuffer>();
  private readonly mutex: SimMutex;
  private used = 0;
  private readonly st = {
    peakUsedPages: 0,
    allocations: 0,
    releases: 0,
    failures: 0,
    busyRetries: 0,
    pagesMigrated: 0,
    timeNs: 0,
  };
  private readonly tally: ContigTally = { ns: 0, pages: 0, failedPfn: -1 };
  /** The fail_cma_alloc fault point, set at boot; null injects nothing. */
  failCmaAlloc: FaultAttr | null = null;
  /** The last failed `alloc` (a caller with no fallback), or null while none failed. */
  lastFailure: CmaFailure | null = null;
  /** Whether tryAlloc's last null came from fault injection. */
  private injected = false;

  /** Wraps pageblocks already marked MIGRATE_CMA as an area (cma_init_reserved_mem + cma_activate_area). */
  constructor(env: MigrationEnv, name: string, basePfn: number, count: number) {
    this.env = env;
    this.name = name;
    this.basePfn = basePfn;
    this.count = count;
    this.bitmap = new Uint32Array(Math.ceil(count / 32));
    this.mutex = new SimMutex(`cma ${name}`);
  }

  /** Physical base address. */
  get base(): number {
    return this.basePfn * 4096;
  }

  /** Size in bytes. */
  get size(): number {
    return this.count * 4096;
  }

  /** True when [pfn, pfn+count) lies inside the area. */
  contains(pfn: number, count = 1): boolean {
    return pfn >= this.basePfn && pfn + count <= this.basePfn + this.count;
  }

  /**
   * Allocates `count` contiguous pages aligned to 2^alignOrder pages
   * (cma_alloc). Finds a free range in the bitmap, vacates it by migrating
   * the movable pages the page allocator put there, and on a page that
   * cannot move tries the next aligned range. Returns the first pfn. Throws
   * KernelError EINVAL for a count or alignment that is not a positive
   * integer, ENOMEM when no range can be vacated (the area is unchanged).
   * Sleeps on the area's mutex and for the migration work.
   */
  async alloc(count: number, alignOrder = 0): Promise<number> {
    const pfn = await this.tryAlloc(count, alignOrder);
    if (pfn !== null) return pfn;
    const st = this.stats();
    const f: CmaFailure = {
      count,
      alignOrder,
      usedPages: st.usedPages,
      buffers: st.buffers,
      largestFreeRun: st.largestFreeRun,
      why: this.injected ? 'injected' : 'no-range',
      timeNs: this.env.clock.now,
      failures: (this.lastFailure?.failures ?? 0) + 1,
    };
    this.lastFailure = f;
    throw kerr(
      'ENOMEM',
      `cma_alloc(${this.name}): no ${count}-page range aligned to 2^${alignOrder} pages can be vacated ` +
        `(area of ${this.count} pages, ${f.usedPages} used by ${f.buffers} buffer(s), largest free run ${f.largestFreeRun})`,
    );
  }

  /**
   * cma_alloc for callers with a fallback (dma_alloc_contiguous falls back
   * to the buddy allocator): as `alloc`, but null instead of ENOMEM.
   * EINVAL still throws.
   */
  async tryAlloc(count: number, alignOrder = 0): Promise<number | null> {
    if (!Number.isInteger(count) || count <= 0) {
      this.st.failures++;
      throw kerr('EINVAL', `cma_alloc(${this.name}): bad count ${count}`);
    }
    this.injected = false;
    if (count > this.count) {
      this.st.failures++;
      return null;
    }
    if (!Number.isInteger(alignOrder) || alignOrder < 0 || alignOrder > 30) throw kerr('EINVAL', `cma_alloc: bad alignment order ${alignOrder}`);
    if (shouldFail(this.failCmaAlloc, count, `cma_alloc(${this.name})`)) {
      this.st.failures++;
      this.injected = true;
      return null;
    }
    const a = 2 ** alignOrder;
    const mask = a - 1;
    // Bits are relative to basePfn; the offset makes the *pfn* aligned (cma_bitmap_aligned_offset).
    const offset = this.basePfn % a;
    await this.mutex.lock();
    const t0 = this.env.clock.now;
    const migrated0 = this.st.pagesMigrated;
    let got = -1;
    try {
      let start = 0;
      while (true) {
        const s = findZeroArea(this.bitmap, start, this.count, count, mask, offset);
        if (s < 0) break;
        setBits(this.bitmap, s, count);
        const pfn = this.basePfn + s;
        const tally = this.tally;
        tally.ns = 0;
        tally.pages = 0;
        try {
          await allocContigRange(this.env, pfn, pfn + count, tally);
        } catch (e) {
          clearBits(this.bitmap, s, count);
          this.st.pagesMigrated += tally.pages;
          if (isKernelError(e, 'EBUSY')) {
            this.st.busyRetries++;
            // Linux retries at s + align; every start up to the page that could
            // not move would fail on it again, so skip straight past it.
            const past = tally.failedPfn >= 0 ? tally.failedPfn - this.basePfn + 1 : 0;
            start = Math.max(s + mask + 1, past);
            continue;
          }
          if (isKernelError(e, 'ENOMEM')) break;
          throw e;
        }
        this.st.pagesMigrated += tally.pages;
        this.buffers.set(pfn, { count, pins: 0 });
        this.used += count;
        this.st.allocations++;
        if (this.used > this.st.peakUsedPages) this.st.peakUsedPages = this.used;
        got = pfn;
        return pfn;
      }
      this.st.failures++;
      return null;
    } finally {
      this.st.timeNs += this.env.clock.now - t0;
      const tr = this.env.tracer?.() ?? null;
      if (tr) {
        const args = { pfn: got >= 0 ? '0x' + got.toString(16) : 'failed', count, migrated: this.st.pagesMigrated - migrated0 };
        tr.complete(tr.lane('memory', `cma ${this.name}`), `cma_alloc ${count} pages`, 'cma', t0, this.env.clock.now - t0, args);
      }
      this.mutex.unlock();
    }
  }

  /**
   * Returns a buffer to the area (cma_release). False when `pfn` is not in
   * this area; KernelBug, with nothing changed, when [pfn, pfn+count) is not
   * exactly one live buffer or the buffer is pinned.
   */
  release(pfn: number, count: number): boolean {
    if (!this.contains(pfn)) return false;
    const b = this.buffers.get(pfn);
    if (!b || b.count !== count) {
      throw new KernelBug(
        `cma_release(${this.name}): pfn ${hex(pfn)} count ${count} ` +
          (b ? `but the buffer there has ${b.count} pages` : 'is not the start of a buffer'),
      );
    }
    if (b.pins > 0) throw new KernelBug(`cma_release(${this.name}): buffer at pfn ${hex(pfn)} is pinned (${b.pins})`);
    this.env.pages.freeContigRange(pfn, count);
    clearBits(this.bitmap, pfn - this.basePfn, count);
    this.buffers.delete(pfn);
    this.used -= count;
    this.st.releases++;
    return true;
  }

  /** Pins a buffer while hardware uses it, so it may not be moved (cma_pin, CMA v6). */
  pin(pfn: number, count: number): void {
    const b = this.buffer(pfn, count, 'cma_pin');
    pinPages(this.env.pages, pfn, count);
    b.pins++;
  }

  /** Drops a pin taken with `pin` (cma_unpin). */
  unpin(pfn: number, count: number): void {
    const b = this.buffer(pfn, count, 'cma_unpin');
    if (b.pins === 0) throw new KernelBug(`cma_unpin(${this.name}): buffer at pfn ${hex(pfn)} is not pinned`);
    unpinPages(this.env.pages, pfn, count);
    b.pins--;
  }

  /** True when a live buffer starts at `pfn`. */
  isBuffer(pfn: number): boolean {
    return this.buffers.has(pfn);
  }

  /**
   * Checks the area's invariants (for tests): the bitmap has exactly the
   * bits of the live buffers set, buffers do not overlap, `used` is their
   * total, and every page of a buffer is allocated in the page allocator.
   * Throws KernelBug naming the first broken one.
   */
  verify(): void {
    const expect = new Uint32Array(this.bitmap.length);
    let total = 0;
    for (const [pfn, b] of this.buffers) {
      const s = pfn - this.basePfn;
      if (s < 0 || s + b.count > this.count) throw new KernelBug(`cma ${this.name}: buffer ${hex(pfn)}+${b.count} lies outside the area`);
      if (countSet(expect, s, b.count) !== 0) throw new KernelBug(`cma ${this.name}: buffer ${hex(pfn)}+${b.count} overlaps another`);
      setBits(expect, s, b.count);
      total += b.count;
      if (this.env.pages.countAllocated(pfn, b.count) !== b.count) {
        let p = pfn;
        while (this.env.pages.isAllocated(p)) p++;
        throw new KernelBug(`cma ${this.name}: page ${hex(p)} of buffer ${hex(pfn)} is free in the page allocator`);
      }
    }
    if (total !== this.used) throw new KernelBug(`cma ${this.name}: buffers hold ${total} pages, used says ${this.used}`);
    for (let w = 0; w < expect.length; w++) {
      if (expect[w] !== this.bitmap[w]) throw new KernelBug(`cma ${this.name}: bitmap word ${w} is ${hex(this.bitmap[w]!)}, the buffers give ${hex(expect[w]!)}`);
    }
  }

  /** Debug statistics (debugfs cma/<name>/{used,maxchunk,...}). */
  stats(): CmaStats {
    let largest = 0;
    let i = 0;
    while (i < this.count) {
      const z = findNextZeroBit(this.bitmap, i, this.count);
      if (z >= this.count) break;
      const e = findNextSetBit(this.bitmap, z, this.count);
      if (e - z > largest) largest = e - z;
      i = e;
    }
    const pages = this.env.pages;
    let pinned = 0;
    for (const b of this.buffers.values()) if (b.pins > 0) pinned++;
    const borrowed = pages.countAllocated(this.basePfn, this.count) - this.used;
    return {
      name: this.name,
      basePfn: this.basePfn,
      count: this.count,
      usedPages: countSet(this.bitmap, 0, this.count),
      freePages: this.count - this.used,
      largestFreeRun: largest,
      buffers: this.buffers.size,
      borrowedPages: borrowed,
      pinnedBuffers: pinned,
      ...this.st,
    };
  }

  private buffer(pfn: number, count: number, who: string): CmaBuffer {
    const b = this.buffers.get(pfn);
    if (!b || b.count !== count) throw new KernelBug(`${who}(${this.name}): pfn ${hex(pfn)} count ${count} is not a buffer of this area`);
    return b;
  }
}

/**
 * Chooses where a CMA area goes (cma_declare_contiguous_nid): at `base` when
 * given, else top-down below `limit` in lowmem, pageblock aligned, inside one
 * zone and clear of `avoid`. Returns the base pfn and page count, or throws
 * KernelError EINVAL / ENOMEM.
 */
export function placeCmaArea(
  cfg: CmaAreaConfig,
  zones: readonly { startPfn: number; endPfn: number; highmem: boolean }[],
  avoid: readonly { startPfn: number; endPfn: number }[],
  defaultLimitPfn: number,
): { basePfn: number; count: number } {
  const pbBytes = PAGEBLOCK_PAGES * 4096;
  if (!(cfg.size > 0)) throw kerr('EINVAL', `CMA area ${cfg.name}: size must be positive`);
  const align = Math.max(cfg.alignment ?? pbBytes, pbBytes);
  if (!isPowerOfTwo(align)) throw kerr('EINVAL', `CMA area ${cfg.name}: alignment ${cfg.alignment} is not a power of two`);
  const count = Math.ceil(cfg.size / pbBytes) * PAGEBLOCK_PAGES;
  const alignPages = align / 4096;
  const clear = (a: number, b: number): { startPfn: number; endPfn: number } | undefined => avoid.find((r) => a < r.endPfn && r.startPfn < b);
  if (cfg.base !== undefined) {
    if (cfg.base % align !== 0) throw kerr('EINVAL', `CMA area ${cfg.name}: base ${hex(cfg.base)} is not aligned to ${hex(align)}`);
    const p = cfg.base / 4096;
    if (!zones.some((z) => p >= z.startPfn && p + count <= z.endPfn)) {
      throw kerr('EINVAL', `CMA area ${cfg.name}: ${hex(cfg.base)}+${hex(count * 4096)} is not inside one zone of DRAM`);
    }
    const hit = clear(p, p + count);
    if (hit) throw kerr('EBUSY', `CMA area ${cfg.name}: ${hex(cfg.base)} overlaps reserved memory at ${hex(hit.startPfn * 4096)}`);
    return { basePfn: p, count };
  }
  const limit = cfg.limit !== undefined ? Math.floor(cfg.limit / 4096) : defaultLimitPfn;
  for (let zi = zones.length - 1; zi >= 0; zi--) {
    const z = zones[zi]!;
    if (z.highmem) continue;
    const end = Math.min(z.endPfn, limit);
    let b = Math.floor((end - count) / alignPages) * alignPages;
    while (b >= z.startPfn) {
      const hit = clear(b, b + count);
      if (!hit) return { basePfn: b, count };
      b = Math.floor((hit.startPfn - count) / alignPages) * alignPages;
    }
  }
  throw kerr('ENOMEM', `CMA area ${cfg.name}: no room for ${hex(count * 4096)} bytes in lowmem`);
}
