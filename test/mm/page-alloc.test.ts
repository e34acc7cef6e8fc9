import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { KernelBug, KernelError, MiB } from '../../src/lib/index.ts';
import { getPage, PageAllocator, pageCount, pinPages, unpinPages } from '../../src/mm/index.ts';
import { PageFrames, PAGEBLOCK_PAGES } from '../../src/mm/frames.ts';
import { BASE_PFN, buddyState, checkInvariants, smallAllocator } from './helpers.ts';
import { buddyInfo, pagetypeInfo } from '../../src/mm/page-stats.ts';

const small = smallAllocator;

describe('PageFrames', () => {
  it('keeps at most 16 bytes of metadata per frame and packs banks densely', () => {
    expect(PageFrames.BYTES_PER_FRAME).toBeLessThanOrEqual(16);
    const f = new PageFrames([
      { name: 'b', base: 0x8_0000_0000, size: 8 * MiB },
      { name: 'a', base: 0x1000_0000, size: 4 * MiB },
    ]);
    expect(f.count).toBe(3072);
    expect(f.index(0x10000)).toBe(0);
    expect(f.index(0x800000)).toBe(1024);
    expect(f.index(0x10400)).toBe(-1);
    expect(f.pfnOf(1025)).toBe(0x800001);
    expect(f.validRange(0x10000, 1024)).toBe(true);
    expect(f.validRange(0x10000, 1025)).toBe(false);
  });
});

describe('PageAllocator: buddy basics', () => {
  it('starts with every page free in max-order blocks', () => {
    const p = small();
    expect(p.totalPages()).toBe(4096);
    expect(p.freeCount()).toBe(4096);
    expect(buddyInfo(p)[0]!.free[10]).toBe(4);
    checkInvariants(p);
  });

  it('splits, hands out naturally aligned blocks and merges back', () => {
    const p = small();
    const before = buddyState(p);
    const a = p.allocPages(0);
    const b = p.allocPages(3);
    const c = p.allocPages(10);
    expect(b % 8).toBe(0);
    expect(c % 1024).toBe(0);
    expect(p.freeCount()).toBe(4096 - 1 - 8 - 1024);
    checkInvariants(p);
    p.freePages(b, 3);
    p.freePages(a, 0);
    p.freePages(c, 10);
    expect(buddyState(p)).toBe(before);
    checkInvariants(p);
  });

  it('runs out with ENOMEM and recovers', () => {
    const p = small(4);
    const got: number[] = [];
    for (let i = 0; i < 1024; i++) got.push(p.allocPages(0));
    expect(new Set(got).size).toBe(1024);
    expect(() => p.allocPages(0)).toThrow(KernelError);
    try {
      p.allocPages(0);
    } catch (e) {
      expect((e as KernelError).code).toBe('ENOMEM');
    }
    expect(() => p.allocPages(11)).toThrow(/order/);
    for (const g of got) p.freePages(g, 0);
    expect(p.freeCount()).toBe(1024);
    expect(p.counters.allocFailures).toBe(3);
  });

  it('split_page and alloc_pages_exact give order-0 pages and free the excess', () => {
    const p = small();
    const a = p.allocPagesExact(5);
    expect(p.freeCount()).toBe(4096 - 5);
    for (let i = 0; i < 5; i++) expect(pageCount(p, a + i)).toBe(1);
    expect(p.isAllocated(a + 5)).toBe(false);
    p.freePages(a + 2, 0);
    expect(() => p.freePagesExact(a, 5)).toThrow(KernelBug);
    expect(p.freeCount()).toBe(4096 - 4);
    p.freePagesExact(a, 2);
    p.freePagesExact(a + 3, 2);
    expect(p.freeCount()).toBe(4096);
    checkInvariants(p);
  });

  it('zeroes pages for __GFP_ZERO only when it knows the memory', () => {
    expect(() => small().allocPages(0, { zero: true })).toThrow(/GFP_ZERO/);
  });
});

