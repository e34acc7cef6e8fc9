/**
 * GFP flags as an object (gfp_t). The zone modifiers become `highmem` and
 * `maxPa`; mobility becomes `movable` / `reclaimable`; `owner`/`priv` are
 * what the kernel keeps in page->mapping and page->private.
 */
export interface Gfp {
  /** __GFP_MOVABLE: the owner can migrate the page, so it may live in MOVABLE and CMA pageblocks. */
  movable?: boolean;
  /** __GFP_RECLAIMABLE: slab caches that shrink under pressure. */
  reclaimable?: boolean;
  /** __GFP_ZERO: the pages read as zero (through every view, caches included). */
  zero?: boolean;
  /** __GFP_HIGHMEM: may come from highmem, which has no permanent kernel mapping. */
  highmem?: boolean;
  /** Highest acceptable physical address + 1 (a GFP_DMA32-like limit derived from a DMA mask). */
  maxPa?: number;
  /** Owner id recorded in the frame metadata (see registerPageOwner). */
  owner?: number;
  /** Owner-private word recorded with the owner (page->private / page->index). */
  priv?: number;
}

/**
 * What the page allocator needs from a page's owner to move it
 * (struct movable_operations / address_space_operations.migrate_folio).
 */
export interface PageOwnerOps {
  readonly name: string;
  /**
   * Repoints the owner's reference from `oldPfn` to `newPfn` after the
   * allocator copied the bytes (migrate_folio's mapping update). Owners
   * without it own unmovable pages, whatever GFP they allocated with.
   */
  migratePage?(oldPfn: number, newPfn: number, priv: number): void;
}
