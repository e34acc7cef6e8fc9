import { KernelBug, wakeablePromise } from '../lib/index.ts';

/**
 * A sleeping lock in simulated time (struct mutex). `lock()` resolves at
 * once when the mutex is free; otherwise the caller sleeps until the holder
 * unlocks, and waiters get it in arrival order, so runs are deterministic.
 */
export class SimMutex {
  readonly name: string;
  private held = false;
  private readonly waiters: (() => void)[] = [];
  /** Times a locker had to wait. */
  contended = 0;

  /** Creates an unlocked mutex (mutex_init). */
  constructor(name = 'mutex') {
    this.name = name;
  }

  /** Takes the mutex, sleeping while another thread holds it (mutex_lock). */
  lock(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    this.contended++;
    return wakeablePromise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Takes the mutex if it is free; returns whether it did (mutex_trylock). */
  tryLock(): boolean {
    if (this.held) return false;
    this.held = true;
    return true;
  }

  /** Releases the mutex, handing it to the first waiter (mutex_unlock). KernelBug when not held. */
  unlock(): void {
    if (!this.held) throw new KernelBug(`mutex ${this.name}: unlock of an unlocked mutex`);
    const next = this.waiters.shift();
    if (next) next();
    else this.held = false;
  }

  /** True while some thread holds the mutex (mutex_is_locked). */
  get locked(): boolean {
    return this.held;
  }

  /** Threads sleeping on the mutex. */
  get waiting(): number {
    return this.waiters.length;
  }
}
