/**
 * Thrown by runUntilSettled when the awaited thread can never finish:
 * nothing is scheduled and every thread sleeps (what the kernel's hung-task
 * detector would eventually report).
 */
export class Deadlock extends Error {
  constructor() {
    super('deadlock: the awaited simulated thread waits on an event that never comes');
    this.name = 'Deadlock';
  }
}

/**
 * Discrete-event clock in simulated nanoseconds. Simulated threads (processes,
 * device jobs, interrupt handlers) are async functions that wait with
 * `sleep()`; `run()` pops events in (time, sequence) order and lets each
 * woken thread run until it waits again before waking the next, so the
 * interleaving is fully determined by the events, never by wall time.
 */
export class Clock {
  /** Simulated time in nanoseconds. */
  now = 0;
  private seq = 0;
  private times: number[] = [];
  private seqs: number[] = [];
  private fns: (() => void)[] = [];
  private readonly failures: unknown[] = [];
  private threads = 0;

  /** Sequence numbers of timers (at, after) scheduled and neither run nor cancelled. */
  private readonly liveSeqs = new Set<number>();
  private readonly cancelled = new Set<number>();
  /** Sleeps scheduled and not yet run: they cannot be cancelled, so they need no timer and no entry in liveSeqs. */
  private sleeps = 0;

  /**
   * Calls `fn` at simulated time `at` (never earlier than now). The returned
   * timer can be cancelled (del_timer): a cancelled event neither runs nor
   * moves simulated time forward.
   */
  at(at: number, fn: () => void): Timer {
    return this.timer(this.push(Math.max(at, this.now), fn));
  }

  /** Calls `fn` after `delay` simulated nanoseconds; cancellable like `at`. */
  after(delay: number, fn: () => void): Timer {
    return this.timer(this.push(this.now + Math.max(0, delay), fn));
  }

  /**
   * Waits `ns` simulated nanoseconds (msleep/ndelay in simulated time).
   * Every system call's entry sleeps here, so a sleep is only an event: no
   * timer object, no entry in the live set.
   */
  sleep(ns: number): Promise<void> {
    return new Promise((resolve) => {
      this.sleeps++;
      this.push(this.now + Math.max(0, ns), resolve);
    });
  }

  /** Waits until simulated time `t`. */
  sleepUntil(t: number): Promise<void> {
    return new Promise((resolve) => {
      this.sleeps++;
      this.push(Math.max(t, this.now), resolve);
    });
  }

  /**
   * Starts a simulated thread (kthread_run). Its failure is kept and rethrown
   * by `run()`, so a crashed thread never goes unnoticed.
   */
  spawn<T>(fn: () => Promise<T>): Promise<T> {
    this.threads++;
    const p = Promise.resolve().then(fn);
    p.then(
      () => this.threads--,
      (e) => {
        this.threads--;
        this.failures.push(e);
      },
    );
    return p;
  }

  /** Number of spawned threads that have not finished. */
  get liveThreads(): number {
    return this.threads;
  }

  /** Number of pending events (cancelled ones excluded). */
  get pending(): number {
    return this.liveSeqs.size + this.sleeps;
  }

  /**
   * Runs events until none are left or simulated time would pass `until`.
   * Between events it lets every runnable thread reach its next wait.
   */
  async run(until = Infinity): Promise<void> {
    await settle();
    this.throwFailure();
    while (this.times.length > 0 && this.times[0]! <= until) {
      const fn = this.pop();
      if (!fn) continue;
      fn();
      await settle();
      this.throwFailure();
    }
    if (until !== Infinity && this.now < until) this.now = until;
  }

  /** Runs until `p` settles, then returns its value (or throws its error). */
  async runUntilSettled<T>(p: Promise<T>): Promise<T> {
    let done = false;
    p.then(
      () => (done = true),
      () => (done = true),
    );
    await settle();
    while (!done && this.times.length > 0) {
      const fn = this.pop();
      if (!fn) continue;
      fn();
      await settle();
    }
    if (!done) throw new Deadlock();
    return p;
  }

  private throwFailure(): void {
    if (this.failures.length > 0) throw this.failures.shift();
  }

  /** The timer of an event pushed by `at` or `after`: counted live until it runs or is cancelled. */
  private timer(seq: number): Timer {
    this.liveSeqs.add(seq);
    return {
      cancel: () => {
        if (!this.liveSeqs.has(seq)) return false;
        this.liveSeqs.delete(seq);
        this.cancelled.add(seq);
        return true;
      },
    };
  }

  /** Queues `fn` at `time`, after every event already queued for that time; returns its sequence number. */
  private push(time: number, fn: () => void): number {
    const t = this.times;
    const s = this.seqs;
    const f = this.fns;
    let i = t.length;
    const seq = this.seq++;
    t.push(time);
    s.push(seq);
    f.push(fn);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (t[p]! < time || (t[p] === time && s[p]! < seq)) break;
      t[i] = t[p]!;
      s[i] = s[p]!;
      f[i] = f[p]!;
      i = p;
    }
    t[i] = time;
    s[i] = seq;
    f[i] = fn;
    return seq;
  }

  /** Removes the earliest event; returns its function, or null when it was cancelled (time then stays put). */
  private pop(): (() => void) | null {
    const t = this.times;
    const s = this.seqs;
    const f = this.fns;
    const topFn = f[0]!;
    const topSeq = s[0]!;
    // a cancelled set that is empty (the usual case) costs no hash lookup
    const dead = this.cancelled.size > 0 && this.cancelled.delete(topSeq);
    if (!dead) {
      this.now = t[0]!;
      if (!this.liveSeqs.delete(topSeq)) this.sleeps--;
    }
    const lastT = t.pop()!;
    const lastS = s.pop()!;
    const lastF = f.pop()!;
    const n = t.length;
    if (n > 0) {
      let i = 0;
      while (true) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        if (r < n && (t[r]! < t[l]! || (t[r] === t[l] && s[r]! < s[l]!))) c = r;
        if (t[c]! > lastT || (t[c] === lastT && s[c]! > lastS)) break;
        t[i] = t[c]!;
        s[i] = s[c]!;
        f[i] = f[c]!;
        i = c;
      }
      t[i] = lastT;
      s[i] = lastS;
      f[i] = lastF;
    }
    return dead ? null : topFn;
  }
}

/** A scheduled event that may still be called off (struct timer_list). */
export interface Timer {
  /** Cancels the event; false when it already ran or was cancelled. */
  cancel(): boolean;
}

/** Lets every queued promise continuation run (one macrotask turn). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
