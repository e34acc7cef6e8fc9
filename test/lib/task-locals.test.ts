import { describe, expect, it } from 'vitest';
import { promisesMade, runWithTaskLocals, taskLocals, type WorkSite } from '../../src/lib/task-locals.ts';

const site = (name: string): WorkSite => ({ site: name });

describe('task locals', () => {
  it('follow the work they were set for through awaits, and past ticks, timers and microtasks it awaits, and end with it', async () => {
    const seen: (string | undefined)[] = [];
    const inTick: (string | undefined)[] = [];
    const note = (): void => void seen.push(taskLocals()?.work?.site);
    const done = runWithTaskLocals({ work: site('a') }, async () => {
      note();
      await Promise.resolve();
      note();
      await new Promise<void>((resolve) =>
        process.nextTick(() => {
          // the tick itself carries none (only promises do); the await after it goes on with the work's
          inTick.push(taskLocals()?.work?.site);
          resolve();
        }),
      );
      note();
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
      note();
      await new Promise<void>((resolve) => queueMicrotask(resolve));
      note();
    });
    // set for the work only: the caller's own code has none, before or after the work
    expect(taskLocals()?.work).toBeUndefined();
    await done;
    expect(taskLocals()?.work).toBeUndefined();
    expect(seen).toEqual(['a', 'a', 'a', 'a', 'a']);
    expect(inTick).toEqual([undefined]);
  });

  it('keep two pieces of work apart while they interleave, and an inner change to its own work', async () => {
    const log: string[] = [];
    const worker = (name: string) =>
      runWithTaskLocals({ work: site(name) }, async () => {
        for (let i = 0; i < 3; i++) {
          await Promise.resolve();
          log.push(`${name}:${taskLocals()?.work?.site}`);
        }
        await runWithTaskLocals({ work: site(`${name}-inner`) }, async () => {
          await Promise.resolve();
          log.push(`${name}:${taskLocals()?.work?.site}`);
        });
        log.push(`${name}:${taskLocals()?.work?.site}`);
      });
    await Promise.all([worker('x'), worker('y')]);
    for (const entry of log) {
      const [who, where] = entry.split(':');
      expect(where === who || where === `${who}-inner`).toBe(true);
    }
    expect(log.filter((e) => e.endsWith('-inner'))).toHaveLength(2);
    // after the inner work, each is back on its own
    expect(log.slice(-2).sort()).toEqual(['x:x', 'y:y']);
  });

  it('count the promises made, and nothing for code that makes none', () => {
    const before = promisesMade();
    let x = 0;
    for (let i = 0; i < 10; i++) x += i;
    expect(promisesMade()).toBe(before);
    void Promise.resolve(x).then(() => undefined);
    // the resolved promise and the one `then` makes
    expect(promisesMade()).toBe(before + 2);
  });
});
