import { WaitQueueEntry, type Interruptible } from '../fs/index.ts';
import type { Clock, Timer } from '../hw/index.ts';
import { ERRNO, KernelBug, erestartsys, errnoName, kerr, type CostLedger, type Errno, type Tracer, wakeablePromise } from '../lib/index.ts';
import { fenceWaitBegin, fenceWaitEnd, reportUnsignalledAtTeardown } from './fence-wait-graph.ts';

/**
 * The wait that never times out (MAX_SCHEDULE_TIMEOUT). A wait given it
 * returns it again when the fence signals, as schedule_timeout() does.
 */
export const MAX_SCHEDULE_TIMEOUT = Infinity;

/**
 * The tracer of each clock whose fences are traced (the dma_fence_signaled
 * tracepoint). Keyed by clock so that two systems in one process trace
 * apart, and a fence needs no new constructor argument.
 */
const fenceTracers = new WeakMap<Clock, Tracer>();

/**
 * Fences initialised and not yet released, per clock (one clock per
 * simulated system), so a soak can tell a fence leak from a busy pipeline.
 */
const liveFences = new WeakMap<Clock, number>();

/**
 * Counts the fences of the system on `clock` that are initialised and not
 * yet released (no kernel counterpart: what kmemleak would list among the
 * dma_fence objects). The stub fence, never released, counts once.
 */
export function liveFenceCount(clock: Clock): number {
  return liveFences.get(clock) ?? 0;
}

/**
 * Records the life of every fence on `clock` as Linux's dma_fence
 * tracepoints (dma_fence_init, dma_fence_enable_signal,
 * dma_fence_signaled, dma_fence_destroy on the 'fences' lane;
 * dma_fence_wait_start and dma_fence_wait_end on 'waits', with a flow arrow
 * from a signal to each wait it ends); null stops it.
 */
export function traceFences(clock: Clock, tracer: Tracer | null): void {
  if (tracer) fenceTracers.set(clock, tracer);
  else fenceTracers.delete(clock);
}

/**
 * What the trace holds of a traced fence: the args its events share (the
 * names join them at the first event after init, as a subclass sets its
 * timeline only after dma_fence_init), how many waits sleep on it, and the
 * flow arrow its signal starts toward them.
 */
interface FenceTrace {
  tracer: Tracer;
  args: Record<string, unknown>;
  sleepers: number;
  flow: string | null;
}

const fenceTraces = new WeakMap<DmaFence, FenceTrace>();

/** The trace state of `f`, or null when its clock is not traced. */
function fenceTrace(f: DmaFence): FenceTrace | null {
  const tracer = fenceTracers.get(f.clock);
  if (!tracer) return null;
  let st = fenceTraces.get(f);
  if (!st || st.tracer !== tracer) {
    st = { tracer, args: { context: f.context, seqno: f.seqno }, sleepers: 0, flow: null };
    fenceTraces.set(f, st);
  }
  return st;
}

/** Records the dma_fence tracepoint `name` of `f` on the dma-fence group's `thread` lane. */
function fenceEvent(st: FenceTrace, f: DmaFence, thread: 'fences' | 'waits', name: string, extra?: Record<string, unknown>, flow?: { id: string; out: boolean }): void {
  if (name !== 'dma_fence_init' && st.args.driver === undefined) {
    st.args.driver = f.getDriverName();
    st.args.timeline = f.getTimelineName();
  }
  const tr = st.tracer;
  tr.mark(tr.lane('dma-fence', thread), name, 'fence', extra ? { ...st.args, ...extra } : st.args, flow);
}

/**
 * Marks `name` (a finding of the fence wait-for graph: a deadlock, a
 * timeout) on the dma-fence group's 'waits' lane of the trace of `clock`'s
 * system, when it is traced, so the moment shows beside the waits.
 */
export function markFenceTrace(clock: Clock, name: string, args: Record<string, unknown>): void {
  const tr = fenceTracers.get(clock);
  if (tr) tr.mark(tr.lane('dma-fence', 'waits'), name, 'fence', args);
}

