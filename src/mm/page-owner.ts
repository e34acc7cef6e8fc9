import type { PageOwnerOps } from './gfp.ts';
import type { PageAllocator } from './page-alloc.ts';
import { pageHeadIndex } from './page-ref.ts';

/*
 * Who owns an allocated block (page->mapping / page->index, and what
 * mm/page_owner.c records): an owner id and a private word in the head
 * frame. Owners register their operations (movable_operations) once and
 * pass the id they get in `gfp.owner`; id 0 is nobody.
 */

/** The registered page owners; index = owner id, 0 reserved for none. */
export type PageOwnerTable = (PageOwnerOps | undefined)[];

/** An empty owner table (id 0 taken by "no owner"). */
export function newPageOwnerTable(): PageOwnerTable {
  return [undefined];
}

/** Registers a page owner and returns its id for `gfp.owner` (address_space / movable_operations). */
export function registerPageOwner(pages: PageAllocator, ops: PageOwnerOps): number {
  const t = pages.owners;
  t.push(ops);
  return t.length - 1;
}

/** Returns the operations owner `id` registered, if any (page->mapping->a_ops). */
export function pageOwnerOps(pages: PageAllocator, id: number): PageOwnerOps | undefined {
  return pages.owners[id];
}

/** Owner id recorded for the block headed by `pfn`, 0 when none (page->mapping). KernelBug when `pfn` heads no block. */
export function pageOwner(pages: PageAllocator, pfn: number): number {
  const f = pages.frames;
  return f.owner[pageHeadIndex(f, pfn, 'page_owner')]!;
}

/** Owner-private word of the block headed by `pfn` (page_private). KernelBug when `pfn` heads no block. */
export function pagePrivate(pages: PageAllocator, pfn: number): number {
  const f = pages.frames;
  return f.priv[pageHeadIndex(f, pfn, 'page_private')]!;
}

/** Records `owner` and `priv` for the block headed by `pfn` (set_page_private, page->mapping). KernelBug when `pfn` heads no block. */
export function setPageOwner(pages: PageAllocator, pfn: number, owner: number, priv = 0): void {
  const f = pages.frames;
  const i = pageHeadIndex(f, pfn, 'set_page_owner');
  f.owner[i] = owner;
  f.priv[i] = priv;
}
