import type { Interruptible } from '../fs/index.ts';
import { KernelBug, kerr } from '../lib/index.ts';
import { dmaFenceArrayCreate, dmaFenceIsContainer } from './dma-fence-array.ts';
import type { FenceContextAllocator } from './dma-fence-context.ts';
import type { DmaFence } from './dma-fence.ts';
import { WwMutex, type WwAcquireCtx } from './fence-ww-mutex.ts';

/**
 * How an operation uses the buffer its fence guards (enum dma_resv_usage),
 * from the strongest to the weakest. A usage filter includes every stronger
 * usage: waiting for READ waits for KERNEL, WRITE and READ fences.
 */
export const DmaResvUsage = {
  /** Kernel memory management work (moves, clears): everyone waits for it. */
  KERNEL: 0,
  /** Implicit-sync writers. */
  WRITE: 1,
  /** Implicit-sync readers. */
  READ: 2,
  /** Explicitly synced work, e.g. page-table updates: only memory management waits for it. */
  BOOKKEEP: 3,
} as const;
export type DmaResvUsage = (typeof DmaResvUsage)[keyof typeof DmaResvUsage];

const USAGE_NAMES = ['kernel', 'write', 'read', 'bookkeep'] as const;

/** Returns the usage name debugfs prints ("kernel", "write", "read", "bookkeep"). */
export function dmaResvUsageName(usage: DmaResvUsage): string {
  return USAGE_NAMES[usage];
}

/**
 * Returns what an access must wait for under implicit sync
 * (dma_resv_usage_rw): a writer waits for all readers and writers (READ), a
 * reader only for writers (WRITE).
 */
export function dmaResvUsageRw(write: boolean): DmaResvUsage {
  return write ? DmaResvUsage.READ : DmaResvUsage.WRITE;
}

/** One fence of a reservation object with its usage. */
export interface DmaResvFence {
  fence: DmaFence;
  usage: DmaResvUsage;
}

function checkUsage(usage: number, call: string): asserts usage is DmaResvUsage {
  if (usage !== 0 && usage !== 1 && usage !== 2 && usage !== 3) throw new KernelBug(`${call}: bad usage ${usage}`);
}

/** Smallest power of two >= n (roundup_pow_of_two), for n >= 1. */
function roundupPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * The fences guarding one buffer and the lock that serialises changes to
 * them (struct dma_resv). Writers hold the lock: `reserveFences` first, then
 * `addFence` for at most that many new slots. Readers (`getFences`,
 * `testSignaled`, `waitTimeout`, `fencesUnlocked`) need no lock and see only
 * unsignalled fences. The object holds one reference to every fence it
 * lists and drops it when the fence is replaced, pruned or at `fini`.
 *
 * Like a kernel built with CONFIG_DEBUG_MUTEXES, unlocking forgets the
 * unused reservations, so a driver that adds a fence without reserving in
 * the same critical section hits the KernelBug every time, not only when a
 * slot happens to be missing. Reservations are exact: the kernel may round
 * a reservation up to its slab size, this model never does.
 */
export class DmaResv {
  readonly fctx: FenceContextAllocator;
  /** The reservation lock (dma_resv.lock). */
  readonly mutex: WwMutex;
  private readonly list: DmaFence[] = [];
  private readonly usages: DmaResvUsage[] = [];
  /** Slots usable before the next reserve; -1 while no list exists (obj->fences == NULL). */
  private maxFences = -1;
  /** Bumped on every change of the list so that unlocked walkers restart (the RCU pointer swap). */
  private generation = 0;
  private finished = false;

  /** Creates an empty, unlocked reservation object (dma_resv_init). */
  constructor(fctx: FenceContextAllocator, name = 'dma_resv') {
    this.fctx = fctx;
    this.mutex = new WwMutex(name);
  }

  /** Number of fences listed, signalled ones included. */
  get numFences(): number {
    return this.list.length;
  }

  /** Slots reserved and not yet used. */
  get reservedSlots(): number {
    return this.maxFences < 0 ? 0 : this.maxFences - this.list.length;
  }

  // ---- locking -----------------------------------------------------------

  /**
   * Takes the reservation lock, sleeping while another holds it
   * (dma_resv_lock). With an acquire context, EDEADLK tells a younger
   * transaction to drop its locks and retry with `lockSlow`.
   */
  async lock(ctx: WwAcquireCtx | null = null): Promise<void> {
    this.checkLive('dma_resv_lock');
    await this.mutex.lock(ctx);
  }

  /** Sleeps for the lock after an EDEADLK back-off (dma_resv_lock_slow). */
  async lockSlow(ctx: WwAcquireCtx): Promise<void> {
    this.checkLive('dma_resv_lock_slow');
    await this.mutex.lockSlow(ctx);
  }

  /** Takes the lock if it is free (dma_resv_trylock); never sleeps. */
  trylock(): boolean {
    this.checkLive('dma_resv_trylock');
    return this.mutex.trylock(null);
  }

  /**
   * Drops the lock (dma_resv_unlock), first forgetting unused reservations
   * (dma_resv_reset_max_fences).
   */
  unlock(): void {
    this.mutex.assertHeld('dma_resv_unlock');
    if (this.maxFences >= 0) this.maxFences = this.list.length;
    this.mutex.unlock();
  }

