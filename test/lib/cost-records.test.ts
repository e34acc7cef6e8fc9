import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CostRecords } from '../../src/lib/cost-records.ts';
import { CostLedger } from '../../src/lib/cost-ledger.ts';
import { newCpuContext, runAsCpuContext } from '../../src/lib/cpu-context.ts';

type Op = { push: [number, number, number, number, number, number, number, number] } | { add: [number, number, number] };

const id = fc.integer({ min: 0, max: 2 ** 31 - 1 });
// times and sums past 2^32 (a long run in ns), fractions of a nanosecond
const big = fc.oneof(fc.integer({ min: 0, max: 2 ** 40 }), fc.double({ min: 0, max: 1e12, noNaN: true }));
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(big, fc.integer({ min: 0, max: 13 }), big, big, id, id, id, id).map((push) => ({ push })) },
  { weight: 1, arbitrary: fc.tuple(fc.nat(), big, big).map((add) => ({ add })) },
);

describe('cost records', () => {
  it('read back every field of every record as pushed and summed, across block boundaries', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), fc.integer({ min: 0, max: 9000 }), (ops, prefill) => {
        const r = new CostRecords();
        const model: { t: number; k: number; ns: number; bytes: number; slot: number; dev: number; buf: number; site: number; count: number }[] = [];
        // records before the ops, so that they straddle the 4,096-record blocks
        for (let i = 0; i < prefill; i++) {
          expect(r.push(i, i % 14, 1, 2, i, i + 1, i + 2, i + 3)).toBe(i);
          model.push({ t: i, k: i % 14, ns: 1, bytes: 2, slot: i, dev: i + 1, buf: i + 2, site: i + 3, count: 1 });
        }
        for (const o of ops) {
          if ('push' in o) {
            const [t, k, ns, bytes, slot, dev, buf, site] = o.push;
            expect(r.push(t, k, ns, bytes, slot, dev, buf, site)).toBe(model.length);
            model.push({ t, k, ns, bytes, slot, dev, buf, site, count: 1 });
          } else if (model.length > 0) {
            const [at, ns, bytes] = o.add;
            const i = at % model.length;
            r.add(i, ns, bytes);
            model[i]!.ns += ns;
            model[i]!.bytes += bytes;
            model[i]!.count++;
          }
        }
        expect(r.length).toBe(model.length);
        model.forEach((m, i) => {
          expect([r.timeNs(i), r.kind(i), r.ns(i), r.bytes(i), r.slot(i), r.device(i), r.buffer(i), r.site(i), r.count(i)]).toEqual([m.t, m.k, m.ns, m.bytes, m.slot, m.dev, m.buf, m.site, m.count]);
        });
      }),
      { numRuns: 40 },
    );
  });
});

describe('core runs', () => {
  it('join when a thread runs again where it stopped, and stay apart across a gap or another thread', () => {
    const l = new CostLedger(() => 0);
    const a = newCpuContext('kthread', 0, () => 'a');
    const b = newCpuContext('kthread', 0, () => 'b');
    // calls back to back: one stretch
    l.ran(a, 100, 50);
    l.ran(a, 150, 25);
    // a gap: a new stretch
    l.ran(a, 200, 10);
    // another thread in between: the next run of `a` starts a stretch of its own even without a gap
    l.ran(b, 210, 5);
    l.ran(a, 210, 5);
    expect(l.runs.map((r) => [r.context === a ? 'a' : 'b', r.startNs, r.ns])).toEqual([
      ['a', 100, 75],
      ['a', 200, 10],
      ['b', 210, 5],
      ['a', 210, 5],
    ]);
  });

  it('of a ledger are read back past its first block of records', () => {
    let now = 0;
    const l = new CostLedger(() => now);
    const ctx = newCpuContext('process', 1, () => 'p');
    ctx.call = 'getpid';
    runAsCpuContext(ctx, () => {
      for (let i = 0; i < 5000; i++) {
        now = i * 400;
        l.charge('syscall', 400);
      }
    });
    expect(l.length).toBe(5000);
    expect(l.at(4999)).toMatchObject({ timeNs: 4999 * 400, kind: 'syscall', ns: 400, count: 1 });
  });
});
