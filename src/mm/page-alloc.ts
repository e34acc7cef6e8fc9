import type { CpuCache, PhysicalMemory } from '../hw/index.ts';
import { KernelBug, hex, kerr, shouldFail, type FaultAttr } from '../lib/index.ts';
import {
  MAX_ORDER,
  MIGRATE_CMA,
  MIGRATE_ISOLATE,
  MIGRATE_MOVABLE,
  MIGRATE_NAMES,
  MIGRATE_RECLAIMABLE,
  MIGRATE_TYPES,
  MIGRATE_UNMOVABLE,
  PAGEBLOCK_ORDER,
  PAGEBLOCK_PAGES,
  PG_ALLOC,
  PG_BUDDY,
  PG_CONTIG,
  PG_HEAD,
  PG_HIGHOK,
  PG_MOVABLE,
  PG_RESERVED,
  PageFrames,
} from './frames.ts';
import type { Gfp } from './gfp.ts';
import { checkFreeable, allocatedRun, pageHeadIndex } from './page-ref.ts';
import { newPageOwnerTable, type PageOwnerTable } from './page-owner.ts';
import { testPagesIsolated } from './page-isolation.ts';
import { newPageAllocatorCounters, type PageAllocatorCounters } from './page-stats.ts';

const NONE = -1;
const FOUR_GIB_PFN = 0x100000;

/** Zone kinds, lowest first (enum zone_type). */
export type ZoneKind = 'DMA' | 'DMA32' | 'Normal' | 'HighMem';

/**
 * A run of frames inside one DRAM bank with one zone kind (struct zone).
 * Free blocks sit on per-migratetype, per-order doubly linked lists whose
 * links live in the frames' owner/priv words; `heads` holds each list's
 * first frame index.
 */
export interface Zone {
  readonly name: string;
  readonly kind: ZoneKind;
  readonly highmem: boolean;
  readonly startPfn: number;
  readonly endPfn: number;
  /** Frame index of startPfn. */
  readonly base: number;
  /** Pageblock number (pfn >> PAGEBLOCK_ORDER) of the first pageblock. */
  readonly pbFirst: number;
  /** Migratetype of each pageblock touching the zone. */
  readonly pbType: Uint8Array;
  readonly heads: Int32Array;
  /** Free blocks per [migratetype * MAX_ORDER + order] (free_area[].nr_free per type). */
  readonly nrFree: Int32Array;
  /** Free pages per migratetype list. */
  readonly freeByType: Float64Array;
  freePages: number;
  managedPages: number;
}

/** Options of the page allocator's zone layout. */
export interface PageAllocatorOptions {
  /** Physical address where lowmem ends; frames above are highmem. Default: all lowmem. */
  lowmemEnd?: number;
  /** Extra zone boundaries (physical addresses), e.g. a 1 GiB ZONE_DMA limit. */
  zoneLimits?: number[];
  /** Memory and cache, for __GFP_ZERO. Without them a zeroing request is EINVAL. */
  hw?: { mem: PhysicalMemory; cache?: CpuCache | null };
}

/** Linux's fallback order when a migratetype's own lists are empty (fallbacks[]). */
const FALLBACKS: readonly (readonly number[])[] = [
  [MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE],
  [MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE],
  [MIGRATE_UNMOVABLE, MIGRATE_MOVABLE],
];

/**
 * The buddy allocator over all DRAM banks (mm/page_alloc.c). Orders 0..10,
 * per-pageblock migratetypes with Linux's fallback and stealing rules, CMA
 * pageblocks serving only movable requests, contiguous ranges for
 * alloc_contig_range. Nothing here sleeps. The rest of the page layer is
 * plain functions over the allocator, in the files the kernel has:
 * page-ref.ts (get_page, put_page, pins), page-owner.ts, page-isolation.ts
 * and page-stats.ts (vmstat).
 *
 * Zones are searched from the highest address down (HighMem before Normal
 * before DMA32), restricted by `gfp.highmem` and `gfp.maxPa`.
 */
export class PageAllocator {
  readonly frames: PageFrames;
  /** Zones in ascending address order. */
  readonly zones: readonly Zone[];
  readonly counters: PageAllocatorCounters = newPageAllocatorCounters();
  private readonly zonesDesc: readonly Zone[];
  private lastZone: Zone;
  /** @internal The registered page owners (page-owner.ts). */
  readonly owners: PageOwnerTable = newPageOwnerTable();
  private readonly hw: { mem: PhysicalMemory; cache?: CpuCache | null } | null;
  private nrFreeTotal = 0;
  private managedTotal = 0;
  private reservedTotal = 0;
  readonly lowmemEndPfn: number;
  /** The fail_page_alloc fault point, set at boot; null injects nothing. */
  failPageAlloc: FaultAttr | null = null;

