import { dmaFenceArrayCreate, toDmaFenceArray } from './dma-fence-array.ts';
import type { FenceContextAllocator } from './dma-fence-context.ts';
import type { DmaFence } from './dma-fence.ts';

/**
 * Yields the individual fences inside `fence` (dma_fence_unwrap_for_each):
 * the members of an array, or the fence itself. Takes no references; the
 * caller's reference to `fence` keeps the members alive.
 */
export function* dmaFenceUnwrap(fence: DmaFence): Generator<DmaFence, void, undefined> {
  const array = toDmaFenceArray(fence);
  if (!array) {
    yield fence;
    return;
  }
  for (const member of array.fences) yield member;
}

/**
 * Merges fences into one that signals when all of them have
 * (dma_fence_unwrap_merge, what sync_file merge uses). Containers are
 * flattened, signalled fences dropped, and of several fences on one context
 * only the latest kept; the result is ordered by context. Returns a new
 * reference: the stub fence when nothing is pending, the one remaining fence
 * itself, or an array on a freshly allocated context with seqno 1. The
 * inputs' references stay with the caller.
 */
export function dmaFenceUnwrapMerge(fctx: FenceContextAllocator, fences: readonly DmaFence[]): DmaFence {
  const latest = new Map<number, DmaFence>();
  for (const f of fences) {
    for (const leaf of dmaFenceUnwrap(f)) {
      if (leaf.isSignaled()) continue;
      const prev = latest.get(leaf.context);
      if (!prev || leaf.isLater(prev)) latest.set(leaf.context, leaf);
    }
  }
  if (latest.size === 0) return fctx.getStub();
  const picked = [...latest.values()].sort((a, b) => a.context - b.context);
  if (picked.length === 1) return picked[0]!.get();
  return dmaFenceArrayCreate(
    fctx.clock,
    picked.map((f) => f.get()),
    fctx.alloc(1),
    1,
    false,
  );
}