  /** Whether the lock is held (dma_resv_is_locked). */
  isLocked(): boolean {
    return this.mutex.isLocked;
  }

  /** The acquire context holding the lock, if any (dma_resv_locking_ctx). */
  lockingCtx(): WwAcquireCtx | null {
    return this.mutex.ctx;
  }

  /** Throws KernelBug unless the lock is held (dma_resv_assert_held). */
  assertHeld(call = 'dma_resv_assert_held'): void {
    this.mutex.assertHeld(call);
  }

  // ---- writers (lock held) ----------------------------------------------

  /**
   * Makes room for `num` more fences (dma_resv_reserve_fences). Growing the
   * list also prunes the signalled fences and drops their references.
   * Must hold the lock; reservations last until unlock.
   */
  reserveFences(num: number): void {
    this.checkLive('dma_resv_reserve_fences');
    this.assertHeld('dma_resv_reserve_fences');
    if (!Number.isInteger(num) || num < 0) throw new KernelBug(`dma_resv_reserve_fences(${num})`);
    let max: number;
    if (this.maxFences > 0) {
      if (this.list.length + num <= this.maxFences) return;
      max = Math.max(this.list.length + num, this.maxFences * 2);
    } else {
      max = Math.max(4, roundupPow2(num));
    }
    const pruned: DmaFence[] = [];
    let j = 0;
    for (let i = 0; i < this.list.length; i++) {
      const f = this.list[i]!;
      if (f.isSignaled()) {
        pruned.push(f);
      } else {
        this.list[j] = f;
        this.usages[j] = this.usages[i]!;
        j++;
      }
    }
    this.list.length = j;
    this.usages.length = j;
    this.maxFences = max;
    this.generation++;
    for (const f of pruned) f.put();
  }

  /**
   * Adds `fence` with `usage`, taking a reference (dma_resv_add_fence). It
   * replaces, in place, a fence of the same context it is not earlier than
   * whose usage is the same or weaker, or any signalled fence; otherwise it
   * takes a reserved slot. Without the lock, without a reserved slot, with a
   * container fence (add its members instead) or a released fence: KernelBug,
   * and nothing changes.
   */
  addFence(fence: DmaFence, usage: DmaResvUsage): void {
    this.checkLive('dma_resv_add_fence');
    this.assertHeld('dma_resv_add_fence');
    checkUsage(usage, 'dma_resv_add_fence');
    if (fence.released) throw new KernelBug(`dma_resv_add_fence of released fence ${fence.describeId()}`);
    if (dmaFenceIsContainer(fence)) throw new KernelBug(`dma_resv_add_fence of container ${fence.describeId()}: add its fences one by one`);
    if (this.maxFences < 0) throw new KernelBug('dma_resv_add_fence without dma_resv_reserve_fences');
    for (let i = 0; i < this.list.length; i++) {
      const old = this.list[i]!;
      const sameTimeline = old.context === fence.context && this.usages[i]! >= usage && fence.isLaterOrSame(old);
      if (sameTimeline || old.isSignaled()) {
        this.list[i] = fence.get();
        this.usages[i] = usage;
        this.generation++;
        old.put();
        return;
      }
    }
    if (this.list.length >= this.maxFences) {
      throw new KernelBug(`dma_resv_add_fence: no reserved slot (${this.list.length} of ${this.maxFences} used)`);
    }
    this.list.push(fence.get());
    this.usages.push(usage);
    this.generation++;
  }

  /**
   * Replaces every fence of `context` by `replacement` with `usage`
   * (dma_resv_replace_fences), e.g. a preemption fence by the page-table
   * update that makes the buffer inaccessible. Must hold the lock.
   */
  replaceFences(context: number, replacement: DmaFence, usage: DmaResvUsage): void {
    this.checkLive('dma_resv_replace_fences');
    this.assertHeld('dma_resv_replace_fences');
    checkUsage(usage, 'dma_resv_replace_fences');
    for (let i = 0; i < this.list.length; i++) {
      const old = this.list[i]!;
      if (old.context !== context) continue;
      this.list[i] = replacement.get();
      this.usages[i] = usage;
      this.generation++;
      old.put();
    }
  }

  /**
   * Yields the listed fences whose usage is `usage` or stronger, signalled
   * ones included, in list order (dma_resv_for_each_fence). Must hold the
   * lock, which keeps the list still.
   */
  *fences(usage: DmaResvUsage): Generator<DmaResvFence, void, undefined> {
    this.assertHeld('dma_resv_iter_first');
    checkUsage(usage, 'dma_resv_iter_first');
    for (let i = 0; i < this.list.length; i++) {
      const u = this.usages[i]!;
      if (u <= usage) yield { fence: this.list[i]!, usage: u };
    }
  }

  // ---- readers (no lock needed) ------------------------------------------