  /** Builds frames and zones for `banks` and frees every page into the buddy lists (memblock_free_all). */
  constructor(banks: readonly { name: string; base: number; size: number }[], opts: PageAllocatorOptions = {}) {
    this.frames = new PageFrames(banks);
    this.hw = opts.hw ?? null;
    const last = this.frames.sections[this.frames.sections.length - 1]!;
    if (last.endPfn > 0x7fffffff) throw new Error('physical memory above 8 TiB is not supported');
    this.lowmemEndPfn = opts.lowmemEnd === undefined ? last.endPfn : Math.floor(opts.lowmemEnd / 4096);
    const cuts = new Set<number>([this.lowmemEndPfn, FOUR_GIB_PFN]);
    const dmaLimits = (opts.zoneLimits ?? []).map((a) => Math.floor(a / 4096));
    for (const l of dmaLimits) cuts.add(l);
    const sortedCuts = [...cuts].sort((a, b) => a - b);
    const hasLowAbove4G = this.frames.sections.some((s) => s.endPfn > FOUR_GIB_PFN && FOUR_GIB_PFN < this.lowmemEndPfn);
    const minDma = dmaLimits.length > 0 ? Math.min(...dmaLimits) : -1;
    const zones: Zone[] = [];
    for (const s of this.frames.sections) {
      let a = s.startPfn;
      while (a < s.endPfn) {
        let b = s.endPfn;
        for (const c of sortedCuts) if (c > a && c < b) b = c;
        const highmem = a >= this.lowmemEndPfn;
        const kind: ZoneKind = highmem ? 'HighMem' : b <= minDma ? 'DMA' : hasLowAbove4G && b <= FOUR_GIB_PFN ? 'DMA32' : 'Normal';
        const pbFirst = Math.floor(a / PAGEBLOCK_PAGES);
        const pbLast = Math.floor((b - 1) / PAGEBLOCK_PAGES);
        const pbType = new Uint8Array(pbLast - pbFirst + 1).fill(MIGRATE_MOVABLE);
        zones.push({
          name: `${kind}/${s.name}`,
          kind,
          highmem,
          startPfn: a,
          endPfn: b,
          base: s.base + (a - s.startPfn),
          pbFirst,
          pbType,
          heads: new Int32Array(MIGRATE_TYPES * MAX_ORDER).fill(NONE),
          nrFree: new Int32Array(MIGRATE_TYPES * MAX_ORDER),
          freeByType: new Float64Array(MIGRATE_TYPES),
          freePages: 0,
          managedPages: b - a,
        });
        a = b;
      }
    }
    this.zones = zones;
    this.zonesDesc = [...zones].reverse();
    this.lastZone = zones[0]!;
    for (const z of zones) {
      this.managedTotal += z.managedPages;
      this.addFreeSpan(z, z.startPfn, z.endPfn);
    }
  }

  // ---------------------------------------------------------------- alloc / free

  /**
   * Allocates 2^order contiguous pages and returns the first pfn
   * (alloc_pages). Throws KernelError ENOMEM when no allowed zone has a
   * suitable block, even after stealing from other migratetypes.
   */
  allocPages(order: number, gfp?: Gfp): number {
    if (!(order >= 0 && order < MAX_ORDER) || (order | 0) !== order) {
      this.counters.allocFailures++;
      throw kerr('ENOMEM', `alloc_pages: order ${order} is not 0..${MAX_ORDER - 1}`);
    }
    if (gfp?.zero && !this.hw) throw kerr('EINVAL', '__GFP_ZERO needs an allocator built with the memory (opts.hw)');
    const mt = gfp?.movable ? MIGRATE_MOVABLE : gfp?.reclaimable ? MIGRATE_RECLAIMABLE : MIGRATE_UNMOVABLE;
    const limit = gfp?.maxPa === undefined ? Infinity : Math.floor(gfp.maxPa / 4096);
    const highOk = gfp?.highmem === true;
    const n = 1 << order;
    if (this.shouldFailAllocPage(order)) {
      this.counters.allocFailures++;
      throw kerr('ENOMEM', `alloc_pages: order-${order} allocation failed by fail_page_alloc`);
    }
    const zs = this.zonesDesc;
    for (let k = 0; k < zs.length; k++) {
      const z = zs[k]!;
      if ((z.highmem && !highOk) || z.freePages < n || z.startPfn + n > limit) continue;
      const i = this.rmqueue(z, order, mt, limit);
      if (i === NONE) continue;
      this.prep(i, order, mt, gfp);
      this.counters.allocs++;
      const pfn = z.startPfn + (i - z.base);
      if (gfp?.zero) this.zero(pfn, n);
      return pfn;
    }
    this.counters.allocFailures++;
    throw kerr('ENOMEM', `alloc_pages: no free order-${order} ${MIGRATE_NAMES[mt]} block${limit !== Infinity ? ` below ${hex(limit * 4096)}` : ''}`);
  }

