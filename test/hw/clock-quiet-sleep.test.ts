import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Clock, type Timer } from '../../src/hw/index.ts';
import { wakeablePromise } from '../../src/lib/index.ts';

// A sleep that leaves no thread runnable is popped by a quiet probe instead
// of at the loop's next turn. That must change nothing a simulation sees:
// random threads that sleep, wake each other through promises (made by
// wakeablePromise, as the simulation's are), set and cancel timers and
// queue microtasks and ticks (some of which wake threads) must leave the
// same record (who ran what at which simulated time, in which order) with
// the probes on and off.

type Step =
  | { k: 'sleep'; ns: number }
  | { k: 'until'; ns: number }
  | { k: 'wait' }
  | { k: 'post'; to: number }
  | { k: 'timer'; ns: number; to: number; cancel: boolean }
  | { k: 'micro'; hops: number }
  | { k: 'tick'; to: number }
  | { k: 'throw' };

const step = (threads: number): fc.Arbitrary<Step> =>
  fc.oneof(
    fc.record({ k: fc.constant('sleep' as const), ns: fc.integer({ min: 0, max: 40 }) }),
    fc.record({ k: fc.constant('until' as const), ns: fc.integer({ min: 0, max: 40 }) }),
    fc.record({ k: fc.constant('wait' as const) }),
    fc.record({ k: fc.constant('post' as const), to: fc.integer({ min: 0, max: threads - 1 }) }),
    fc.record({ k: fc.constant('timer' as const), ns: fc.integer({ min: 0, max: 40 }), to: fc.integer({ min: 0, max: threads - 1 }), cancel: fc.boolean() }),
    fc.record({ k: fc.constant('micro' as const), hops: fc.integer({ min: 0, max: 4 }) }),
    fc.record({ k: fc.constant('tick' as const), to: fc.integer({ min: -1, max: threads - 1 }) }),
  );

const scenario = fc.integer({ min: 1, max: 4 }).chain((n) =>
  fc.record({
    threads: fc.array(fc.array(step(n), { maxLength: 14 }), { minLength: n, maxLength: n }),
    // some runs stop part-way (run(until)) before running on
    split: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
    // some runs have one thread fail at a step, which stops run()
    fail: fc.option(fc.record({ thread: fc.integer({ min: 0, max: n - 1 }), at: fc.integer({ min: 0, max: 13 }) }), { nil: undefined }),
  }),
);

type Scenario = { threads: Step[][]; split: number | undefined; fail: { thread: number; at: number } | undefined };

/** Runs the scenario on a clock; returns the record of every step and what each run() ended with. */
async function play(s: Scenario, quietSleeps: boolean): Promise<{ log: string[]; ends: string[]; quietPops: number }> {
  const clock = new Clock({ quietSleeps });
  const log: string[] = [];
  const ends: string[] = [];
  const n = s.threads.length;
  const waiters: ((() => void) | null)[] = new Array<(() => void) | null>(n).fill(null);
  const posts: number[] = new Array<number>(n).fill(0);
  const post = (to: number, from: string): void => {
    log.push(`${from} posts ${to} @${clock.now}`);
    const w = waiters[to];
    if (w) {
      waiters[to] = null;
      w();
    } else posts[to]!++;
  };
  s.threads.forEach((steps, t) =>
    clock.spawn(async () => {
      const timers: Timer[] = [];
      for (let i = 0; i < steps.length; i++) {
        const st = steps[i]!;
        const me = `t${t}.${i}`;
        log.push(`${me} ${st.k} @${clock.now}`);
        if (s.fail && s.fail.thread === t && s.fail.at === i) throw new Error(`${me} fails`);
        switch (st.k) {
          case 'sleep':
            await clock.sleep(st.ns);
            break;
          case 'until':
            await clock.sleepUntil(clock.now + st.ns);
            break;
          case 'wait':
            if (posts[t]! > 0) posts[t]!--;
            else await wakeablePromise<void>((resolve) => (waiters[t] = resolve));
            break;
          case 'post':
            post(st.to, me);
            break;
          case 'timer': {
            const timer = clock.after(st.ns, () => post(st.to, `timer of ${me}`));
            timers.push(timer);
            if (st.cancel) log.push(`${me} cancels ${String(timers.shift()!.cancel())}`);
            break;
          }
          case 'micro':
            queueMicrotask(() => log.push(`micro of ${me} @${clock.now}`));
            for (let h = 0; h < st.hops; h++) await null;
            break;
          case 'tick':
            // a tick that wakes a thread (to >= 0) or only notes that it ran
            process.nextTick(() => (st.to >= 0 ? post(st.to, `tick of ${me}`) : log.push(`tick of ${me} @${clock.now}`)));
            break;
        }
        log.push(`${me} done @${clock.now}`);
      }
    }).catch(() => undefined),
  );
  const end = async (p: Promise<void>): Promise<void> => {
    try {
      await p;
      ends.push(`ok @${clock.now}`);
    } catch (e) {
      ends.push(`${(e as Error).message} @${clock.now}`);
    }
  };
  if (s.split !== undefined) await end(clock.run(s.split));
  await end(clock.run());
  await end(clock.run());
  return { log, ends, quietPops: clock.quietPops };
}

describe('Clock quiet sleeps', () => {
  it('leave the same events in the same order at the same times as the loop alone', async () => {
    let popped = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const fast = await play(s, true);
        const slow = await play(s, false);
        expect(slow.quietPops).toBe(0);
        expect(fast.log).toEqual(slow.log);
        expect(fast.ends).toEqual(slow.ends);
        popped += fast.quietPops;
      }),
      { numRuns: 50 },
    );
    // the property is only worth something if the probes did pop sleeps
    expect(popped).toBeGreaterThan(0);
  });

  it('wake a lone sleeper without a turn of the event loop', async () => {
    const clock = new Clock();
    let turns = 0;
    const done = clock.spawn(async () => {
      for (let i = 0; i < 200; i++) await clock.sleep(10);
    });
    const count = (): void => {
      turns++;
      if (clock.liveThreads > 0) setImmediate(count);
    };
    setImmediate(count);
    await clock.runUntilSettled(done);
    expect(clock.now).toBe(2000);
    // the first may fall to the loop while the test runner's own continuations run
    expect(clock.quietPops).toBeGreaterThanOrEqual(199);
    expect(turns).toBeLessThan(5);
  });

  it('still let the event loop turn during a long run', async () => {
    const clock = new Clock();
    let seenAt = -1;
    const done = clock.spawn(async () => {
      for (let i = 0; i < 5000; i++) {
        await clock.sleep(1);
        if (i === 0) setImmediate(() => (seenAt = clock.now));
      }
    });
    await clock.runUntilSettled(done);
    expect(clock.now).toBe(5000);
    // a host callback (I/O, a timer, a progress line) got its turn part-way
    expect(seenAt).toBeGreaterThan(0);
    expect(seenAt).toBeLessThan(5000);
  });

  it('pop nothing past run(until) nor once the awaited promise settled', async () => {
    const clock = new Clock();
    const woke: number[] = [];
    clock.spawn(async () => {
      for (let i = 0; i < 10; i++) {
        await clock.sleep(10);
        woke.push(clock.now);
      }
    });
    await clock.run(45);
    expect(woke).toEqual([10, 20, 30, 40]);
    expect(clock.now).toBe(45);
    await clock.run();
    expect(woke.at(-1)).toBe(100);
  });
});
