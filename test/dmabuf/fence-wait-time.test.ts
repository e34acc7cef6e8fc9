import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/hw/index.ts';
import { FenceContextAllocator } from '../../src/dmabuf/dma-fence-context.ts';
import { SwSyncTimeline } from '../../src/dmabuf/fence-timeline.ts';

describe('a fence wait that ends early', () => {
  it('leaves no timeout behind to move simulated time', async () => {
    const clock = new Clock();
    const tl = new SwSyncTimeline(new FenceContextAllocator(clock), 'tl');
    const f = tl.createFence(1);
    const w = clock.spawn(() => f.waitTimeout(1_000_000_000));
    clock.after(100, () => tl.signal(1));
    await clock.run();
    expect(await w).toBe(1_000_000_000 - 100);
    expect(clock.now).toBe(100);
  });
});