describe('PageAllocator: misuse is a KernelBug that changes nothing', () => {
  it('double free, wrong order, tail page, non-RAM', () => {
    const p = small();
    const a = p.allocPages(2);
    const b = p.allocPages(0);
    p.freePages(b, 0);
    const state = buddyState(p);
    const free = p.freeCount();
    expect(() => p.freePages(b, 0)).toThrow(KernelBug);
    expect(() => p.freePages(b, 0)).toThrow(new RegExp(b.toString(16)));
    expect(() => p.freePages(a, 1)).toThrow(/order 2, freed with order 1/);
    expect(() => p.freePages(a + 1, 0)).toThrow(/tail/);
    expect(() => p.freePages(0x10, 0)).toThrow(/not RAM/);
    expect(p.freeCount()).toBe(free);
    expect(buddyState(p)).toBe(state);
    expect(p.isAllocated(a + 3)).toBe(true);
    checkInvariants(p);
  });

});

describe('PageAllocator: zones', () => {
  const banks = [
    { name: 'dram0', base: 0x2000_0000, size: 64 * MiB },
    { name: 'dram1', base: 0x8000_0000, size: 32 * MiB },
  ];

  it('splits zones at the lowmem limit and serves lowmem requests from lowmem only', () => {
    const p = new PageAllocator(banks, { lowmemEnd: 0x2000_0000 + 48 * MiB });
    expect(p.zones.map((z) => z.name)).toEqual(['Normal/dram0', 'HighMem/dram0', 'HighMem/dram1']);
    const hi = p.allocPages(0, { highmem: true, movable: true });
    expect(p.isHighmem(hi)).toBe(true);
    expect(hi).toBeGreaterThanOrEqual(0x80000);
    const lo = p.allocPages(0);
    expect(p.isHighmem(lo)).toBe(false);
    // Exhaust lowmem: kernel allocations fail even though highmem is free.
    const got: number[] = [lo];
    for (;;) {
      try {
        got.push(p.allocPages(10));
      } catch {
        break;
      }
    }
    for (;;) {
      try {
        got.push(p.allocPages(0));
      } catch {
        break;
      }
    }
    for (const g of got) expect(p.isHighmem(g)).toBe(false);
    expect(p.zones[1]!.freePages + p.zones[2]!.freePages).toBe(16 * 256 + 32 * 256 - 1);
    checkInvariants(p);
  });

  it('honours maxPa, also inside a zone that straddles it', () => {
    const p = new PageAllocator(banks, { lowmemEnd: 0x2000_0000 + 48 * MiB });
    const limit = 0x2000_0000 + 5 * MiB + 4096 * 3;
    const got: number[] = [];
    for (;;) {
      try {
        got.push(p.allocPages(0, { maxPa: limit, highmem: true }));
      } catch (e) {
        expect((e as KernelError).code).toBe('ENOMEM');
        break;
      }
    }
    expect(got.length).toBe((limit - 0x2000_0000) / 4096);
    for (const g of got) expect(g * 4096 + 4096).toBeLessThanOrEqual(limit);
    expect(() => p.allocPages(1, { maxPa: limit })).toThrow(KernelError);
    checkInvariants(p);
  });

  it('makes DMA32 zones below 4 GiB when RAM goes above it', () => {
    const p = new PageAllocator([{ name: 'd', base: 0xc000_0000, size: 2048 * MiB }]);
    expect(p.zones.map((z) => z.kind)).toEqual(['DMA32', 'Normal']);
    const a = p.allocPages(0, { maxPa: 2 ** 32 });
    expect(a * 4096).toBeLessThan(2 ** 32);
  });
});

