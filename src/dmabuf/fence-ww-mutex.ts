import { KernelBug, kerr, wakeablePromise } from '../lib/index.ts';

/**
 * A class of wound/wait mutexes sharing one ticket counter (struct
 * ww_class, DEFINE_WD_CLASS): acquire contexts of one class are ordered by
 * their stamp, older first. One per system, e.g. the reservation class of
 * all dma_resv locks, so that runs stay deterministic.
 */
export class WwClass {
  readonly name: string;
  private stamp = 0;

  /** Creates a wait-die class (DEFINE_WD_CLASS). */
  constructor(name: string) {
    this.name = name;
  }

  /** Hands out the next ticket. @internal used by WwAcquireCtx. */
  nextStamp(): number {
    return ++this.stamp;
  }
}

/**
 * One transaction that locks several ww mutexes of a class (struct
 * ww_acquire_ctx). Its stamp orders it against the others: on contention
 * the younger one, if it holds locks already, backs off with EDEADLK.
 */
export class WwAcquireCtx {
  readonly wwClass: WwClass;
  /** Ticket: smaller is older and wins. */
  readonly stamp: number;
  /** Locks of this context currently held. */
  acquired = 0;
  private isDone = false;
  private isFini = false;

  /** Starts an acquire transaction (ww_acquire_init). */
  constructor(wwClass: WwClass) {
    this.wwClass = wwClass;
    this.stamp = wwClass.nextStamp();
  }

  /** Marks the end of the locking phase: no further lock may be taken (ww_acquire_done). */
  done(): void {
    this.checkLive('ww_acquire_done');
    this.isDone = true;
  }

  /** Ends the transaction (ww_acquire_fini); all its locks must have been unlocked. */
  fini(): void {
    this.checkLive('ww_acquire_fini');
    if (this.acquired !== 0) throw new KernelBug(`ww_acquire_fini with ${this.acquired} lock(s) still held`);
    this.isFini = true;
  }

  /** Throws KernelBug when the context may no longer take locks. @internal */
  checkCanLock(call: string): void {
    this.checkLive(call);
    if (this.isDone) throw new KernelBug(`${call} after ww_acquire_done`);
  }

  private checkLive(call: string): void {
    if (this.isFini) throw new KernelBug(`${call} on a finished acquire context`);
  }
}

interface Waiter {
  ctx: WwAcquireCtx | null;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * A wait-die wound/wait mutex in simulated time (struct ww_mutex), as the
 * reservation lock of every dma_resv uses. Locking may sleep: waiters queue
 * in arrival order and the unlocker hands the lock to the first of them.
 * With an acquire context, a transaction that already holds locks and finds
 * an older transaction ahead of it gets EDEADLK and must unlock everything,
 * then wait with `lockSlow`; so two transactions locking the same objects
 * in opposite order never deadlock. Without a context it is a plain mutex.
 * Simulated threads have no identity, so "held" means held by somebody.
 */
export class WwMutex {
  readonly name: string;
  private locked = false;
  private holderCtx: WwAcquireCtx | null = null;
  private readonly waiters: Waiter[] = [];

  /** Creates an unlocked mutex (ww_mutex_init). */
  constructor(name = 'ww_mutex') {
    this.name = name;
  }

  /** Whether somebody holds the lock (ww_mutex_is_locked). */
  get isLocked(): boolean {
    return this.locked;
  }

  /** The context holding the lock, or null when unlocked or held without one. */
  get ctx(): WwAcquireCtx | null {
    return this.holderCtx;
  }

  /** Number of threads sleeping on the lock. */
  get waiting(): number {
    return this.waiters.length;
  }

