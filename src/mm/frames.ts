import { PAGE_SHIFT, hex } from '../lib/index.ts';

/** Mobility class of an allocation or a pageblock (enum migratetype). */
export type MigrateType = 'unmovable' | 'movable' | 'reclaimable' | 'cma';

/** Numeric migratetypes, as the kernel's enum orders them; ISOLATE only exists for pageblocks being vacated. */
export const MIGRATE_UNMOVABLE = 0;
export const MIGRATE_MOVABLE = 1;
export const MIGRATE_RECLAIMABLE = 2;
export const MIGRATE_CMA = 3;
export const MIGRATE_ISOLATE = 4;
export const MIGRATE_TYPES = 5;
/** Names of the numeric migratetypes, for statistics. */
export const MIGRATE_NAMES = ['unmovable', 'movable', 'reclaimable', 'cma', 'isolate'] as const;

/** Buddy orders are 0..MAX_ORDER-1 (orders 0..10: 4 KiB .. 4 MiB), as on 32-bit ARM. */
export const MAX_ORDER = 11;
/**
 * A pageblock is order 10 (4 MiB, pageblock_order = MAX_ORDER-1 as on ARM
 * without hugetlb), so a free buddy block never spans two pageblocks and
 * CMA areas are placed and sized in 4 MiB units.
 */
export const PAGEBLOCK_ORDER = 10;
export const PAGEBLOCK_PAGES = 1 << PAGEBLOCK_ORDER;

/** Head of a free buddy block (PageBuddy); `order` and `mt` (its free list) are valid. */
export const PG_BUDDY = 1;
/** The frame belongs to an allocated block. */
export const PG_ALLOC = 2;
/** First frame of an allocated block: `order`, `refcount`, `owner`, `priv`, `mt` are valid. */
export const PG_HEAD = 4;
/** Never given to the buddy allocator (memblock_reserve at boot). */
export const PG_RESERVED = 8;
/** Allocated with a movable GFP: may be migrated if its owner knows how (__PageMovable / PageLRU). */
export const PG_MOVABLE = 16;
/** Taken by alloc_contig_range (a CMA buffer): freed only through free_contig_range / cma_release. */
export const PG_CONTIG = 32;
/** The kernel's linear-map alias of this lowmem page has been removed. */
export const PG_NOLINEAR = 64;
/** Allocated with __GFP_HIGHMEM: a migration target may come from highmem too. */
export const PG_HIGHOK = 128;

/** One DRAM bank's run of frames. */
export interface FrameSection {
  readonly name: string;
  readonly startPfn: number;
  readonly endPfn: number;
  /** Index in the frame arrays of `startPfn`. */
  readonly base: number;
}

/**
 * Metadata of every 4 KiB page frame of DRAM (struct page), as a struct of
 * typed arrays indexed by frame index, never an object per page: 15 bytes
 * a frame. Frames of all banks are packed densely, so holes in the physical
 * map cost nothing; `index(pfn)` maps a page frame number to its slot.
 *
 * `owner` and `priv` are the owner's id and private word while a block is
 * allocated (page->mapping and page->private); on the head of a free block
 * they hold the free list's next and previous links, as the kernel reuses
 * page->lru. `refcount`, `owner`, `priv` and `order` are meaningful on a
 * block's head frame only; `pinCount` on any allocated frame.
 */
export class PageFrames {
  readonly count: number;
  readonly sections: readonly FrameSection[];
  readonly flags: Uint8Array;
  /** Block order on heads (allocated or free). */
  readonly order: Uint8Array;
  /** Free list of a free head, or the migratetype an allocated head was requested as. */
  readonly mt: Uint8Array;
  readonly pinCount: Uint16Array;
  readonly refcount: Uint16Array;
  readonly owner: Int32Array;
  readonly priv: Int32Array;
  private last = 0;

  /** Allocates zeroed metadata for the given banks of DRAM (memmap_init). */
  constructor(banks: readonly { name: string; base: number; size: number }[]) {
    const sorted = [...banks].sort((a, b) => a.base - b.base);
    const sections: FrameSection[] = [];
    let n = 0;
    for (const b of sorted) {
      if (b.base % 4096 !== 0 || b.size % 4096 !== 0 || b.size <= 0) {
        throw new Error(`bank ${b.name} (${hex(b.base)}+${hex(b.size)}) is not page aligned`);
      }
      const startPfn = b.base / 4096;
      const endPfn = startPfn + b.size / 4096;
      sections.push({ name: b.name, startPfn, endPfn, base: n });
      n += endPfn - startPfn;
    }
    if (sections.length === 0) throw new Error('no DRAM banks');
    this.sections = sections;
    this.count = n;
    this.flags = new Uint8Array(n);
    this.order = new Uint8Array(n);
    this.mt = new Uint8Array(n);
    this.pinCount = new Uint16Array(n);
    this.refcount = new Uint16Array(n);
    this.owner = new Int32Array(n);
    this.priv = new Int32Array(n);
  }

  /** Bytes of metadata per frame. */
  static readonly BYTES_PER_FRAME = 1 + 1 + 1 + 2 + 2 + 4 + 4;

  /** The pfn just past the section holding `pfn` (a valid one): the frames up to it follow `pfn`'s in the arrays. */
  sectionEnd(pfn: number): number {
    this.index(pfn);
    return this.sections[this.last]!.endPfn;
  }

  /** Returns the frame index of `pfn`, or -1 when no bank holds it (pfn_valid). */
  index(pfn: number): number {
    let s = this.sections[this.last]!;
    if (pfn >= s.startPfn && pfn < s.endPfn) return s.base + (pfn - s.startPfn);
    for (let i = 0; i < this.sections.length; i++) {
      s = this.sections[i]!;
      if (pfn >= s.startPfn && pfn < s.endPfn) {
        this.last = i;
        return s.base + (pfn - s.startPfn);
      }
    }
    return -1;
  }

  /** Returns the page frame number of frame index `idx`. */
  pfnOf(idx: number): number {
    for (const s of this.sections) if (idx < s.base + (s.endPfn - s.startPfn)) return s.startPfn + (idx - s.base);
    throw new RangeError(`frame index ${idx} out of range`);
  }

  /** True when every pfn of [pfn, pfn+n) is DRAM of one bank. */
  validRange(pfn: number, n: number): boolean {
    const i = this.index(pfn);
    return i >= 0 && n > 0 && this.index(pfn + n - 1) === i + n - 1;
  }
}

/** Physical address of a page frame number (PFN_PHYS). */
export function pfnToPhys(pfn: number): number {
  return pfn * 4096;
}

/** Page frame number of a physical address (PHYS_PFN). */
export function physToPfn(pa: number): number {
  return Math.floor(pa / 2 ** PAGE_SHIFT);
}