  /** Whether fail_page_alloc fails this request (should_fail_alloc_page): orders below its min-order never fail. */
  private shouldFailAllocPage(order: number): boolean {
    const attr = this.failPageAlloc;
    if (!attr || attr.probability === 0 || order < (attr.extra.get('min-order') ?? 0)) return false;
    return shouldFail(attr, 1 << order, 'alloc_pages');
  }

  /**
   * Drops a reference to the block at `pfn` and frees it when that was the
   * last one (__free_pages). KernelBug, with nothing changed, when `pfn` is
   * not the head of an allocated block of that order, is part of a CMA
   * buffer, is pinned, or has its linear alias removed.
   */
  freePages(pfn: number, order: number): void {
    const z = this.zoneOf(pfn);
    const f = this.frames;
    const i = z ? z.base + (pfn - z.startPfn) : NONE;
    if (!z) throw new KernelBug(`__free_pages: pfn ${hex(pfn)} is not RAM`);
    const fl = f.flags[i]!;
    if (!(fl & PG_HEAD)) {
      const why = fl & PG_BUDDY || !(fl & PG_ALLOC) ? 'is free (double free?)' : 'is a tail page of a larger block';
      throw new KernelBug(`__free_pages: pfn ${hex(pfn)} ${fl & PG_RESERVED ? 'is reserved' : why}`);
    }
    if (f.order[i] !== order) throw new KernelBug(`__free_pages: pfn ${hex(pfn)} was allocated with order ${f.order[i]}, freed with order ${order}`);
    if (fl & PG_CONTIG) throw new KernelBug(`__free_pages: pfn ${hex(pfn)} belongs to a contiguous (CMA) allocation; release it with cma_release`);
    if (f.refcount[i]! > 1) {
      f.refcount[i] = f.refcount[i]! - 1;
      return;
    }
    checkFreeable(this.frames, i, 1 << order, pfn);
    this.freeBlock(z, i, order);
  }

  /**
   * Turns an allocated order-n block into 2^n order-0 pages, each with its
   * own reference (split_page), so they can be freed one by one.
   */
  splitPage(pfn: number, order: number): void {
    const f = this.frames;
    const i = pageHeadIndex(this.frames, pfn, 'split_page');
    if (f.order[i] !== order) throw new KernelBug(`split_page: pfn ${hex(pfn)} has order ${f.order[i]}, not ${order}`);
    if (f.refcount[i] !== 1) throw new KernelBug(`split_page: pfn ${hex(pfn)} has ${f.refcount[i]} references`);
    const n = 1 << order;
    f.flags.fill(f.flags[i]!, i + 1, i + n);
    f.order.fill(0, i, i + n);
    f.refcount.fill(1, i + 1, i + n);
    f.owner.fill(f.owner[i]!, i + 1, i + n);
    f.priv.fill(f.priv[i]!, i + 1, i + n);
    f.mt.fill(f.mt[i]!, i + 1, i + n);
  }

  /**
   * Allocates exactly `count` physically contiguous pages as order-0 pages
   * (alloc_pages_exact): the power-of-two block's excess is freed at once.
   */
  allocPagesExact(count: number, gfp?: Gfp): number {
    if (!(count >= 1) || !Number.isInteger(count)) throw kerr('EINVAL', `alloc_pages_exact: bad count ${count}`);
    const order = Math.ceil(Math.log2(count));
    const pfn = this.allocPages(order, gfp);
    const n = 1 << order;
    this.splitPage(pfn, order);
    if (count < n) {
      const z = this.zoneOf(pfn)!;
      const f = this.frames;
      const i = z.base + (pfn - z.startPfn);
      f.flags.fill(0, i + count, i + n);
      f.refcount.fill(0, i + count, i + n);
      this.addFreeSpan(z, pfn + count, pfn + n);
      this.counters.frees++;
    }
    return pfn;
  }

