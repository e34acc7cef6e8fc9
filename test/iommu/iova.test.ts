import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IovaDomain } from '../../src/iommu/index.ts';
import { KernelBug } from '../../src/lib/index.ts';

const LIMIT32 = 0xfffff; // last 4 KiB pfn below 4 GiB

describe('IovaDomain', () => {
  it('allocates top-down below the limit, size-aligned', () => {
    const d = new IovaDomain();
    const a = d.allocIova(1, LIMIT32);
    expect(a).toBe(LIMIT32);
    const b = d.allocIova(4, LIMIT32);
    expect(b).toBe(0xffff8); // next 4-aligned block below a
    // 3 pages aligned to 4 fit in the 3-page hole between b and a.
    expect(d.allocIova(3, LIMIT32)).toBe(0xffffc);
    const e = d.allocIova(1, 0x3ffff); // a 30-bit device
    expect(e).toBe(0x3ffff);
    expect(d.findIova(b + 2)).toEqual({ lo: b, hi: b + 3 });
    d.freeIova(b);
    expect(d.findIova(b + 2)).toBeNull();
    expect(d.allocIova(4, LIMIT32)).toBe(b);
    expect(d.liveRanges).toBe(4);
  });

  it('fails with ENOMEM (try: null) when nothing fits, never goes below the start pfn, and changes nothing', () => {
    const d = new IovaDomain(4096, 16);
    expect(d.allocIova(8, 31)).toBe(24);
    expect(d.allocIova(8, 31)).toBe(16);
    expect(() => d.allocIova(1, 31)).toThrow(expect.objectContaining({ name: 'KernelError', code: 'ENOMEM' }));
    expect(d.tryAllocIova(1, 31)).toBeNull();
    expect(() => d.allocIovaFast(1, 31)).toThrow(expect.objectContaining({ code: 'ENOMEM' }));
    expect(d.tryAllocIovaFast(1, 31)).toBeNull();
    expect(() => d.allocRange(4096, 32 * 4096 - 1)).toThrow(expect.objectContaining({ code: 'ENOMEM' }));
    expect(d.tryAllocRange(4096, 32 * 4096 - 1)).toBeNull();
    expect(d.stats.failures).toBe(6);
    expect(d.stats.allocs).toBe(2);
    expect(d.liveRanges).toBe(2);
    d.verify();
    // The space is whole again once a range is freed.
    d.freeIova(16);
    expect(d.allocRange(4096, 32 * 4096 - 1)).toBe(23 * 4096);
    // A size that is not a positive integer is a caller bug, not exhaustion.
    expect(() => d.tryAllocIova(0, 31)).toThrow(KernelBug);
  });

  it('caches freed small ranges and hands the same IOVA back', () => {
    const d = new IovaDomain();
    const a = d.allocIovaFast(3, LIMIT32); // rounded to 4
    expect(d.findIova(a)).toEqual({ lo: a, hi: a + 3 });
    d.freeIovaFast(a, 3);
    expect(d.cachedRanges).toBe(1);
    // Cached IOVAs stay allocated in the tree: the tree cannot give the space out.
    expect(d.allocIova(4, LIMIT32)).not.toBe(a);
    expect(d.allocIovaFast(4, LIMIT32)).toBe(a);
    expect(d.stats.rcacheHits).toBe(1);
    // A cached IOVA above a device's limit is not handed to that device.
    d.freeIovaFast(a, 4);
    const low = d.allocIovaFast(4, 0xfff);
    expect(low).toBeLessThanOrEqual(0xfff - 3);
    // Sizes above 128 KiB go straight back to the tree.
    const big = d.allocIovaFast(33, LIMIT32);
    d.freeIovaFast(big, 33);
    expect(d.findIova(big)).toBeNull();
  });

  it('rejects bad and double frees with KernelBug, changing nothing', () => {
    const d = new IovaDomain();
    const a = d.allocIovaFast(2, LIMIT32);
    expect(() => d.freeIovaFast(a + 1, 2)).toThrow(KernelBug);
    expect(() => d.freeIovaFast(a, 8)).toThrow(/holds 2 pages, freed as 8/);
    d.freeIovaFast(a, 2);
    expect(() => d.freeIovaFast(a, 2)).toThrow(/double free/);
    expect(() => d.freeIova(a)).toThrow(/already freed/);
    expect(() => d.freeIova(12345)).toThrow(KernelBug);
    expect(d.cachedRanges).toBe(1);
    d.verify();
  });

  it('flushes the caches into the tree when the space is exhausted', () => {
    const d = new IovaDomain(4096, 1);
    const got: number[] = [];
    for (let i = 0; i < 15; i++) got.push(d.allocIovaFast(1, 15));
    expect(got.every((p) => p >= 1 && p <= 15)).toBe(true);
    expect(d.tryAllocIovaFast(2, 15)).toBeNull();
    for (const p of got) d.freeIovaFast(p, 1);
    expect(d.cachedRanges).toBe(15);
    // A 2-page request finds no cached 2-page range; the tree is full of
    // cached 1-page ranges until the caches are flushed.
    const two = d.allocIovaFast(2, 15);
    expect(two).toBeGreaterThan(0);
    expect(d.cachedRanges).toBe(0);
  });

  it('reserves ranges so they are never allocated', () => {
    const d = new IovaDomain();
    d.reserveIova(0xfe000, 0xfffff);
    expect(d.allocIova(1, LIMIT32)).toBe(0xfdfff);
    expect(() => d.reserveIova(0xfdfff, 0xfdfff)).toThrow(/EBUSY/);
  });

  it('never hands out the same IOVA twice (property)', () => {
    type Op = { kind: 'alloc'; size: number; fast: boolean; limit: number } | { kind: 'free'; pick: number };
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('alloc' as const),
        size: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 600 })),
        fast: fc.boolean(),
        limit: fc.constantFrom(0x7ff, 0xfff, 0x3fff),
      }),
      fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops: Op[]) => {
        const d = new IovaDomain();
        const live: { pfn: number; size: number; pages: number; fast: boolean }[] = [];
        for (const o of ops) {
          if (o.kind === 'alloc') {
            const pfn = o.fast ? d.tryAllocIovaFast(o.size, o.limit) : d.tryAllocIova(o.size, o.limit);
            if (pfn === null) continue;
            const pages = o.fast && o.size < 32 ? 2 ** Math.ceil(Math.log2(o.size)) : o.size;
            const align = 2 ** Math.ceil(Math.log2(pages));
            expect(pfn % align).toBe(0);
            expect(pfn + pages - 1).toBeLessThanOrEqual(o.limit);
            expect(pfn).toBeGreaterThanOrEqual(1);
            for (const l of live) expect(pfn + pages <= l.pfn || l.pfn + l.pages <= pfn).toBe(true);
            live.push({ pfn, size: o.size, pages, fast: o.fast });
          } else if (live.length > 0) {
            const [l] = live.splice(o.pick % live.length, 1);
            if (l!.fast) d.freeIovaFast(l!.pfn, l!.size);
            else d.freeIova(l!.pfn);
          }
        }
        d.verify();
        expect(d.liveRanges - d.cachedRanges).toBe(live.length);
      }),
      { numRuns: 150 },
    );
  });
});
