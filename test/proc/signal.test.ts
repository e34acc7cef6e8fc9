import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import type { SigInfo, Sys } from '../../src/proc/sys.ts';
import { SegfaultError } from '../../src/proc/errors.ts';
import {
  BUS_ADRERR,
  CLD_EXITED,
  CLD_KILLED,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  SA_NOCLDWAIT,
  SA_RESETHAND,
  SA_RESTART,
  EPOLLIN,
  EPOLL_CTL_ADD,
  POLLIN,
  SEGV_ACCERR,
  SEGV_MAPERR,
  SIGALRM,
  SIGBUS,
  SIGCHLD,
  SIGKILL,
  SIGPIPE,
  SIGSEGV,
  SIGSTOP,
  SIGTERM,
  SIGUSR1,
  SIG_BLOCK,
  SIG_DFL,
  SIG_IGN,
  SIG_SETMASK,
  SIG_UNBLOCK,
  SI_KERNEL,
  SI_USER,
} from '../../src/uapi/index.ts';
import { errno, run, setup } from './helpers.ts';

const SEC = 1_000_000_000;

describe('sigaction', () => {
  it('returns the old action; EINVAL for SIGKILL/SIGSTOP and bad numbers; unknown flags and unmaskable signals dropped', async () => {
    await run(setup(), async (sys) => {
      const h = async (): Promise<void> => {};
      expect(await sys.sigaction(SIGUSR1)).toEqual({ handler: SIG_DFL, flags: 0, mask: [] });
      expect(await sys.sigaction(SIGUSR1, { handler: h, flags: SA_RESETHAND | 0x400, mask: [SIGKILL, SIGTERM, SIGSTOP, SIGTERM] })).toEqual({ handler: SIG_DFL, flags: 0, mask: [] });
      expect(await sys.sigaction(SIGUSR1, { handler: SIG_IGN })).toEqual({ handler: h, flags: SA_RESETHAND, mask: [SIGTERM] });
      expect((await sys.sigaction(SIGUSR1)).handler).toBe(SIG_IGN);
      expect(await errno(sys.sigaction(SIGKILL, { handler: SIG_IGN }))).toBe('EINVAL');
      expect(await errno(sys.sigaction(SIGSTOP, { handler: h }))).toBe('EINVAL');
      expect(await sys.sigaction(SIGKILL)).toEqual({ handler: SIG_DFL, flags: 0, mask: [] });
      expect(await errno(sys.sigaction(0, { handler: SIG_IGN }))).toBe('EINVAL');
      expect(await errno(sys.sigaction(65))).toBe('EINVAL');
      expect(await errno(sys.sigaction(SIGUSR1, { handler: 7 as never }))).toBe('EINVAL');
    });
  });

  it('sigsuspend runs the handler under its mask, then puts the old one back: EINTR', async () => {
    const inHandler: number[][] = [];
    await run(setup(), async (sys) => {
      const me = await sys.getpid();
      await sys.sigaction(SIGUSR1, { handler: async (_sig, _info, on) => void inHandler.push(await on.sigprocmask(SIG_BLOCK, null)) });
      await sys.sigprocmask(SIG_BLOCK, [SIGUSR1]);
      await sys.kill(me, SIGUSR1);
      expect(inHandler).toEqual([]);
      expect(await errno(sys.sigsuspend([SIGTERM]))).toBe('EINTR');
      expect(await sys.sigprocmask(SIG_BLOCK, null)).toEqual([SIGUSR1]);
      expect(await errno(sys.sigsuspend([0]))).toBe('EINVAL');
    });
    // the suspend mask, and the signal itself while its handler runs
    expect(inHandler).toEqual([[SIGUSR1, SIGTERM]]);
  });

  it('a handler gets the sys of the thread it interrupts', async () => {
    const ran: number[] = [];
    let thread = 0;
    await run(setup(), async (sys) => {
      const me = await sys.getpid();
      await sys.sigaction(SIGUSR1, { handler: async (_sig, _info, on) => void ran.push(await on.gettid()) });
      await sys.sigprocmask(SIG_BLOCK, [SIGUSR1]);
      thread = await sys.threadCreate(async (t) => {
        await t.sigprocmask(SIG_UNBLOCK, [SIGUSR1]);
        await t.kill(me, SIGUSR1);
      });
      await sys.threadJoin(thread);
    });
    expect(ran).toEqual([thread]);
  });

  it('a handler runs for kill with the sender in siginfo, may make calls, and SA_RESETHAND restores SIG_DFL', async () => {
    const s = setup();
    const got: SigInfo[] = [];
    const status = await run(s, async (sys) => {
      const me = await sys.getpid();
      await sys.sigaction(SIGUSR1, {
        handler: async (_sig, info) => {
          got.push(info);
          await sys.getpid();
        },
        flags: SA_RESETHAND,
      });
      const child = await sys.fork(async (c) => {
        await c.kill(me, SIGUSR1);
      });
      // the signal interrupts the wait, which still finds the child once it is a zombie
      expect((await sys.wait(child)).status).toBe(0);
      await sys.getpid();
      expect(got).toEqual([{ si_signo: SIGUSR1, si_code: SI_USER, si_errno: 0, si_pid: child, si_uid: 0 }]);
      expect((await sys.sigaction(SIGUSR1)).handler).toBe(SIG_DFL);
      // now the default action again: the process dies
      await sys.kill(me, SIGUSR1);
      return 0;
    });
    expect(status).toBe(128 + SIGUSR1);
  });

  it('what a handler throws leaves the interrupted call; an ignored signal is dropped', async () => {
    await run(setup(), async (sys) => {
      const me = await sys.getpid();
      await sys.sigaction(SIGTERM, { handler: SIG_IGN });
      await sys.kill(me, SIGTERM);
      await sys.sigaction(SIGUSR1, {
        handler: () => {
          throw new RangeError('longjmp');
        },
      });
      await expect(sys.kill(me, SIGUSR1)).rejects.toThrow(RangeError);
      expect(await sys.getpid()).toBe(me);
    });
  });

  it('fork copies the actions; exec resets handlers to SIG_DFL and keeps SIG_IGN', async () => {
    await run(setup(), async (sys) => {
      await sys.sigaction(SIGUSR1, { handler: async () => {} });
      await sys.sigaction(SIGTERM, { handler: SIG_IGN });
      const child = await sys.fork(async (c) => {
        expect(typeof (await c.sigaction(SIGUSR1)).handler).toBe('function');
        await c.exec(async (e: Sys) => {
          expect((await e.sigaction(SIGUSR1)).handler).toBe(SIG_DFL);
          expect((await e.sigaction(SIGTERM)).handler).toBe(SIG_IGN);
          return 5;
        });
      });
      expect((await sys.wait(child)).status).toBe(5);
    });
  });
});