  /** Frees `count` order-0 pages from `pfn` (free_pages_exact); validated as a whole first. */
  freePagesExact(pfn: number, count: number): void {
    const f = this.frames;
    const i = allocatedRun(this.frames, pfn, count, 'free_pages_exact');
    for (let k = i; k < i + count; k++) {
      const fl = f.flags[k]!;
      if (!(fl & PG_HEAD) || f.order[k] !== 0 || fl & PG_CONTIG) {
        throw new KernelBug(`free_pages_exact: pfn ${hex(pfn + k - i)} is not an order-0 page of its own`);
      }
      if (f.refcount[k] === 1) checkFreeable(this.frames, k, 1, pfn + k - i);
    }
    for (let k = 0; k < count; k++) this.freePages(pfn + k, 0);
  }

  // ---------------------------------------------------------------- queries

  /** Free pages in all zones, isolated ones included (NR_FREE_PAGES + isolated). */
  freeCount(): number {
    return this.nrFreeTotal;
  }

  /**
   * Walks every free list and checks the buddy invariants (for tests, as
   * CONFIG_DEBUG_VM's checks do): each list is doubly linked and as long
   * as its nr_free, each block on it is a free head of that order and list,
   * naturally aligned, inside its zone, with no allocated frame inside and
   * no overlap with another free block; the per-type, per-zone and total
   * free counts add up. Throws KernelBug naming the first broken one.
   */
  verify(): void {
    const f = this.frames;
    let total = 0;
    for (const z of this.zones) {
      let zoneFree = 0;
      for (let mt = 0; mt < MIGRATE_TYPES; mt++) {
        let typeFree = 0;
        for (let o = 0; o < MAX_ORDER; o++) {
          const list = `${z.name} ${MIGRATE_NAMES[mt]} order ${o}`;
          let n = 0;
          let prev = NONE;
          for (let i = z.heads[mt * MAX_ORDER + o]!; i !== NONE; i = f.owner[i]!) {
            const pfn = z.startPfn + (i - z.base);
            if (f.priv[i] !== prev) throw new KernelBug(`free list ${list}: pfn ${hex(pfn)} has a broken back link`);
            if (!(f.flags[i]! & PG_BUDDY) || f.order[i] !== o || f.mt[i] !== mt) throw new KernelBug(`free list ${list}: pfn ${hex(pfn)} is not a free order-${o} head of this list`);
            if (pfn % (1 << o) !== 0 || pfn < z.startPfn || pfn + (1 << o) > z.endPfn) throw new KernelBug(`free list ${list}: block ${hex(pfn)} is misaligned or outside its zone`);
            for (let k = i; k < i + (1 << o); k++) {
              if (f.flags[k]! & PG_ALLOC) throw new KernelBug(`free list ${list}: block ${hex(pfn)} holds an allocated frame`);
              if (k > i && f.flags[k]! & PG_BUDDY) throw new KernelBug(`free list ${list}: block ${hex(pfn)} overlaps another free block`);
            }
            if (++n > z.managedPages) throw new KernelBug(`free list ${list} loops`);
            prev = i;
          }
          if (n !== z.nrFree[mt * MAX_ORDER + o]) throw new KernelBug(`free list ${list}: ${n} blocks, nr_free says ${z.nrFree[mt * MAX_ORDER + o]}`);
          typeFree += n << o;
        }
        if (typeFree !== z.freeByType[mt]) throw new KernelBug(`${z.name}: ${typeFree} free ${MIGRATE_NAMES[mt]} pages on the lists, counted ${z.freeByType[mt]}`);
        zoneFree += typeFree;
      }
      if (zoneFree !== z.freePages) throw new KernelBug(`${z.name}: ${zoneFree} free pages on the lists, counted ${z.freePages}`);
      total += zoneFree;
    }
    if (total !== this.nrFreeTotal) throw new KernelBug(`${total} free pages on the lists, nr_free_pages says ${this.nrFreeTotal}`);
  }

  /** Pages managed by the allocator: DRAM minus boot reservations (totalram_pages). */
  totalPages(): number {
    return this.managedTotal;
  }

  /** True when `pfn` is DRAM known to the allocator (pfn_valid). */
  pfnValid(pfn: number): boolean {
    return this.frames.index(pfn) >= 0;
  }

  /** True when `pfn` lies in highmem (PageHighMem). */
  isHighmem(pfn: number): boolean {
    return this.pfnValid(pfn) && pfn >= this.lowmemEndPfn;
  }

  /** Returns the zone holding `pfn`, or null (page_zone). */
  zoneOf(pfn: number): Zone | null {
    const l = this.lastZone;
    if (pfn >= l.startPfn && pfn < l.endPfn) return l;
    for (const z of this.zones) {
      if (pfn >= z.startPfn && pfn < z.endPfn) {
        this.lastZone = z;
        return z;
      }
    }
    return null;
  }

