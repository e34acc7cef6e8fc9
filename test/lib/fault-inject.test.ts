import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/hw/index.ts';
import { FaultInjection, KernelError, applyFaultSettings, getFaultKnob, parseFaultSetting, setFaultKnob, shouldFail } from '../../src/lib/index.ts';

function faults(seed = 1): FaultInjection {
  const prng = new Prng(seed);
  return new FaultInjection(() => prng.next());
}

/** The calls (1-based) of `n` that fail. */
function failing(attr: Parameters<typeof shouldFail>[0], n: number, size = 1): number[] {
  const out: number[] = [];
  for (let i = 1; i <= n; i++) if (shouldFail(attr, size, 'test')) out.push(i);
  return out;
}

describe('fault_attr and should_fail', () => {
  it('fails nothing until configured, and a null point never fails', () => {
    const f = faults();
    expect(failing(f.attr('fail_page_alloc'), 100)).toEqual([]);
    expect(failing(null, 10)).toEqual([]);
    expect(f.attr('fail_page_alloc').times).toBe(1);
    expect(f.attr('fail_page_alloc').verbose).toBe(2);
    expect(getFaultKnob(f.attr('fail_page_alloc'), 'min-order')).toBe(1);
  });

  it('probability 100 with times 3 fails three calls, then none', () => {
    const a = faults().attr('failslab');
    a.probability = 100;
    a.times = 3;
    expect(failing(a, 10)).toEqual([1, 2, 3]);
    expect(a.times).toBe(0);
    expect(a.injected).toBe(3);
  });

  it('interval fails only every interval-th call; times -1 never runs out', () => {
    const a = faults().attr('fail_dma_map');
    a.probability = 100;
    a.interval = 4;
    a.times = -1;
    expect(failing(a, 12)).toEqual([4, 8, 12]);
    expect(a.times).toBe(-1);
  });

  it('space lets that many bytes through before anything fails', () => {
    const a = faults().attr('fail_iova_alloc');
    a.probability = 100;
    a.times = -1;
    a.space = 10_000;
    expect(failing(a, 4, 4096)).toEqual([3, 4]);
    expect(a.space).toBe(10_000 - 2 * 4096);
  });

  it('a probability fails about that share of calls, the same ones for the same seed', () => {
    const run = (seed: number) => {
      const a = faults(seed).attr('fail_cma_alloc');
      a.probability = 25;
      a.times = -1;
      return failing(a, 2000);
    };
    const a = run(7);
    expect(a.length).toBeGreaterThan(400);
    expect(a.length).toBeLessThan(600);
    expect(run(7)).toEqual(a);
    expect(run(8)).not.toEqual(a);
  });

  it('reports each failure when verbose, nothing when verbose is 0', () => {
    const f = faults();
    const seen: string[] = [];
    f.report = (attr, call) => seen.push(`${attr.name} ${call}`);
    const a = f.attr('fail_gen_pool_alloc');
    a.probability = 100;
    a.times = 2;
    shouldFail(a, 1, 'gen_pool_alloc(bounce)');
    a.verbose = 0;
    shouldFail(a, 1, 'gen_pool_alloc(bounce)');
    expect(seen).toEqual(['fail_gen_pool_alloc gen_pool_alloc(bounce)']);
  });

  it('knobs refuse values out of range with EINVAL', () => {
    const a = faults().attr('fail_page_alloc');
    for (const [k, v] of [['probability', 101], ['probability', -1], ['interval', 0], ['times', -2], ['space', -1], ['verbose', 3], ['min-order', 11], ['nope', 1], ['probability', 1.5]] as const) {
      expect(() => setFaultKnob(a, k, v), `${k}=${v}`).toThrow(KernelError);
    }
    expect(() => setFaultKnob(faults().attr('failslab'), 'min-order', 0)).toThrow(/no knob min-order/);
  });

  it('parses --fail values with or without the fail_ prefix', () => {
    expect(parseFaultSetting('page_alloc:probability=10,interval=1,times=100,space=0,verbose=1')).toEqual({
      name: 'fail_page_alloc',
      knobs: { probability: 10, interval: 1, times: 100, space: 0, verbose: 1 },
    });
    expect(parseFaultSetting('slab:times=-1')).toEqual({ name: 'failslab', knobs: { times: -1 } });
    expect(parseFaultSetting('fail_dma_map')).toEqual({ name: 'fail_dma_map', knobs: {} });
    expect(() => parseFaultSetting('swap:probability=1')).toThrow(/no fault point/);
    expect(() => parseFaultSetting('slab:probability')).toThrow(/not knob=value/);
    expect(() => parseFaultSetting('slab:probability=ten')).toThrow(/not an integer/);
    const f = faults();
    applyFaultSettings(f, [parseFaultSetting('page_alloc:probability=10,min-order=0')]);
    expect(f.attr('fail_page_alloc').probability).toBe(10);
    expect(getFaultKnob(f.attr('fail_page_alloc'), 'min-order')).toBe(0);
  });
});
