import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect } from 'vitest';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import { describeBlockedTasks, spawnProcess, type Sys } from '../../src/proc/index.ts';
import {
  CLONE_CHILD_CLEARTID,
  CLONE_FILES,
  CLONE_FS,
  CLONE_NEWNS,
  CLONE_PARENT_SETTID,
  CLONE_SIGHAND,
  CLONE_THREAD,
  CLONE_THREAD_FLAGS,
  CLONE_VM,
  FUTEX_WAIT,
  FUTEX_WAIT_PRIVATE,
  FUTEX_WAKE,
  FUTEX_WAKE_PRIVATE,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  O_RDONLY,
  O_RDWR,
  POLLIN,
  PROT_READ,
  PROT_WRITE,
  SIGCHLD,
  SIGKILL,
  SIGSEGV,
  SIGUSR1,
  SIGUSR2,
  SIG_IGN,
  SW_SYNC_IOC_CREATE_FENCE,
} from '../../src/uapi/index.ts';
import { TEST_IOC_EXPORT, errno, run, setup, type Setup } from './helpers.ts';
import { unimem } from '../cli/run-cli.ts';

/**
 * Runs the clock with a second process that, a millisecond in, hands
 * `check` the deadlock report's lines for the victim's pid, then kills
 * it; expects the victim killed by SIGKILL and both without an uncaught error.
 */
async function inspectThenKill(s: Setup, victim: ReturnType<typeof spawnProcess>, victimPid: () => number, check: (lines: string[]) => void): Promise<void> {
  const killer = spawnProcess(s.k, async (sys) => {
    await sys.nanosleep({ tv_sec: 0, tv_nsec: 1_000_000 });
    check(describeBlockedTasks(s.k).filter((l) => l.startsWith(`pid ${victimPid()}`)));
    await sys.kill(victimPid(), SIGKILL);
    return 0;
  }, [], undefined, { stdio: false });
  await s.soc.clock.run();
  expect(await victim.exitCode).toBe(128 + SIGKILL);
  expect(await killer.exitCode).toBe(0);
  expect(victim.process.group.uncaughtError).toBeUndefined();
  expect(killer.process.group.uncaughtError).toBeUndefined();
}
import { heapAlloc, testSystem } from '../dmabuf/helpers.ts';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

async function u32(sys: Sys, addr: number): Promise<number> {
  const b = await sys.load(addr, 4);
  return new DataView(b.buffer, b.byteOffset).getUint32(0, true);
}

function le32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

/** Everything a process holds is gone once it and its threads have ended. */
function expectNothingHeld(s: Setup, free0: number): void {
  expect(s.k.processes.size).toBe(0);
  expect(s.k.tasks.size).toBe(0);
  expect(s.k.vfs.openFileCount).toBe(0);
  expect(s.k.sockets.count).toBe(0);
  expect(s.k.anon.nrPages).toBe(0);
  expect(s.mm.pages.freeCount()).toBe(free0);
  for (const b of s.dev.bufs) expect(b.released).toBe(1);
  expect(s.dev.releases).toBe(s.dev.opens);
}