describe('SIGPIPE', () => {
  it('handled: the handler runs and the write fails with EPIPE; ignored: EPIPE and the process lives', async () => {
    const got: number[] = [];
    const status = await run(setup(), async (sys) => {
      const [r, w] = await sys.pipe();
      await sys.close(r);
      await sys.sigaction(SIGPIPE, { handler: (sig, info) => void got.push(sig, info.si_code) });
      expect(await errno(sys.write(w, Uint8Array.of(1)))).toBe('EPIPE');
      expect(got).toEqual([SIGPIPE, SI_USER]);
      await sys.sigaction(SIGPIPE, { handler: SIG_IGN });
      expect(await errno(sys.write(w, Uint8Array.of(1)))).toBe('EPIPE');
      return 0;
    });
    expect(status).toBe(0);
  });

  it('a SOCK_SEQPACKET peer gone is EPIPE with no SIGPIPE, as unix_dgram_sendmsg', async () => {
    const status = await run(setup(), async (sys) => {
      const [a, b] = await sys.socketpair();
      await sys.close(b);
      expect(await errno(sys.sendmsg(a, { data: Uint8Array.of(1) }))).toBe('EPIPE');
      return 0;
    });
    expect(status).toBe(0);
  });
});

describe('SIGCHLD', () => {
  it('a child ending notifies the handler with its pid and status, exited or killed', async () => {
    const got: SigInfo[] = [];
    await run(setup(), async (sys) => {
      await sys.sigaction(SIGCHLD, { handler: (_s, info) => void got.push(info) });
      const c1 = await sys.fork(async () => 7);
      expect((await sys.wait(c1)).status).toBe(7);
      const c2 = await sys.fork(async (c) => {
        await c.pause();
      });
      await sys.kill(c2, SIGTERM);
      expect((await sys.wait(c2)).signal).toBe(SIGTERM);
      expect(got).toEqual([
        { si_signo: SIGCHLD, si_code: CLD_EXITED, si_errno: 0, si_pid: c1, si_uid: 0, si_status: 7 },
        { si_signo: SIGCHLD, si_code: CLD_KILLED, si_errno: 0, si_pid: c2, si_uid: 0, si_status: SIGTERM },
      ]);
    });
  });

  it('SIG_IGN or SA_NOCLDWAIT reaps children at once: wait ends with ECHILD', async () => {
    const s = setup();
    let handled = 0;
    await run(s, async (sys) => {
      await sys.sigaction(SIGCHLD, { handler: SIG_IGN });
      await sys.fork(async () => 1);
      expect(await errno(sys.wait(-1))).toBe('ECHILD');
      await sys.sigaction(SIGCHLD, { handler: () => void handled++, flags: SA_NOCLDWAIT });
      await sys.fork(async () => 1);
      expect(await errno(sys.wait(-1))).toBe('ECHILD');
      expect(s.k.processes.size).toBe(1);
    });
    expect(handled).toBe(1);
  });
});