  /**
   * Takes the lock, sleeping while it is held (ww_mutex_lock). With `ctx`:
   * EDEADLK when the context holds other locks and an older context holds
   * or waits for this one, then it must back off; locking twice with the
   * same context is a KernelBug (the kernel's -EALREADY, which lib has no
   * errno for).
   */
  async lock(ctx: WwAcquireCtx | null = null): Promise<void> {
    if (ctx) {
      ctx.checkCanLock('ww_mutex_lock');
      if (this.holderCtx === ctx) throw new KernelBug(`ww_mutex_lock(${this.name}): already held by this context (EALREADY)`);
      if (ctx.acquired > 0 && this.olderThan(ctx)) throw kerr('EDEADLK', `ww_mutex_lock(${this.name}): older transaction holds or waits`);
    }
    if (!this.locked) {
      this.take(ctx);
      return;
    }
    if (ctx) this.killYoungerWaiters(ctx);
    await wakeablePromise<void>((resolve, reject) => this.waiters.push({ ctx, resolve, reject }));
  }

  /**
   * Sleeps for the lock after backing off from EDEADLK (ww_mutex_lock_slow).
   * The context must hold no lock, so it cannot be told to die again.
   */
  async lockSlow(ctx: WwAcquireCtx): Promise<void> {
    if (ctx.acquired !== 0) throw new KernelBug(`ww_mutex_lock_slow(${this.name}) while the context holds ${ctx.acquired} lock(s)`);
    await this.lock(ctx);
  }

  /** Takes the lock only if it is free (ww_mutex_trylock); never sleeps. */
  trylock(ctx: WwAcquireCtx | null = null): boolean {
    if (ctx) ctx.checkCanLock('ww_mutex_trylock');
    if (this.locked) return false;
    this.take(ctx);
    return true;
  }

  /**
   * Releases the lock (ww_mutex_unlock), handing it to the first waiter.
   * Unlocking a free mutex is a KernelBug.
   */
  unlock(): void {
    if (!this.locked) throw new KernelBug(`ww_mutex_unlock(${this.name}) of an unlocked mutex`);
    if (this.holderCtx) this.holderCtx.acquired--;
    this.holderCtx = null;
    this.locked = false;
    const next = this.waiters.shift();
    if (!next) return;
    this.take(next.ctx);
    next.resolve();
  }

  /** Throws KernelBug unless the lock is held (lockdep_assert_held). */
  assertHeld(what: string): void {
    if (!this.locked) throw new KernelBug(`${what}: ${this.name} not held`);
  }

  /** Throws KernelBug when the mutex is still in use (ww_mutex_destroy under DEBUG_MUTEXES). */
  destroy(): void {
    if (this.locked || this.waiters.length > 0) throw new KernelBug(`ww_mutex_destroy(${this.name}) while in use`);
  }

  private take(ctx: WwAcquireCtx | null): void {
    this.locked = true;
    this.holderCtx = ctx;
    if (ctx) ctx.acquired++;
  }

  /**
   * Wakes with EDEADLK every waiting transaction younger than `ctx` that
   * holds other locks, as the kernel does when an older waiter queues
   * (wait-die): they could otherwise hold what `ctx` needs next. Since a
   * younger one that arrives later dies at once, whoever gets the lock
   * never has a younger lock-holding transaction waiting behind it.
   */
  private killYoungerWaiters(ctx: WwAcquireCtx): void {
    for (let i = 0; i < this.waiters.length; ) {
      const w = this.waiters[i]!;
      if (w.ctx && w.ctx.acquired > 0 && w.ctx.stamp > ctx.stamp) {
        this.waiters.splice(i, 1);
        w.reject(kerr('EDEADLK', `ww_mutex_lock(${this.name}): an older transaction is waiting`));
      } else {
        i++;
      }
    }
  }

  /** Whether an older context of the same class holds or waits for the lock. */
  private olderThan(ctx: WwAcquireCtx): boolean {
    if (this.holderCtx && this.holderCtx.stamp < ctx.stamp) return true;
    for (const w of this.waiters) if (w.ctx && w.ctx.stamp < ctx.stamp) return true;
    return false;
  }
}
