import { KernelBug, hex, kerr } from '../lib/index.ts';
import { MIGRATE_CMA, MIGRATE_ISOLATE, PAGEBLOCK_PAGES, PG_BUDDY, PG_HEAD, PG_MOVABLE, PG_RESERVED } from './frames.ts';
import type { PageAllocator, Zone } from './page-alloc.ts';

/*
 * Pageblock isolation (mm/page_isolation.c): alloc_contig_range and CMA
 * first make the pageblocks of a range MIGRATE_ISOLATE, so that the
 * buddy allocator hands none of their free pages out while the used ones
 * are migrated away, then give the blocks their old types back.
 */

/** True when pageblock `pb` of `z` holds a reserved or an unmovable allocated page (has_unmovable_pages). */
function hasUnmovablePages(pa: PageAllocator, z: Zone, pb: number): boolean {
  const f = pa.frames;
  const a = Math.max(z.startPfn, (pb + z.pbFirst) * PAGEBLOCK_PAGES);
  const b = Math.min(z.endPfn, (pb + z.pbFirst + 1) * PAGEBLOCK_PAGES);
  let p = a;
  while (p < b) {
    const i = z.base + (p - z.startPfn);
    const fl = f.flags[i]!;
    if (fl & PG_RESERVED) return true;
    if (fl & (PG_BUDDY | PG_HEAD)) {
      if (fl & PG_HEAD && !(fl & PG_MOVABLE)) return true;
      p += 1 << f.order[i]!;
    } else p++;
  }
  return false;
}

/**
 * Isolates the pageblocks covering [startPfn, endPfn) so that none of their
 * free pages is handed out (start_isolate_page_range). Returns the saved
 * migratetypes for `undoIsolatePageRange`. EINVAL for a range not inside
 * one zone; EBUSY when a pageblock is already isolated or, outside CMA
 * pageblocks, holds unmovable pages. Nothing changes on failure.
 */
export function startIsolatePageRange(pa: PageAllocator, startPfn: number, endPfn: number): Uint8Array {
  const z = pa.zoneOf(startPfn);
  if (!z || endPfn > z.endPfn || endPfn <= startPfn) {
    throw kerr('EINVAL', `isolate ${hex(startPfn)}-${hex(endPfn)}: not inside one zone`);
  }
  const pb0 = Math.floor(startPfn / PAGEBLOCK_PAGES) - z.pbFirst;
  const pb1 = Math.floor((endPfn - 1) / PAGEBLOCK_PAGES) - z.pbFirst;
  for (let pb = pb0; pb <= pb1; pb++) {
    const t = z.pbType[pb]!;
    if (t === MIGRATE_ISOLATE) throw kerr('EBUSY', `pageblock at pfn ${hex((pb + z.pbFirst) * PAGEBLOCK_PAGES)} is already isolated`);
    if (t !== MIGRATE_CMA && hasUnmovablePages(pa, z, pb)) {
      throw kerr('EBUSY', `pageblock at pfn ${hex((pb + z.pbFirst) * PAGEBLOCK_PAGES)} holds unmovable pages`);
    }
  }
  const saved = z.pbType.slice(pb0, pb1 + 1);
  for (let pb = pb0; pb <= pb1; pb++) {
    z.pbType[pb] = MIGRATE_ISOLATE;
    pa.moveFreepagesBlock(z, pb, MIGRATE_ISOLATE);
  }
  return saved;
}

/** Gives isolated pageblocks their saved migratetypes back (undo_isolate_page_range). KernelBug for a pageblock not isolated. */
export function undoIsolatePageRange(pa: PageAllocator, startPfn: number, endPfn: number, saved: Uint8Array): void {
  const z = pa.zoneOf(startPfn)!;
  const pb0 = Math.floor(startPfn / PAGEBLOCK_PAGES) - z.pbFirst;
  const pb1 = Math.floor((endPfn - 1) / PAGEBLOCK_PAGES) - z.pbFirst;
  for (let pb = pb0; pb <= pb1; pb++) {
    if (z.pbType[pb] !== MIGRATE_ISOLATE) throw new KernelBug(`undo isolation: pageblock ${pb + z.pbFirst} is not isolated`);
  }
  for (let pb = pb0; pb <= pb1; pb++) {
    z.pbType[pb] = saved[pb - pb0]!;
    pa.moveFreepagesBlock(z, pb, saved[pb - pb0]!);
  }
}

/** True when every page of [startPfn, endPfn) is free (test_pages_isolated). */
export function testPagesIsolated(pa: PageAllocator, startPfn: number, endPfn: number): boolean {
  const f = pa.frames;
  let p = startPfn;
  while (p < endPfn) {
    const h = pa.blockHead(p);
    if (h < 0) return false;
    const hi = f.index(h);
    if (!(f.flags[hi]! & PG_BUDDY)) return false;
    p = h + (1 << f.order[hi]!);
  }
  return true;
}