describe('SIGALRM', () => {
  it('default: the process dies with 128+14 when the alarm expires, in simulated time', async () => {
    const s = setup();
    const status = await run(s, async (sys) => {
      expect(await sys.alarm(2)).toBe(0);
      await sys.nanosleep({ tv_sec: 10, tv_nsec: 0 });
      return 0;
    });
    expect(status).toBe(128 + SIGALRM);
    expect(s.soc.clock.now).toBeGreaterThanOrEqual(2 * SEC);
    expect(s.soc.clock.now).toBeLessThan(3 * SEC);
  });

  it('handled: the handler runs, the sleep is EINTR; alarm returns the seconds left and 0 cancels', async () => {
    const s = setup();
    const got: SigInfo[] = [];
    const status = await run(s, async (sys) => {
      await sys.sigaction(SIGALRM, { handler: (_s, info) => void got.push(info) });
      expect(await sys.alarm(5)).toBe(0);
      await sys.nanosleep({ tv_sec: 1, tv_nsec: 600_000_000 });
      // 3.4 s left: rounded to 3
      expect(await sys.alarm(1)).toBe(3);
      const t0 = s.soc.clock.now;
      expect(await errno(sys.pause())).toBe('EINTR');
      expect(s.soc.clock.now - t0).toBeGreaterThanOrEqual(SEC);
      expect(got).toEqual([{ si_signo: SIGALRM, si_code: SI_KERNEL, si_errno: 0 }]);
      await sys.alarm(1);
      expect(await sys.alarm(0)).toBe(1);
      expect(await errno(sys.nanosleep({ tv_sec: 2, tv_nsec: 0 }))).toBe('ok');
      await sys.alarm(1);
      expect(await errno(sys.nanosleep({ tv_sec: 2, tv_nsec: 0 }))).toBe('EINTR');
      expect(got.length).toBe(2);
      return 0;
    });
    expect(status).toBe(0);
  });
});