  /** True when the frame is part of an allocated block. */
  isAllocated(pfn: number): boolean {
    const i = this.frames.index(pfn);
    return i >= 0 && (this.frames.flags[i]! & PG_ALLOC) !== 0;
  }

  /** How many frames of [pfn, pfn+count) are part of allocated blocks: isAllocated over the range, a memory section at a time. */
  countAllocated(pfn: number, count: number): number {
    const flags = this.frames.flags;
    let n = 0;
    for (let p = pfn, end = pfn + count; p < end; ) {
      const i = this.frames.index(p);
      if (i < 0) {
        p++;
        continue;
      }
      // frames of one section are consecutive in the frame arrays
      const run = Math.min(end - p, this.frames.sectionEnd(p) - p);
      for (let k = i; k < i + run; k++) if ((flags[k]! & PG_ALLOC) !== 0) n++;
      p += run;
    }
    return n;
  }

  /** Migratetype of the pageblock holding `pfn` (get_pageblock_migratetype). */
  pageblockType(pfn: number): (typeof MIGRATE_NAMES)[number] {
    const z = this.zoneOf(pfn);
    if (!z) throw new KernelBug(`pageblock of pfn ${hex(pfn)}: not RAM`);
    return MIGRATE_NAMES[z.pbType[Math.floor(pfn / PAGEBLOCK_PAGES) - z.pbFirst]!]!;
  }

  /**
   * Returns the head pfn of the block (free or allocated) that contains
   * `pfn`, or -1 for reserved or invalid frames.
   */
  blockHead(pfn: number): number {
    const z = this.zoneOf(pfn);
    if (!z) return NONE;
    const f = this.frames;
    if (f.flags[z.base + (pfn - z.startPfn)]! & PG_RESERVED) return NONE;
    for (let o = 0; o < MAX_ORDER; o++) {
      const c = pfn - (pfn % (1 << o));
      if (c < z.startPfn) break;
      const ci = z.base + (c - z.startPfn);
      if (f.flags[ci]! & (PG_BUDDY | PG_HEAD) && f.order[ci]! >= o) return c;
    }
    return NONE;
  }

  /** Pages taken out for good at boot (reserveRange). */
  reservedPages(): number {
    return this.reservedTotal;
  }

  // ---------------------------------------------------------------- boot-time setup

  /**
   * Takes free pages [pfn, pfn+count) out of the allocator for good
   * (memblock_reserve before memblock_free_all). EBUSY when any is in use.
   */
  reserveRange(pfn: number, count: number): void {
    const z = this.zoneOf(pfn);
    if (!z || pfn + count > z.endPfn) throw kerr('EINVAL', `reserve ${hex(pfn * 4096)}+${hex(count * 4096)}: not inside one zone`);
    if (!testPagesIsolated(this, pfn, pfn + count)) throw kerr('EBUSY', `reserve ${hex(pfn * 4096)}: pages in use`);
    this.takeFree(z, pfn, pfn + count);
    const i = z.base + (pfn - z.startPfn);
    this.frames.flags.fill(PG_RESERVED, i, i + count);
    z.managedPages -= count;
    this.managedTotal -= count;
    this.reservedTotal += count;
  }

  /**
   * Marks the pageblocks of [pfn, pfn+count) MIGRATE_CMA and moves their free
   * pages to the CMA lists (init_cma_reserved_pageblock). The range must be
   * pageblock aligned and inside one zone.
   */
  initCmaPageblocks(pfn: number, count: number): void {
    const z = this.zoneOf(pfn);
    if (pfn % PAGEBLOCK_PAGES !== 0 || count % PAGEBLOCK_PAGES !== 0 || !z || pfn + count > z.endPfn) {
      throw kerr('EINVAL', `CMA range ${hex(pfn * 4096)}+${hex(count * 4096)} is not pageblock aligned inside one zone`);
    }
    for (let p = pfn; p < pfn + count; p += PAGEBLOCK_PAGES) {
      const pb = p / PAGEBLOCK_PAGES - z.pbFirst;
      z.pbType[pb] = MIGRATE_CMA;
      this.moveFreepagesBlock(z, pb, MIGRATE_CMA);
    }
  }

  // ---------------------------------------------------------------- contiguous ranges

