import { describe, expect, it } from 'vitest';
import type { DrmDevice } from '../../src/drivers/index.ts';
import { gpuIdle, gpuStateOf, registerGpu } from '../../src/drivers/gpu/drm/gpu/gpu.ts';
import type { PollFd, Sys } from '../../src/proc/index.ts';
import {
  DRM_IOCTL_GPU_COMPOSE,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_VERSION,
  GPU_COMPOSE_FENCE_OUT,
  O_RDWR,
  POLLIN,
  SYNC_IOC_FILE_INFO,
  type SyncFileInfo,
} from '../../src/uapi/index.ts';
import { errno, heapAlloc, pattern, run, start, testSystem, type TestSystem } from '../dmabuf/helpers.ts';
import { average, blockWrites } from './kms-helpers.ts';
import { dumb, mapDumb, toFd, toHandle } from './vgem-helpers.ts';

const W = 64;
const H = 16;
const SIZE = W * H * 4;

function gpuSystem(): TestSystem & { gpu0: DrmDevice } {
  const s = testSystem();
  return { ...s, gpu0: registerGpu({ dbs: s.dbs, mm: s.mm, device: s.gpu, index: 0 }) };
}

async function compose(sys: Sys, fd: number, dst: number, s0: number, s1: number, flags = GPU_COMPOSE_FENCE_OUT, op = 0): Promise<number> {
  const a = { dst_handle: dst, src_handles: [s0, s1], op, flags, out_fence: 0 };
  await sys.ioctl(fd, DRM_IOCTL_GPU_COMPOSE, a);
  return a.out_fence;
}

async function filled(sys: Sys, fd: number, bytes: Uint8Array, width = W, height = H): Promise<{ handle: number; map: number }> {
  const bo = await dumb(sys, fd, width, height);
  const map = await sys.mmap(0, bo.size, 3, 1, fd, await mapDumb(sys, fd, bo.handle));
  await sys.store(map, bytes);
  return { handle: bo.handle, map };
}

async function waitFence(sys: Sys, fd: number): Promise<void> {
  const p: PollFd[] = [{ fd, events: POLLIN }];
  await sys.poll(p, -1);
}

