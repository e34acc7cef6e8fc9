import type { System } from '../../src/sim/index.ts';

/*
 * The allocators' invariant walks, read from their own state: what a
 * CONFIG_DEBUG_VM kernel would check. Each returns the broken invariants
 * as lines (none when consistent).
 */

const PG_BUDDY = 1;
const NONE = -1;

/**
 * Walks every free list of every zone of the page allocator (the buddy
 * allocator's free_area): each entry a PG_BUDDY head of its list's order
 * and migratetype, naturally aligned inside its zone, linked both ways,
 * on no other list and overlapping no other free block; the list lengths
 * match nr_free, the pages the zone's and the allocator's free counts.
 */
export function checkBuddy(s: System): string[] {
  const pa = s.mm.pages;
  const f = pa.frames;
  const out: string[] = [];
  const seen = new Uint8Array(f.count);
  let total = 0;
  for (const z of pa.zones) {
    let zoneFree = 0;
    const lists = z.heads.length;
    const maxOrder = lists / Math.max(1, z.freeByType.length);
    for (let k = 0; k < lists; k++) {
      const mt = Math.floor(k / maxOrder);
      const o = k % maxOrder;
      let len = 0;
      let prev = NONE;
      for (let i = z.heads[k]!; i !== NONE; i = f.owner[i]!) {
        const pfn = z.startPfn + (i - z.base);
        if (len > f.count) {
          out.push(`${z.name}: free list mt ${mt} order ${o} loops`);
          break;
        }
        if (!(f.flags[i]! & PG_BUDDY) || f.order[i] !== o || f.mt[i] !== mt) out.push(`${z.name}: pfn ${pfn} on list mt ${mt} order ${o} has flags ${f.flags[i]} order ${f.order[i]} mt ${f.mt[i]}`);
        if (f.priv[i] !== prev) out.push(`${z.name}: pfn ${pfn} back link ${f.priv[i]}, want ${prev}`);
        if (pfn % (1 << o) !== 0 || pfn < z.startPfn || pfn + (1 << o) > z.endPfn) out.push(`${z.name}: block pfn ${pfn} order ${o} misplaced`);
        for (let j = i; j < Math.min(f.count, i + (1 << o)); j++) {
          if (seen[j]) {
            out.push(`${z.name}: pfn ${z.startPfn + (j - z.base)} in two free blocks`);
            break;
          }
          seen[j] = 1;
        }
        zoneFree += 1 << o;
        len++;
        prev = i;
        if (out.length > 20) return out;
      }
      if (len !== z.nrFree[k]) out.push(`${z.name}: list mt ${mt} order ${o} has ${len} blocks, nr_free says ${z.nrFree[k]}`);
    }
    if (zoneFree !== z.freePages) out.push(`${z.name}: ${zoneFree} pages on the free lists, the zone counts ${z.freePages}`);
    total += zoneFree;
  }
  if (total !== pa.freeCount()) out.push(`${total} free pages on the lists, the allocator counts ${pa.freeCount()}`);
  return out;
}

/** Every CMA area: its bitmap's used pages within the area, and none used once everything is freed. */
export function checkCma(s: System): string[] {
  const out: string[] = [];
  for (const [name, a] of s.mm.cma) {
    const st = a.stats();
    if (st.usedPages < 0 || st.usedPages + st.freePages !== st.count) out.push(`cma ${name}: ${st.usedPages} used and ${st.freePages} free of ${st.count}`);
  }
  return out;
}

/** All the invariant walks. */
export function checkInvariants(s: System): string[] {
  return [...checkBuddy(s).map((x) => `buddy: ${x}`), ...checkCma(s).map((x) => `cma: ${x}`)];
}
