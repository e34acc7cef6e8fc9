import { describe, it, expect } from 'vitest';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import {
  EPOLLET,
  EPOLLEXCLUSIVE,
  EPOLLHUP,
  EPOLLIN,
  EPOLLONESHOT,
  EPOLLOUT,
  EPOLLPRI,
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  FD_CLOEXEC,
  F_GETFD,
  F_GETFL,
  O_CREAT,
  O_NONBLOCK,
  O_RDWR,
  POLLIN,
  SIGKILL,
} from '../../src/uapi/index.ts';
import { TEST_IOC_EXPORT, errno, fdinfoMap, run, setup } from './helpers.ts';

describe('epoll_create1', () => {
  it('makes an anon_inode:[eventpoll] O_RDWR file; EPOLL_CLOEXEC only', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const ep = await sys.epoll_create1(EPOLL_CLOEXEC);
      expect(await sys.readlink(`/proc/self/fd/${ep}`)).toBe('anon_inode:[eventpoll]');
      expect(await sys.fcntl(ep, F_GETFD)).toBe(FD_CLOEXEC);
      expect(await sys.fcntl(ep, F_GETFL)).toBe(O_RDWR);
      expect(await errno(sys.epoll_create1(O_NONBLOCK))).toBe('EINVAL');
      expect(await errno(sys.epoll_create(0))).toBe('EINVAL');
      expect(await sys.fcntl(await sys.epoll_create(1), F_GETFD)).toBe(0);
      expect(await errno(sys.read(ep, 1))).toBe('EINVAL');
    });
  });
});

describe('epoll_ctl', () => {
  it('gives the errnos Linux gives (LTP epoll_ctl02 cases and more)', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const ep = await sys.epoll_create1();
      const [r, w] = await sys.pipe();
      const tmp = await sys.open('/tmp/f', O_RDWR | O_CREAT);
      const ev = { events: EPOLLIN, data: 1 };
      expect(await errno(sys.epoll_ctl(99, EPOLL_CTL_ADD, r, ev))).toBe('EBADF');
      expect(await errno(sys.epoll_ctl(ep, EPOLL_CTL_ADD, 99, ev))).toBe('EBADF');
      expect(await errno(sys.epoll_ctl(ep, EPOLL_CTL_ADD, tmp, ev))).toBe('EPERM');
      expect(await errno(sys.epoll_ctl(ep, EPOLL_CTL_ADD, ep, ev))).toBe('EINVAL');
      expect(await errno(sys.epoll_ctl(r, EPOLL_CTL_ADD, w, ev))).toBe('EINVAL');
      expect(await errno(sys.epoll_ctl(ep, 4, r, ev))).toBe('EINVAL');
      // no event: EFAULT comes before the fds are even looked up
      expect(await errno(sys.epoll_ctl(99, EPOLL_CTL_ADD, r))).toBe('EFAULT');
      expect(await errno(sys.epoll_ctl(ep, EPOLL_CTL_DEL, r))).toBe('ENOENT');
      expect(await errno(sys.epoll_ctl(ep, EPOLL_CTL_MOD, r, ev))).toBe('ENOENT');
      await sys.epoll_ctl(ep, EPOLL_CTL_ADD, r, ev);
      expect(await errno(sys.epoll_ctl(ep, EPOLL_CTL_ADD, r, ev))).toBe('EEXIST');
      // the same file under another fd is another item
      const r2 = await sys.dup(r);
      await sys.epoll_ctl(ep, EPOLL_CTL_ADD, r2, ev);
      expect(await errno(sys.epoll_ctl(ep, EPOLL_CTL_ADD, w, { events: EPOLLEXCLUSIVE | EPOLLPRI, data: 0 }))).toBe('EINVAL');
      await sys.epoll_ctl(ep, EPOLL_CTL_ADD, w, { events: EPOLLEXCLUSIVE | EPOLLOUT, data: 0 });
      expect(await errno(sys.epoll_ctl(ep, EPOLL_CTL_MOD, w, { events: EPOLLOUT, data: 0 }))).toBe('EINVAL');
      await sys.epoll_ctl(ep, EPOLL_CTL_DEL, r2);
      await sys.epoll_ctl(ep, EPOLL_CTL_DEL, r);
      expect(await errno(sys.epoll_ctl(ep, EPOLL_CTL_DEL, r))).toBe('ENOENT');
    });
  });

  it('shows each watch in fdinfo with EPOLLERR|EPOLLHUP added', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const ep = await sys.epoll_create1();
      const [r] = await sys.pipe();
      await sys.epoll_ctl(ep, EPOLL_CTL_ADD, r, { events: EPOLLIN | EPOLLET, data: 0x1234n });
      const ino = (await sys.fstat(r)).st_ino;
      const info = await sys.readFile(`/proc/self/fdinfo/${ep}`);
      expect(info).toContain(`tfd:        ${r} events: 80000019 data:             1234  pos:0 ino:${ino.toString(16)} sdev:d\n`);
      expect(fdinfoMap(info).flags).toBe('02');
    });
  });
});

