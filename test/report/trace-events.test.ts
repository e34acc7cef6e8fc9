import { describe, expect, it } from 'vitest';
import { DmaFence, traceFences, type DmaFenceOps } from '../../src/dmabuf/index.ts';
import { Clock } from '../../src/hw/index.ts';
import { Tracer } from '../../src/lib/index.ts';

const ops: DmaFenceOps = { getDriverName: () => 'test-drv', getTimelineName: () => 'ring0' };

describe('fences in the trace', () => {
  it("records each fence as Linux's dma_fence tracepoints, at its simulated time, for its own clock only", async () => {
    const clock = new Clock();
    const other = new Clock();
    const tr = new Tracer(() => clock.now);
    traceFences(clock, tr);
    const a = new DmaFence(clock, ops, 1, 1);
    const b = new DmaFence(clock, ops, 1, 2);
    const untraced = new DmaFence(other, ops, 1, 1);
    await clock.runUntilSettled(
      clock.spawn(async () => {
        await clock.sleep(5000);
        a.signal();
        a.signal(); // already signalled: no second event
        await clock.sleep(1000);
        b.signal('EIO');
        a.put();
      }),
    );
    untraced.signal();
    const ev = tr.toJSON().traceEvents.filter((e) => e.cat === 'fence');
    expect(ev.map((e) => [e.name, e.ts, e.args!.seqno])).toEqual([
      ['dma_fence_init', 0, 1],
      ['dma_fence_init', 0, 2],
      ['dma_fence_signaled', 5, 1],
      ['dma_fence_signaled', 6, 2],
      ['dma_fence_destroy', 6, 1],
    ]);
    // the names join the init event too, once the fence is built
    expect(ev[0]!.args).toEqual({ context: 1, seqno: 1, driver: 'test-drv', timeline: 'ring0' });
    expect(ev[3]!.args).toMatchObject({ driver: 'test-drv', timeline: 'ring0', context: 1, seqno: 2, error: -5 });
    const lanes = tr.events.filter((e) => e.ph === 'M').map((e) => e.args!.name);
    expect(lanes).toEqual(['dma-fence', 'fences']);
    traceFences(clock, null);
    new DmaFence(clock, ops, 1, 3).signal();
    expect(tr.events.filter((e) => e.cat === 'fence')).toHaveLength(5);
  });

  it('joins a signal to the wait it ends by a flow arrow; a wait that times out is joined to nothing', async () => {
    const clock = new Clock();
    const tr = new Tracer(() => clock.now);
    traceFences(clock, tr);
    const f = new DmaFence(clock, ops, 4, 1);
    const g = new DmaFence(clock, ops, 4, 2);
    await clock.runUntilSettled(
      clock.spawn(async () => {
        await Promise.all([
          f.wait(),
          g.waitTimeout(2000),
          (async () => {
            await clock.sleep(3000);
            f.signal();
          })(),
        ]);
        await clock.sleep(1000);
        await f.wait(); // already signalled: traced, as Linux does, but not ended by the signal

      }),
    );
    const ev = tr.toJSON().traceEvents.filter((e) => e.cat === 'fence' && e.name !== 'dma_fence_init');
    const of = (name: string, seqno: number) => ev.find((e) => e.name === name && e.args!.seqno === seqno)!;
    expect(of('dma_fence_wait_start', 1).ts).toBe(0);
    const sig = of('dma_fence_signaled', 1);
    const end = of('dma_fence_wait_end', 1);
    expect([sig.ts, end.ts]).toEqual([3, 3]);
    expect(sig.flow_out).toBe(true);
    expect(end.flow_in).toBe(true);
    expect(end.bind_id).toBe(sig.bind_id);
    expect(end.args!.signaled).toBe(true);
    const timedOut = of('dma_fence_wait_end', 2);
    expect(timedOut.ts).toBe(2);
    expect(timedOut.args!.signaled).toBe(false);
    expect(timedOut.bind_id).toBeUndefined();
    const late = ev.filter((e) => e.name === 'dma_fence_wait_end' && e.args!.seqno === 1)[1]!;
    expect([late.ts, late.args!.signaled, late.bind_id]).toEqual([4, true, undefined]);
    // wait marks are on a lane of their own, zero-length slices a flow can bind to
    const names = new Map(tr.events.filter((e) => e.ph === 'M').map((e) => [e.tid, e.args!.name]));
    expect(names.get(end.tid)).toBe('waits');
    expect(end).toMatchObject({ ph: 'X', dur: 0 });
  });
});