/** Where the fences of each clock's system charge their CPU work and waits, and what a signal costs. */
const fenceCosts = new WeakMap<Clock, { ledger: CostLedger; signalNs: number }>();

/**
 * Charges every fence signal on `clock` `signalNs` of CPU time (the
 * spinlock and the callback walk of dma_fence_signal) and records every
 * wait's blocked time, on `ledger`.
 */
export function chargeFences(clock: Clock, ledger: CostLedger, signalNs: number): void {
  fenceCosts.set(clock, { ledger, signalNs });
}

/** Largest errno a fence error may carry (MAX_ERRNO). */
const MAX_ERRNO = 4095;

/**
 * What a fence implementation provides (struct dma_fence_ops). Only the two
 * names are required; a fence without `enableSignaling` is signalled by its
 * owner without being asked, one without `signaled` is only signalled by an
 * explicit `signal()`.
 */
export interface DmaFenceOps {
  /** Name of the driver that created the fence (get_driver_name). */
  getDriverName(fence: DmaFence): string;
  /** Name of the timeline the fence belongs to (get_timeline_name). */
  getTimelineName(fence: DmaFence): string;
  /**
   * Asks the driver to signal the fence when it completes (enable_signaling).
   * Called at most once, on the first wait or callback. Returning false means
   * the fence is already complete: the core signals it at once.
   */
  enableSignaling?(fence: DmaFence): boolean;
  /** Polls the hardware for completion (signaled); true makes the core signal the fence. */
  signaled?(fence: DmaFence): boolean;
  /** Frees the fence on its last put (release); the core's default does nothing more. */
  release?(fence: DmaFence): void;
  /** Seqnos compare as 64-bit numbers instead of wrapping 32-bit ones (use_64bit_seqno). */
  use64bitSeqno?: boolean;
}

/** Function run once when a fence signals (dma_fence_func_t). Must not sleep. */
export type DmaFenceFunc = (fence: DmaFence, cb: DmaFenceCb) => void;

/**
 * A callback slot (struct dma_fence_cb). One slot may be queued on one fence
 * at a time; it is free again once it ran or was removed.
 */
export class DmaFenceCb {
  /** The function run when the fence signals. */
  func: DmaFenceFunc;
  /** The fence it is queued on, null when free (the kernel's list_empty(&cb->node)). */
  queuedOn: DmaFence | null = null;

  /** Makes a free callback slot that runs `func`. */
  constructor(func: DmaFenceFunc) {
    this.func = func;
  }
}

/** Normalises a fence error to the kernel's negative errno, or throws KernelBug for a bad one. */
export function fenceErrno(error: number | Errno): number {
  const n = typeof error === 'number' ? error : -ERRNO[error];
  if (!Number.isInteger(n) || n >= 0 || n < -MAX_ERRNO) {
    throw new KernelBug(`fence error must be a negative errno in [-${MAX_ERRNO}, -1], got ${String(error)}`);
  }
  return n;
}

/**
 * A point in time at which an operation completes (struct dma_fence): it
 * starts pending and signals exactly once, optionally with an error. Any
 * number of holders share it by reference count; waiters and callbacks are
 * woken when it signals. Signalling and callbacks never sleep (they may run
 * from an interrupt handler); waiting does, in simulated time on the Clock.
 */
export class DmaFence {
  readonly ops: DmaFenceOps;
  readonly clock: Clock;
  /** Timeline the fence belongs to; seqnos only compare within one context. */
  readonly context: number;
  /** Position on the timeline. */
  readonly seqno: number;
  /** 0, or the negative errno the operation failed with (fence->error). */
  error = 0;
  /** Simulated time of the signal in ns; meaningful once signalled (fence->timestamp). */
  timestamp = 0;
  private signaledBit = false;
  private enableBit = false;
  private refs = 1;
  private cbs: DmaFenceCb[] = [];

