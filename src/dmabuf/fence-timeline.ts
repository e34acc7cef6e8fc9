import type { Clock } from '../hw/index.ts';
import { KernelBug } from '../lib/index.ts';
import type { FenceContextAllocator } from './dma-fence-context.ts';
import { DmaFence, seqnoIsLater, type DmaFenceOps } from './dma-fence.ts';
import { reportUnsignalledAtTeardown, setFenceSignaller, type FenceSignaller } from './fence-wait-graph.ts';

/** A fence on a software timeline (struct sync_pt). */
export class SyncPt extends DmaFence {
  readonly timeline: SwSyncTimeline;

  /** Creates a point at `seqno` on `timeline`; use SwSyncTimeline.createFence. */
  constructor(timeline: SwSyncTimeline, seqno: number) {
    super(timeline.clock, timelineOps, timeline.context, seqno);
    this.timeline = timeline;
  }
}

const timelineOps: DmaFenceOps = {
  getDriverName: (f) => (f as SyncPt).timeline.driverName,
  getTimelineName: (f) => (f as SyncPt).timeline.name,
  enableSignaling: () => true,
  // A point has signalled once the timeline value reached its seqno; 32-bit
  // wrapping comparison as sw_sync's timeline_fence_signaled does.
  signaled: (f) => !seqnoIsLater(f.seqno, (f as SyncPt).timeline.value, false),
  release: (f) => (f as SyncPt).timeline.forget(f as SyncPt),
};

/**
 * A software timeline (sw_sync's struct sync_timeline; also what the
 * kernel's selftests use as mock fences and what simple drivers use for
 * their hardware seqno): one fence context, a 32-bit value that only moves
 * forward, and fences that signal when the value reaches their seqno.
 * Signalling never sleeps, so a device's completion interrupt may call it.
 */
export class SwSyncTimeline {
  readonly clock: Clock;
  readonly context: number;
  readonly name: string;
  readonly driverName: string;
  /** The last seqno reached; starts at 0. */
  value = 0;
  /** Pending points in ascending seqno order (the kernel's pt_tree and pt_list). */
  private readonly pts: SyncPt[] = [];
  private dead = false;
  /**
   * Who advances it, recorded as the signaller of its fences for the
   * wait-for graph: for sw_sync, whoever holds the fd (the opener, and
   * those it passed the fd to); null when none is known.
   */
  signaller: FenceSignaller | null = null;

  /**
   * Creates a timeline with its own fence context (sync_timeline_create).
   * `driverName` is what its fences report as their driver ("sw_sync").
   */
  constructor(fctx: FenceContextAllocator, name: string, driverName = 'sw_sync') {
    this.clock = fctx.clock;
    this.context = fctx.alloc(1);
    this.name = name;
    this.driverName = driverName;
  }

  /** The seqnos of the points not yet signalled, in the order they will signal (the timeline's pt_list). */
  pendingSeqnos(): number[] {
    return this.pts.map((pt) => pt.seqno);
  }

  /** Number of points created and not yet signalled. */
  get pendingPoints(): number {
    return this.pts.length;
  }

  /**
   * Returns a new reference to the fence for `seqno` (sync_pt_create): the
   * pending point already there for that seqno, or a new one, created
   * signalled when the timeline has already passed it.
   */
  createFence(seqno: number): DmaFence {
    if (this.dead) throw new KernelBug(`sync_pt_create on destroyed timeline ${this.name}`);
    if (!Number.isInteger(seqno) || seqno < 0 || seqno > 0xffff_ffff) {
      throw new KernelBug(`sync_pt_create: seqno ${seqno} is not a u32`);
    }
    const pt = new SyncPt(this, seqno);
    if (pt.isSignaled()) return pt;
    let lo = 0;
    let hi = this.pts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const other = this.pts[mid]!;
      if (other.seqno === seqno) return other.get();
      if (seqnoIsLater(seqno, other.seqno, false)) lo = mid + 1;
      else hi = mid;
    }
    this.pts.splice(lo, 0, pt);
    if (this.signaller) setFenceSignaller(pt, this.signaller);
    return pt;
  }

  /**
   * Advances the timeline by `inc` and signals every point it reached, in
   * seqno order (sync_timeline_signal, SW_SYNC_IOC_INC). The value wraps at 2^32.
   */
  signal(inc: number): void {
    if (!Number.isInteger(inc) || inc < 0 || inc > 0xffff_ffff) throw new KernelBug(`sync_timeline_signal: bad increment ${inc}`);
    this.value = (this.value + inc) >>> 0;
    let n = 0;
    while (n < this.pts.length && !seqnoIsLater(this.pts[n]!.seqno, this.value, false)) n++;
    const reached = this.pts.splice(0, n);
    for (const pt of reached) pt.signal();
  }

  /** Advances the timeline to `seqno` and signals every point up to it; never moves it back. */
  signalTo(seqno: number): void {
    if (seqnoIsLater(seqno >>> 0, this.value, false)) this.signal(((seqno >>> 0) - this.value) >>> 0);
  }

  /**
   * Tears the timeline down as closing the sw_sync file does
   * (sw_sync_debugfs_release): every pending point signals with -ENOENT so
   * no waiter hangs on a timeline that can no longer advance.
   */
  destroy(): void {
    this.dead = true;
    reportUnsignalledAtTeardown(this.clock, 'sw_sync_debugfs_release', `${this.driverName} timeline ${this.name} (context ${this.context}) torn down`, this.pts, 'each signals now with ENOENT, so its waiters wake to an error instead of the work');
    const left = this.pts.splice(0, this.pts.length);
    for (const pt of left) {
      pt.setError('ENOENT');
      pt.signal();
    }
  }

  /** Forgets a point on its release. @internal called through the ops table only. */
  forget(pt: SyncPt): void {
    const i = this.pts.indexOf(pt);
    if (i >= 0) this.pts.splice(i, 1);
  }
}
