import { describe, expect, it } from 'vitest';
import { syncFileCreate } from '../../src/dmabuf/index.ts';
import { SwSyncTimeline } from '../../src/dmabuf/fence-timeline.ts';
import type { PollFd, Sys } from '../../src/proc/index.ts';
import { F_GETFD, FD_CLOEXEC, POLLIN, SYNC_IOC_FILE_INFO, SYNC_IOC_MERGE, type SyncFenceInfo, type SyncFileInfo } from '../../src/uapi/index.ts';
import { errno, run, testSystem, type TestSystem } from './helpers.ts';

/** Installs a sync_file for `fence` in the calling process, as a driver's out-fence ioctl would. */
async function installSyncFile(s: TestSystem, sys: Sys, fence: ReturnType<SwSyncTimeline['createFence']>): Promise<number> {
  const p = s.k.processes.get(await sys.getpid())!;
  const sf = syncFileCreate(s.dbs, fence);
  fence.put();
  return p.installFd(sf.file, 0);
}

async function info(sys: Sys, fd: number, room = 8): Promise<SyncFileInfo & { fences: SyncFenceInfo[] }> {
  const fences: SyncFenceInfo[] = [];
  const i: SyncFileInfo = { name: '', status: 0, flags: 0, num_fences: room, pad: 0, sync_fence_info: fences };
  await sys.ioctl(fd, SYNC_IOC_FILE_INFO, i);
  return { ...i, fences };
}

async function merge(sys: Sys, a: number, b: number, name: string): Promise<number> {
  const m = { name, fd2: b, fence: -1, flags: 0, pad: 0 };
  await sys.ioctl(a, SYNC_IOC_MERGE, m);
  return m.fence;
}

describe('sync_file', () => {
  it('names a single fence driver-timeline<context>-<seqno>; FILE_INFO with num_fences 0 only counts', async () => {
    const s = testSystem();
    const tl = new SwSyncTimeline(s.dbs.fctx, 'ring0', 'gpu');
    await run(s, async (sys) => {
      const fd = await installSyncFile(s, sys, tl.createFence(7));
      const count: SyncFileInfo = { name: '', status: 9, flags: 0, num_fences: 0, pad: 0, sync_fence_info: 0 };
      await sys.ioctl(fd, SYNC_IOC_FILE_INFO, count);
      expect(count).toMatchObject({ name: 'gpu-ring01-7', status: 0, num_fences: 1 });
      expect(await errno(sys.ioctl(fd, SYNC_IOC_FILE_INFO, { ...count, flags: 1, num_fences: 0 }))).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, SYNC_IOC_FILE_INFO, { ...count, num_fences: 1, sync_fence_info: 0 }))).toBe('EFAULT');
      expect(await errno(sys.ioctl(fd, 0x12345678, {}))).toBe('ENOTTY');
    });
  });

  it('merge: flattens, keeps the latest per timeline, takes the given name; status and per-fence info as the fences signal', async () => {
    const s = testSystem();
    const a = new SwSyncTimeline(s.dbs.fctx, 'a', 'sw_sync');
    const b = new SwSyncTimeline(s.dbs.fctx, 'b', 'sw_sync');
    await run(s, async (sys) => {
      const fa1 = await installSyncFile(s, sys, a.createFence(1));
      const fa2 = await installSyncFile(s, sys, a.createFence(2));
      const fb = await installSyncFile(s, sys, b.createFence(5));
      const m1 = await merge(sys, fa1, fb, 'first');
      const m2 = await merge(sys, m1, fa2, 'second-merge-with-a-name-longer-than-31-bytes');
      expect(await sys.fcntl(m2, F_GETFD)).toBe(FD_CLOEXEC);
      let i = await info(sys, m2);
      expect(i.name).toBe('second-merge-with-a-name-longer');
      expect(i.num_fences).toBe(2);
      expect(i.fences.map((f) => [f.obj_name, f.status])).toEqual([
        ['a', 0],
        ['b', 0],
      ]);
      expect(i.status).toBe(0);
      expect(await errno(sys.ioctl(m2, SYNC_IOC_FILE_INFO, { name: '', status: 0, flags: 0, num_fences: 1, pad: 0, sync_fence_info: [] }))).toBe('EINVAL');
      a.signal(2);
      i = await info(sys, m2);
      expect(i.fences.map((f) => f.status)).toEqual([1, 0]);
      expect(i.fences[0]!.timestamp_ns).toBe(s.soc.clock.now);
      expect(i.status).toBe(0);
      b.signal(5);
      expect((await info(sys, m2)).status).toBe(1);
      expect(await errno(merge(sys, m2, 999, 'x'))).toBe('ENOENT');
      expect(await errno(sys.ioctl(m2, SYNC_IOC_MERGE, { name: 'x', fd2: fa1, fence: -1, flags: 1, pad: 0 }))).toBe('EINVAL');
    });
    expect(s.k.vfs.openFileCount).toBe(0);
  });

  it('merging two signalled fences gives the stub; a fence with an error reports it', async () => {
    const s = testSystem();
    const a = new SwSyncTimeline(s.dbs.fctx, 'a', 'sw_sync');
    await run(s, async (sys) => {
      const f1 = a.createFence(1);
      const f2 = a.createFence(2);
      const x = await installSyncFile(s, sys, f1);
      const y = await installSyncFile(s, sys, f2);
      a.signal(2);
      const m = await merge(sys, x, y, '');
      expect((await info(sys, m)).fences.map((f) => f.driver_name)).toEqual(['stub']);
      const bad = a.createFence(3);
      bad.setError('EIO');
      const z = await installSyncFile(s, sys, bad);
      a.signal(1);
      expect((await info(sys, z)).fences[0]!.status).toBe(-5);
      expect((await info(sys, z)).status).toBe(-5);
    });
  });

  it('poll reports POLLIN once the fence signals and wakes a sleeping poller', async () => {
    const s = testSystem();
    const tl = new SwSyncTimeline(s.dbs.fctx, 't', 'sw_sync');
    await run(s, async (sys) => {
      const fd = await installSyncFile(s, sys, tl.createFence(1));
      const p: PollFd[] = [{ fd, events: POLLIN }];
      expect(await sys.poll(p, 0)).toBe(0);
      s.soc.clock.after(3_000_000, () => tl.signal(1));
      const t0 = s.soc.clock.now;
      expect(await sys.poll(p, 1000)).toBe(1);
      expect(p[0]!.revents).toBe(POLLIN);
      expect(s.soc.clock.now - t0).toBe(3_000_000);
    });
  });
});