  /**
   * Takes the free pages [startPfn, endPfn) as order-0 pages of a contiguous
   * allocation (isolate_freepages_range); parts of free blocks outside the
   * range go back to the free lists. EBUSY when any page is not free.
   */
  takeFreeRange(startPfn: number, endPfn: number): void {
    const z = this.zoneOf(startPfn);
    if (!z || endPfn > z.endPfn) throw kerr('EINVAL', `take ${hex(startPfn)}-${hex(endPfn)}: not inside one zone`);
    if (!testPagesIsolated(this, startPfn, endPfn)) throw kerr('EBUSY', `pages in ${hex(startPfn)}-${hex(endPfn)} are in use`);
    this.takeFree(z, startPfn, endPfn);
    const f = this.frames;
    const i = z.base + (startPfn - z.startPfn);
    const j = i + (endPfn - startPfn);
    f.flags.fill(PG_ALLOC | PG_HEAD | PG_CONTIG, i, j);
    f.order.fill(0, i, j);
    f.refcount.fill(1, i, j);
    f.owner.fill(0, i, j);
    f.priv.fill(0, i, j);
    f.mt.fill(MIGRATE_CMA, i, j);
    this.counters.allocs++;
  }

  /**
   * Drops one reference on each page of a contiguous allocation
   * (free_contig_range); pages reaching zero go back to the buddy lists.
   * KernelBug, with nothing changed, if any page is not part of one or is
   * pinned.
   */
  freeContigRange(pfn: number, count: number): void {
    const f = this.frames;
    const z = this.zoneOf(pfn);
    if (!z || count <= 0 || pfn + count > z.endPfn) throw new KernelBug(`free_contig_range: ${hex(pfn)}+${count} is not inside one zone`);
    const i = z.base + (pfn - z.startPfn);
    for (let k = i; k < i + count; k++) {
      const fl = f.flags[k]!;
      if ((fl & (PG_ALLOC | PG_HEAD | PG_CONTIG)) !== (PG_ALLOC | PG_HEAD | PG_CONTIG)) {
        throw new KernelBug(`free_contig_range: pfn ${hex(pfn + k - i)} is not part of a contiguous allocation`);
      }
      if (f.refcount[k] === 1) checkFreeable(this.frames, k, 1, pfn + k - i);
    }
    let runStart = NONE;
    for (let k = i; k <= i + count; k++) {
      const last = k === i + count;
      let freeIt = false;
      if (!last) {
        f.flags[k] = f.flags[k]! & ~PG_CONTIG;
        f.refcount[k] = f.refcount[k]! - 1;
        freeIt = f.refcount[k] === 0;
      }
      if (freeIt && runStart === NONE) runStart = k;
      if (!freeIt && runStart !== NONE) {
        f.flags.fill(0, runStart, k);
        this.addFreeSpan(z, z.startPfn + (runStart - z.base), z.startPfn + (k - z.base));
        runStart = NONE;
      }
    }
    this.counters.frees++;
  }

  // ---------------------------------------------------------------- internals

  private rmqueue(z: Zone, order: number, mt: number, limit: number): number {
    let i: number;
    if (mt === MIGRATE_MOVABLE) {
      // Linux 6.1: use CMA first when it holds more than half of the zone's free memory,
      // so movable load spreads into CMA areas instead of exhausting normal memory.
      const usable = z.freePages - z.freeByType[MIGRATE_ISOLATE]!;
      if (z.freeByType[MIGRATE_CMA]! * 2 > usable) {
        i = this.smallest(z, order, MIGRATE_CMA, limit);
        if (i !== NONE) return i;
      }
    }
    i = this.smallest(z, order, mt, limit);
    if (i !== NONE) return i;
    if (mt === MIGRATE_MOVABLE) {
      i = this.smallest(z, order, MIGRATE_CMA, limit);
      if (i !== NONE) return i;
    }
    if (this.fallback(z, order, mt, limit)) {
      this.counters.fallbacks++;
      return this.smallest(z, order, mt, limit);
    }
    return NONE;
  }

  /** __rmqueue_smallest: the smallest block of type `mt` of at least `order`, split down. */
  private smallest(z: Zone, order: number, mt: number, limit: number): number {
    for (let o = order; o < MAX_ORDER; o++) {
      const i = this.findBlock(z, mt, o, limit, 1 << order);
      if (i === NONE) continue;
      this.listDel(z, i);
      let size = 1 << o;
      let high = o;
      while (high > order) {
        high--;
        size >>= 1;
        this.listAdd(z, i + size, high, mt);
      }
      return i;
    }
    return NONE;
  }