describe('threads', () => {
  it('share the address space: a store in one thread is what a load in another sees', async () => {
    const s = setup();
    const status = await run(s, async (sys) => {
      const a = await sys.mmap(0, PAGE_SIZE, RW, ANON, -1, 0);
      await sys.store(a, Uint8Array.of(1, 2, 3));
      const tid = await sys.threadCreate(async (t) => {
        const seen = await t.load(a, 3);
        await t.store(a + 8, Uint8Array.of(0xee));
        return seen.join();
      });
      expect(await sys.threadJoin(tid)).toBe('1,2,3');
      expect(await sys.load(a + 8, 1)).toEqual(Uint8Array.of(0xee));
      return 0;
    });
    expect(status).toBe(0);
  });

  it('share the fd table: an fd opened in one works in the other, and closed in one it is EBADF in both', async () => {
    const s = setup();
    const status = await run(s, async (sys) => {
      const tid = await sys.threadCreate(async (t) => t.open('/dev/testbuf', O_RDWR));
      const fd = (await sys.threadJoin(tid)) as number;
      const x = { size: PAGE_SIZE, fd: -1 };
      await sys.ioctl(fd, TEST_IOC_EXPORT, x);
      const [r, w] = await sys.pipe();
      const closer = await sys.threadCreate(async (t) => {
        await t.close(x.fd);
        await t.write(w, Uint8Array.of(1));
      });
      await sys.read(r, 1);
      expect(await errno(sys.fstat(x.fd))).toBe('EBADF');
      await sys.threadJoin(closer);
      expect(s.dev.bufs[0]!.released).toBe(1);
      expect(s.dev.opens).toBe(1);
      return 0;
    });
    expect(status).toBe(0);
    expect(s.dev.releases).toBe(1);
  });

  it('have tids of their own from the pid space and the process pid in getpid', async () => {
    const s = setup();
    const status = await run(s, async (sys) => {
      const pid = await sys.getpid();
      expect(await sys.gettid()).toBe(pid);
      const ids: [number, number][] = [];
      const t1 = await sys.threadCreate(async (t) => void ids.push([await t.getpid(), await t.gettid()]));
      const child = await sys.fork(async () => 0);
      const t2 = await sys.threadCreate(async (t) => void ids.push([await t.getpid(), await t.gettid()]));
      await sys.threadJoin(t1);
      await sys.threadJoin(t2);
      expect(ids).toEqual([
        [pid, t1],
        [pid, t2],
      ]);
      expect(t1).toBe(pid + 1);
      expect(child).toBe(pid + 2);
      expect(t2).toBe(pid + 3);
      await sys.wait(child);
      return 0;
    });
    expect(status).toBe(0);
  });

  it('join returns the exit value once; EDEADLK for oneself, ESRCH for no such thread', async () => {
    const s = setup();
    const status = await run(s, async (sys) => {
      const tid = await sys.threadCreate(async (t) => {
        await t.nanosleep({ tv_sec: 0, tv_nsec: 1000 });
        return { answer: 42 };
      });
      const early = await sys.threadCreate(async (t) => {
        await t.threadExit('bye');
        return 'never';
      });
      expect(await sys.threadJoin(tid)).toEqual({ answer: 42 });
      expect(await sys.threadJoin(early)).toBe('bye');
      expect(await errno(sys.threadJoin(tid))).toBe('ESRCH');
      expect(await errno(sys.threadJoin(await sys.gettid()))).toBe('EDEADLK');
      expect(await errno(sys.threadJoin(9999))).toBe('ESRCH');
      const child = await sys.fork(async () => 0);
      expect(await errno(sys.threadJoin(child))).toBe('ESRCH');
      await sys.wait(child);
      return 0;
    });
    expect(status).toBe(0);
  });

  it('a kill while two threads block in poll and read ends both; nothing leaks', async () => {
    const s = setup();
    const free0 = s.mm.pages.freeCount();
    const reached: string[] = [];
    let victimPid = 0;
    const victim = spawnProcess(s.k, async (sys) => {
      victimPid = await sys.getpid();
      const dev = await sys.open('/dev/testbuf', O_RDWR);
      await sys.ioctl(dev, TEST_IOC_EXPORT, { size: PAGE_SIZE, fd: -1 });
      const a = await sys.mmap(0, 2 * PAGE_SIZE, RW, ANON, -1, 0);
      await sys.store(a, Uint8Array.of(1));
      const [r] = await sys.pipe();
      const [sa] = await sys.socketpair();
      await sys.threadCreate(async (t) => {
        await t.poll([{ fd: r, events: POLLIN }], -1);
        reached.push('poll');
      });
      await sys.threadCreate(async (t) => {
        await t.read(sa, 16);
        reached.push('read');
      });
      // an unawaited call that the kill ends must not reject unhandled
      void sys.read(r, 1);
      await sys.pause();
      reached.push('main');
      return 0;
    }, [], undefined, { stdio: false });
    await inspectThenKill(s, victim, () => victimPid, (lines) => {
      expect(lines).toHaveLength(3);
      expect(lines[0]).toMatch(new RegExp(`^pid ${victimPid} \\(a\\.out\\) blocked in read\\(\\d+\\) on pipe:\\[\\d+\\], pause$`));
      expect(lines[1]).toMatch(new RegExp(`^pid ${victimPid} tid \\d+ \\(a\\.out\\) blocked in poll$`));
      expect(lines[2]).toMatch(new RegExp(`^pid ${victimPid} tid \\d+ \\(a\\.out\\) blocked in read\\(\\d+\\) on socket:\\[\\d+\\]$`));
    });
    expect(reached).toEqual([]);
    expectNothingHeld(s, free0);
  });

  it('exit from a thread ends the process and every other thread with its code', async () => {
    const s = setup();
    const free0 = s.mm.pages.freeCount();
    const reached: string[] = [];
    const status = await run(s, async (sys) => {
      const [r, w] = await sys.pipe();
      await sys.threadCreate(async (t) => {
        await t.nanosleep({ tv_sec: 10, tv_nsec: 0 });
        reached.push('sleeper');
      });
      await sys.threadCreate(async (t) => {
        await t.poll([], 1);
        await t.exit(7);
        reached.push('exiter');
      });
      await sys.read(r, 1);
      reached.push('main');
      await sys.close(w);
      return 0;
    });
    expect(status).toBe(7);
    expect(reached).toEqual([]);
    // nothing waited the ten seconds out
    expect(s.soc.clock.now).toBeLessThan(1e9);
    expectNothingHeld(s, free0);
  });

  it('main returning ends the process, whatever threads still run (exit_group)', async () => {
    const s = setup();
    const status = await run(s, async (sys) => {
      const [r] = await sys.pipe();
      await sys.threadCreate((t) => t.read(r, 1));
      return 5;
    });
    expect(status).toBe(5);
    expect(s.k.vfs.openFileCount).toBe(0);
  });

  it('a SIGSEGV in a thread kills the whole process: 128 + 11', async () => {
    const s = setup();
    const free0 = s.mm.pages.freeCount();
    const reached: string[] = [];
    const sp = spawnProcess(s.k, async (sys) => {
      const [r] = await sys.pipe();
      await sys.threadCreate(async (t) => {
        await t.store(0x1000, Uint8Array.of(1));
        reached.push('thread');
      });
      await sys.read(r, 1);
      reached.push('main');
      return 0;
    }, [], undefined, { stdio: false });
    await s.soc.clock.run();
    expect(await sp.exitCode).toBe(128 + SIGSEGV);
    expect(sp.process.group.termSignal).toBe(SIGSEGV);
    expect(sp.process.group.fault?.addr).toBe(0x1000);
    expect(sp.process.group.uncaughtError).toBeUndefined();
    expect(reached).toEqual([]);
    expectNothingHeld(s, free0);
  });

  it('an uncaught error in a thread ends the process with status 1', async () => {
    const s = setup();
    const sp = spawnProcess(s.k, async (sys) => {
      await sys.threadCreate(async () => {
        throw new TypeError('in a thread');
      });
      await sys.pause();
    }, [], undefined, { stdio: false });
    await s.soc.clock.run();
    expect(await sp.exitCode).toBe(1);
    expect(sp.process.group.uncaughtError).toBeInstanceOf(TypeError);
  });

  it('the main thread may end first: the process lives on until its last thread ends, with status 0', async () => {
    const s = setup();
    let pid = 0;
    const listings: string[][] = [];
    const sp = spawnProcess(s.k, async (sys) => {
      pid = await sys.getpid();
      await sys.threadCreate(async (t) => {
        await t.nanosleep({ tv_sec: 0, tv_nsec: 1000 });
        const fd = await t.open(`/proc/${pid}/task`, O_RDONLY);
        listings.push((await t.getdents64(fd, 4096)).map((d) => d.d_name));
        await t.close(fd);
        // a signal for the process goes to a thread still running
        await t.kill(pid, SIGUSR1);
        return 0;
      });
      await sys.sigaction(SIGUSR1, { handler: SIG_IGN });
      await sys.threadExit(3);
      return 9;
    }, [], undefined, { stdio: false });
    await s.soc.clock.run();
    expect(await sp.exitCode).toBe(0);
    expect(listings).toEqual([['.', '..', String(pid), String(pid + 1)]]);
    expect(s.k.processes.size).toBe(0);
  });

  it('a signal for the process runs its handler in the main thread; other threads sleep on', async () => {
    const s = setup();
    const status = await run(s, async (sys) => {
      const [r, w] = await sys.pipe();
      const pid = await sys.getpid();
      const handledIn: number[] = [];
      await sys.sigaction(SIGUSR1, { handler: () => void handledIn.push(pid) });
      const reader = await sys.threadCreate(async (t) => {
        const got = await t.read(r, 1);
        return got[0];
      });
      await sys.threadCreate(async (t) => {
        await t.poll([], 1);
        await t.kill(pid, SIGUSR1);
      });
      expect(await errno(sys.pause())).toBe('EINTR');
      expect(handledIn).toEqual([pid]);
      await sys.write(w, Uint8Array.of(0x5a));
      expect(await sys.threadJoin(reader)).toBe(0x5a);
      return 0;
    });
    expect(status).toBe(0);
  });

  it('exec from a thread ends the others; the new program is the process, its only thread', async () => {
    const s = setup();
    let after: number[] = [];
    const reached: string[] = [];
    const sp = spawnProcess(s.k, async (sys) => {
      const pid = await sys.getpid();
      const [r] = await sys.pipe();
      await sys.threadCreate(async (t) => {
        await t.exec(async (n: Sys) => {
          after = [await n.getpid(), await n.gettid(), s.k.processes.get(pid)!.group.tasks.length];
          return 4;
        });
      });
      await sys.read(r, 1);
      reached.push('main');
    }, [], undefined, { stdio: false });
    await s.soc.clock.run();
    expect(await sp.exitCode).toBe(4);
    expect(after).toEqual([sp.pid, sp.pid, 1]);
    expect(reached).toEqual([]);
    expect(s.k.vfs.openFileCount).toBe(0);
  });
});

