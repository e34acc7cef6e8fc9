import { describe, it, expect } from 'vitest';
import { buddyInfo, fragmentationIndex, pageAllocatorStats, pagetypeInfo } from '../../src/mm/page-stats.ts';
import { MAX_ORDER } from '../../src/mm/frames.ts';
import { BASE_PFN, smallAllocator } from './helpers.ts';
import { startIsolatePageRange } from '../../src/mm/page-isolation.ts';

describe('allocator statistics (vmstat, buddyinfo, pagetypeinfo)', () => {
  it('fragmentation index follows Linux: -1 when a block is free, ~1 for fragmentation', () => {
    const p = smallAllocator(4);
    expect(fragmentationIndex(p, 10)).toBe(-1);
    const pages: number[] = [];
    for (let i = 0; i < 1024; i++) pages.push(p.allocPages(0));
    expect(fragmentationIndex(p, 0)).toBe(0);
    for (let i = 0; i < 1024; i += 2) p.freePages(pages[i]!, 0);
    // 512 free order-0 blocks, nothing bigger: 1000 - floor((1000 + 512*1000/2) / 512) = 499 -> 0.499 for order 1.
    expect(fragmentationIndex(p, 1)).toBe(0.499);
    expect(fragmentationIndex(p, 10)).toBe((1000 - Math.floor((1000 + Math.floor((512 * 1000) / 1024)) / 512)) / 1000);
    expect(fragmentationIndex(p, 0)).toBe(-1);
  });

  it('buddyinfo, pagetypeinfo and the totals agree with the free lists, isolated blocks under "isolate"', () => {
    const p = smallAllocator(8);
    p.initCmaPageblocks(BASE_PFN, 1024);
    // movable, so the second pageblock may still be isolated around it
    const a = p.allocPages(3, { movable: true });
    expect(a).toBeGreaterThanOrEqual(BASE_PFN + 1024);
    startIsolatePageRange(p, BASE_PFN + 1024, BASE_PFN + 1025);
    const types = pagetypeInfo(p);
    const pagesOf = (per: number[]): number => per.reduce((s, n, o) => s + n * 2 ** o, 0);
    expect(pagesOf(types.cma)).toBe(1024);
    expect(pagesOf(types.isolate)).toBe(1024 - 8);
    expect(pagesOf(types.movable) + pagesOf(types.unmovable) + pagesOf(types.reclaimable)).toBe(0);
    const buddy = buddyInfo(p);
    expect(buddy.map((b) => b.free.length)).toEqual([MAX_ORDER]);
    expect(pagesOf(buddy[0]!.free)).toBe(2048 - 8);
    const st = pageAllocatorStats(p);
    expect(st.freePages).toBe(2048 - 8);
    expect(st.freeByType.isolate + st.freeByType.cma).toBe(st.freePages);
    expect(st.zones[0]!.free).toBe(st.freePages);
    expect(st.counters.allocs).toBe(1);
    p.freePages(a, 3);
    expect(pageAllocatorStats(p).counters.frees).toBe(1);
  });
});
