import { describe, expect, it } from 'vitest';
import { makeCred } from '../../src/fs/index.ts';
import type { PollFd, Sys } from '../../src/proc/index.ts';
import {
  FD_CLOEXEC,
  F_GETFD,
  O_RDONLY,
  O_RDWR,
  POLLIN,
  SW_SYNC_IOC_CREATE_FENCE,
  SW_SYNC_IOC_INC,
  SYNC_IOC_FILE_INFO,
  SYNC_IOC_MERGE,
  type SwSyncCreateFenceData,
  type SyncFenceInfo,
  type SyncFileInfo,
} from '../../src/uapi/index.ts';
import { errno, run, testSystem } from './helpers.ts';

// Ports of the behaviour the kernel's sync selftests (tools/testing/selftests/sync:
// sync_alloc, sync_fence, sync_merge, sync_wait) and IGT's sw_sync test check,
// written against unimem's Sys: timelines from /sys/kernel/debug/sync/sw_sync,
// fences by SW_SYNC_IOC_CREATE_FENCE, signalling by SW_SYNC_IOC_INC.

const SW_SYNC = '/sys/kernel/debug/sync/sw_sync';

async function createFence(sys: Sys, tl: number, value: number): Promise<number> {
  const data: SwSyncCreateFenceData = { value, name: 'fence', fence: -1 };
  await sys.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, data);
  return data.fence;
}

async function inc(sys: Sys, tl: number, n: number): Promise<void> {
  await sys.ioctl(tl, SW_SYNC_IOC_INC, { value: n });
}

async function info(sys: Sys, fd: number): Promise<SyncFileInfo & { fences: SyncFenceInfo[] }> {
  const fences: SyncFenceInfo[] = [];
  const i: SyncFileInfo = { name: '', status: 0, flags: 0, num_fences: 8, pad: 0, sync_fence_info: fences };
  await sys.ioctl(fd, SYNC_IOC_FILE_INFO, i);
  return { ...i, fences };
}

async function status(sys: Sys, fd: number): Promise<number> {
  const i: SyncFileInfo = { name: '', status: 0, flags: 0, num_fences: 0, pad: 0, sync_fence_info: 0 };
  await sys.ioctl(fd, SYNC_IOC_FILE_INFO, i);
  return i.status;
}