  /**
   * Initialises a pending fence holding one reference (dma_fence_init).
   * `clock` stamps the signal time and runs timed waits.
   */
  constructor(clock: Clock, ops: DmaFenceOps, context: number, seqno: number) {
    if (!Number.isSafeInteger(context) || context < 0) throw new KernelBug(`bad fence context ${context}`);
    if (!Number.isSafeInteger(seqno) || seqno < 0) throw new KernelBug(`bad fence seqno ${seqno}`);
    this.clock = clock;
    this.ops = ops;
    this.context = context;
    this.seqno = seqno;
    liveFences.set(clock, (liveFences.get(clock) ?? 0) + 1);
    const st = fenceTrace(this);
    if (st) fenceEvent(st, this, 'fences', 'dma_fence_init');
  }

  /** Current reference count (kref_read). */
  get refcount(): number {
    return this.refs;
  }

  /** True once the last reference was dropped and the fence released. */
  get released(): boolean {
    return this.refs === 0;
  }

  /** True once signalling was enabled (DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT). */
  get signalingEnabled(): boolean {
    return this.enableBit;
  }

  /** The error's symbolic name (EIO, ...) or undefined when there is none. */
  get errorName(): Errno | undefined {
    return this.error < 0 ? errnoName(-this.error) : undefined;
  }

  /** Name of the driver that created the fence (ops->get_driver_name). */
  getDriverName(): string {
    return this.ops.getDriverName(this);
  }

  /** Name of the fence's timeline (ops->get_timeline_name). */
  getTimelineName(): string {
    return this.ops.getTimelineName(this);
  }

  /** Takes a reference and returns the fence (dma_fence_get). KernelBug after release. */
  get(): this {
    if (this.refs <= 0) throw new KernelBug(`dma_fence_get on released fence ${this.describeId()} (use after free)`);
    this.refs++;
    return this;
  }

  /**
   * Drops a reference (dma_fence_put); the last one releases the fence
   * (dma_fence_release). A fence released with callbacks still queued and
   * unsignalled is signalled with -EDEADLK first, so no waiter hangs on it.
   */
  put(): void {
    if (this.refs <= 0) throw new KernelBug(`dma_fence_put on released fence ${this.describeId()} (refcount underflow)`);
    if (--this.refs > 0) return;
    liveFences.set(this.clock, (liveFences.get(this.clock) ?? 1) - 1);
    if (!this.signaledBit && this.cbs.length > 0) {
      // Linux WARNs "released with pending signals!": whoever waits would have hung
      reportUnsignalledAtTeardown(this.clock, 'dma_fence_release', `fence ${this.describeId()} released`, [this], 'signalled with EDEADLK');
      this.error = -ERRNO.EDEADLK;
      this.signalNow();
    }
    const st = fenceTrace(this);
    if (st) fenceEvent(st, this, 'fences', 'dma_fence_destroy');
    this.ops.release?.(this);
  }

  /**
   * Records the error the operation failed with (dma_fence_set_error). Only
   * before the signal, and only a negative errno (or its name); anything else
   * is a KernelBug and changes nothing.
   */
  setError(error: number | Errno): void {
    const n = fenceErrno(error);
    if (this.signaledBit) throw new KernelBug(`dma_fence_set_error on signalled fence ${this.describeId()}`);
    this.error = n;
  }

  /**
   * Signals the fence (dma_fence_signal), after setting `error` when given:
   * stamps clock.now and runs the queued callbacks once, in the order they were
   * added. Returns false, changing nothing, when the fence was already
   * signalled (the kernel's -EINVAL).
   */
  signal(error?: number | Errno): boolean {
    if (this.signaledBit) return false;
    if (error !== undefined) this.error = fenceErrno(error);
    this.signalNow();
    return true;
  }

  /**
   * Returns whether the fence has signalled (dma_fence_is_signaled), asking
   * the driver's `signaled` op and signalling the fence if it says so.
   */
  isSignaled(): boolean {
    if (this.signaledBit) return true;
    if (this.ops.signaled && this.ops.signaled(this)) {
      this.signal();
      return true;
    }
    return false;
  }

  /** Returns whether the signalled bit is set, without polling the driver (test_bit SIGNALED). */
  get signaledFlag(): boolean {
    return this.signaledBit;
  }

