import type { PageFrames } from './frames.ts';
import type { PageOwnerOps } from './gfp.ts';
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
export function registerPageOwner(t: PageOwnerTable, ops: PageOwnerOps): number {
  t.push(ops);
  return t.length - 1;
}

/** Owner id recorded for the block headed by `pfn` (0 when none). KernelBug when `pfn` heads no block. */
export function pageOwner(f: PageFrames, pfn: number): number {
  return f.owner[pageHeadIndex(f, pfn, 'page_owner')]!;
}

/** Owner-private word of the block headed by `pfn` (page_private). KernelBug when `pfn` heads no block. */
export function pagePrivate(f: PageFrames, pfn: number): number {
  return f.priv[pageHeadIndex(f, pfn, 'page_private')]!;
}

/** Records `owner` and `priv` for the block headed by `pfn` (set_page_private, page->mapping). KernelBug when `pfn` heads no block. */
export function setPageOwner(f: PageFrames, pfn: number, owner: number, priv = 0): void {
  const i = pageHeadIndex(f, pfn, 'set_page_owner');
  f.owner[i] = owner;
  f.priv[i] = priv;
}