describe('sigprocmask', () => {
  it('a blocked signal stays pending and shows in sigpending; unblocking runs its handler as the call returns; SIGKILL is never blocked; EINVAL for a bad how', async () => {
    const ran: number[] = [];
    const status = await run(setup(), async (sys) => {
      const me = await sys.getpid();
      await sys.sigaction(SIGUSR1, { handler: (sig) => void ran.push(sig) });
      expect(await sys.sigprocmask(SIG_BLOCK, [SIGUSR1, SIGKILL, SIGSTOP])).toEqual([]);
      expect(await sys.sigprocmask(SIG_BLOCK)).toEqual([SIGUSR1]);
      await sys.kill(me, SIGUSR1);
      expect(await sys.sigpending()).toEqual([SIGUSR1]);
      expect(ran).toEqual([]);
      expect(await sys.sigprocmask(SIG_UNBLOCK, [SIGUSR1])).toEqual([SIGUSR1]);
      expect(ran).toEqual([SIGUSR1]);
      expect(await sys.sigpending()).toEqual([]);
      await sys.sigprocmask(SIG_SETMASK, [SIGTERM, SIGUSR1]);
      expect(await sys.sigprocmask(SIG_SETMASK, [])).toEqual([SIGUSR1, SIGTERM]);
      expect(await errno(sys.sigprocmask(7, [SIGUSR1]))).toBe('EINVAL');
      expect(await errno(sys.sigprocmask(SIG_BLOCK, [0]))).toBe('EINVAL');
      return 0;
    });
    expect(status).toBe(0);
  });

  it('a blocked default-fatal signal does not kill until it is unblocked', async () => {
    const s = setup();
    let reached = false;
    const status = await run(s, async (sys) => {
      const me = await sys.getpid();
      await sys.sigprocmask(SIG_BLOCK, [SIGTERM]);
      await sys.kill(me, SIGTERM);
      reached = true;
      await sys.sigprocmask(SIG_UNBLOCK, [SIGTERM]);
      await sys.getpid();
      return 0;
    });
    expect(reached).toBe(true);
    expect(status).toBe(128 + SIGTERM);
  });
});

describe('SA_RESTART', () => {
  /** Reads a pipe nothing is written to until a child writes at 3 s; an alarm at 1 s runs a handler with `flags`. */
  async function readAcrossAlarm(flags: number): Promise<{ result: string; atSec: number; handled: number }> {
    const s = setup();
    let out = { result: '', atSec: 0, handled: 0 };
    const status = await run(s, async (sys) => {
      let handled = 0;
      await sys.sigaction(SIGALRM, { handler: () => void handled++, flags });
      const [r, w] = await sys.pipe();
      const child = await sys.fork(async (c) => {
        await c.nanosleep({ tv_sec: 3, tv_nsec: 0 });
        await c.write(w, Uint8Array.of(7));
        return 0;
      });
      await sys.alarm(1);
      let result: string;
      try {
        result = `read ${(await sys.read(r, 1))[0]}`;
      } catch (e) {
        result = (e as { code: string }).code;
      }
      out = { result, atSec: Math.floor(s.soc.clock.now / SEC), handled };
      await sys.wait(child);
      return 0;
    });
    expect(status).toBe(0);
    return out;
  }

  it('a read interrupted by a handler without SA_RESTART fails with EINTR when the handler has run', async () => {
    expect(await readAcrossAlarm(0)).toEqual({ result: 'EINTR', atSec: 1, handled: 1 });
  });

  it('with SA_RESTART the read runs again after the handler and returns what the child writes later (-ERESTARTSYS)', async () => {
    expect(await readAcrossAlarm(SA_RESTART)).toEqual({ result: 'read 7', atSec: 3, handled: 1 });
  });

  it('nanosleep, poll, epoll_wait and pause are never restarted once a handler ran: EINTR despite SA_RESTART', async () => {
    const status = await run(setup(), async (sys) => {
      await sys.sigaction(SIGALRM, { handler: () => undefined, flags: SA_RESTART });
      const [r] = await sys.pipe();
      const ep = await sys.epoll_create1(0);
      await sys.epoll_ctl(ep, EPOLL_CTL_ADD, r, { events: EPOLLIN, data: 0 });
      const calls: [string, () => Promise<unknown>][] = [
        ['nanosleep', () => sys.nanosleep({ tv_sec: 5, tv_nsec: 0 })],
        ['poll', () => sys.poll([{ fd: r, events: POLLIN }], 5000)],
        ['epoll_wait', () => sys.epoll_wait(ep, 1, 5000)],
        ['pause', () => sys.pause()],
      ];
      for (const [name, call] of calls) {
        await sys.alarm(1);
        expect(await errno(call()), name).toBe('EINTR');
      }
      return 0;
    });
    expect(status).toBe(0);
  });
});

