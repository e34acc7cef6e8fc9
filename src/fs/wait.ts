import { erestartsys, kerr, wakeablePromise } from '../lib/index.ts';
import type { Clock, Timer } from '../hw/index.ts';

/** Called with the wake key (an event mask, 0 for "anything") when the queue is woken. */
export type WakeFunc = (entry: WaitQueueEntry, key: number) => void;

/** One sleeper on a wait queue (struct wait_queue_entry). */
export class WaitQueueEntry {
  readonly func: WakeFunc;
  /** The queue it is on, or null. */
  head: WaitQueueHead | null = null;
  /** The sleeper's own data (wait_queue_entry.private). */
  privateData: unknown;

  constructor(func: WakeFunc, privateData?: unknown) {
    this.func = func;
    this.privateData = privateData;
  }
}

/**
 * A wait queue (wait_queue_head_t): what sleepers, pollers and fence
 * callbacks hang on until some state changes. Waking calls every entry's
 * function synchronously, in the order they were added, so wake-ups are
 * deterministic. Adding and waking never sleep.
 */
export class WaitQueueHead {
  private readonly entries = new Set<WaitQueueEntry>();

  /** Adds an entry (add_wait_queue). An entry sits on one queue at a time. */
  add(entry: WaitQueueEntry): void {
    if (entry.head) entry.head.remove(entry);
    entry.head = this;
    this.entries.add(entry);
  }

  /** Removes an entry if it is on this queue (remove_wait_queue). */
  remove(entry: WaitQueueEntry): void {
    if (entry.head !== this) return;
    this.entries.delete(entry);
    entry.head = null;
  }

  /** True when someone waits (waitqueue_active). */
  get active(): boolean {
    return this.entries.size > 0;
  }

  /** Number of entries on the queue. */
  get length(): number {
    return this.entries.size;
  }

  /**
   * Wakes every entry with `key` (wake_up / wake_up_poll). Entries added by
   * the wake functions themselves wait for the next wake-up.
   */
  wakeUp(key = 0): void {
    if (this.entries.size === 0) return;
    for (const e of [...this.entries]) if (e.head === this) e.func(e, key);
  }
}

/** Something whose pending signals end an interruptible sleep. */
export interface Interruptible {
  /** True when a signal is pending (signal_pending). */
  signalPending(): boolean;
  /** Woken when a signal arrives. */
  readonly signalWait: WaitQueueHead;
}

/** How waitEvent sleeps: interruptible by a task, bounded by a timeout on a clock. */
export interface WaitOptions {
  /** Makes the sleep interruptible by this task's signals: EINTR. */
  task?: Interruptible;
  /** Clock for the timeout. */
  clock?: Clock;
  /** Gives up after this many simulated ns (needs `clock`); undefined waits forever. */
  timeoutNs?: number;
  /**
   * What a signal makes of the sleep: 'restart' (-ERESTARTSYS, the default:
   * the call runs again after handlers with SA_RESTART) or 'eintr' (calls
   * Linux never restarts once a handler ran: nanosleep, timed futex waits,
   * pause, epoll_wait).
   */
  onSignal?: 'restart' | 'eintr';
}

/**
 * Sleeps on `wq` until `condition()` holds (wait_event, or
 * wait_event_interruptible_timeout with options). Returns true when the
 * condition holds, false on timeout; throws EINTR (-ERESTARTSYS unless
 * `onSignal` says otherwise) when the task gets a signal first. The condition is re-checked after every wake-up, as the
 * kernel's loop does, so spurious wake-ups are harmless.
 */
export async function waitEvent(wq: WaitQueueHead, condition: () => boolean, opts: WaitOptions = {}): Promise<boolean> {
  if (condition()) return true;
  const { task, clock, timeoutNs } = opts;
  if (timeoutNs !== undefined && !clock) throw new TypeError('waitEvent: a timeout needs a clock');
  const deadline = timeoutNs !== undefined && clock ? clock.now + Math.max(0, timeoutNs) : Infinity;
  while (true) {
    if (task?.signalPending()) throw opts.onSignal === 'eintr' ? kerr('EINTR', 'interrupted by a signal') : erestartsys('interrupted by a signal');
    if (clock && clock.now >= deadline) return condition();
    await sleepOn(wq, task, clock, deadline);
    if (condition()) return true;
  }
}

/** One sleep: returns on the first wake-up of `wq`, a signal, or the deadline. */
function sleepOn(wq: WaitQueueHead, task: Interruptible | undefined, clock: Clock | undefined, deadline: number): Promise<void> {
  return wakeablePromise<void>((resolve) => {
    let done = false;
    let timer: Timer | null = null;
    const finish = (): void => {
      if (done) return;
      done = true;
      wq.remove(entry);
      if (sigEntry) task!.signalWait.remove(sigEntry);
      // a timeout that did not fire must not keep simulated time running (del_timer)
      timer?.cancel();
      resolve();
    };
    const entry = new WaitQueueEntry(finish);
    const sigEntry = task ? new WaitQueueEntry(finish) : null;
    wq.add(entry);
    if (sigEntry) task!.signalWait.add(sigEntry);
    if (clock && deadline !== Infinity) timer = clock.at(deadline, finish);
  });
}