  /** First block on list (mt, o) whose first `need` pages lie below `limit` pfn. */
  private findBlock(z: Zone, mt: number, o: number, limit: number, need: number): number {
    let i = z.heads[mt * MAX_ORDER + o]!;
    if (limit >= z.endPfn) return i;
    const owner = this.frames.owner;
    while (i !== NONE) {
      if (z.startPfn + (i - z.base) + need <= limit) return i;
      i = owner[i]!;
    }
    return NONE;
  }

  /** __rmqueue_fallback: steal from another migratetype, largest block first. */
  private fallback(z: Zone, order: number, start: number, limit: number): boolean {
    const need = 1 << order;
    for (let co = MAX_ORDER - 1; co >= order; co--) {
      let fmt = this.suitableFallback(z, co, start, limit, need);
      if (fmt === NONE) continue;
      let canSteal = canStealFallback(co, start);
      if (!canSteal && start === MIGRATE_MOVABLE && co > order) {
        // Movable requests that cannot claim a whole pageblock take the smallest
        // fallback block instead of breaking up a large one.
        for (co = order; co < MAX_ORDER; co++) {
          fmt = this.suitableFallback(z, co, start, limit, need);
          if (fmt !== NONE) break;
        }
        canSteal = canStealFallback(co, start);
      }
      const i = this.findBlock(z, fmt, co, limit, need);
      this.stealSuitableFallback(z, i, co, start, canSteal);
      return true;
    }
    return false;
  }

  private suitableFallback(z: Zone, o: number, start: number, limit: number, need: number): number {
    for (const fmt of FALLBACKS[start]!) if (this.findBlock(z, fmt, o, limit, need) !== NONE) return fmt;
    return NONE;
  }

  /** steal_suitable_fallback: claim the whole pageblock when enough of it is free or alike. */
  private stealSuitableFallback(z: Zone, i: number, co: number, start: number, whole: boolean): void {
    const pfn = z.startPfn + (i - z.base);
    const pb = Math.floor(pfn / PAGEBLOCK_PAGES) - z.pbFirst;
    const oldType = z.pbType[pb]!;
    if (co >= PAGEBLOCK_ORDER) {
      z.pbType[pb] = start;
      this.counters.pageblockSteals++;
      this.listMove(z, i, start);
      return;
    }
    if (!whole) {
      this.listMove(z, i, start);
      return;
    }
    const { free, movable } = this.moveFreepagesBlock(z, pb, start);
    const alike = start === MIGRATE_MOVABLE ? movable : oldType === MIGRATE_MOVABLE ? PAGEBLOCK_PAGES - (free + movable) : 0;
    if (free + alike >= PAGEBLOCK_PAGES / 2) {
      z.pbType[pb] = start;
      this.counters.pageblockSteals++;
    }
  }

  /**
   * @internal Moves every free block of pageblock `pb` of `z` to list `mt`
   * and counts its free and movable pages (move_freepages_block).
   */
  moveFreepagesBlock(z: Zone, pb: number, mt: number): { free: number; movable: number } {
    const f = this.frames;
    const a = Math.max(z.startPfn, (pb + z.pbFirst) * PAGEBLOCK_PAGES);
    const b = Math.min(z.endPfn, (pb + z.pbFirst + 1) * PAGEBLOCK_PAGES);
    let free = 0;
    let movable = 0;
    let p = a;
    while (p < b) {
      const i = z.base + (p - z.startPfn);
      const fl = f.flags[i]!;
      if (fl & PG_BUDDY) {
        const n = 1 << f.order[i]!;
        if (f.mt[i] !== mt) this.listMove(z, i, mt);
        free += n;
        p += n;
      } else if (fl & PG_HEAD) {
        const n = 1 << f.order[i]!;
        if (fl & PG_MOVABLE) movable += n;
        p += n;
      } else p++;
    }
    return { free, movable };
  }

  /** Removes the free blocks covering [a, b) from their lists and gives back what lies outside. */
  private takeFree(z: Zone, a: number, b: number): void {
    const f = this.frames;
    let p = a;
    while (p < b) {
      const h = this.blockHead(p);
      const hi = z.base + (h - z.startPfn);
      const end = h + (1 << f.order[hi]!);
      this.listDel(z, hi);
      if (h < a) this.addFreeSpan(z, h, a);
      if (end > b) this.addFreeSpan(z, b, end);
      p = end;
    }
  }

  private prep(i: number, order: number, mt: number, gfp: Gfp | undefined): void {
    const f = this.frames;
    const n = 1 << order;
    if (n > 1) f.flags.fill(PG_ALLOC, i + 1, i + n);
    f.flags[i] = PG_ALLOC | PG_HEAD | (mt === MIGRATE_MOVABLE ? PG_MOVABLE : 0) | (gfp?.highmem ? PG_HIGHOK : 0);
    f.order[i] = order;
    f.refcount[i] = 1;
    f.owner[i] = gfp?.owner ?? 0;
    f.priv[i] = gfp?.priv ?? 0;
    f.mt[i] = mt;
  }

