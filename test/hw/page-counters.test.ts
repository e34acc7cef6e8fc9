import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PageCounters } from '../../src/hw/page-counters.ts';

const SPAN = 200_000; // three 64 Ki-page chunks, and ranges across them

describe('per-page counts over the physical address space', () => {
  it('add, get and any agree with a count per page; an add that would leave 0..65535 throws and changes nothing', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            // ranges that start and end next to each other and at chunk edges, so a count can go wrong at the last page of one
            pfn: fc.oneof(fc.nat(SPAN - 1), fc.constantFrom(0, 5, 65_530, 65_535, 65_536, 131_066, 131_072)),
            n: fc.oneof(fc.integer({ min: 1, max: 70_000 }), fc.constantFrom(1, 5, 6, 7, 65_536)),
            delta: fc.constantFrom(1, 2, -1, -2, 30_000, -30_000, 5_535, 65_535),
          }),
          { maxLength: 30 },
        ),
        (ops) => {
          const pc = new PageCounters();
          const model = new Int32Array(SPAN + 70_000);
          for (const o of ops) {
            let bad = -1;
            for (let p = o.pfn; p < o.pfn + o.n; p++) {
              const v = model[p]! + o.delta;
              if (v < 0 || v > 0xffff) {
                bad = p;
                break;
              }
            }
            if (bad >= 0) {
              expect(() => pc.add(o.pfn, o.n, o.delta)).toThrow(`page ${bad}:`);
            } else {
              pc.add(o.pfn, o.n, o.delta);
              for (let p = o.pfn; p < o.pfn + o.n; p++) model[p]! += o.delta;
            }
            const probe = o.pfn + (o.n >> 1);
            expect(pc.get(probe)).toBe(model[probe]);
            expect(pc.any(o.pfn, o.n)).toBe(model.subarray(o.pfn, o.pfn + o.n).some((v) => v !== 0));
          }
          for (let p = 0; p < model.length; p += 997) expect(pc.get(p)).toBe(model[p]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
