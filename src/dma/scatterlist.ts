import type { SgSegment } from '../hw/index.ts';
import { PAGE_SIZE } from '../lib/index.ts';

/**
 * One scatterlist entry: a physically contiguous piece of the buffer
 * (page frame, offset, length), and once mapped, the address and length
 * the device uses for it (sg_dma_address / sg_dma_len).
 */
export interface Scatterlist {
  pfn: number;
  offset: number;
  length: number;
  dmaAddress: number;
  dmaLength: number;
}

/**
 * struct sg_table: `sgl` is the CPU view (orig_nents entries); after
 * dma_map_sg the first `nents` entries carry the device view, possibly
 * merged into fewer segments.
 */
export interface SgTable {
  sgl: Scatterlist[];
  origNents: number;
  nents: number;
}

/** Physical address of an entry's first byte (sg_phys). */
export function sgPhys(sg: Scatterlist): number {
  return sg.pfn * PAGE_SIZE + sg.offset;
}

/**
 * Builds a table from page frames, merging physically consecutive pages up
 * to `maxSegment` bytes per entry (sg_alloc_table_from_pages_segment).
 */
export function sgAllocTableFromPages(pfns: ArrayLike<number>, offset: number, size: number, maxSegment = Number.MAX_SAFE_INTEGER): SgTable {
  const sgl: Scatterlist[] = [];
  let left = size;
  let first = true;
  for (let i = 0; i < pfns.length && left > 0; i++) {
    const off = first ? offset : 0;
    first = false;
    const len = Math.min(PAGE_SIZE - off, left);
    const last = sgl[sgl.length - 1];
    if (last && off === 0 && sgPhys(last) + last.length === pfns[i]! * PAGE_SIZE && last.length + len <= maxSegment) {
      last.length += len;
    } else {
      sgl.push({ pfn: pfns[i]!, offset: off, length: len, dmaAddress: 0, dmaLength: 0 });
    }
    left -= len;
  }
  return { sgl, origNents: sgl.length, nents: 0 };
}

/** Builds a one-entry table for a physically contiguous range. */
export function sgFromContiguous(pa: number, size: number): SgTable {
  const pfn = Math.floor(pa / PAGE_SIZE);
  return { sgl: [{ pfn, offset: pa - pfn * PAGE_SIZE, length: size, dmaAddress: 0, dmaLength: 0 }], origNents: 1, nents: 0 };
}

/** Total bytes the CPU view of a table covers. */
export function sgTotalLength(t: SgTable): number {
  let n = 0;
  for (let i = 0; i < t.origNents; i++) n += t.sgl[i]!.length;
  return n;
}

/** Calls `fn(pa, len)` for every physically contiguous run of the CPU view. */
export function sgForEachRun(t: SgTable, fn: (pa: number, len: number) => void): void {
  for (let i = 0; i < t.origNents; i++) {
    const sg = t.sgl[i]!;
    fn(sgPhys(sg), sg.length);
  }
}

/**
 * The device's view of a mapped table as the bus segments a device's
 * scatter-gather DMA walks, in order (for_each_sgtable_dma_sg).
 */
export function sgDmaSegments(t: SgTable): SgSegment[] {
  const segs: SgSegment[] = [];
  for (let i = 0; i < t.nents; i++) segs.push({ addr: t.sgl[i]!.dmaAddress, len: t.sgl[i]!.dmaLength });
  return segs;
}
