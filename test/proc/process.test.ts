import { describe, it, expect } from 'vitest';
import { makeCred } from '../../src/fs/index.ts';
import { spawnProcess, type Sys } from '../../src/proc/index.ts';
import { ProcessUnwind } from '../../src/proc/errors.ts';
import { F_SETFD, FD_CLOEXEC, O_CLOEXEC, O_CREAT, O_RDWR, POLLIN, SIGKILL, SIGTERM, SIGCHLD } from '../../src/uapi/index.ts';
import { TEST_IOC_EXPORT, errno, run, setup } from './helpers.ts';

describe('processes', () => {
  it('fork copies the fd table; wait returns the child status and reaps it; ECHILD after', async () => {
    const s = setup();
    const status = await run(s, async (sys) => {
      const fd = await sys.open('/tmp/shared', O_CREAT | O_RDWR);
      const me = await sys.getpid();
      const child = await sys.fork(async (c) => {
        expect(await c.getpid()).not.toBe(me);
        await c.write(fd, new TextEncoder().encode('child'));
        return 3;
      });
      const w = await sys.wait(-1);
      expect(w).toEqual({ pid: child, status: 3, signal: 0 });
      // one open file description: the child's write moved the shared position
      expect(await sys.lseek(fd, 0, 1)).toBe(5);
      expect(await errno(sys.wait(child))).toBe('ECHILD');
      expect(await errno(sys.wait(-1))).toBe('ECHILD');
      return 0;
    });
    expect(status).toBe(0);
    expect(s.k.processes.size).toBe(0);
    expect(s.k.vfs.openFileCount).toBe(0);
  });

  it('exit ends the program at once with its code, and closes its fds', async () => {
    const s = setup();
    let reached = false;
    const status = await run(s, async (sys) => {
      await sys.open('/dev/testbuf', O_RDWR);
      await sys.exit(42);
      reached = true;
    });
    expect(status).toBe(42);
    expect(reached).toBe(false);
    expect(s.dev.releases).toBe(1);
  });

  it('an uncaught error ends the process with status 1 and is kept', async () => {
    const s = setup();
    const sp = spawnProcess(s.k, async () => {
      throw new TypeError('oops');
    });
    await s.soc.clock.run();
    expect(await sp.exitCode).toBe(1);
    expect(sp.process.group.uncaughtError).toBeInstanceOf(TypeError);
  });

  it('kill ends a child blocked in recvmsg: it dies with 128+sig and its files are released', async () => {
    const s = setup();
    const status = await run(s, async (sys) => {
      const [a, b] = await sys.socketpair();
      const child = await sys.fork(async (c) => {
        await c.close(a);
        const dev = await c.open('/dev/testbuf', O_RDWR);
        const x = { size: 4096, fd: -1 };
        await c.ioctl(dev, TEST_IOC_EXPORT, x);
        await c.recvmsg(b); // blocks forever
        return 0;
      });
      await sys.close(b);
      await sys.poll([], 5);
      expect(s.dev.opens).toBe(1);
      await sys.kill(child, SIGCHLD); // ignored by default
      await sys.kill(child, 0);
      await sys.kill(child, SIGTERM);
      const w = await sys.wait(child);
      expect(w.status).toBe(128 + SIGTERM);
      expect(w.signal).toBe(SIGTERM);
      expect(s.dev.releases).toBe(1);
      expect(s.dev.bufs[0]!.released).toBe(1);
      // the peer went away: our end sees the hang-up
      const p = [{ fd: a, events: POLLIN }];
      expect(await sys.poll(p, 0)).toBe(1);
      expect(await errno(sys.kill(child, SIGKILL))).toBe('ESRCH');
      expect(await errno(sys.kill(1, 99))).toBe('EINVAL');
      return 0;
    });
    expect(status).toBe(0);
  });

  it('kill obeys credentials: EPERM for another user, root may', async () => {
    const s = setup();
    const victim = spawnProcess(s.k, async (sys) => {
      await sys.poll([], -1);
    }, [], makeCred(1000, 1000));
    const other = spawnProcess(s.k, async (sys) => {
      expect(await errno(sys.kill(victim.pid, SIGKILL))).toBe('EPERM');
    }, [], makeCred(1001, 1001));
    const root = spawnProcess(s.k, async (sys) => {
      await sys.poll([], 1);
      await sys.kill(victim.pid, SIGKILL);
    });
    await s.soc.clock.run();
    expect(await other.exitCode).toBe(0);
    expect(other.process.group.uncaughtError).toBeUndefined();
    expect(await root.exitCode).toBe(0);
    expect(await victim.exitCode).toBe(128 + SIGKILL);
  });

  it('a process killing itself unwinds on the way out of kill', async () => {
    const s = setup();
    let after = false;
    const status = await run(s, async (sys) => {
      const err = await sys.kill(await sys.getpid(), SIGTERM).catch((e: unknown) => e);
      after = true;
      expect(err).toBeInstanceOf(ProcessUnwind);
      await sys.getpid();
    });
    expect(after).toBe(true);
    expect(status).toBe(128 + SIGTERM);
  });

  it('exec closes close-on-exec fds, keeps the others, drops mappings and keeps the pid', async () => {
    const s = setup();
    let seen: { pid: number; kept: string; closed: string } | undefined;
    const next = async (sys: Sys, args: string[]) => {
      seen = {
        pid: await sys.getpid(),
        kept: await sys.readlink('/proc/self/fd/0'),
        closed: await errno(sys.readlink('/proc/self/fd/1')),
      };
      expect(args).toEqual(['--flag']);
      expect((await sys.readFile('/proc/self/maps')).length).toBe(0);
      return 9;
    };
    let pid = 0;
    let unwound: unknown;
    const status = await run(s, async (sys) => {
      pid = await sys.getpid();
      await sys.open('/tmp/keep', O_CREAT | O_RDWR);
      await sys.open('/dev/testbuf', O_RDWR | O_CLOEXEC);
      const c = await sys.open('/tmp/x', O_CREAT | O_RDWR);
      await sys.fcntl(c, F_SETFD, FD_CLOEXEC);
      await sys.mmap(0, 4096, 3, 0x22, -1, 0);
      try {
        await sys.exec(next, ['--flag']);
      } catch (e) {
        unwound = e;
      }
      // the old image can do nothing any more
      return (await errno(sys.getpid().then(() => 0))) === 'ok' ? 1 : 2;
    });
    expect(unwound).toBeInstanceOf(ProcessUnwind);
    expect(status).toBe(9);
    expect(seen).toEqual({ pid, kept: '/tmp/keep', closed: 'ENOENT' });
    expect(s.dev.releases).toBe(1);
  });

  it('/proc of another user\'s process is EACCES; root may look', async () => {
    const s = setup();
    const victim = spawnProcess(s.k, async (sys) => {
      await sys.open('/tmp/v', O_CREAT | O_RDWR);
      await sys.poll([], 10);
    }, [], makeCred(1000, 1000));
    const other = spawnProcess(s.k, async (sys) => {
      await sys.poll([], 1);
      expect(await errno(sys.readlink(`/proc/${victim.pid}/fd/3`))).toBe('EACCES');
      expect(await errno(sys.readFile(`/proc/${victim.pid}/maps`))).toBe('EACCES');
    }, [], makeCred(1001, 1001));
    const root = spawnProcess(s.k, async (sys) => {
      await sys.poll([], 1);
      expect(await sys.readlink(`/proc/${victim.pid}/fd/3`)).toBe('/tmp/v');
      expect(await sys.readlink(`/proc/${victim.pid}/fd/1`)).toMatch(/^pipe:\[\d+\]$/);
    });
    await s.soc.clock.run();
    for (const p of [other, root]) {
      expect(await p.exitCode).toBe(0);
      expect(p.process.group.uncaughtError).toBeUndefined();
    }
  });
});