describe('PageAllocator: migratetypes, stealing, CMA pageblocks', () => {
  it('unmovable allocations steal whole pageblocks from movable and keep them', () => {
    const p = small();
    const a = p.allocPages(0);
    expect(p.pageblockType(a)).toBe('unmovable');
    expect(p.counters.pageblockSteals).toBe(1);
    // Further unmovable pages come from the same stolen pageblock.
    const b = p.allocPages(0);
    expect(Math.floor(b / PAGEBLOCK_PAGES)).toBe(Math.floor(a / PAGEBLOCK_PAGES));
    expect(p.counters.pageblockSteals).toBe(1);
    const m = p.allocPages(0, { movable: true });
    expect(Math.floor(m / PAGEBLOCK_PAGES)).not.toBe(Math.floor(a / PAGEBLOCK_PAGES));
    expect(pagetypeInfo(p).unmovable.reduce((s, n, o) => s + n * 2 ** o, 0)).toBe(1022);
    checkInvariants(p);
  });

  it('movable requests that cannot claim a pageblock take the smallest fallback block', () => {
    const p = small(4);
    // One unmovable pageblock only, then fill it partially, movable memory gone.
    const u = p.allocPages(0);
    const frees: number[] = [];
    for (let i = 0; i < 1000; i++) frees.push(p.allocPages(0));
    for (const f of frees) if (f % 2 === 0) p.freePages(f, 0);
    expect(pagetypeInfo(p).movable.every((n) => n === 0)).toBe(true);
    const m = p.allocPages(0, { movable: true });
    expect(Math.floor(m / PAGEBLOCK_PAGES)).toBe(Math.floor(u / PAGEBLOCK_PAGES));
    expect(p.pageblockType(m)).toBe('unmovable');
    checkInvariants(p);
  });

  it('CMA pageblocks serve only movable requests', () => {
    const p = small(8);
    p.initCmaPageblocks(BASE_PFN, 1024);
    expect(p.pageblockType(BASE_PFN)).toBe('cma');
    const unmov: number[] = [];
    for (;;) {
      try {
        unmov.push(p.allocPages(0));
      } catch {
        break;
      }
    }
    expect(unmov.length).toBe(1024);
    for (const u of unmov) expect(u >= BASE_PFN + 1024).toBe(true);
    expect(p.freeCount()).toBe(1024);
    const m = p.allocPages(0, { movable: true });
    expect(m).toBeLessThan(BASE_PFN + 1024);
    expect(() => p.allocPages(0, { reclaimable: true })).toThrow(KernelError);
    checkInvariants(p);
  });

  it('movable allocations prefer CMA once it holds over half the free memory', () => {
    const p = small(8);
    p.initCmaPageblocks(BASE_PFN, 1024);
    // 1024 free CMA of 2048 free: not over half, so movable memory first.
    const a = p.allocPages(0, { movable: true });
    expect(a).toBeGreaterThanOrEqual(BASE_PFN + 1024);
    const b = p.allocPages(0, { movable: true });
    expect(b).toBeLessThan(BASE_PFN + 1024);
  });

});

describe('PageAllocator: contiguous ranges and boot reservations', () => {
  it('reserves boot ranges out of the allocator', () => {
    const p = small(8);
    p.reserveRange(BASE_PFN + 10, 5);
    expect(p.totalPages()).toBe(2043);
    expect(p.freeCount()).toBe(2043);
    expect(p.blockHead(BASE_PFN + 12)).toBe(-1);
    expect(() => p.freePages(BASE_PFN + 12, 0)).toThrow(/reserved/);
    checkInvariants(p);
  });
});