  /** __free_one_page: clears the block's frames and merges it with free buddies. */
  private freeBlock(z: Zone, i: number, order: number): void {
    const f = this.frames;
    const n = 1 << order;
    f.flags.fill(0, i, i + n);
    f.refcount[i] = 0;
    this.mergeAndAdd(z, z.startPfn + (i - z.base), order);
    this.counters.frees++;
  }

  private mergeAndAdd(z: Zone, pfn: number, order: number): void {
    const f = this.frames;
    const mt = z.pbType[Math.floor(pfn / PAGEBLOCK_PAGES) - z.pbFirst]!;
    while (order < MAX_ORDER - 1) {
      const bp = pfn ^ (1 << order);
      if (bp < z.startPfn || bp + (1 << order) > z.endPfn) break;
      const bi = z.base + (bp - z.startPfn);
      if (!(f.flags[bi]! & PG_BUDDY) || f.order[bi] !== order) break;
      this.listDel(z, bi);
      if (bp < pfn) pfn = bp;
      order++;
    }
    this.listAdd(z, z.base + (pfn - z.startPfn), order, mt);
  }

  /** Frees [a, b) (all frames already clear) as naturally aligned blocks, merging with buddies. */
  private addFreeSpan(z: Zone, a: number, b: number): void {
    let p = a;
    while (p < b) {
      let o = MAX_ORDER - 1;
      while (o > 0 && (p % (1 << o) !== 0 || p + (1 << o) > b)) o--;
      this.mergeAndAdd(z, p, o);
      p += 1 << o;
    }
  }

  private listAdd(z: Zone, i: number, o: number, mt: number): void {
    const f = this.frames;
    const k = mt * MAX_ORDER + o;
    const h = z.heads[k]!;
    f.owner[i] = h;
    f.priv[i] = NONE;
    if (h !== NONE) f.priv[h] = i;
    z.heads[k] = i;
    f.flags[i] = PG_BUDDY;
    f.order[i] = o;
    f.mt[i] = mt;
    z.nrFree[k] = z.nrFree[k]! + 1;
    const n = 1 << o;
    z.freeByType[mt] = z.freeByType[mt]! + n;
    z.freePages += n;
    this.nrFreeTotal += n;
  }

  private listDel(z: Zone, i: number): void {
    const f = this.frames;
    const o = f.order[i]!;
    const mt = f.mt[i]!;
    const k = mt * MAX_ORDER + o;
    const next = f.owner[i]!;
    const prev = f.priv[i]!;
    if (prev !== NONE) f.owner[prev] = next;
    else z.heads[k] = next;
    if (next !== NONE) f.priv[next] = prev;
    f.flags[i] = 0;
    z.nrFree[k] = z.nrFree[k]! - 1;
    const n = 1 << o;
    z.freeByType[mt] = z.freeByType[mt]! - n;
    z.freePages -= n;
    this.nrFreeTotal -= n;
  }

  private listMove(z: Zone, i: number, mt: number): void {
    const o = this.frames.order[i]!;
    this.listDel(z, i);
    this.listAdd(z, i, o, mt);
  }

  private zero(pfn: number, n: number): void {
    if (!this.hw) return;
    const pa = pfn * 4096;
    const len = n * 4096;
    const cache = this.hw.cache;
    // clear_page: a store per line of the page, each allocating its line, at the cache's linefill cost
    if (cache?.ledger) cache.ledger.charge('page-zero', (len / cache.lineSize) * cache.cfg.missNs, len, 'clear_page');
    // clear_page through the linear map: every view, cached lines included, reads zero.
    if (!cache || cache.validLines === 0) {
      this.hw.mem.fill(pa, len, 0);
      return;
    }
    for (let off = 0; off < len; off += ZERO_CHUNK.length) cache.snoopWrite(pa + off, ZERO_CHUNK, 0, Math.min(ZERO_CHUNK.length, len - off));
  }
}

const ZERO_CHUNK = new Uint8Array(64 * 1024);

/** can_steal_fallback: big blocks, and unmovable/reclaimable requests, claim whole pageblocks. */
function canStealFallback(order: number, start: number): boolean {
  if (order >= PAGEBLOCK_ORDER) return true;
  return order >= PAGEBLOCK_ORDER / 2 || start === MIGRATE_RECLAIMABLE || start === MIGRATE_UNMOVABLE;
}
