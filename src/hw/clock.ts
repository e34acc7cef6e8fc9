import { holdContinuationCount, quietProbe, releaseContinuationCount } from './quiet-probe.ts';

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
  /** Sleeps woken by a quiet probe rather than by a turn of the loop (what tests check the fast path by). */
  quietPops = 0;
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

  /** Whether sleeps may be woken by a quiet probe (off only to compare against, in tests; proc's quick system calls go with it). */
  readonly quietSleeps: boolean;
  /** The loops (run, runUntilSettled) running now: a quiet probe pops only for the one loop running. */
  private readonly loops: Loop[] = [];
  private probeArmed = false;
  /** Quiet pops since the loop's last turn: bounded, so the loop's turn (a macrotask) still lets host I/O and timers in. */
  private quietRun = 0;
  /** Probes in a row that were not quiet. */
  private noisyRun = 0;
  private readonly probe = quietProbe((quiet) => this.probed(quiet));

  constructor(opts: ClockOptions = {}) {
    this.quietSleeps = opts.quietSleeps ?? true;
  }

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
    // eslint-disable-next-line no-restricted-syntax -- a sleep is settled by a pop only, which runs when no thread can
    return new Promise((resolve) => {
      this.sleeps++;
      this.push(this.now + Math.max(0, ns), resolve);
      this.noisyRun = 0;
      if (this.loops.length > 0 && !this.probeArmed) this.armProbe();
    });
  }

  /** Waits until simulated time `t`. */
  sleepUntil(t: number): Promise<void> {
    // eslint-disable-next-line no-restricted-syntax -- as sleep
    return new Promise((resolve) => {
      this.sleeps++;
      this.push(Math.max(t, this.now), resolve);
      this.noisyRun = 0;
      if (this.loops.length > 0 && !this.probeArmed) this.armProbe();
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
    const loop = this.enterLoop(until, true);
    try {
      await settle();
      this.quietRun = 0;
      this.throwFailure();
      while (this.times.length > 0 && this.times[0]! <= until) {
        const fn = this.pop();
        if (!fn) continue;
        fn();
        await settle();
        this.quietRun = 0;
        this.throwFailure();
      }
      if (until !== Infinity && this.now < until) this.now = until;
    } finally {
      this.leaveLoop(loop);
    }
  }

  /** Runs until `p` settles, then returns its value (or throws its error). */
  async runUntilSettled<T>(p: Promise<T>): Promise<T> {
    const loop = this.enterLoop(Infinity, false);
    try {
      p.then(
        () => (loop.done = true),
        () => (loop.done = true),
      );
      await settle();
      this.quietRun = 0;
      while (!loop.done && this.times.length > 0) {
        const fn = this.pop();
        if (!fn) continue;
        fn();
        await settle();
        this.quietRun = 0;
      }
      if (!loop.done) throw new Deadlock();
    } finally {
      this.leaveLoop(loop);
    }
    return p;
  }

  private enterLoop(until: number, checkFailures: boolean): Loop {
    const loop: Loop = { until, checkFailures, done: false };
    if (this.quietSleeps) {
      holdContinuationCount();
      this.loops.push(loop);
    }
    return loop;
  }

  private leaveLoop(loop: Loop): void {
    const i = this.loops.indexOf(loop);
    if (i < 0) return;
    this.loops.splice(i, 1);
    releaseContinuationCount();
  }

  private armProbe(): void {
    this.probeArmed = true;
    this.probe();
  }

  /**
   * A probe has its answer. Quiet means every simulated thread waits: what
   * the loop does next, once its pending turn (settle) comes, is pop the
   * earliest event. When that event is a sleep the probe pops it now,
   * exactly as the loop would (same checks: the awaited promise not
   * settled, no failure pending, time within `until`; cancelled events
   * skipped), which saves the loop's macrotask turn, and goes again for
   * the event after it, if any (the woken thread may wait without
   * sleeping). A timer's callback is left to the loop, to run in the
   * loop's context. Not quiet: threads still run, and the probe goes again
   * after them while events are queued (a sleep arms one when none is).
   */
  private probed(quiet: boolean): void {
    this.probeArmed = false;
    if (this.loops.length !== 1) return;
    if (!quiet) {
      // threads still run; one may sleep (and find this probe armed) or wait without sleeping, leaving the events queued to the next probe;
      // a run of answers that are never quiet (nothing ever waits) is left to the loop, whose macrotask turn then comes
      if (this.times.length > 0 && this.noisyRun++ < NOISY_RUN_MAX) this.armProbe();
      return;
    }
    this.noisyRun = 0;
    const loop = this.loops[0]!;
    if (loop.done || (loop.checkFailures && this.failures.length > 0) || this.quietRun >= QUIET_RUN_MAX) return;
    while (this.times.length > 0 && this.times[0]! <= loop.until) {
      if (this.liveSeqs.size > 0 && this.liveSeqs.has(this.seqs[0]!)) return;
      const fn = this.pop();
      if (!fn) continue;
      this.quietRun++;
      this.quietPops++;
      fn();
      // the woken thread may wait without sleeping: the next event is then the next probe's
      if (this.times.length > 0) this.armProbe();
      return;
    }
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

/** Options of a Clock. */
export interface ClockOptions {
  /**
   * Whether a sleep that leaves no thread runnable is woken at once instead
   * of at the loop's next turn (default true). The order and times of
   * events are the same either way; off is for tests that check that.
   */
  quietSleeps?: boolean;
}

/** One running loop (run or runUntilSettled): what decides whether it would pop the next event. */
interface Loop {
  until: number;
  /** run() stops at a failed thread; runUntilSettled does not look. */
  checkFailures: boolean;
  /** The promise runUntilSettled waits for has settled. */
  done: boolean;
}

/** Quiet pops in a row before the loop must take a turn (about a millisecond of wall time). */
const QUIET_RUN_MAX = 1024;
/** Probes in a row that find threads running before they give up until the loop's turn or the next sleep. */
const NOISY_RUN_MAX = 16;

/** A scheduled event that may still be called off (struct timer_list). */
export interface Timer {
  /** Cancels the event; false when it already ran or was cancelled. */
  cancel(): boolean;
}

/** Lets every queued promise continuation run (one macrotask turn). */
function settle(): Promise<void> {
  // eslint-disable-next-line no-restricted-syntax -- settled from a macrotask, when no job is queued
  return new Promise((resolve) => setImmediate(resolve));
}