describe('threads blocked on fences', () => {
  it('exit ends threads waiting for a dma-buf and an unsignalled sw_sync fence; the buffer and the fence go with the process', async () => {
    const s = testSystem();
    const sp = spawnProcess(s.k, async (sys) => {
      const buf = await heapAlloc(sys, 'system', PAGE_SIZE);
      const tl = await sys.open('/sys/kernel/debug/sync/sw_sync', O_RDWR);
      const data = { value: 1, name: 'never', fence: -1 };
      await sys.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, data);
      await sys.threadCreate((t) => t.poll([{ fd: data.fence, events: POLLIN }], -1));
      await sys.threadCreate((t) => t.poll([{ fd: buf, events: POLLIN }, { fd: data.fence, events: POLLIN }], -1));
      await sys.poll([], 1);
      return sys.exit(3);
    }, [], undefined, { stdio: false });
    await s.soc.clock.run();
    expect(sp.process.group.uncaughtError).toBeUndefined();
    expect(await sp.exitCode).toBe(3);
    expect(s.k.processes.size).toBe(0);
    expect(s.k.vfs.openFileCount).toBe(0);
    expect(s.dbs.buffers.length).toBe(0);
  });
});

describe('/proc/<pid>/task', () => {
  it('lists each thread; task/<tid> has fd, fdinfo, comm and maps; an ended thread is gone', async () => {
    const s = setup();
    const status = await run(s, async (sys) => {
      const pid = await sys.getpid();
      const [r, w] = await sys.pipe();
      const tid = await sys.threadCreate(async (t) => {
        await t.read(r, 1);
        return 0;
      });
      const dir = await sys.open('/proc/self/task', O_RDONLY);
      const ents = await sys.getdents64(dir, 4096);
      expect(ents.map((e) => e.d_name)).toEqual(['.', '..', String(pid), String(tid)]);
      expect(ents.slice(2).every((e) => e.d_type === 4)).toBe(true);
      expect(await sys.getdents64(dir, 4096)).toEqual([]);
      await sys.close(dir);
      expect((await sys.stat(`/proc/${pid}/task`)).st_nlink).toBe(4);
      const td = await sys.open(`/proc/${pid}/task/${tid}`, O_RDONLY);
      expect((await sys.getdents64(td, 4096)).map((e) => e.d_name)).toEqual(['.', '..', 'fd', 'fdinfo', 'status', 'comm', 'maps']);
      await sys.close(td);
      expect(await sys.readFile(`/proc/${pid}/task/${tid}/comm`)).toBe('a.out\n');
      expect(await sys.readFile(`/proc/${pid}/comm`)).toBe('a.out\n');
      expect(await sys.readlink(`/proc/${pid}/task/${tid}/fd/${r}`)).toMatch(/^pipe:\[\d+\]$/);
      expect(await sys.readFile(`/proc/${pid}/task/${tid}/maps`)).toBe(await sys.readFile('/proc/self/maps'));
      expect(await errno(sys.stat(`/proc/${pid}/task/9999`))).toBe('ENOENT');
      expect(await errno(sys.stat(`/proc/${pid}/task/${tid}/task`))).toBe('ENOENT');
      await sys.write(w, Uint8Array.of(1));
      await sys.threadJoin(tid);
      expect(await errno(sys.stat(`/proc/${pid}/task/${tid}`))).toBe('ENOENT');
      return 0;
    });
    expect(status).toBe(0);
  });
});