describe('SIGSEGV and SIGBUS', () => {
  it('with a handler, a bad load runs it with si_addr and then rejects with a SegfaultError the program catches', async () => {
    const got: SigInfo[] = [];
    const status = await run(setup(), async (sys) => {
      await sys.sigaction(SIGSEGV, { handler: (_s, info) => void got.push(info) });
      const ro = await sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      const e1 = await sys.load(0x1000, 4).catch((e: unknown) => e);
      expect(e1).toBeInstanceOf(SegfaultError);
      expect((e1 as SegfaultError).addr).toBe(0x1000);
      const e2 = await sys.store(ro + 8, Uint8Array.of(1)).catch((e: unknown) => e);
      expect(e2).toBeInstanceOf(SegfaultError);
      expect(got).toEqual([
        { si_signo: SIGSEGV, si_code: SEGV_MAPERR, si_errno: 0, si_addr: 0x1000 },
        { si_signo: SIGSEGV, si_code: SEGV_ACCERR, si_errno: 0, si_addr: ro + 8 },
      ]);
      return 0;
    });
    expect(status).toBe(0);
  });

  it('a fault inside the SIGSEGV handler (signal blocked) kills with 128+11; without a handler too', async () => {
    await run(setup(), async (sys) => {
      const nested = await sys.fork(async (c) => {
        await c.sigaction(SIGSEGV, {
          handler: async () => {
            await c.load(0x2000, 1);
          },
        });
        await c.load(0x1000, 1).catch(() => undefined);
        return 0;
      });
      expect((await sys.wait(nested)).status).toBe(128 + SIGSEGV);
      const plain = await sys.fork(async (c) => {
        await c.load(0x1000, 1).catch(() => undefined);
        return 0;
      });
      expect((await sys.wait(plain)).status).toBe(128 + SIGSEGV);
      const ignored = await sys.fork(async (c) => {
        await c.sigaction(SIGSEGV, { handler: SIG_IGN });
        await c.load(0x1000, 1).catch(() => undefined);
        return 0;
      });
      expect((await sys.wait(ignored)).status).toBe(128 + SIGSEGV);
    });
  });

  it('a load past the end of a mapped memfd runs the SIGBUS handler (BUS_ADRERR), else kills with 128+7', async () => {
    const got: SigInfo[] = [];
    await run(setup(), async (sys) => {
      const fd = await sys.memfd_create('short');
      await sys.ftruncate(fd, PAGE_SIZE);
      const m = await sys.mmap(0, 2 * PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
      const child = await sys.fork(async (c) => {
        await c.load(m + PAGE_SIZE, 1);
      });
      expect((await sys.wait(child)).status).toBe(128 + SIGBUS);
      await sys.sigaction(SIGBUS, { handler: (_s, info) => void got.push(info) });
      const e = await sys.load(m + PAGE_SIZE + 3, 1).catch((x: unknown) => x);
      expect((e as SegfaultError).signal).toBe('SIGBUS');
      expect(got).toEqual([{ si_signo: SIGBUS, si_code: BUS_ADRERR, si_errno: 0, si_addr: m + PAGE_SIZE + 3 }]);
    });
  });
});