describe('gpu: the compose job', () => {
  it('blends two buffers by DMA into a third, signals a named sync_file fence after the port time, and leaves nothing behind', async () => {
    const s = gpuSystem();
    const free0 = s.mm.pages.freeCount();
    const a = pattern(SIZE, 1);
    const b = pattern(SIZE, 2);
    await run(s, async (sys) => {
      const g = await sys.open('/dev/dri/card0', O_RDWR);
      const v = { version_major: 0, version_minor: 0, version_patchlevel: 0, name_len: 16, name: '', date_len: 16, date: '', desc_len: 64, desc: '' };
      await sys.ioctl(g, DRM_IOCTL_VERSION, v);
      expect(v.name).toBe('gpu');
      const s0 = await filled(sys, g, a);
      const s1 = await filled(sys, g, b);
      const d = await filled(sys, g, new Uint8Array(SIZE));
      const t0 = s.soc.clock.now;
      const out = await compose(sys, g, d.handle, s0.handle, s1.handle);
      const info: SyncFileInfo = { name: '', status: 0, flags: 0, num_fences: 0, pad: 0, sync_fence_info: [] };
      await sys.ioctl(out, SYNC_IOC_FILE_INFO, info);
      expect([info.name.startsWith('gpu-compose'), info.status]).toEqual([true, 0]);
      await waitFence(sys, out);
      expect(s.soc.clock.now - t0).toBeGreaterThanOrEqual(s.gpu.master.timeFor(2 * SIZE) + s.gpu.master.timeFor(SIZE));
      expect(Buffer.compare(await sys.load(d.map, SIZE), average(a, b))).toBe(0);
      // without FENCE_OUT no fd comes back
      expect(await compose(sys, g, d.handle, s0.handle, s1.handle, 0)).toBe(-1);
    });
    await gpuIdle(s.gpu0);
    expect(gpuStateOf(s.gpu0).stats).toEqual({ submitted: 2, completed: 2, bytesWritten: 2 * SIZE });
    expect(s.gpu0.stats).toEqual({ objects: 0, bytes: 0, pagesAllocated: 0 });
    expect(s.ctx.debug.liveMappings()).toBe(0);
    expect(s.mm.pages.freeCount()).toBe(free0);
    expect(s.k.vfs.openFileCount).toBe(0);
  });

  it('maps an object of its own for the GPU on its first job and keeps the mapping until the object is freed; the CPU’s later writes through its mapping reach the next job', async () => {
    const s = gpuSystem();
    const a = pattern(SIZE, 1);
    const b = pattern(SIZE, 2);
    const c = pattern(SIZE, 3);
    await run(s, async (sys) => {
      const g = await sys.open('/dev/dri/card0', O_RDWR);
      const s0 = await filled(sys, g, a);
      const s1 = await filled(sys, g, b);
      const d = await filled(sys, g, new Uint8Array(SIZE));
      const live0 = s.ctx.debug.liveMappings();
      await waitFence(sys, await compose(sys, g, d.handle, s0.handle, s1.handle));
      // the three objects' mappings, made by the job and still there after it
      expect(s.ctx.debug.liveMappings()).toBe(live0 + 3);
      expect(Buffer.compare(await sys.load(d.map, SIZE), average(a, b))).toBe(0);
      await sys.store(s0.map, c);
      await waitFence(sys, await compose(sys, g, d.handle, s0.handle, s1.handle));
      expect(s.ctx.debug.liveMappings()).toBe(live0 + 3);
      expect(Buffer.compare(await sys.load(d.map, SIZE), average(c, b))).toBe(0);
      for (const o of [s0, s1, d]) await sys.munmap(o.map, SIZE);
      await sys.close(g);
    });
    await gpuIdle(s.gpu0);
    await s.gpu0.settle();
    expect(s.gpu0.stats).toEqual({ objects: 0, bytes: 0, pagesAllocated: 0 });
    expect(s.ctx.debug.liveMappings()).toBe(0);
    expect(s.soc.findings.findings).toEqual([]);
  });

  it('implicit sync orders dependent jobs: C = avg(A,B) then D = avg(C,A), in place too', async () => {
    const s = gpuSystem();
    const a = pattern(SIZE, 1);
    const b = pattern(SIZE, 2);
    await run(s, async (sys) => {
      const g = await sys.open('/dev/dri/renderD128', O_RDWR);
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      // render clients cannot create dumb buffers; they import them
      expect(await errno(dumb(sys, g))).toBe('EACCES');
      const A = await filled(sys, card, a);
      const B = await filled(sys, card, b);
      const C = await filled(sys, card, new Uint8Array(SIZE));
      const D = await filled(sys, card, new Uint8Array(SIZE));
      const h = async (x: { handle: number }) => toHandle(sys, g, await toFd(sys, card, x.handle));
      const [ha, hb, hc, hd] = [await h(A), await h(B), await h(C), await h(D)];
      await compose(sys, g, hc, ha, hb, 0);
      await compose(sys, g, hd, hc, ha, 0);
      const last = await compose(sys, g, ha, ha, hb);
      await waitFence(sys, last);
      const c = average(a, b);
      expect(Buffer.compare(await sys.load(C.map, SIZE), c)).toBe(0);
      expect(Buffer.compare(await sys.load(D.map, SIZE), average(c, a))).toBe(0);
      expect(Buffer.compare(await sys.load(A.map, SIZE), c)).toBe(0);
    });
    expect(s.gpu0.stats.objects).toBe(0);
  });

  it('errnos: flags, op, handles, short sources, missing src_handles', async () => {
    const s = gpuSystem();
    await run(s, async (sys) => {
      const g = await sys.open('/dev/dri/card0', O_RDWR);
      const x = await dumb(sys, g, W, H);
      const y = await dumb(sys, g, W, H * 2);
      expect(await errno(compose(sys, g, x.handle, x.handle, x.handle, 0x2))).toBe('EINVAL');
      expect(await errno(compose(sys, g, x.handle, x.handle, x.handle, 0, 1))).toBe('EINVAL');
      expect(await errno(compose(sys, g, 77, x.handle, x.handle))).toBe('ENOENT');
      expect(await errno(compose(sys, g, x.handle, x.handle, 78))).toBe('ENOENT');
      expect(await errno(compose(sys, g, y.handle, x.handle, y.handle))).toBe('EINVAL');
      expect(await errno(sys.ioctl(g, DRM_IOCTL_GPU_COMPOSE, { dst_handle: x.handle, src_handles: [x.handle], op: 0, flags: 0, out_fence: 0 }))).toBe('EFAULT');
      expect(await errno(compose(sys, g, x.handle, y.handle, y.handle, 0))).toBe('ok');
      expect(await errno(sys.ioctl(g, DRM_IOCTL_MODE_CREATE_DUMB, { width: 0, height: 1, bpp: 32, flags: 0, handle: 0, pitch: 0, size: 0 }))).toBe('EINVAL');
    });
    await gpuIdle(s.gpu0);
    expect(gpuStateOf(s.gpu0).stats.submitted).toBe(1);
    expect(s.gpu0.stats.objects).toBe(0);
  });

  it('a process that exits with a job in flight leaks nothing: the job keeps its buffers until it completes', async () => {
    const s = gpuSystem();
    const free0 = s.mm.pages.freeCount();
    const p = start(s, async (sys) => {
      const g = await sys.open('/dev/dri/card0', O_RDWR);
      const s0 = await filled(sys, g, pattern(SIZE, 1));
      const s1 = await filled(sys, g, pattern(SIZE, 2));
      const d = await dumb(sys, g, W, H);
      await compose(sys, g, d.handle, s0.handle, s1.handle, GPU_COMPOSE_FENCE_OUT);
      return 0;
    });
    await s.soc.clock.run();
    expect(await p.exitCode).toBe(0);
    await gpuIdle(s.gpu0);
    await s.gpu0.settle();
    expect(gpuStateOf(s.gpu0).stats.completed).toBe(1);
    expect(s.gpu0.stats).toEqual({ objects: 0, bytes: 0, pagesAllocated: 0 });
    expect(s.ctx.debug.liveMappings()).toBe(0);
    expect(s.mm.pages.freeCount()).toBe(free0);
    expect(s.soc.findings.findings).toEqual([]);
  });

  it('an IOMMU fault fails the job: its fence signals with an error, a finding is recorded, the ring goes on', async () => {
    const s = gpuSystem();
    await run(s, async (sys) => {
      const g = await sys.open('/dev/dri/card0', O_RDWR);
      const s0 = await filled(sys, g, pattern(SIZE, 1));
      const buf = await heapAlloc(sys, 'reserved', SIZE);
      const dst = await toHandle(sys, g, buf);
      const imported = s.gpu0.files.values().next().value!.objects.get(dst)!;
      // the default import maps the buffer for the GPU and takes its reservation object; MAP_DUMB refuses an import
      expect(imported.resv).toBe(imported.importAttach!.dmabuf.resv);
      expect(await errno(mapDumb(sys, g, dst))).toBe('EINVAL');
      const sgt = imported.importSgt!;
      s.iommu.unmap(sgt.sgl[0]!.dmaAddress, SIZE);
      const bad = await compose(sys, g, dst, s0.handle, s0.handle);
      await waitFence(sys, bad);
      const info: SyncFileInfo = { name: '', status: 0, flags: 0, num_fences: 0, pad: 0, sync_fence_info: [] };
      await sys.ioctl(bad, SYNC_IOC_FILE_INFO, info);
      expect(info.status).toBeLessThan(0);
      const d = await filled(sys, g, new Uint8Array(SIZE));
      await waitFence(sys, await compose(sys, g, d.handle, s0.handle, s0.handle));
      expect(Buffer.compare(await sys.load(d.map, SIZE), pattern(SIZE, 1))).toBe(0);
    });
    expect(s.soc.findings.findings.map((f) => f.kind)).toEqual(['iommu-fault']);
    expect(gpuStateOf(s.gpu0).stats).toMatchObject({ submitted: 2, completed: 1 });
  });
});

