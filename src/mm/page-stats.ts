import { MAX_ORDER, MIGRATE_NAMES, MIGRATE_TYPES } from './frames.ts';
import type { PageAllocator, Zone, ZoneKind } from './page-alloc.ts';

/*
 * What the allocator reports about itself (mm/vmstat.c: /proc/vmstat,
 * /proc/buddyinfo, /proc/pagetypeinfo, the fragmentation index), read
 * from the zones' free-list counters.
 */

/** Counters of the page allocator (/proc/vmstat). */
export interface PageAllocatorCounters {
  allocs: number;
  frees: number;
  allocFailures: number;
  /** Allocations served by taking a block from another migratetype's list (__rmqueue_fallback). */
  fallbacks: number;
  /** Pageblocks whose migratetype changed through such a steal. */
  pageblockSteals: number;
}

/** A new set of zeroed counters. */
export function newPageAllocatorCounters(): PageAllocatorCounters {
  return { allocs: 0, frees: 0, allocFailures: 0, fallbacks: 0, pageblockSteals: 0 };
}

/** What pageAllocatorStats returns. */
export interface PageAllocatorStats {
  totalPages: number;
  freePages: number;
  reservedPages: number;
  freeByType: Record<(typeof MIGRATE_NAMES)[number], number>;
  zones: { name: string; kind: ZoneKind; startPfn: number; endPfn: number; managed: number; free: number }[];
  counters: PageAllocatorCounters;
}

/** Free blocks per order in one zone, all migratetypes together. */
function freeBlocksPerOrder(z: Zone): number[] {
  const out = new Array<number>(MAX_ORDER).fill(0);
  for (let t = 0; t < MIGRATE_TYPES; t++) for (let o = 0; o < MAX_ORDER; o++) out[o]! += z.nrFree[t * MAX_ORDER + o]!;
  return out;
}

/** Free blocks per migratetype and order, summed over zones or for one zone (/proc/pagetypeinfo). */
export function pagetypeInfo(pa: PageAllocator, zoneName?: string): Record<(typeof MIGRATE_NAMES)[number], number[]> {
  const out = Object.fromEntries(MIGRATE_NAMES.map((n) => [n, new Array<number>(MAX_ORDER).fill(0)])) as Record<(typeof MIGRATE_NAMES)[number], number[]>;
  for (const z of pa.zones) {
    if (zoneName !== undefined && z.name !== zoneName) continue;
    for (let t = 0; t < MIGRATE_TYPES; t++) {
      for (let o = 0; o < MAX_ORDER; o++) out[MIGRATE_NAMES[t]!][o]! += z.nrFree[t * MAX_ORDER + o]!;
    }
  }
  return out;
}

/** Free blocks per order for each zone (/proc/buddyinfo). */
export function buddyInfo(pa: PageAllocator): { zone: string; free: number[] }[] {
  return pa.zones.map((z) => ({ zone: z.name, free: freeBlocksPerOrder(z) }));
}

/**
 * Fragmentation index for an order-`order` request (fragmentation_index):
 * -1 when a block of that order is free; otherwise towards 0 when failure
 * would be for lack of memory and towards 1 when it would be for
 * fragmentation. Over all zones, or one named zone. Linux's integer
 * arithmetic in thousandths is kept, then divided by 1000.
 */
export function fragmentationIndex(pa: PageAllocator, order: number, zoneName?: string): number {
  let freePages = 0;
  let blocks = 0;
  let suitable = 0;
  for (const z of pa.zones) {
    if (zoneName !== undefined && z.name !== zoneName) continue;
    const per = freeBlocksPerOrder(z);
    for (let o = 0; o < MAX_ORDER; o++) {
      blocks += per[o]!;
      freePages += per[o]! * 2 ** o;
      if (o >= order) suitable += per[o]! * 2 ** (o - order);
    }
  }
  if (blocks === 0) return 0;
  if (suitable > 0) return -1;
  return (1000 - Math.floor((1000 + Math.floor((freePages * 1000) / 2 ** order)) / blocks)) / 1000;
}

/** Allocator statistics (/proc/meminfo and /proc/zoneinfo in one): totals, free pages per migratetype, per-zone figures and counters. */
export function pageAllocatorStats(pa: PageAllocator): PageAllocatorStats {
  const freeByType = Object.fromEntries(MIGRATE_NAMES.map((n) => [n, 0])) as Record<(typeof MIGRATE_NAMES)[number], number>;
  for (const z of pa.zones) for (let t = 0; t < MIGRATE_TYPES; t++) freeByType[MIGRATE_NAMES[t]!] += z.freeByType[t]!;
  return {
    totalPages: pa.totalPages(),
    freePages: pa.freeCount(),
    reservedPages: pa.reservedPages(),
    freeByType,
    zones: pa.zones.map((z) => ({ name: z.name, kind: z.kind, startPfn: z.startPfn, endPfn: z.endPfn, managed: z.managedPages, free: z.freePages })),
    counters: { ...pa.counters },
  };
}
