import { describe, expect, it } from 'vitest';
import { DmaFence, setFenceSignaller } from '../../src/dmabuf/index.ts';
import { Deadlock } from '../../src/hw/index.ts';
import { ERRNO, type Finding } from '../../src/lib/index.ts';
import { spawnProcess, type Sys } from '../../src/proc/index.ts';
import { bootSystem, loadPlatform } from '../../src/sim/index.ts';
import { O_RDWR, POLLIN, SW_SYNC_IOC_CREATE_FENCE, SW_SYNC_IOC_INC, SYNC_IOC_FILE_INFO, type SyncFileInfo } from '../../src/uapi/index.ts';
import { testSystem } from './helpers.ts';

// The fence wait-for graph: every wait is an edge from the waiting thread to
// the fence, and every fence knows who signals it (for sw_sync: whoever holds
// the timeline's fd). A cycle, a wait nobody can end and a fence left
// unsignalled at its timeline's teardown are findings with the whole chain.

const SW_SYNC = '/sys/kernel/debug/sync/sw_sync';

/** Boots the reference platform, runs `main` as process 1 until it exits or nothing can happen any more. */
async function runProgram(main: (sys: Sys, findings: readonly Finding[]) => Promise<number | void>) {
  const sys = bootSystem(loadPlatform('armv7-mobile'), { seed: 1 });
  const p = spawnProcess(sys.proc, async (s) => (await main(s, sys.soc.findings.findings)) ?? 0, [], undefined, { comm: 'main' });
  let hung = false;
  let status = -1;
  try {
    status = await sys.soc.clock.runUntilSettled(p.exitCode);
  } catch (e) {
    if (!(e instanceof Deadlock)) throw e;
    hung = true;
  }
  const fenceFindings = sys.soc.findings.findings.filter((f) => f.kind.startsWith('fence-'));
  return { sys, hung, status, fenceFindings };
}

/** A new sw_sync fence at `value` on timeline fd `tl`: its sync_file fd. */
async function createFence(sys: Sys, tl: number, value: number): Promise<number> {
  const a = { value, name: 'pt', fence: -1 };
  await sys.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, a);
  return a.fence;
}

/** The status SYNC_IOC_FILE_INFO gives for a sync_file: 1 signalled, 0 pending, a negative errno on error. */
async function fenceStatus(sys: Sys, fd: number): Promise<number> {
  const info: SyncFileInfo = { name: '', status: 0, flags: 0, num_fences: 0, pad: 0, sync_fence_info: 0 };
  await sys.ioctl(fd, SYNC_IOC_FILE_INFO, info);
  return info.status;
}

/** One side of a fence handshake over `sock`: make a fence, send it, take the peer's, wait for it, then signal our own. */
async function waitFirstPeer(sys: Sys, sock: number): Promise<void> {
  const tl = await sys.open(SW_SYNC, O_RDWR);
  const mine = await createFence(sys, tl, 1);
  await sys.sendmsg(sock, { data: new Uint8Array(1), fds: [mine] });
  const { fds } = await sys.recvmsg(sock, { maxFds: 1 });
  await sys.poll([{ fd: fds[0]!, events: POLLIN }], -1);
  await sys.ioctl(tl, SW_SYNC_IOC_INC, { value: 1 });
}

