import type { Clock } from '../hw/index.ts';

/** Entries a flush queue holds before it must flush (IOVA_FQ_SIZE). */
export const IOVA_FQ_SIZE = 256;
/** Longest an unmapped translation may stay in the TLB, in ns (IOVA_FQ_TIMEOUT, 10 ms). */
export const IOVA_FQ_TIMEOUT_NS = 10_000_000;

/**
 * Deferred TLB invalidation for a lazy domain (the iova flush queue of
 * iommu-dma). Unmaps push what they left behind; one whole-TLB invalidation
 * later retires them all, when the queue is full, when the timer fires, or
 * when someone asks. Until then the old translations stay usable by the
 * devices: that is the window lazy mode trades for speed. What must wait for
 * the invalidation (freeing page-table pages, handing IOVAs back) waits
 * here.
 */
export class FlushQueue {
  readonly size: number;
  readonly timeoutNs: number;
  private readonly pending: (() => void)[] = [];
  private entries = 0;
  private readonly clock: Clock | null;
  private timerArmed = false;
  private readonly doFlush: () => void;
  /** Flushes performed. */
  flushes = 0;

  /** `doFlush` invalidates the TLBs of the domain's contexts and syncs. */
  constructor(doFlush: () => void, clock: Clock | null, size = IOVA_FQ_SIZE, timeoutNs = IOVA_FQ_TIMEOUT_NS) {
    this.doFlush = doFlush;
    this.clock = clock;
    this.size = size;
    this.timeoutNs = timeoutNs;
  }

  /** Unmaps waiting for their invalidation. */
  get queued(): number {
    return this.entries;
  }

  /** Queues one unmap and what must happen after its invalidation (queue_iova); may flush. */
  push(after: (() => void) | null): void {
    if (this.entries >= this.size) this.flush();
    this.entries++;
    if (after) this.pending.push(after);
    if (this.clock && !this.timerArmed) {
      this.timerArmed = true;
      this.clock.after(this.timeoutNs, () => {
        this.timerArmed = false;
        if (this.entries > 0) this.flush();
      });
    }
  }

  /** Runs `fn` after the next flush, or now when nothing is queued. */
  defer(fn: () => void): void {
    if (this.entries === 0) fn();
    else this.pending.push(fn);
  }

  /** Invalidates, then runs everything that was waiting (fq_flush_iotlb + fq_ring_free). */
  flush(): void {
    if (this.entries === 0 && this.pending.length === 0) return;
    this.doFlush();
    this.flushes++;
    this.entries = 0;
    const todo = this.pending.splice(0);
    for (const fn of todo) fn();
  }
}