describe('/proc/<pid>/status', () => {
  it('names the task, its ids, state and fd table size, the live threads and the signal masks as proc_pid_status prints them', async () => {
    const s = setup();
    const status = await run(s, async (sys) => {
      const pid = await sys.getpid();
      const [r, w] = await sys.pipe();
      await sys.sigaction(SIGUSR2, { handler: SIG_IGN });
      await sys.sigaction(SIGUSR1, { handler: () => undefined });
      const tid = await sys.threadCreate(async (t) => {
        await t.read(r, 1);
        return 0;
      });
      const fields = (text: string) => Object.fromEntries(text.trimEnd().split('\n').map((l) => l.split(':\t') as [string, string]));
      const own = fields(await sys.readFile('/proc/self/status'));
      expect(own).toMatchObject({
        Name: 'a.out',
        Umask: '0022',
        State: 'R (running)',
        Tgid: String(pid),
        Pid: String(pid),
        Uid: '0\t0\t0\t0',
        FDSize: '64',
        Threads: '2',
        SigIgn: (1n << BigInt(SIGUSR2 - 1)).toString(16).padStart(16, '0'),
        SigCgt: (1n << BigInt(SIGUSR1 - 1)).toString(16).padStart(16, '0'),
        SigBlk: '0000000000000000',
      });
      // the thread sleeps in read: its own status says so, with its tid and the group's pid
      const thread = fields(await sys.readFile(`/proc/${pid}/task/${tid}/status`));
      expect(thread).toMatchObject({ State: 'S (sleeping)', Tgid: String(pid), Pid: String(tid), Threads: '2' });
      expect(Number(own.VmSize!.replace(' kB', ''))).toBe(0);
      const m = await sys.mmap(0, 16 * PAGE_SIZE, RW, ANON, -1, 0);
      expect(fields(await sys.readFile('/proc/self/status')).VmSize).toBe('      64 kB');
      await sys.munmap(m, 16 * PAGE_SIZE);
      await sys.write(w, Uint8Array.of(1));
      await sys.threadJoin(tid);
      expect(fields(await sys.readFile('/proc/self/status')).Threads).toBe('1');
      return 0;
    });
    expect(status).toBe(0);
  });
});

