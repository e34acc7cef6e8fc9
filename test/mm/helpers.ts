import { MiB } from '../../src/lib/index.ts';
import { PG_ALLOC, PG_HEAD, PageAllocator } from '../../src/mm/index.ts';
import { MAX_ORDER, MIGRATE_TYPES, PG_BUDDY } from '../../src/mm/frames.ts';
import { buddyInfo } from '../../src/mm/page-stats.ts';

function fail(msg: string): never {
  throw new Error(`allocator invariant broken: ${msg}`);
}

/**
 * Walks every free list of every zone and checks the allocator's invariants:
 * links are consistent, list members are free heads of the right order and
 * type, counters match the lists, and no frame is both on a free list and
 * allocated, or covered by two free blocks.
 */
export function checkInvariants(pages: PageAllocator): void {
  const f = pages.frames;
  let total = 0;
  for (const z of pages.zones) {
    let zoneFree = 0;
    const seen = new Uint8Array(z.endPfn - z.startPfn);
    for (let t = 0; t < MIGRATE_TYPES; t++) {
      for (let o = 0; o < MAX_ORDER; o++) {
        let i = z.heads[t * MAX_ORDER + o]!;
        let prev = -1;
        let n = 0;
        while (i !== -1) {
          const pfn = z.startPfn + (i - z.base);
          if (!(f.flags[i]! & PG_BUDDY) || f.order[i] !== o || f.mt[i] !== t) fail(`pfn ${pfn} on list ${t}/${o} is not a matching free head`);
          if (f.priv[i] !== prev) fail(`pfn ${pfn}: prev link ${f.priv[i]} != ${prev}`);
          if (pfn % (1 << o) !== 0) fail(`pfn ${pfn} not aligned to order ${o}`);
          for (let k = 0; k < 1 << o; k++) {
            if (seen[pfn - z.startPfn + k]) fail(`pfn ${pfn + k} in two free blocks`);
            seen[pfn - z.startPfn + k] = 1;
            if (f.flags[i + k]! & (PG_ALLOC | PG_HEAD)) fail(`free pfn ${pfn + k} flagged allocated`);
          }
          n++;
          prev = i;
          i = f.owner[i]!;
        }
        if (z.nrFree[t * MAX_ORDER + o] !== n) fail(`nr_free ${t}/${o} = ${z.nrFree[t * MAX_ORDER + o]}, list has ${n}`);
        zoneFree += n << o;
      }
    }
    if (z.freePages !== zoneFree) fail(`zone ${z.name} free ${z.freePages} != lists ${zoneFree}`);
    total += zoneFree;
    for (let p = z.startPfn; p < z.endPfn; p++) {
      const i = z.base + (p - z.startPfn);
      if (!seen[p - z.startPfn] && f.flags[i]! & PG_BUDDY) fail(`pfn ${p} flagged buddy but on no list`);
    }
  }
  if (pages.freeCount() !== total) fail(`freeCount ${pages.freeCount()} != ${total}`);
}

/** A compact fingerprint of the allocator's free state (free blocks per zone and order). */
export function buddyState(pages: PageAllocator): string {
  return JSON.stringify(buddyInfo(pages));
}

/** Where the test allocators' one bank starts. */
export const BASE = 0x8000_0000;
export const BASE_PFN = BASE / 4096;

/** An allocator over one `mib` MiB bank at BASE, all lowmem. */
export function smallAllocator(mib = 16): PageAllocator {
  return new PageAllocator([{ name: 'dram0', base: BASE, size: mib * MiB }]);
}