describe('PageAllocator: property tests', () => {
  type Op =
    | { k: 'alloc'; order: number; mt: 0 | 1 | 2; high: boolean; limit: boolean }
    | { k: 'free'; pick: number }
    | { k: 'ref'; pick: number }
    | { k: 'pin'; pick: number }
    | { k: 'bad'; pick: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ k: fc.constant('alloc' as const), order: fc.nat(10).map((n) => (n > 6 ? n % 4 : n)), mt: fc.constantFrom(0 as const, 1 as const, 2 as const), high: fc.boolean(), limit: fc.boolean() }) },
    { weight: 4, arbitrary: fc.record({ k: fc.constant('free' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('ref' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('pin' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('bad' as const), pick: fc.nat() }) },
  );

  it('never hands a frame out twice, counts stay exact, and everything merges back', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const p = new PageAllocator(
          [
            { name: 'd0', base: 0x1000_0000, size: 12 * MiB },
            { name: 'd1', base: 0x4000_0000, size: 4 * MiB },
          ],
          { lowmemEnd: 0x1000_0000 + 8 * MiB },
        );
        p.initCmaPageblocks(0x10000 + 1024, 1024);
        const initial = buddyState(p);
        const total = p.totalPages();
        const owner = new Map<number, number>(); // frame pfn -> allocation head
        const live: { pfn: number; order: number; refs: number; pins: number }[] = [];
        let used = 0;
        for (const o of ops) {
          if (o.k === 'alloc') {
            const gfp = { movable: o.mt === 1, reclaimable: o.mt === 2, highmem: o.high, maxPa: o.limit ? 0x1000_0000 + 6 * MiB : undefined };
            let pfn: number;
            try {
              pfn = p.allocPages(o.order, gfp);
            } catch (e) {
              expect((e as KernelError).code).toBe('ENOMEM');
              continue;
            }
            expect(pfn % (1 << o.order)).toBe(0);
            if (!o.high) expect(p.isHighmem(pfn)).toBe(false);
            if (o.limit) expect((pfn + (1 << o.order)) * 4096).toBeLessThanOrEqual(0x1000_0000 + 6 * MiB);
            if (o.mt !== 1) expect(p.pageblockType(pfn)).not.toBe('cma');
            for (let k = 0; k < 1 << o.order; k++) {
              expect(owner.has(pfn + k)).toBe(false);
              owner.set(pfn + k, pfn);
            }
            live.push({ pfn, order: o.order, refs: 1, pins: 0 });
            used += 1 << o.order;
          } else if (live.length > 0) {
            const idx = o.pick % live.length;
            const a = live[idx]!;
            if (o.k === 'ref') {
              getPage(p, a.pfn);
              a.refs++;
            } else if (o.k === 'pin') {
              if (a.pins > 0) {
                unpinPages(p, a.pfn, 1);
                a.pins--;
              } else {
                pinPages(p, a.pfn, 1);
                a.pins++;
              }
            } else if (o.k === 'bad') {
              const free = p.freeCount();
              const st = buddyState(p);
              if (a.order > 0) expect(() => p.freePages(a.pfn, a.order - 1)).toThrow(KernelBug);
              // The frame after the block is a misuse to free unless it heads another live block.
              const next = a.pfn + (1 << a.order);
              if (!live.some((b) => b.pfn === next)) expect(() => p.freePages(next, 0)).toThrow();
              expect(p.freeCount()).toBe(free);
              expect(buddyState(p)).toBe(st);
            } else {
              if (a.pins > 0 && a.refs === 1) {
                expect(() => p.freePages(a.pfn, a.order)).toThrow(/pinned/);
                unpinPages(p, a.pfn, 1);
                a.pins = 0;
              }
              p.freePages(a.pfn, a.order);
              if (--a.refs === 0) {
                for (let k = 0; k < 1 << a.order; k++) owner.delete(a.pfn + k);
                live.splice(idx, 1);
                used -= 1 << a.order;
                expect(() => p.freePages(a.pfn, a.order)).toThrow(KernelBug);
              }
            }
          }
          expect(p.freeCount()).toBe(total - used);
        }
        checkInvariants(p);
        for (const a of live) {
          if (a.pins) unpinPages(p, a.pfn, 1);
          for (let r = 0; r < a.refs; r++) p.freePages(a.pfn, a.order);
        }
        expect(p.freeCount()).toBe(total);
        expect(buddyState(p)).toBe(initial);
        checkInvariants(p);
      }),
      { numRuns: 50 },
    );
  });
});
