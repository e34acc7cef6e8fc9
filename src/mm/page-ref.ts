import { KernelBug, hex } from '../lib/index.ts';
import { PG_ALLOC, PG_HEAD, PG_NOLINEAR, type PageFrames } from './frames.ts';
import type { PageAllocator } from './page-alloc.ts';

/*
 * Page references and pins (include/linux/page_ref.h, get_page/put_page,
 * the pin side of mm/gup.c) as plain functions over the frames' typed
 * arrays: a block's reference count lives in its head frame, pins are per
 * frame. Dropping the last reference frees the block through the buddy
 * allocator (PageAllocator.freePages).
 */

/** Frame index of `pfn` when it heads an allocated block; KernelBug otherwise. */
export function pageHeadIndex(f: PageFrames, pfn: number, who: string): number {
  const i = f.index(pfn);
  if (i < 0 || !(f.flags[i]! & PG_HEAD)) throw new KernelBug(`${who}: pfn ${hex(pfn)} is not the head of an allocated block`);
  return i;
}

/** Frame index of `pfn` when all of [pfn, pfn+count) is allocated RAM; KernelBug otherwise. */
export function allocatedRun(f: PageFrames, pfn: number, count: number, who: string): number {
  if (!(count >= 1) || !f.validRange(pfn, count)) throw new KernelBug(`${who}: ${hex(pfn)}+${count} is not RAM`);
  const i = f.index(pfn);
  for (let k = i; k < i + count; k++) {
    if (!(f.flags[k]! & PG_ALLOC)) throw new KernelBug(`${who}: pfn ${hex(pfn + k - i)} is not allocated`);
  }
  return i;
}

/** Takes a reference on the block at `pfn` (get_page). KernelBug when `pfn` heads no block or the count overflows. */
export function getPage(pages: PageAllocator, pfn: number): void {
  const f = pages.frames;
  const i = pageHeadIndex(f, pfn, 'get_page');
  if (f.refcount[i] === 0xffff) throw new KernelBug(`get_page: refcount of pfn ${hex(pfn)} overflows`);
  f.refcount[i] = f.refcount[i]! + 1;
}

/**
 * Drops a reference on the block at `pfn`, freeing it on the last one
 * (put_page). KernelBug when `pfn` heads no block, and as freePages when
 * the last reference goes while the block is pinned or unmapped.
 */
export function putPage(pages: PageAllocator, pfn: number): void {
  const i = pageHeadIndex(pages.frames, pfn, 'put_page');
  pages.freePages(pfn, pages.frames.order[i]!);
}

/** Returns the reference count of the block headed by `pfn` (page_count); 0 when free. */
export function pageCount(pages: PageAllocator, pfn: number): number {
  const f = pages.frames;
  const i = f.index(pfn);
  return i >= 0 && f.flags[i]! & PG_HEAD ? f.refcount[i]! : 0;
}

/**
 * Pins [pfn, pfn+count) (the pin of pin_user_pages, cma_pin): pinned
 * pages cannot be migrated and must be unpinned before they are freed.
 * KernelBug for a frame that is not allocated or whose count overflows.
 */
export function pinPages(pages: PageAllocator, pfn: number, count: number): void {
  const f = pages.frames;
  const i = allocatedRun(f, pfn, count, 'pin_user_pages');
  for (let k = i; k < i + count; k++) if (f.pinCount[k] === 0xffff) throw new KernelBug(`pin: pin count of pfn ${hex(pfn + k - i)} overflows`);
  for (let k = i; k < i + count; k++) f.pinCount[k] = f.pinCount[k]! + 1;
}

/** Unpins [pfn, pfn+count) (unpin_user_pages); KernelBug if any page is not pinned. */
export function unpinPages(pages: PageAllocator, pfn: number, count: number): void {
  const f = pages.frames;
  const i = allocatedRun(f, pfn, count, 'unpin_user_pages');
  for (let k = i; k < i + count; k++) if (f.pinCount[k] === 0) throw new KernelBug(`unpin_user_pages: pfn ${hex(pfn + k - i)} is not pinned`);
  for (let k = i; k < i + count; k++) f.pinCount[k] = f.pinCount[k]! - 1;
}

/** Returns how many times the frame is pinned (folio_maybe_dma_pinned, counted). */
export function pinCount(pages: PageAllocator, pfn: number): number {
  const f = pages.frames;
  const i = f.index(pfn);
  return i >= 0 ? f.pinCount[i]! : 0;
}

/**
 * Checks that frames [i, i+n) may go back to the buddy lists
 * (free_page_is_bad): KernelBug for a pinned frame or one whose linear
 * alias was removed. `pfn` is frame i's, for the message.
 */
export function checkFreeable(f: PageFrames, i: number, n: number, pfn: number): void {
  for (let k = i; k < i + n; k++) {
    if (f.pinCount[k] !== 0) throw new KernelBug(`free: pfn ${hex(pfn + k - i)} is still pinned (${f.pinCount[k]} pins)`);
    if (f.flags[k]! & PG_NOLINEAR) throw new KernelBug(`free: pfn ${hex(pfn + k - i)} has its linear-map alias removed`);
  }
}