  /**
   * Returns the fence's status (dma_fence_get_status): 0 while pending, 1 when
   * signalled without error, the negative errno when signalled with one.
   */
  getStatus(): number {
    if (!this.isSignaled()) return 0;
    return this.error < 0 ? this.error : 1;
  }

  /**
   * Asks the driver to signal the fence (dma_fence_enable_sw_signaling).
   * Runs ops.enableSignaling at most once; if it reports completion the
   * fence is signalled now.
   */
  enableSwSignaling(): void {
    this.enableSignalingLocked();
  }

  /**
   * Queues `cb` to run when the fence signals (dma_fence_add_callback) and
   * enables signalling. Returns false without queuing, and without running
   * it, when the fence has already signalled (the kernel's -ENOENT).
   * Queuing a slot that is already queued is a KernelBug.
   */
  addCallback(cb: DmaFenceCb): boolean {
    if (cb.queuedOn) throw new KernelBug(`dma_fence_add_callback: callback already queued on ${cb.queuedOn.describeId()}`);
    if (this.signaledBit) return false;
    if (!this.enableSignalingLocked()) return false;
    cb.queuedOn = this;
    this.cbs.push(cb);
    return true;
  }

  /**
   * Removes a queued callback (dma_fence_remove_callback). Returns true when
   * it was still queued here, false when it already ran or was never added.
   */
  removeCallback(cb: DmaFenceCb): boolean {
    if (cb.queuedOn !== this) return false;
    const i = this.cbs.indexOf(cb);
    this.cbs.splice(i, 1);
    cb.queuedOn = null;
    return true;
  }

  /** Number of callbacks queued and not yet run. */
  get pendingCallbacks(): number {
    return this.cbs.length;
  }

  /**
   * Sleeps until the fence signals or `timeoutNs` of simulated time pass
   * (dma_fence_wait_timeout). Returns the time left (at least 1) when the
   * fence signalled, 0 on timeout. A 0 timeout only tests: 1 if signalled,
   * else 0, without sleeping. MAX_SCHEDULE_TIMEOUT waits forever and returns
   * itself. A negative or NaN timeout is EINVAL. Given a `task`, the sleep
   * is interruptible: a signal pending or arriving before the fence ends it
   * with EINTR (the kernel's -ERESTARTSYS, which the syscall layer turns
   * into EINTR).
   */
  async waitTimeout(timeoutNs: number, task?: Interruptible): Promise<number> {
    if (!(timeoutNs >= 0)) throw kerr('EINVAL', `dma_fence_wait_timeout: bad timeout ${timeoutNs}`);
    const st = fenceTrace(this);
    if (!st) return this.sleep(timeoutNs, task);
    // as Linux, every wait is traced, one on a fence already signalled too; only a wait the signal ends is joined to it
    const pending = !this.signaledBit;
    st.sleepers++;
    fenceEvent(st, this, 'waits', 'dma_fence_wait_start');
    try {
      return await this.sleep(timeoutNs, task);
    } finally {
      st.sleepers--;
      const flow = pending && this.signaledBit && st.flow ? { id: st.flow, out: false } : undefined;
      fenceEvent(st, this, 'waits', 'dma_fence_wait_end', { signaled: this.signaledBit }, flow);
    }
  }

  /** The body of dma_fence_wait_timeout: enable signalling, then sleep unless signalled. */
  private async sleep(timeoutNs: number, task: Interruptible | undefined): Promise<number> {
    this.enableSignalingLocked();
    if (this.signaledBit) return timeoutNs === 0 ? 1 : timeoutNs;
    if (task?.signalPending()) throw erestartsys('dma_fence_wait_timeout: signal pending');
    if (timeoutNs === 0) return 0;
    const t0 = this.clock.now;
    const edge = fenceWaitBegin([this], 'dma_fence_wait_timeout');
    try {
      const r = await waitOnFences(this.clock, [this], false, timeoutNs, task);
      return r.remaining;
    } finally {
      fenceWaitEnd(this.clock, edge);
      fenceCosts.get(this.clock)?.ledger.note('fence-wait', this.clock.now - t0, 0);
    }
  }

