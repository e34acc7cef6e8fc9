import { DmaFence, type DmaFenceOps } from '../../src/dmabuf/dma-fence.ts';
import { FenceContextAllocator } from '../../src/dmabuf/dma-fence-context.ts';
import { Clock } from '../../src/hw/index.ts';

/**
 * Mock fences that record their releases, all on one clock and context
 * allocator: `fence(context, seqno)` makes one (a fresh context unless told).
 */
export function mockFences() {
  const clock = new Clock();
  const fctx = new FenceContextAllocator(clock);
  const released: DmaFence[] = [];
  const ops: DmaFenceOps = {
    getDriverName: () => 'mock',
    getTimelineName: () => 'mock',
    release: (f) => released.push(f),
  };
  const fence = (context = fctx.alloc(1), seqno = 1) => new DmaFence(clock, ops, context, seqno);
  return { clock, fctx, released, fence };
}