describe('clone and futex', () => {
  it('CLONE_PARENT_SETTID writes the tid; CLONE_CHILD_CLEARTID clears it and wakes the futex pthread_join waits on', async () => {
    const s = setup();
    const status = await run(s, async (sys) => {
      const a = await sys.mmap(0, PAGE_SIZE, RW, ANON, -1, 0);
      const word = a + 16;
      const tid = await sys.clone(async (t) => {
        await t.nanosleep({ tv_sec: 0, tv_nsec: 5000 });
        return 1;
      }, CLONE_THREAD_FLAGS, { parent_tid: word, child_tid: word });
      expect(await u32(sys, word)).toBe(tid);
      let waits = 0;
      for (let v = await u32(sys, word); v !== 0; v = await u32(sys, word)) {
        waits++;
        expect(await errno(sys.futex(word, FUTEX_WAIT, v))).toMatch(/^(ok|EAGAIN)$/);
      }
      expect(waits).toBe(1);
      expect(await errno(sys.threadJoin(tid))).toBe('ok');
      return 0;
    });
    expect(status).toBe(0);
  });

  it('futex: EAGAIN when the word changed, ETIMEDOUT, wakes in order and counts, EINVAL and ENOSYS', async () => {
    const s = setup();
    const status = await run(s, async (sys) => {
      const a = await sys.mmap(0, PAGE_SIZE, RW, ANON, -1, 0);
      await sys.store(a, le32(5));
      expect(await errno(sys.futex(a, FUTEX_WAIT_PRIVATE, 4))).toBe('EAGAIN');
      expect(await errno(sys.futex(a, FUTEX_WAIT, 5, { tv_sec: 0, tv_nsec: 1000 }))).toBe('ETIMEDOUT');
      expect(await errno(sys.futex(a + 2, FUTEX_WAIT, 5))).toBe('EINVAL');
      expect(await errno(sys.futex(a, 99, 5))).toBe('ENOSYS');
      expect(await errno(sys.futex(0x1000, FUTEX_WAIT, 0))).toBe('EFAULT');
      expect(await errno(sys.futex(0x1000, FUTEX_WAKE, 1))).toBe('EFAULT');
      expect(await sys.futex(0x1000, FUTEX_WAKE_PRIVATE, 1)).toBe(0);
      const woke: number[] = [];
      const tids: number[] = [];
      for (let i = 0; i < 3; i++) tids.push(await sys.threadCreate(async (t) => {
        await t.futex(a, FUTEX_WAIT_PRIVATE, 5);
        woke.push(i);
      }));
      await sys.poll([], 1);
      // nr 0 still wakes one, as the kernel's loop counts
      expect(await sys.futex(a, FUTEX_WAKE_PRIVATE, 0)).toBe(1);
      expect(await sys.futex(a, FUTEX_WAKE_PRIVATE, 10)).toBe(2);
      expect(await sys.futex(a, FUTEX_WAKE_PRIVATE, 10)).toBe(0);
      for (const t of tids) await sys.threadJoin(t);
      expect(woke).toEqual([0, 1, 2]);
      return 0;
    });
    expect(status).toBe(0);
  });

  it('clone checks its flags as Linux does and forks for SIGCHLD alone', async () => {
    const s = setup();
    const status = await run(s, async (sys) => {
      const fn = async () => 0;
      expect(await errno(sys.clone(fn, CLONE_VM | CLONE_THREAD))).toBe('EINVAL');
      expect(await errno(sys.clone(fn, CLONE_THREAD | CLONE_SIGHAND))).toBe('EINVAL');
      expect(await errno(sys.clone(fn, CLONE_FS | CLONE_NEWNS | SIGCHLD))).toBe('EINVAL');
      expect(await errno(sys.clone(fn, CLONE_VM | CLONE_SIGHAND | CLONE_THREAD))).toBe('EINVAL');
      expect(await errno(sys.clone(fn, CLONE_VM | SIGCHLD))).toBe('EINVAL');
      const child = await sys.clone(async (c) => ((await c.gettid()) === (await c.getpid()) ? 6 : 1), SIGCHLD);
      expect(await sys.wait(child)).toEqual({ pid: child, status: 6, signal: 0 });
      const t = await sys.clone(async () => 'ok', CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID);
      expect(await sys.threadJoin(t)).toBe('ok');
      return 0;
    });
    expect(status).toBe(0);
  });

  it('calls that end at once while another call of the thread sleeps leave that call as it was', async () => {
    // an entry that costs time: the calls sleep on a core, and end on the quick path
    const s = setup({ syscallNs: 400 });
    let victimPid = 0;
    const victim = spawnProcess(s.k, async (sys) => {
      victimPid = await sys.getpid();
      const [r] = await sys.pipe();
      // the read sleeps, unawaited; the calls after it end on the quick path, each leaving its state for the next to reuse
      void sys.read(r, 1);
      for (let i = 0; i < 50; i++) {
        expect(await sys.getpid()).toBe(victimPid);
        expect(await sys.gettid()).toBe(victimPid);
      }
      await sys.pause();
      return 0;
    }, [], undefined, { stdio: false });
    await inspectThenKill(s, victim, () => victimPid, (lines) => {
      expect(lines).toEqual([expect.stringMatching(new RegExp(`^pid ${victimPid} \\(a\\.out\\) blocked in read\\(\\d+\\) on pipe:\\[\\d+\\], pause$`))]);
    });
  });

  it('a thread blocked in a futex wait ends cleanly with the process', async () => {
    const s = setup();
    const sp = spawnProcess(s.k, async (sys) => {
      const a = await sys.mmap(0, PAGE_SIZE, RW, ANON, -1, 0);
      await sys.threadCreate((t) => t.futex(a, FUTEX_WAIT, 0));
      const me = await sys.getpid();
      await sys.threadCreate(async (t) => {
        await t.poll([], 1);
        await t.kill(me, SIGKILL);
      });
      await sys.futex(a, FUTEX_WAIT, 0);
    }, [], undefined, { stdio: false });
    await s.soc.clock.run();
    expect(await sp.exitCode).toBe(128 + SIGKILL);
    expect(s.k.processes.size).toBe(0);
  });
});