describe('standard streams', () => {
  it('a spawned program starts with fds 0, 1, 2: input then EOF, output collected and passed on, no seeking', async () => {
    const s = setup();
    const seen: string[] = [];
    const sp = spawnProcess(s.k, async (sys) => {
      const dec = new TextDecoder();
      expect(dec.decode(await sys.read(0, 100))).toBe('in put');
      expect((await sys.read(0, 100)).length).toBe(0);
      await sys.write(1, new TextEncoder().encode('hello '));
      const child = await sys.fork(async (c) => {
        await c.write(1, new TextEncoder().encode('from child'));
        await c.write(2, new TextEncoder().encode('warn'));
      });
      await sys.wait(child);
      expect(await errno(sys.lseek(1, 0, 0))).toBe('ESPIPE');
      expect(await errno(sys.write(0, new Uint8Array(1)))).toBe('EBADF');
      expect(await sys.open('/tmp/first', O_CREAT | O_RDWR)).toBe(3);
    }, [], undefined, { stdio: { stdin: 'in put', onWrite: (fd, b) => seen.push(`${fd}:${new TextDecoder().decode(b)}`) } });
    await s.soc.clock.run();
    expect(await sp.exitCode).toBe(0);
    expect(sp.process.group.uncaughtError).toBeUndefined();
    expect(sp.stdio!.stdout).toBe('hello from child');
    expect(sp.stdio!.stderr).toBe('warn');
    expect(seen).toEqual(['1:hello ', '1:from child', '2:warn']);
    expect(s.k.vfs.openFileCount).toBe(0);
  });
});