describe('fence wait-for graph', () => {
  it('two processes each waiting for the other\'s fence before signalling their own: one fence-deadlock finding naming both, the fences and where each was made', async () => {
    const { hung, fenceFindings } = await runProgram(async (sys) => {
      const [a, b] = await sys.socketpair();
      await sys.fork(async (c) => {
        await c.close(a);
        await waitFirstPeer(c, b);
      });
      await sys.close(b);
      await waitFirstPeer(sys, a);
    });
    // as on Linux, nothing ends the waits
    expect(hung).toBe(true);
    expect(fenceFindings.map((f) => f.kind)).toEqual(['fence-deadlock']);
    const f = fenceFindings[0]!;
    expect(f.call).toBe('sync_file_poll');
    expect(f.message).toMatch(/^2 threads wait for each other's fences in a cycle: /);
    // both processes, each fence by context:seqno with its timeline and the call that made it
    expect(f.message).toContain('main (pid 1)');
    expect(f.message).toContain('main (pid 2)');
    expect(f.message.match(/fence \d+:1 \(sw_sync timeline main, created by main \(pid [12]\) in ioctl SW_SYNC_IOC_CREATE_FENCE/g)).toHaveLength(2);
    // each wait with the line of the program that waits, each fence with the line that made it
    expect(f.message.match(/in poll › sync_file_poll \(test\/dmabuf\/fence-wait-graph\.test\.ts:\d+:\d+\) waits for/g)).toHaveLength(2);
    expect(f.message.match(/in ioctl SW_SYNC_IOC_CREATE_FENCE \(test\/dmabuf\/fence-wait-graph\.test\.ts:\d+:\d+\)\)/g)).toHaveLength(2);
    // blamed on the line of the program whose wait closed the cycle
    expect(f.site).toMatch(/test\/dmabuf\/fence-wait-graph\.test\.ts:\d+:\d+$/);
  });

  it('a fence the waiter alone could signal is a deadlock of one; one a child holding the inherited timeline fd signals is none', async () => {
    let beforeSleeping = -1;
    const alone = await runProgram(async (sys, findings) => {
      const tl = await sys.open(SW_SYNC, O_RDWR);
      const f = await createFence(sys, tl, 1);
      // a poll that finds another fd ready does not sleep: no wait, no finding
      const [r, w] = await sys.pipe();
      await sys.write(w, new Uint8Array(1));
      expect(await sys.poll([{ fd: f, events: POLLIN }, { fd: r, events: POLLIN }], -1)).toBe(1);
      await sys.nanosleep({ tv_sec: 0, tv_nsec: 1000 });
      beforeSleeping = findings.length;
      // timed, so the program goes on: the finding is made when the wait starts
      expect(await sys.poll([{ fd: f, events: POLLIN }], 50)).toBe(0);
    });
    // and its exit tears the timeline down with the fence still pending
    expect(beforeSleeping).toBe(0);
    expect(alone.fenceFindings.map((f) => f.kind)).toEqual(['fence-deadlock', 'fence-unsignalled']);
    expect(alone.fenceFindings[0]!.message).toMatch(/^a thread waits for a fence only it would signal: main \(pid 1\) in poll/);

    const shared = await runProgram(async (sys) => {
      const tl = await sys.open(SW_SYNC, O_RDWR);
      const f = await createFence(sys, tl, 1);
      const child = await sys.fork(async (c) => {
        await c.nanosleep({ tv_sec: 0, tv_nsec: 1_000_000 });
        await c.ioctl(tl, SW_SYNC_IOC_INC, { value: 1 });
      });
      await sys.poll([{ fd: f, events: POLLIN }], -1);
      expect(await fenceStatus(sys, f)).toBe(1);
      await sys.wait(child);
    });
    expect(shared.hung).toBe(false);
    expect(shared.status).toBe(0);
    expect(shared.fenceFindings).toEqual([]);
  });

  it('a wait on a fence whose timeline fd no live process holds (its opener exited, the fd left in a message never received): fence-orphaned', async () => {
    const { fenceFindings, status } = await runProgram(async (sys) => {
      const [a, b] = await sys.socketpair();
      const child = await sys.fork(async (c) => {
        await c.close(a);
        const tl = await c.open(SW_SYNC, O_RDWR);
        const f = await createFence(c, tl, 1);
        await c.sendmsg(b, { data: new Uint8Array(1), fds: [f] });
        // the timeline's fd goes into a second message, which the parent never reads
        await c.sendmsg(b, { data: new Uint8Array(1), fds: [tl] });
      });
      await sys.close(b);
      await sys.wait(child);
      const { fds } = await sys.recvmsg(a, { maxFds: 1 });
      expect(await sys.poll([{ fd: fds[0]!, events: POLLIN }], 100)).toBe(0);
      // closing the socket drops the message and with it the timeline's last reference
      await sys.close(a);
      expect(await fenceStatus(sys, fds[0]!)).toBe(-2);
    });
    expect(status).toBe(0);
    expect(fenceFindings.map((f) => f.kind)).toEqual(['fence-orphaned', 'fence-unsignalled']);
    const m = fenceFindings[0]!.message;
    expect(m).toMatch(/^main \(pid 1\) in poll › sync_file_poll .*waits for fence \d+:1 \(sw_sync timeline main, created by main \(pid 2\)/);
    expect(m).toMatch(/no live process holds the fd of its timeline .* its opener main \(pid 2\) exited at [\d.]+ ms without signalling it; the wait can never end$/);
  });

  it('a timeline closed with a fence still pending: fence-unsignalled names the fence and the process waiting for it, which wakes to ENOENT', async () => {
    const { fenceFindings, status } = await runProgram(async (sys) => {
      const tl = await sys.open(SW_SYNC, O_RDWR);
      const f = await createFence(sys, tl, 1);
      const child = await sys.fork(async (c) => {
        // only the parent holds the timeline: its close is the release
        await c.close(tl);
        await c.poll([{ fd: f, events: POLLIN }], -1);
        return -(await fenceStatus(c, f));
      });
      await sys.nanosleep({ tv_sec: 0, tv_nsec: 1_000_000 });
      await sys.close(tl);
      const w = await sys.wait(child);
      expect(w.status).toBe(2);
    });
    expect(status).toBe(0);
    expect(fenceFindings.map((f) => f.kind)).toEqual(['fence-unsignalled']);
    const f = fenceFindings[0]!;
    expect(f.call).toBe('sw_sync_debugfs_release');
    expect(f.message).toMatch(/^sw_sync timeline main \(context \d+\) torn down with 1 fence\(s\) still unsignalled: fence \d+:1 /);
    expect(f.message).toMatch(/signals now with ENOENT.*; waiting for it: main \(pid 2\)$/);
  });

  it('a fence released unsignalled while a kernel thread waits on it: fence-unsignalled naming the waiter (Linux WARNs "released with pending signals!"), which wakes to EDEADLK', async () => {
    const s = testSystem();
    const f = new DmaFence(s.soc.clock, { getDriverName: () => 'test', getTimelineName: () => 'ring' }, s.dbs.fctx.alloc(1), 1);
    setFenceSignaller(f, { thread: s.soc.costs.kthread('test-ring') });
    let error = 0;
    // the waiter holds no reference of its own: the bug that lets the last put release the fence under it
    const waiter = s.soc.cores.spawn('waiter', async () => {
      await f.wait();
      error = f.error;
    });
    s.soc.clock.after(1e6, () => f.put());
    await s.soc.clock.runUntilSettled(waiter);
    expect(error).toBe(-ERRNO.EDEADLK);
    const found = s.soc.findings.findings.filter((x) => x.kind.startsWith('fence-'));
    expect(found.map((x) => [x.kind, x.call])).toEqual([['fence-unsignalled', 'dma_fence_release']]);
    expect(found[0]!.message).toMatch(/^fence test:ring:[0-9a-f]+:1 released with 1 fence\(s\) still unsignalled: fence \d+:1 \(test timeline ring, created by [^)]*\); signalled with EDEADLK; waiting for it: waiter$/);
  });
});