  /**
   * Sleeps until the fence signals (dma_fence_wait); interruptible with
   * EINTR when given a `task`.
   */
  async wait(task?: Interruptible): Promise<void> {
    await this.waitTimeout(MAX_SCHEDULE_TIMEOUT, task);
  }

  /**
   * Returns whether this fence comes after `other` on their shared timeline
   * (dma_fence_is_later). Seqnos wrap at 32 bits unless the ops say 64.
   * Comparing fences of different contexts is a KernelBug (the kernel WARNs).
   */
  isLater(other: DmaFence): boolean {
    if (this.context !== other.context) {
      throw new KernelBug(`dma_fence_is_later across contexts ${this.context} and ${other.context}`);
    }
    return seqnoIsLater(this.seqno, other.seqno, this.ops.use64bitSeqno === true);
  }

  /** Returns whether this fence is `other` or comes after it (dma_fence_is_later_or_same). */
  isLaterOrSame(other: DmaFence): boolean {
    return this === other || this.isLater(other);
  }

  /** One line describing the fence as debugfs shows it (dma_fence_describe). */
  describe(): string {
    return `${this.getDriverName()} ${this.getTimelineName()} seq ${this.seqno} ${this.isSignaled() ? '' : 'un'}signalled\n`;
  }

  /** `driver:timeline:context:seqno`, as the kernel's warnings name a fence. */
  describeId(): string {
    return `${this.getDriverName()}:${this.getTimelineName()}:${this.context.toString(16)}:${this.seqno.toString(16)}`;
  }

  /**
   * Sets the enable bit and calls the driver's enable_signaling the first
   * time (__dma_fence_enable_signaling). Returns false when the fence is (or
   * thereby became) signalled, so no callback should be queued.
   */
  private enableSignalingLocked(): boolean {
    const wasSet = this.enableBit;
    this.enableBit = true;
    if (this.signaledBit) return false;
    if (wasSet || !this.ops.enableSignaling) return true;
    const st = fenceTrace(this);
    if (st) fenceEvent(st, this, 'fences', 'dma_fence_enable_signal');
    if (!this.ops.enableSignaling(this)) {
      this.signal();
      return false;
    }
    return true;
  }

  /**
   * Sets the signalled bit and timestamp, then runs the detached callback list
   * (dma_fence_signal_timestamp_locked). Every callback runs even if one
   * throws; the first error is rethrown afterwards, with the fence already
   * consistently signalled.
   */
  private signalNow(): void {
    this.signaledBit = true;
    this.timestamp = this.clock.now;
    const costs = fenceCosts.get(this.clock);
    if (costs) costs.ledger.charge('fence-signal', costs.signalNs, 0, 'dma_fence_signal');
    const st = fenceTrace(this);
    if (st) {
      if (st.sleepers > 0) st.flow = st.tracer.flowId();
      fenceEvent(st, this, 'fences', 'dma_fence_signaled', { error: this.error }, st.flow ? { id: st.flow, out: true } : undefined);
    }
    const list = this.cbs;
    if (list.length === 0) return;
    this.cbs = [];
    let failure: unknown = undefined;
    let failed = false;
    for (const cb of list) {
      cb.queuedOn = null;
      try {
        cb.func(this, cb);
        // eslint-disable-next-line no-restricted-syntax -- every callback runs; the first error, whatever it is, is rethrown after the loop
      } catch (e) {
        if (!failed) {
          failed = true;
          failure = e;
        }
      }
    }
    if (failed) throw failure;
  }
}

/** Compares two seqnos of one timeline (__dma_fence_is_later). */
export function seqnoIsLater(a: number, b: number, use64bit: boolean): boolean {
  if (use64bit) return a > b;
  // The 32-bit form compares the low halves as a signed difference, so
  // a timeline may wrap around 2^32 and still order correctly.
  return ((a - b) | 0) > 0;
}

/** Outcome of waiting on several fences. */
export interface FenceWaitResult {
  /** Time left when the wait ended (at least 1 when satisfied), 0 on timeout. */
  remaining: number;
  /** Index of the first signalled fence, or -1 on timeout. */
  first: number;
}