describe('sw_sync (debugfs)', () => {
  it('a timeline is named after its opener; its fences report sw_sync, the timeline and a cloexec sync_file', async () => {
    const s = testSystem();
    await run(s, async function swsynctest(sys) {
      const ctx = s.dbs.fctx.nextContext;
      const tl = await sys.open(SW_SYNC, O_RDWR);
      const fd = await createFence(sys, tl, 5);
      expect(fd).toBeGreaterThan(tl);
      expect((await sys.fcntl(fd, F_GETFD)) & FD_CLOEXEC).toBe(FD_CLOEXEC);
      expect(await sys.readlink(`/proc/self/fd/${fd}`)).toBe('anon_inode:sync_file');
      const i = await info(sys, fd);
      expect(i.num_fences).toBe(1);
      expect(i.status).toBe(0);
      expect(i.fences[0]).toMatchObject({ driver_name: 'sw_sync', obj_name: 'swsynctest', status: 0, timestamp_ns: 0 });
      // the open allocated the timeline's fence context
      expect(i.name).toBe(`sw_sync-swsynctest${ctx}-5`);
      await sys.close(fd);
      await sys.close(tl);
    });
    expect(s.k.vfs.openFileCount).toBe(0);
  });

  it('sync/info lists each open timeline with its value and pending points in signalling order, and forgets it at close', async () => {
    const s = testSystem();
    await run(s, async function infotest(sys) {
      const empty = 'objs:\n--------------\nfences:\n--------------\n';
      expect(await sys.readFile('/sys/kernel/debug/sync/info')).toBe(empty);
      const a = await sys.open(SW_SYNC, O_RDWR);
      const b = await sys.open(SW_SYNC, O_RDWR);
      const fences = [await createFence(sys, a, 5), await createFence(sys, a, 1), await createFence(sys, a, 3), await createFence(sys, b, 2)];
      await inc(sys, a, 2);
      expect(await sys.readFile('/sys/kernel/debug/sync/info')).toBe(
        'objs:\n--------------\n' +
          'infotest: 2\n  fence active: 3 / 2\n  fence active: 5 / 2\n\n' +
          'infotest: 0\n  fence active: 2 / 0\n\n' +
          'fences:\n--------------\n',
      );
      await sys.close(a);
      expect(await sys.readFile('/sys/kernel/debug/sync/info')).toBe('objs:\n--------------\ninfotest: 0\n  fence active: 2 / 0\n\nfences:\n--------------\n');
      await sys.close(b);
      expect(await sys.readFile('/sys/kernel/debug/sync/info')).toBe(empty);
      for (const f of fences) await sys.close(f);
    });
  });

  it('a long comm is cut to 15 bytes as TASK_COMM_LEN does; two opens are two timelines', async () => {
    const s = testSystem();
    await run(s, async function aVeryLongProgramName(sys) {
      const a = await sys.open(SW_SYNC, O_RDWR);
      const b = await sys.open(SW_SYNC, O_RDWR);
      const fa = await createFence(sys, a, 1);
      const fb = await createFence(sys, b, 1);
      const ia = await info(sys, fa);
      const ib = await info(sys, fb);
      expect(ia.fences[0]!.obj_name).toBe('aVeryLongProgra');
      expect(ia.name).not.toBe(ib.name);
      await inc(sys, a, 1);
      expect(await status(sys, fa)).toBe(1);
      expect(await status(sys, fb)).toBe(0);
    });
  });

  it('INC signals the points it reaches in seqno order; a passed value is born signalled', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const tl = await sys.open(SW_SYNC, O_RDWR);
      const f3 = await createFence(sys, tl, 3);
      const f1 = await createFence(sys, tl, 1);
      const f2 = await createFence(sys, tl, 2);
      await inc(sys, tl, 1);
      expect([await status(sys, f1), await status(sys, f2), await status(sys, f3)]).toEqual([1, 0, 0]);
      const t1 = (await info(sys, f1)).fences[0]!.timestamp_ns;
      expect(t1).toBe(s.soc.clock.now);
      await sys.poll([], 1);
      await inc(sys, tl, 2);
      expect([await status(sys, f2), await status(sys, f3)]).toEqual([1, 1]);
      expect(Number((await info(sys, f3)).fences[0]!.timestamp_ns)).toBeGreaterThan(Number(t1));
      const old = await createFence(sys, tl, 2);
      expect(await status(sys, old)).toBe(1);
      const p: PollFd[] = [{ fd: old, events: POLLIN }];
      expect(await sys.poll(p, 0)).toBe(1);
    });
  });

  it('the same value twice gives the same fence; merging fences of one timeline keeps the later', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const tl = await sys.open(SW_SYNC, O_RDWR);
      const a = await createFence(sys, tl, 7);
      const b = await createFence(sys, tl, 7);
      expect((await info(sys, a)).name).toBe((await info(sys, b)).name);
      const c = await createFence(sys, tl, 9);
      const m = { name: 'merged', fd2: c, fence: -1, flags: 0, pad: 0 };
      await sys.ioctl(a, SYNC_IOC_MERGE, m);
      const mi = await info(sys, m.fence);
      expect(mi.name).toBe('merged');
      expect(mi.num_fences).toBe(1);
      await inc(sys, tl, 7);
      expect(await status(sys, m.fence)).toBe(0);
      await inc(sys, tl, 2);
      expect(await status(sys, m.fence)).toBe(1);
    });
  });

  it('closing the timeline signals every pending fence with ENOENT; signalled ones keep success', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const tl = await sys.open(SW_SYNC, O_RDWR);
      const done = await createFence(sys, tl, 1);
      const pending = await createFence(sys, tl, 2);
      await inc(sys, tl, 1);
      const p: PollFd[] = [{ fd: pending, events: POLLIN }];
      expect(await sys.poll(p, 0)).toBe(0);
      await sys.close(tl);
      expect(await sys.poll(p, 0)).toBe(1);
      const i = await info(sys, pending);
      expect(i.status).toBe(-2);
      expect(i.fences[0]!.status).toBe(-2);
      expect(await status(sys, done)).toBe(1);
    });
    expect(s.k.vfs.openFileCount).toBe(0);
  });

  it('a waiter in another process wakes when the timeline reaches its fence', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const tl = await sys.open(SW_SYNC, O_RDWR);
      const fd = await createFence(sys, tl, 2);
      let wokeAt = -1;
      const pid = await sys.fork(async (child) => {
        const p: PollFd[] = [{ fd, events: POLLIN }];
        expect(await child.poll(p, -1)).toBe(1);
        wokeAt = s.soc.clock.now;
        return 0;
      });
      await sys.poll([], 5);
      await inc(sys, tl, 1);
      await sys.poll([], 5);
      expect(wokeAt).toBe(-1);
      const signalledAt = s.soc.clock.now;
      await inc(sys, tl, 1);
      expect((await sys.wait(pid)).status).toBe(0);
      expect(wokeAt).toBe(signalledAt);
    });
  });

  it('INC moves in steps of at most INT_MAX: a 2^32-1 increment signals what the first step reaches', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const tl = await sys.open(SW_SYNC, O_RDWR);
      const near = await createFence(sys, tl, 100);
      await inc(sys, tl, 0xffff_ffff);
      // after INT_MAX, INT_MAX and 1 the value is 2^32-1; seqno 100 was passed by the first step
      expect(await status(sys, near)).toBe(1);
      const next = await createFence(sys, tl, 0);
      expect(await status(sys, next)).toBe(0);
      await inc(sys, tl, 1);
      expect(await status(sys, next)).toBe(1);
    });
  });

  it('errnos as Linux: EFAULT for a missing argument, ENOTTY for other requests, EINVAL for read, EACCES for a user', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const tl = await sys.open(SW_SYNC, O_RDWR);
      expect(await errno(sys.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, null))).toBe('EFAULT');
      expect(await errno(sys.ioctl(tl, SW_SYNC_IOC_INC, null))).toBe('EFAULT');
      expect(await errno(sys.ioctl(tl, SYNC_IOC_FILE_INFO, {}))).toBe('ENOTTY');
      expect(await errno(sys.read(tl, 16))).toBe('EINVAL');
      const fd = await createFence(sys, tl, 1);
      expect(await errno(sys.ioctl(fd, SW_SYNC_IOC_INC, { value: 1 }))).toBe('ENOTTY');
    });
    await run(
      s,
      async (sys) => {
        expect(await errno(sys.open(SW_SYNC, O_RDONLY))).toBe('EACCES');
      },
      makeCred(1000, 1000),
    );
  });
});
