import { describe, expect, it } from 'vitest';
import { DmaFence, traceFences, type DmaFenceOps } from '../../src/dmabuf/index.ts';
import { Clock } from '../../src/hw/index.ts';
import { Tracer } from '../../src/lib/index.ts';

const ops: DmaFenceOps = { getDriverName: () => 'test-drv', getTimelineName: () => 'ring0' };

describe('fence signals in the trace', () => {
  it('records each signal once, at its simulated time, on the fences lane of its own clock only', async () => {
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
      }),
    );
    untraced.signal();
    const sig = tr.events.filter((e) => e.cat === 'fence');
    expect(sig.map((e) => [e.name, e.ph, e.ts])).toEqual([
      ['signal ring0 #1', 'i', 5],
      ['signal ring0 #2', 'i', 6],
    ]);
    expect(sig[1]!.args).toMatchObject({ driver: 'test-drv', seqno: 2, error: -5 });
    const lanes = tr.events.filter((e) => e.ph === 'M').map((e) => e.args!.name);
    expect(lanes).toEqual(['dma-fence', 'fences']);
    traceFences(clock, null);
    new DmaFence(clock, ops, 1, 3).signal();
    expect(tr.events.filter((e) => e.cat === 'fence')).toHaveLength(2);
  });
});
