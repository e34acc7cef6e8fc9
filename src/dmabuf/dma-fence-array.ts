import type { Clock } from '../hw/index.ts';
import { KernelBug } from '../lib/index.ts';
import { DmaFence, DmaFenceCb, type DmaFenceOps } from './dma-fence.ts';
import { setFenceParts } from './fence-wait-graph.ts';

const arrayOps: DmaFenceOps = {
  getDriverName: () => 'dma_fence_array',
  getTimelineName: () => 'unbound',
  enableSignaling: (f) => (f as DmaFenceArray).enableMembers(),
  signaled: (f) => (f as DmaFenceArray).membersSignaled(),
  release: (f) => (f as DmaFenceArray).putMembers(),
};

/**
 * A fence that stands for several others (struct dma_fence_array): it
 * signals when all of them have signalled, or when the first one has with
 * `signalOnAny`. Its error is the first error a member reported before the
 * array signalled. It owns one reference to each member and drops them when
 * it is released; while a member callback is queued, that callback holds a
 * reference to the array, so an array a waiter forgot is still signalled.
 */
export class DmaFenceArray extends DmaFence {
  /** The member fences, in the order given. */
  readonly fences: readonly DmaFence[];
  readonly signalOnAny: boolean;
  private numPending: number;
  private pendingError = 0;
  private readonly memberCbs: DmaFenceCb[];

  /**
   * Creates an array over `fences`, taking over the caller's reference to
   * each (dma_fence_array_create). Use dmaFenceArrayCreate.
   */
  constructor(clock: Clock, fences: readonly DmaFence[], context: number, seqno: number, signalOnAny: boolean) {
    super(clock, arrayOps, context, seqno);
    this.fences = fences;
    this.signalOnAny = signalOnAny;
    this.numPending = signalOnAny ? 1 : fences.length;
    const onMember = (member: DmaFence): void => this.memberSignaled(member);
    this.memberCbs = fences.map(() => new DmaFenceCb(onMember));
    // a wait on the array waits for its members: the wait-for graph follows them
    setFenceParts(this, fences);
  }

  /** Members still awaited once signalling is enabled (num_pending); <= 0 means done. */
  get pending(): number {
    return this.numPending;
  }

  /**
   * Queues a callback on every member, each holding a reference to the array
   * (dma_fence_array_enable_signaling). Members already signalled count at
   * once; returns false when that completes the array.
   * @internal called through the ops table only.
   */
  enableMembers(): boolean {
    for (let i = 0; i < this.fences.length; i++) {
      const member = this.fences[i]!;
      this.get();
      if (!member.addCallback(this.memberCbs[i]!)) {
        this.notePendingError(member.error);
        this.put();
        if (--this.numPending === 0) {
          this.commitError();
          return false;
        }
      }
    }
    return true;
  }

  /**
   * Reports completion without enabling signalling (dma_fence_array_signaled,
   * as fixed in the 6.1 stable series): before enabling it counts signalled
   * members itself, so a merged sync_file reports the right status even when
   * nobody waits on it. Errors of the members seen signalled propagate too.
   * @internal called through the ops table only.
   */
  membersSignaled(): boolean {
    if (this.signalingEnabled) {
      if (this.numPending > 0) return false;
      this.commitError();
      return true;
    }
    let n = this.numPending;
    for (const member of this.fences) {
      if (!member.isSignaled()) continue;
      this.notePendingError(member.error);
      if (--n === 0) {
        this.commitError();
        return true;
      }
    }
    return false;
  }

  /**
   * Drops the array's references to its members (dma_fence_array_release).
   * @internal called through the ops table only.
   */
  putMembers(): void {
    for (const member of this.fences) member.put();
  }

  /** A member signalled: record its error, signal when it was the last awaited (dma_fence_array_cb_func). */
  private memberSignaled(member: DmaFence): void {
    this.notePendingError(member.error);
    if (--this.numPending === 0) {
      this.commitError();
      this.signal();
    }
    this.put();
  }

  /** Keeps the first member error reported before the array signals. */
  private notePendingError(error: number): void {
    if (error < 0 && this.pendingError === 0 && !this.signaledFlag) this.pendingError = error;
  }

  /** Makes the first member error the array's own, just before it signals. */
  private commitError(): void {
    if (this.pendingError < 0 && !this.signaledFlag && this.error === 0) this.error = this.pendingError;
  }
}

/**
 * Creates a fence array over `fences`, taking over one reference to each
 * (dma_fence_array_create). An empty list, or a member that is itself a
 * container, is a KernelBug (the kernel WARNs: nesting would recurse).
 */
export function dmaFenceArrayCreate(
  clock: Clock,
  fences: readonly DmaFence[],
  context: number,
  seqno: number,
  signalOnAny: boolean,
): DmaFenceArray {
  if (fences.length === 0) throw new KernelBug('dma_fence_array_create with no fences');
  for (const f of fences) {
    if (f.released) throw new KernelBug(`dma_fence_array_create: member ${f.describeId()} already released`);
    if (dmaFenceIsContainer(f)) throw new KernelBug(`dma_fence_array_create: member ${f.describeId()} is a container`);
  }
  return new DmaFenceArray(clock, fences.slice(), context, seqno, signalOnAny);
}

/** Returns whether `fence` is a fence array (dma_fence_is_array). */
export function dmaFenceIsArray(fence: DmaFence): fence is DmaFenceArray {
  return fence instanceof DmaFenceArray;
}

/** Returns whether `fence` contains other fences (dma_fence_is_container); arrays are the only containers here. */
export function dmaFenceIsContainer(fence: DmaFence): boolean {
  return fence instanceof DmaFenceArray;
}

/** Returns the fence as an array, or null when it is not one (to_dma_fence_array). */
export function toDmaFenceArray(fence: DmaFence): DmaFenceArray | null {
  return fence instanceof DmaFenceArray ? fence : null;
}

/**
 * Returns whether the fence, or every member of an array, belongs to
 * `context` (dma_fence_match_context).
 */
export function dmaFenceMatchContext(fence: DmaFence, context: number): boolean {
  const array = toDmaFenceArray(fence);
  if (!array) return fence.context === context;
  return array.fences.every((f) => f.context === context);
}