  /**
   * Yields the unsignalled fences whose usage is `usage` or stronger, without
   * the lock (dma_resv_for_each_fence_unlocked). Each yielded fence is held
   * by a reference until the walk moves on; if the list changes meanwhile
   * the walk restarts from the beginning (`restarted` is true on the first
   * fence after a restart), so a fence may be seen twice.
   */
  *fencesUnlocked(usage: DmaResvUsage): Generator<DmaResvFence & { restarted: boolean }, void, undefined> {
    checkUsage(usage, 'dma_resv_iter_first_unlocked');
    let gen = this.generation;
    let i = 0;
    let restarted = true;
    while (i < this.list.length) {
      const f = this.list[i]!;
      const u = this.usages[i]!;
      i++;
      if (u > usage || f.isSignaled()) {
        if (this.generation !== gen) {
          gen = this.generation;
          i = 0;
          restarted = true;
        }
        continue;
      }
      f.get();
      try {
        yield { fence: f, usage: u, restarted };
      } finally {
        f.put();
      }
      restarted = false;
      if (this.generation !== gen) {
        gen = this.generation;
        i = 0;
        restarted = true;
      }
    }
  }

  /**
   * Returns the unsignalled fences whose usage is `usage` or stronger, each
   * with a new reference the caller must put (dma_resv_get_fences).
   */
  getFences(usage: DmaResvUsage): DmaFence[] {
    checkUsage(usage, 'dma_resv_get_fences');
    const out: DmaFence[] = [];
    for (const { fence } of this.snapshot(usage)) if (!fence.isSignaled()) out.push(fence.get());
    return out;
  }

  /**
   * Returns one fence standing for all unsignalled fences of `usage`
   * (dma_resv_get_singleton): null when there are none, the fence itself
   * when there is one, else a fence array on a new context with seqno 1.
   * The caller owns the returned reference. Never add the result back to a
   * reservation object: it is a container.
   */
  getSingleton(usage: DmaResvUsage): DmaFence | null {
    const fences = this.getFences(usage);
    if (fences.length === 0) return null;
    if (fences.length === 1) return fences[0]!;
    return dmaFenceArrayCreate(this.fctx.clock, fences, this.fctx.alloc(1), 1, false);
  }

  /**
   * Returns whether every fence of `usage` or stronger has signalled
   * (dma_resv_test_signaled).
   */
  testSignaled(usage: DmaResvUsage): boolean {
    checkUsage(usage, 'dma_resv_test_signaled');
    for (const { fence } of this.snapshot(usage)) if (!fence.isSignaled()) return false;
    return true;
  }

  /**
   * Sleeps until every fence of `usage` or stronger has signalled, or
   * `timeoutNs` of simulated time pass (dma_resv_wait_timeout). Fences added
   * while it sleeps are waited for too. Returns the time left (at least 1)
   * on success, 0 on timeout. A 0 timeout only tests, without sleeping (the
   * kernel turns it into a one-jiffy wait). Negative or NaN: EINVAL. With a
   * `task` the sleep is interruptible: EINTR when it gets a signal.
   */
  async waitTimeout(usage: DmaResvUsage, timeoutNs: number, task?: Interruptible): Promise<number> {
    checkUsage(usage, 'dma_resv_wait_timeout');
    if (!(timeoutNs >= 0)) throw kerr('EINVAL', `dma_resv_wait_timeout: bad timeout ${timeoutNs}`);
    if (timeoutNs === 0) return this.testSignaled(usage) ? 1 : 0;
    let left = timeoutNs;
    for (;;) {
      const next = this.firstUnsignaled(usage);
      if (!next) return left;
      next.get();
      try {
        left = await next.waitTimeout(left, task);
      } finally {
        next.put();
      }
      if (left <= 0) return 0;
    }
  }

  /**
   * Describes the fences of usage READ and stronger, one line each, as
   * debugfs bufinfo prints them (dma_resv_describe). Must hold the lock.
   */
  describe(): string {
    let s = '';
    for (const { fence, usage } of this.fences(DmaResvUsage.READ)) s += `\t${USAGE_NAMES[usage]} fence:${fence.describe()}`;
    return s;
  }

  /**
   * Destroys the object (dma_resv_fini): drops every fence reference. The
   * lock must be free and unwaited; using the object afterwards is a KernelBug.
   */
  fini(): void {
    this.checkLive('dma_resv_fini');
    this.mutex.destroy();
    this.finished = true;
    const fences = this.list.splice(0, this.list.length);
    this.usages.length = 0;
    this.maxFences = -1;
    this.generation++;
    for (const f of fences) f.put();
  }

  /** A copy of the entries of `usage` or stronger, immune to changes made by signal callbacks. */
  private snapshot(usage: DmaResvUsage): DmaResvFence[] {
    const out: DmaResvFence[] = [];
    for (let i = 0; i < this.list.length; i++) {
      const u = this.usages[i]!;
      if (u <= usage) out.push({ fence: this.list[i]!, usage: u });
    }
    return out;
  }

  private firstUnsignaled(usage: DmaResvUsage): DmaFence | null {
    for (const { fence } of this.snapshot(usage)) if (!fence.isSignaled()) return fence;
    return null;
  }

  private checkLive(call: string): void {
    if (this.finished) throw new KernelBug(`${call} after dma_resv_fini`);
  }
}
