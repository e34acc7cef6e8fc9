import { describe, expect, it } from 'vitest';
import { benchC } from '../../bench/c.ts';
import { BENCHES } from '../../bench/index.ts';
import { cToolchainProblem } from '../../src/sim/index.ts';

const problem = cToolchainProblem();

describe('bench c', () => {
  (problem ? it.skip : it)(
    "times a C program's system calls and its loads and stores, anonymous and into a mapped dma-buf, each against its baseline",
    async () => {
      const rows = await benchC({ targetMs: 1 });
      expect(rows.map((r) => r.bench)).toEqual(['c.syscall', 'c.anon-store', 'c.mapped-store', 'c.mapped-load']);
      for (const r of rows) {
        expect(r.metrics.operations).toBeGreaterThan(0);
        expect(r.metrics.wallNsPerOperation).toBeCloseTo((r.metrics.wallMs * 1e6) / r.metrics.operations, 3);
        // a rate against the baseline measured in the same run (how it compares is a figure for `unimem bench`, not for a test on a busy machine)
        const [ratio] = Object.values(r.ratios);
        expect(ratio).toBeGreaterThan(0);
        expect(Number.isFinite(ratio)).toBe(true);
        expect(ratio).toBeCloseTo(r.metrics.operationsPerWallSecond! / r.metrics.baselinePerWallSecond!, 6);
      }
    },
    180_000,
  );

  it('is one of the benchmarks `unimem bench` runs', () => {
    expect(Object.keys(BENCHES)).toContain('c');
  });
});