/**
 * Sleeps until any of `fences` signals, or `timeoutNs` pass
 * (dma_fence_wait_any_timeout). Returns the time left and the index of the
 * lowest-numbered signalled fence; on timeout remaining is 0 and first -1.
 * A 0 timeout only tests. An empty list or a bad timeout is EINVAL; with a
 * `task` the sleep ends with EINTR when the task gets a signal.
 */
export async function dmaFenceWaitAnyTimeout(
  fences: readonly DmaFence[],
  timeoutNs: number,
  task?: Interruptible,
): Promise<FenceWaitResult> {
  if (fences.length === 0) throw kerr('EINVAL', 'dma_fence_wait_any_timeout: no fences');
  if (!(timeoutNs >= 0)) throw kerr('EINVAL', `dma_fence_wait_any_timeout: bad timeout ${timeoutNs}`);
  for (let i = 0; i < fences.length; i++) {
    const f = fences[i]!;
    f.enableSwSignaling();
    if (f.isSignaled()) return { remaining: timeoutNs === 0 ? 1 : timeoutNs, first: i };
  }
  if (task?.signalPending()) throw erestartsys('dma_fence_wait_any_timeout: signal pending');
  if (timeoutNs === 0) return { remaining: 0, first: -1 };
  const edge = fenceWaitBegin(fences, 'dma_fence_wait_any_timeout', { any: true });
  let r: FenceWaitResult;
  try {
    r = await waitOnFences(fences[0]!.clock, fences, true, timeoutNs, task);
  } finally {
    fenceWaitEnd(fences[0]!.clock, edge);
  }
  if (r.remaining === 0) return r;
  for (let i = 0; i < fences.length; i++) if (fences[i]!.signaledFlag) return { remaining: r.remaining, first: i };
  return r;
}

/**
 * Sleeps on `fences` (none signalled yet) until one (`any`) or all of them
 * signal, the timeout fires or the task gets a signal. The timer is a Clock
 * event; whichever comes first wins and the others become no-ops, and every
 * callback left queued is removed so the fences carry no dead waiters.
 */
function waitOnFences(
  clock: Clock,
  fences: readonly DmaFence[],
  any: boolean,
  timeoutNs: number,
  task: Interruptible | undefined,
): Promise<FenceWaitResult> {
  return wakeablePromise((resolve, reject) => {
    const deadline = clock.now + timeoutNs;
    let left = fences.length;
    let done = false;
    const cbs: DmaFenceCb[] = [];
    const sigEntry = task
      ? new WaitQueueEntry(() => {
          if (!done && task.signalPending()) {
            cleanup();
            reject(erestartsys('fence wait interrupted by a signal'));
          }
        })
      : null;
    let timer: Timer | null = null;
    const cleanup = (): void => {
      done = true;
      // A wait that ends early must not leave its timeout behind: it would
      // still move simulated time forward when it came due.
      timer?.cancel();
      for (let i = 0; i < cbs.length; i++) fences[i]!.removeCallback(cbs[i]!);
      if (sigEntry) task!.signalWait.remove(sigEntry);
    };
    const finish = (remaining: number, first: number): void => {
      cleanup();
      resolve({ remaining, first });
    };
    const onSignal: DmaFenceFunc = (fence) => {
      if (done) return;
      if (!any && --left > 0) return;
      const remaining = timeoutNs === MAX_SCHEDULE_TIMEOUT ? MAX_SCHEDULE_TIMEOUT : Math.max(1, deadline - clock.now);
      finish(remaining, fences.indexOf(fence));
    };
    for (const f of fences) {
      const cb = new DmaFenceCb(onSignal);
      cbs.push(cb);
      // A fence may have signalled between the caller's check and here
      // (enable_signaling may complete it): count it as already done.
      if (!f.addCallback(cb)) onSignal(f, cb);
      if (done) return;
    }
    if (sigEntry) task!.signalWait.add(sigEntry);
    if (timeoutNs !== MAX_SCHEDULE_TIMEOUT) {
      timer = clock.after(timeoutNs, () => {
        if (!done) finish(0, -1);
      });
    }
  });
}