describe('unimem exec with threads', () => {
  it('runs the producer/consumer example: frames pass through one dma-buf mapping between two threads, exit 0', async () => {
    const r = await unimem(['exec', '--check', 'examples/programs/threads.ts']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('producer tid 2 of pid 1: 4 frames\nconsumer tid 3: 4 of 4 frames as written\nthreads: 1 2 3\n');
    expect(r.code).toBe(0);
  });

  it('a deadlock names each blocked thread; a SIGSEGV in a thread is reported as the process ending, exit 139', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unimem-threads-'));
    const stuck = join(dir, 'stuck.mjs');
    writeFileSync(
      stuck,
      `export default async function main(sys) {\n  const [r] = await sys.pipe();\n  const [a] = await sys.socketpair();\n  const t = await sys.threadCreate((t) => t.recvmsg(a));\n  await sys.threadCreate((t) => t.poll([{ fd: r, events: 1 }], -1));\n  await sys.threadJoin(t);\n}\n`,
    );
    const r = await unimem(['exec', stuck]);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('unimem: deadlock: every thread sleeps and nothing is scheduled');
    expect(lines.slice(1)).toEqual([
      'unimem:   pid 1 (main) blocked in threadJoin',
      expect.stringMatching(/^unimem: {3}pid 1 tid 2 \(main\) blocked in recvmsg\(5\) on socket:\[\d+\]$/),
      'unimem:   pid 1 tid 3 (main) blocked in poll',
    ]);
    expect(r.code).toBe(1);

    const segv = join(dir, 'segv.mjs');
    writeFileSync(segv, `export default async function main(sys) {\n  const [r] = await sys.pipe();\n  await sys.threadCreate(async (t) => {\n    await t.store(0x1000, new Uint8Array(1));\n  });\n  await sys.read(r, 1);\n}\n`);
    const s = await unimem(['exec', segv]);
    expect(s.stderr).toBe(`unimem: ${segv}:4:5: killed by SIGSEGV (store at 0x1000: no mapping)\n`);
    expect(s.code).toBe(139);
  });
});
