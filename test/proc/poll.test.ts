import { describe, it, expect } from 'vitest';
import type { PollFd } from '../../src/proc/index.ts';
import { POLLIN, POLLNVAL, POLLOUT, O_RDWR } from '../../src/uapi/index.ts';
import { errno, exportTestBuf, run, setup } from './helpers.ts';

describe('poll', () => {
  it('sleeps in simulated time until the file\'s wait queue is woken with a matching key', async () => {
    const s = setup();
    const clock = s.soc.clock;
    await run(s, async (sys) => {
      const fd = await exportTestBuf(sys, 4096);
      const b = s.dev.bufs[0]!;
      b.ready = false;
      const t0 = clock.now;
      const pfd: PollFd[] = [{ fd, events: POLLIN }, { fd: -1, events: POLLIN }, { fd: 55, events: POLLIN }];
      // an unrelated key does not end the sleep; POLLIN does
      clock.after(1_000_000, () => b.wq.wakeUp(POLLOUT));
      clock.after(2_000_000, () => {
        b.ready = true;
        b.wq.wakeUp(POLLIN);
      });
      expect(await sys.poll(pfd.slice(0, 2), 100)).toBe(1);
      expect(clock.now - t0).toBe(2_000_000);
      expect(pfd.map((p) => p.revents)).toEqual([POLLIN, 0, undefined]);
      expect(b.wq.active).toBe(false);
      expect(await sys.poll(pfd, 0)).toBe(2);
      expect(pfd[2]!.revents).toBe(POLLNVAL);
    });
  });

  it('times out after timeoutMs of simulated time with nothing ready', async () => {
    const s = setup();
    const clock = s.soc.clock;
    await run(s, async (sys) => {
      const fd = await exportTestBuf(sys, 4096);
      s.dev.bufs[0]!.ready = false;
      const t0 = clock.now;
      const pfd: PollFd[] = [{ fd, events: POLLIN | POLLOUT }];
      expect(await sys.poll(pfd, 7)).toBe(0);
      expect(clock.now - t0).toBe(7_000_000);
      expect(pfd[0]!.revents).toBe(0);
      expect(s.dev.bufs[0]!.wq.active).toBe(false);
      expect(await errno(sys.poll(new Array(2000).fill({ fd: -1, events: 0 }), 0))).toBe('EINVAL');
    });
  });

  it('a file without a poll op reports POLLIN|POLLOUT at once', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const fd = await sys.open('/tmp/f', 0o100 | O_RDWR);
      const pfd: PollFd[] = [{ fd, events: POLLIN | POLLOUT }];
      expect(await sys.poll(pfd, -1)).toBe(1);
      expect(pfd[0]!.revents).toBe(POLLIN | POLLOUT);
    });
  });
});

describe('poll timeouts', () => {
  it('a poll woken early leaves no timer behind: the run ends at the wake-up, not at the timeout', async () => {
    const s = setup();
    const clock = s.soc.clock;
    let b: { ready: boolean; wq: { wakeUp(k?: number): void } } | undefined;
    await run(s, async (sys) => {
      const fd = await exportTestBuf(sys, 4096);
      b = s.dev.bufs[0]!;
      b.ready = false;
      clock.after(3_000_000, () => {
        b!.ready = true;
        b!.wq.wakeUp(POLLIN);
      });
      expect(await sys.poll([{ fd, events: POLLIN }], 10_000)).toBe(1);
    });
    expect(clock.now).toBe(3_000_000);
  });
});