describe('epoll_wait', () => {
  it('reports level-triggered readiness on every call until it is consumed', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const ep = await sys.epoll_create1();
      const [r, w] = await sys.pipe();
      await sys.epoll_ctl(ep, EPOLL_CTL_ADD, r, { events: EPOLLIN, data: 7 });
      await sys.epoll_ctl(ep, EPOLL_CTL_ADD, w, { events: EPOLLOUT, data: 8n });
      expect(await sys.epoll_wait(ep, 10, 0)).toEqual([{ events: EPOLLOUT, data: 8n }]);
      await sys.write(w, Uint8Array.of(1, 2));
      const evs = await sys.epoll_wait(ep, 10, 0);
      expect(evs).toEqual([
        { events: EPOLLOUT, data: 8n },
        { events: EPOLLIN, data: 7 },
      ]);
      expect(await sys.epoll_wait(ep, 10, 0)).toHaveLength(2);
      await sys.read(r, 2);
      expect(await sys.epoll_wait(ep, 10, 0)).toEqual([{ events: EPOLLOUT, data: 8n }]);
      await sys.close(w);
      expect(await sys.epoll_wait(ep, 10, 0)).toEqual([{ events: EPOLLHUP, data: 7 }]);
      expect(await errno(sys.epoll_wait(ep, 0, 0))).toBe('EINVAL');
      expect(await errno(sys.epoll_wait(r, 1, 0))).toBe('EINVAL');
      expect(await errno(sys.epoll_wait(99, 1, 0))).toBe('EBADF');
    });
  });

  it('edge-triggered items report once per wake-up; one-shot items once until EPOLL_CTL_MOD', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const ep = await sys.epoll_create1();
      const [r, w] = await sys.pipe();
      const [r2, w2] = await sys.pipe();
      await sys.epoll_ctl(ep, EPOLL_CTL_ADD, r, { events: EPOLLIN | EPOLLET, data: 1 });
      await sys.epoll_ctl(ep, EPOLL_CTL_ADD, r2, { events: EPOLLIN | EPOLLONESHOT, data: 2 });
      await sys.write(w, Uint8Array.of(1));
      await sys.write(w2, Uint8Array.of(1));
      expect((await sys.epoll_wait(ep, 10, 0)).map((e) => e.data)).toEqual([1, 2]);
      expect(await sys.epoll_wait(ep, 10, 0)).toEqual([]);
      await sys.write(w, Uint8Array.of(2));
      await sys.write(w2, Uint8Array.of(2));
      expect(await sys.epoll_wait(ep, 10, 0)).toEqual([{ events: EPOLLIN, data: 1 }]);
      await sys.epoll_ctl(ep, EPOLL_CTL_MOD, r2, { events: EPOLLIN | EPOLLONESHOT, data: 3 });
      expect(await sys.epoll_wait(ep, 10, 0)).toEqual([{ events: EPOLLIN, data: 3 }]);
      expect(await sys.epoll_wait(ep, 10, 0)).toEqual([]);
    });
  });

  it('hands out at most maxevents, the rest first next time', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const ep = await sys.epoll_create1();
      for (let i = 0; i < 5; i++) {
        const [, w] = await sys.pipe();
        await sys.epoll_ctl(ep, EPOLL_CTL_ADD, w, { events: EPOLLOUT, data: i });
      }
      expect((await sys.epoll_wait(ep, 2, 0)).map((e) => e.data)).toEqual([0, 1]);
      expect((await sys.epoll_wait(ep, 2, 0)).map((e) => e.data)).toEqual([2, 3]);
      expect((await sys.epoll_wait(ep, 2, 0)).map((e) => e.data)).toEqual([4, 0]);
    });
  });

  it('sleeps in simulated time until a watched file is woken, or the timeout, and leaves no timer behind', async () => {
    const s = setup();
    const clock = s.soc.clock;
    await run(s, async (sys) => {
      const ep = await sys.epoll_create1();
      const [r, w] = await sys.pipe();
      await sys.epoll_ctl(ep, EPOLL_CTL_ADD, r, { events: EPOLLIN, data: 5 });
      let t0 = clock.now;
      expect(await sys.epoll_wait(ep, 4, 25)).toEqual([]);
      expect(clock.now - t0).toBe(25_000_000);
      const child = await sys.fork(async (c) => {
        await clock.sleep(7_000_000);
        await c.write(w, Uint8Array.of(9));
      });
      t0 = clock.now;
      expect(await sys.epoll_wait(ep, 4, 1000)).toEqual([{ events: EPOLLIN, data: 5 }]);
      expect(clock.now - t0).toBe(7_000_000);
      await sys.wait(child);
      await sys.read(r, 1);
      t0 = clock.now;
      expect(await sys.epoll_wait(ep, 4, 0)).toEqual([]);
      expect(clock.now).toBe(t0);
    });
    // the 1000 ms timeout was cancelled when the write woke the waiter: the run ended at once
    expect(clock.now).toBe(32_000_000);
  });

  it('a wake-up for events an item did not ask for does not end the wait', async () => {
    const s = setup();
    const clock = s.soc.clock;
    await run(s, async (sys) => {
      const dev = await sys.open('/dev/testbuf', O_RDWR);
      const a = { size: PAGE_SIZE, fd: -1 };
      await sys.ioctl(dev, TEST_IOC_EXPORT, a);
      const b = s.dev.bufs[0]!;
      b.ready = false;
      const ep = await sys.epoll_create1();
      await sys.epoll_ctl(ep, EPOLL_CTL_ADD, a.fd, { events: EPOLLIN, data: 1 });
      clock.after(1_000_000, () => b.wq.wakeUp(EPOLLOUT));
      clock.after(2_000_000, () => {
        b.ready = true;
        b.wq.wakeUp(EPOLLIN);
      });
      const t0 = clock.now;
      expect(await sys.epoll_wait(ep, 1, -1)).toEqual([{ events: EPOLLIN, data: 1 }]);
      expect(clock.now - t0).toBe(2_000_000);
    });
  });

  it('drops a watch when its file is released, not when one of its fds is closed', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const ep = await sys.epoll_create1();
      const [r, w] = await sys.pipe();
      const r2 = await sys.dup(r);
      await sys.epoll_ctl(ep, EPOLL_CTL_ADD, r, { events: EPOLLIN, data: 1 });
      await sys.write(w, Uint8Array.of(1));
      await sys.close(r);
      // the file lives on through r2, so the watch does too (Linux's well-known quirk)
      expect(await sys.epoll_wait(ep, 4, 0)).toEqual([{ events: EPOLLIN, data: 1 }]);
      await sys.close(r2);
      expect(await sys.epoll_wait(ep, 4, 0)).toEqual([]);
      const file = s.k.processes.get(await sys.getpid())!.files.lookup(w);
      expect(file.watchers).toBe(null);
    });
    expect(s.k.vfs.openFileCount).toBe(0);
  });

  it('nests: an epoll file is readable when one of its items is ready; loops are refused', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const inner = await sys.epoll_create1();
      const outer = await sys.epoll_create1();
      const [r, w] = await sys.pipe();
      await sys.epoll_ctl(inner, EPOLL_CTL_ADD, r, { events: EPOLLIN, data: 1 });
      await sys.epoll_ctl(outer, EPOLL_CTL_ADD, inner, { events: EPOLLIN, data: 2 });
      expect(await sys.epoll_wait(outer, 4, 0)).toEqual([]);
      expect(await sys.poll([{ fd: inner, events: POLLIN }], 0)).toBe(0);
      await sys.write(w, Uint8Array.of(1));
      expect(await sys.epoll_wait(outer, 4, 0)).toEqual([{ events: EPOLLIN, data: 2 }]);
      expect(await sys.poll([{ fd: inner, events: POLLIN }], 0)).toBe(1);
      expect(await sys.epoll_wait(inner, 4, 0)).toEqual([{ events: EPOLLIN, data: 1 }]);
      expect(await errno(sys.epoll_ctl(inner, EPOLL_CTL_ADD, outer, { events: EPOLLIN, data: 0 }))).toBe('ELOOP');
    });
  });

  it('a fatal signal ends a sleeping epoll_wait', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const child = await sys.fork(async (c) => {
        const ep = await c.epoll_create1();
        const [r] = await c.pipe();
        await c.epoll_ctl(ep, EPOLL_CTL_ADD, r, { events: EPOLLIN, data: 0 });
        await c.epoll_wait(ep, 1, -1);
        return 0;
      });
      await s.soc.clock.sleep(1_000_000);
      await sys.kill(child, SIGKILL);
      expect((await sys.wait(child)).status).toBe(128 + 9);
    });
    expect(s.k.vfs.openFileCount).toBe(0);
  });

  it('watches stdin as a pipe whose writer is gone', async () => {
    const s = setup();
    const { spawnProcess } = await import('../../src/proc/index.ts');
    const sp = spawnProcess(s.k, async (sys) => {
      const ep = await sys.epoll_create1();
      await sys.epoll_ctl(ep, EPOLL_CTL_ADD, 0, { events: EPOLLIN, data: 0 });
      await sys.epoll_ctl(ep, EPOLL_CTL_ADD, 1, { events: EPOLLOUT, data: 1 });
      const first = await sys.epoll_wait(ep, 4, 0);
      await sys.read(0, 10);
      const second = await sys.epoll_wait(ep, 4, 0);
      return first.length === 2 && first[0]!.events === (EPOLLIN | EPOLLHUP) && second[0]!.events === EPOLLHUP && second[1]!.events === EPOLLOUT ? 0 : 1;
    }, [], undefined, { stdio: { stdin: 'hi' } });
    await s.soc.clock.run();
    expect(await sp.exitCode).toBe(0);
  });
});
