import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { KernelBug, KernelError } from '../../src/lib/index.ts';
import { GenPool } from '../../src/mm/index.ts';

describe('GenPool', () => {
  it('allocates first-fit in granule units and frees back', () => {
    const p = new GenPool(12, 'iova');
    p.addChunk(0x1000_0000, 0x10_0000);
    expect(p.size()).toBe(0x10_0000);
    const a = p.alloc(100);
    const b = p.alloc(0x2000);
    expect(a).toBe(0x1000_0000);
    expect(b).toBe(0x1000_1000);
    expect(p.avail()).toBe(0x10_0000 - 0x3000);
    p.free(a, 100);
    expect(p.alloc(0x1000)).toBe(0x1000_0000);
  });

  it('honours absolute alignment even when the chunk start is not aligned', () => {
    const p = new GenPool(12);
    p.addChunk(0x3000, 0x100000);
    const a = p.alloc(0x1000, { align: 0x10000 });
    expect(a % 0x10000).toBe(0);
    expect(a).toBe(0x10000);
    const o = p.alloc(0x3000, { algo: 'first-fit-order-align' });
    expect(o % 0x4000).toBe(0);
  });

  it('best-fit picks the smallest hole that fits', () => {
    const p = new GenPool(12);
    p.addChunk(0, 0x20000);
    const blocks = [0x4000, 0x1000, 0x2000, 0x1000, 0x1000, 0x1000].map((s) => [p.alloc(s), s] as const);
    // Holes: 0x4000 at 0, 0x2000 at 0x5000.
    p.free(blocks[0]![0], blocks[0]![1]);
    p.free(blocks[2]![0], blocks[2]![1]);
    expect(p.alloc(0x2000, { algo: 'first-fit' })).toBe(0);
    p.free(0, 0x2000);
    expect(p.alloc(0x2000, { algo: 'best-fit' })).toBe(0x5000);
  });

  it('searches chunks in order and keeps per-chunk avail', () => {
    const p = new GenPool(4, 'sram');
    p.addChunk(0x100, 0x40, 0x9000_0100);
    p.addChunk(0x1000, 0x100);
    expect(p.alloc(0x40)).toBe(0x100);
    expect(p.alloc(0x40)).toBe(0x1000);
    expect(p.virtToPhys(0x110)).toBe(0x9000_0110);
    expect(p.chunks()[0]!.avail).toBe(0);
    // Full for this size: ENOMEM, the try variant null, and nothing taken.
    expect(() => p.alloc(0x100)).toThrow(expect.objectContaining({ name: 'KernelError', code: 'ENOMEM' }));
    expect(p.tryAlloc(0x100)).toBeNull();
    expect(p.largestFree()).toBe(0xc0);
    expect(p.avail()).toBe(0xc0);
    expect(p.alloc(0xc0)).toBe(0x1040);
    expect(p.avail()).toBe(0);
  });

  it('fixed allocation takes exactly the asked range or nothing', () => {
    const p = new GenPool(12);
    p.addChunk(0x10000, 0x10000);
    expect(p.allocAt(0x12000, 0x2000)).toBe(0x12000);
    expect(() => p.allocAt(0x13000, 0x1000)).toThrow(expect.objectContaining({ code: 'ENOMEM' }));
    expect(p.tryAllocAt(0x13000, 0x1000)).toBeNull();
    expect(p.tryAllocAt(0x1f000, 0x2000)).toBeNull();
    expect(p.avail()).toBe(0xe000);
    expect(p.alloc(0x3000)).toBe(0x14000);
  });

  it('a bad free is a KernelBug and changes nothing', () => {
    const p = new GenPool(12);
    p.addChunk(0, 0x10000);
    const a = p.alloc(0x2000);
    const before = p.avail();
    expect(() => p.free(a, 0x3000)).toThrow(KernelBug);
    expect(() => p.free(0x20000, 0x1000)).toThrow(KernelBug);
    expect(p.avail()).toBe(before);
    p.free(a, 0x2000);
    expect(() => p.free(a, 0x2000)).toThrow(/not allocated/);
    expect(p.avail()).toBe(0x10000);
  });

  it('rejects overlapping chunks, bad alignment and misaligned chunks', () => {
    const p = new GenPool(12);
    p.addChunk(0, 0x10000);
    expect(() => p.addChunk(0x8000, 0x10000)).toThrow(KernelBug);
    expect(() => p.addChunk(0x20800, 0x1000)).toThrow(KernelError);
    expect(() => p.alloc(0x1000, { align: 0x3000 })).toThrow(KernelError);
    expect(() => p.alloc(0)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => p.tryAlloc(0)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('destroy refuses while allocations are outstanding', () => {
    const p = new GenPool(12);
    p.addChunk(0, 0x10000);
    const a = p.alloc(0x1000);
    expect(() => p.destroy()).toThrow(KernelBug);
    p.free(a, 0x1000);
    p.destroy();
    expect(p.size()).toBe(0);
  });

  it('property: allocations never overlap, stay aligned, and avail is exact', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            free: fc.boolean(),
            size: fc.integer({ min: 1, max: 40 * 256 }),
            alignOrder: fc.integer({ min: 8, max: 13 }),
            algo: fc.constantFrom('first-fit' as const, 'best-fit' as const, 'first-fit-order-align' as const),
            pick: fc.nat(),
          }),
          { maxLength: 120 },
        ),
        (ops) => {
          const p = new GenPool(8);
          p.addChunk(0x100, 0x4000);
          p.addChunk(0x10000, 0x8000);
          const live: [number, number][] = [];
          let used = 0;
          for (const op of ops) {
            if (op.free && live.length > 0) {
              const [a, s] = live.splice(op.pick % live.length, 1)[0]!;
              p.free(a, s);
              used -= Math.ceil(s / 256) * 256;
            } else {
              const align = 2 ** op.alignOrder;
              const a = p.tryAlloc(op.size, { align, algo: op.algo });
              if (a === null) continue;
              expect(a % align).toBe(0);
              const len = Math.ceil(op.size / 256) * 256;
              for (const [b, s] of live) {
                const blen = Math.ceil(s / 256) * 256;
                expect(a + len <= b || b + blen <= a).toBe(true);
              }
              expect(p.hasAddr(a, len)).toBe(true);
              live.push([a, op.size]);
              used += len;
            }
            expect(p.avail()).toBe(p.size() - used);
          }
          for (const [a, s] of live) p.free(a, s);
          expect(p.avail()).toBe(p.size());
          expect(p.largestFree()).toBe(0x8000);
        },
      ),
      { numRuns: 150 },
    );
  });
});