describe('gpu: a process killed with its job in flight', () => {
  it('the buffers live until the job\'s fence signals, the result still lands, then everything is freed', async () => {
    const s = gpuSystem();
    const free0 = s.mm.pages.freeCount();
    const a = pattern(SIZE, 5);
    const b = pattern(SIZE, 6);
    let outHandle = 0;
    const child = start(s, async (sys) => {
      const g = await sys.open('/dev/dri/card0', O_RDWR);
      const s0 = await filled(sys, g, a);
      const s1 = await filled(sys, g, b);
      const dst = await dumb(sys, g, W, H);
      outHandle = dst.handle;
      // some other engine still writes the first source for 50 ms: the job waits for it
      const resv = s.gpu0.files.values().next().value!.objects.get(s0.handle)!.resv;
      await blockWrites(s, resv, 50e6);
      await compose(sys, g, dst.handle, s0.handle, s1.handle);
      // ...and the process dies before the job has run
      await sys.poll([], 1000);
    });
    let during: { objects: number; jobs: number; exited: boolean } | null = null;
    let dstBytes: Uint8Array | null = null;
    const st = gpuStateOf(s.gpu0);
    const dstObj = () => [...s.gpu0.files.values()][0]?.objects.get(outHandle);
    let dstPfns: number[] = [];
    s.soc.clock.after(5e6, () => {
      dstPfns = [...(dstObj()?.pages ?? [])];
      void s.k.kill(child.process, child.pid, 9);
    });
    s.soc.clock.after(20e6, () => {
      during = { objects: s.gpu0.stats.objects, jobs: st.running.size, exited: child.process.group.state !== 'running' };
    });
    const code = await s.soc.clock.runUntilSettled(child.exitCode);
    await s.soc.clock.runUntilSettled(gpuIdle(s.gpu0));
    // the job ran after the kill and wrote its result into the pages it kept alive (read back now, freed but not reused)
    dstBytes = new Uint8Array(SIZE);
    for (let i = 0; i < dstPfns.length; i++) s.soc.mem.read(dstPfns[i]! * 4096, dstBytes, i * 4096, Math.min(4096, SIZE - i * 4096));
    await s.gpu0.settle();
    expect(code).toBe(128 + 9);
    expect(during).toEqual({ objects: 3, jobs: 1, exited: true });
    expect(Buffer.compare(dstBytes, average(a, b))).toBe(0);
    expect(s.gpu0.stats).toEqual({ objects: 0, bytes: 0, pagesAllocated: 0 });
    expect(s.k.vfs.openFileCount).toBe(0);
    expect(s.mm.pages.freeCount()).toBe(free0);
  });
});
