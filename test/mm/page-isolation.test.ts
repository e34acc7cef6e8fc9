import { describe, it, expect } from 'vitest';
import { KernelBug } from '../../src/lib/index.ts';
import { startIsolatePageRange, testPagesIsolated, undoIsolatePageRange } from '../../src/mm/page-isolation.ts';
import { BASE_PFN, buddyState, checkInvariants, smallAllocator } from './helpers.ts';

describe('pageblock isolation (page_isolation)', () => {
  it('isolated pageblocks hand out nothing; taking and freeing a range restores the state', () => {
    const p = smallAllocator(8);
    p.initCmaPageblocks(BASE_PFN, 1024);
    const before = buddyState(p);
    const saved = startIsolatePageRange(p, BASE_PFN + 100, BASE_PFN + 300);
    expect(p.pageblockType(BASE_PFN)).toBe('isolate');
    expect(() => startIsolatePageRange(p, BASE_PFN, BASE_PFN + 1)).toThrow(/already isolated/);
    const m = p.allocPages(0, { movable: true });
    expect(m).toBeGreaterThanOrEqual(BASE_PFN + 1024);
    p.freePages(m, 0);
    expect(testPagesIsolated(p, BASE_PFN + 100, BASE_PFN + 300)).toBe(true);
    p.takeFreeRange(BASE_PFN + 100, BASE_PFN + 300);
    expect(testPagesIsolated(p, BASE_PFN + 100, BASE_PFN + 300)).toBe(false);
    undoIsolatePageRange(p, BASE_PFN + 100, BASE_PFN + 300, saved);
    expect(p.pageblockType(BASE_PFN)).toBe('cma');
    expect(() => undoIsolatePageRange(p, BASE_PFN + 100, BASE_PFN + 300, saved)).toThrow(KernelBug);
    expect(p.freeCount()).toBe(2048 - 200);
    checkInvariants(p);
    expect(() => p.freePages(BASE_PFN + 100, 0)).toThrow(/contiguous/);
    expect(() => p.freeContigRange(BASE_PFN + 99, 2)).toThrow(KernelBug);
    expect(p.freeCount()).toBe(2048 - 200);
    p.freeContigRange(BASE_PFN + 100, 200);
    expect(buddyState(p)).toBe(before);
    checkInvariants(p);
  });

  it('refuses to isolate pageblocks with unmovable pages outside CMA, or a range outside one zone, changing nothing', () => {
    const p = smallAllocator(8);
    const u = p.allocPages(0);
    const state = buddyState(p);
    expect(() => startIsolatePageRange(p, u, u + 1)).toThrow(/unmovable/);
    expect(() => startIsolatePageRange(p, BASE_PFN + 1024, BASE_PFN + 4096)).toThrow(/one zone/);
    expect(p.pageblockType(u)).toBe('unmovable');
    expect(buddyState(p)).toBe(state);
  });
});
