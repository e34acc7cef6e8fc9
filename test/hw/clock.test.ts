import { describe, expect, it } from 'vitest';
import { Clock, Prng } from '../../src/hw/index.ts';

describe('Clock', () => {
  it('wakes sleepers in time order, ties in the order they slept', async () => {
    const c = new Clock();
    const log: string[] = [];
    const t = (name: string, ns: number) =>
      c.spawn(async () => {
        await c.sleep(ns);
        log.push(`${name}@${c.now}`);
      });
    t('a', 30);
    t('b', 10);
    t('c', 30);
    t('d', 0);
    await c.run();
    expect(log).toEqual(['d@0', 'b@10', 'a@30', 'c@30']);
  });

  it('interleaves threads deterministically across repeated waits', async () => {
    const run = async () => {
      const c = new Clock();
      const log: number[] = [];
      for (let i = 0; i < 5; i++)
        c.spawn(async () => {
          for (let k = 0; k < 4; k++) {
            await c.sleep(7 * (i + 1));
            log.push(i * 100 + k);
          }
        });
      await c.run();
      return { log, now: c.now };
    };
    const a = await run();
    const b = await run();
    expect(a).toEqual(b);
    expect(a.now).toBe(140);
  });

  it('stops at a time limit and resumes later', async () => {
    const c = new Clock();
    let done = false;
    c.spawn(async () => {
      await c.sleep(1000);
      done = true;
    });
    await c.run(500);
    expect(done).toBe(false);
    expect(c.now).toBe(500);
    await c.run();
    expect(done).toBe(true);
  });

  it('rethrows a crashed simulated thread from run()', async () => {
    const c = new Clock();
    c.spawn(async () => {
      await c.sleep(5);
      throw new Error('boom');
    });
    await expect(c.run()).rejects.toThrow('boom');
  });

  it('reports a deadlock instead of hanging', async () => {
    const c = new Clock();
    const never = new Promise<void>(() => {});
    await expect(c.runUntilSettled(never)).rejects.toThrow(/deadlock/);
  });
});

describe('Prng', () => {
  it('is a pure function of its seed', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const sa = Array.from({ length: 8 }, () => a.nextU32());
    expect(Array.from({ length: 8 }, () => b.nextU32())).toEqual(sa);
    expect(Array.from({ length: 8 }, () => c.nextU32())).not.toEqual(sa);
  });

  it('spreads int(n) evenly', () => {
    const p = new Prng(7);
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 80_000; i++) counts[p.int(8)]++;
    for (const n of counts) expect(Math.abs(n - 10_000)).toBeLessThan(500);
  });
});

describe('Clock timers', () => {
  it('a cancelled event neither runs nor moves simulated time', async () => {
    const c = new Clock();
    let ran = false;
    const t = c.after(1_000_000, () => (ran = true));
    c.after(10, () => {});
    expect(c.pending).toBe(2);
    expect(t.cancel()).toBe(true);
    expect(t.cancel()).toBe(false);
    expect(c.pending).toBe(1);
    await c.run();
    expect(ran).toBe(false);
    expect(c.now).toBe(10);
  });

  it('cannot cancel an event that already ran', async () => {
    const c = new Clock();
    const t = c.after(5, () => {});
    await c.run();
    expect(t.cancel()).toBe(false);
  });
});
