import { describe, expect, it } from 'vitest';
import { formatPlan, fuzzSeeds, generatePlan, runPlan, shrinkPlan, type Plan } from './fuzz.ts';

/** Seeds the short run takes, the same ones every run (a few seconds); the long run is `npm run fuzz`. */
const SEEDS = 100;

describe('syscall fuzzer', () => {
  it('random call sequences across processes leave no raw error, no hang, no leak and consistent allocators', async () => {
    const reports: string[] = [];
    const r = await fuzzSeeds(1, SEEDS, Infinity, undefined, (seed, failure, minimal) => {
      reports.push(`seed ${seed}: ${failure}\nminimal ${formatPlan(minimal)}`);
    });
    expect(reports.join('\n\n')).toBe('');
    expect(r.seeds).toBe(SEEDS);
    // every operation got through at least once: a fuzzer whose calls all fail early tests nothing
    const never = Object.entries(r.outcomes).filter(([op, o]) => op !== 'exit' && op !== 'garbage' && o.ok === 0).map(([op]) => op);
    expect(never).toEqual([]);
    expect(r.calls).toBeGreaterThan(r.seeds * 40);
  }, 120_000);

  it('the same seed gives the same plan and the same run', async () => {
    const a = generatePlan(7);
    expect(generatePlan(7)).toEqual(a);
    expect(generatePlan(8)).not.toEqual(a);
    const [x, y] = [await runPlan(a), await runPlan(a)];
    expect(x).toEqual(y);
  });

  it('a failure shrinks to the steps that cause it', async () => {
    // a planted kernel bug: a dma-buf SYNC by a process that allocated from a heap "leaks"
    const planted = async (p: Plan) => {
      const r = await runPlan(p);
      const heapAt = p.steps.findIndex((s) => s.op === 'heap' && s.p === 1);
      if (heapAt >= 0 && p.steps.slice(heapAt).some((s) => s.op === 'sync' && s.p === 1)) r.failures.push('leak: dmabufs 1');
      return r;
    };
    const plan: Plan = {
      platform: 'linux-6.1-reference',
      procs: 3,
      steps: generatePlan(3).steps.slice(0, 12).map((s) => ({ ...s, op: s.op === 'heap' || s.op === 'sync' ? 'sleep' : s.op })),
    };
    plan.steps.splice(4, 0, { p: 1, op: 'heap', a: [0, 1, 0, 0] });
    plan.steps.splice(9, 0, { p: 1, op: 'sync', a: [1, 0, 0, 0] });
    expect((await planted(plan)).failures).toContain('leak: dmabufs 1');
    const min = await shrinkPlan(plan, 'leak: dmabufs 1', 100, planted);
    expect(min.steps.map((s) => `${s.p} ${s.op}`)).toEqual(['1 heap', '1 sync']);
    expect(min.procs).toBe(2);
    expect(formatPlan(min)).toContain('p1 heap(0, 1, 0, 0)');
  }, 60_000);
});
