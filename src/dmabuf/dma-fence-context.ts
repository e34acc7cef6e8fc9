import type { Clock } from '../hw/index.ts';
import { KernelBug } from '../lib/index.ts';
import { DmaFence, type DmaFenceOps } from './dma-fence.ts';

/** Ops of the always-signalled stub fences: both names are "stub" (dma_fence_stub_ops). */
const stubOps: DmaFenceOps = {
  getDriverName: () => 'stub',
  getTimelineName: () => 'stub',
};

/**
 * The fence contexts of one simulated system (the kernel's global
 * dma_fence_context_counter and its static stub fence), kept per system so
 * that two systems in one process, or two runs with one seed, number their
 * timelines identically. Context 0 belongs to the stub fences; the first
 * allocation gets 1, as on a freshly booted kernel.
 */
export class FenceContextAllocator {
  readonly clock: Clock;
  private next = 1;
  private stub: DmaFence | null = null;

  /** Creates the allocator of a system whose fences run on `clock`. */
  constructor(clock: Clock) {
    this.clock = clock;
  }

  /**
   * Allocates `num` consecutive fence contexts and returns the first
   * (dma_fence_context_alloc). Asking for none is a KernelBug (the kernel WARNs).
   */
  alloc(num: number): number {
    if (!Number.isSafeInteger(num) || num <= 0) throw new KernelBug(`dma_fence_context_alloc(${num})`);
    const first = this.next;
    this.next += num;
    return first;
  }

  /** The next context `alloc` would return; for reports and tests. */
  get nextContext(): number {
    return this.next;
  }

  /**
   * Returns a new reference to the system's signalled stub fence
   * (dma_fence_get_stub): context 0, seqno 0, named "stub"/"stub". It is
   * created and signalled, with the time of that first call, on first use,
   * and is never released because the allocator keeps a reference.
   */
  getStub(): DmaFence {
    if (!this.stub) {
      const f = new DmaFence(this.clock, stubOps, 0, 0);
      f.enableSwSignaling();
      f.signal();
      this.stub = f;
    }
    return this.stub.get();
  }
}

/** Allocates `num` fence contexts on system `fctx` and returns the first (dma_fence_context_alloc). */
export function dmaFenceContextAlloc(fctx: FenceContextAllocator, num: number): number {
  return fctx.alloc(num);
}

/** Returns a reference to the system's shared signalled stub fence (dma_fence_get_stub). */
export function dmaFenceGetStub(fctx: FenceContextAllocator): DmaFence {
  return fctx.getStub();
}

/**
 * Creates a new signalled stub fence of its own, stamped now, holding one
 * reference (dma_fence_allocate_private_stub): for callers that need a
 * distinct timestamp rather than the shared stub.
 */
export function dmaFenceAllocatePrivateStub(fctx: FenceContextAllocator): DmaFence {
  const f = new DmaFence(fctx.clock, stubOps, 0, 0);
  f.enableSwSignaling();
  f.signal();
  return f;
}
