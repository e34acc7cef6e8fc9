import { describe, expect, it } from 'vitest';
import { spawnProcess, type Sys } from '../../src/proc/index.ts';
import { bootSystem, builtinPlatforms, loadPlatform } from '../../src/sim/index.ts';
import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_SYNC_WRITE,
  O_DIRECTORY,
  O_RDONLY,
  O_RDWR,
  SYNC_IOC_FILE_INFO,
  VGEM_FENCE_WRITE,
  VIDIOC_EXPBUF,
  VIDIOC_QUERYCAP,
  VIDIOC_REQBUFS,
  V4L2_BUF_TYPE_VIDEO_CAPTURE,
  V4L2_MEMORY_MMAP,
  DRM_IOCTL_PRIME_FD_TO_HANDLE,
  type SyncFenceInfo,
  type SyncFileInfo,
} from '../../src/uapi/index.ts';
import { dumb, fenceAttach, fenceSignal, toFd } from '../drivers/vgem-helpers.ts';

async function list(sys: Sys, path: string): Promise<string[]> {
  const fd = await sys.open(path, O_RDONLY | O_DIRECTORY);
  const names: string[] = [];
  for (;;) {
    const batch = await sys.getdents64(fd, 4096);
    if (batch.length === 0) break;
    for (const d of batch) if (d.d_name !== '.' && d.d_name !== '..') names.push(d.d_name);
  }
  await sys.close(fd);
  return names.sort();
}

/** Boots linux-6.1-reference and runs `main` as its first process; the process must exit 0. */
async function onReference(main: (sys: Sys) => Promise<void>): Promise<void> {
  const sys = bootSystem(loadPlatform('linux-6.1-reference'), { seed: 1 });
  expect(sys.bound).toEqual([]);
  const child = spawnProcess(sys.proc, async (s) => {
    await main(s);
    return 0;
  }, []);
  expect(await sys.soc.clock.runUntilSettled(child.exitCode)).toBe(0);
  if (child.process.group.uncaughtError !== undefined) throw child.process.group.uncaughtError;
}

describe('the linux-6.1-reference platform', () => {
  it('is built in and boots no platform device', () => {
    expect(builtinPlatforms()).toContain('linux-6.1-reference');
    const p = loadPlatform('linux-6.1-reference');
    expect(p.name).toBe('linux-6.1-reference');
    expect(p.devices).toEqual([]);
    expect(p.cma.default).toBeUndefined();
  });

  it('vgem_find, vivid_dc_find_capture: card0 and renderD128 are vgem\'s, /dev/video4 is vivid-001; no GPU, so vgem\'s first fence is vgem-unbound1-1 (export_sync_file_read_pending_write)', async () => {
    await onReference(async (sys) => {
      expect(await list(sys, '/dev/dri')).toEqual(['card0', 'renderD128']);
      const dev = await list(sys, '/dev');
      // vivid's vmalloc instance at video0 (capture) and video1 (output), its dma-contig one at video4 and video5 (the meta nodes between are not simulated); the heaps and udmabuf every boot has
      expect(dev).toEqual(['dma_heap', 'dri', 'udmabuf', 'video0', 'video1', 'video4', 'video5']);
      expect(await list(sys, '/dev/dma_heap')).toEqual(['system']);
      const v = await sys.open('/dev/video4', O_RDWR);
      const cap = { driver: '', card: '', bus_info: '', version: 0, capabilities: 0, device_caps: 0 };
      await sys.ioctl(v, VIDIOC_QUERYCAP, cap);
      expect([cap.driver, cap.bus_info]).toEqual(['vivid', 'platform:vivid-001']);
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const { handle } = await dumb(sys, card);
      const buf = await toFd(sys, card, handle);
      const f = await fenceAttach(sys, card, handle, VGEM_FENCE_WRITE);
      const e = { flags: DMA_BUF_SYNC_WRITE, fd: -1 };
      await sys.ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, e);
      const fences: SyncFenceInfo[] = [];
      const info: SyncFileInfo = { name: '', status: 0, flags: 0, num_fences: 1, pad: 0, sync_fence_info: fences };
      await sys.ioctl(e.fd, SYNC_IOC_FILE_INFO, info);
      expect([info.status, info.num_fences, info.name]).toEqual([0, 1, 'vgem-unbound1-1']);
      await fenceSignal(sys, card, f);
    });
  });

  it('a vivid buffer imported into two vgem files is two attachments of one device at one address; dma-debug keeps both and releasing them reports nothing', async () => {
    const sys = bootSystem(loadPlatform('linux-6.1-reference'), { seed: 1 });
    const child = spawnProcess(sys.proc, async (s) => {
      const v = await s.open('/dev/video4', O_RDWR);
      await s.ioctl(v, VIDIOC_REQBUFS, { count: 1, type: V4L2_BUF_TYPE_VIDEO_CAPTURE, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
      const e = { type: V4L2_BUF_TYPE_VIDEO_CAPTURE, index: 0, plane: 0, flags: O_RDWR, fd: -1 };
      await s.ioctl(v, VIDIOC_EXPBUF, e);
      const cards = [await s.open('/dev/dri/card0', O_RDWR), await s.open('/dev/dri/card0', O_RDWR)];
      for (const c of cards) await s.ioctl(c, DRM_IOCTL_PRIME_FD_TO_HANDLE, { handle: 0, flags: 0, fd: e.fd });
      expect(sys.dma.debug.entries().filter((x) => x.dev.name === 'vgem')).toHaveLength(2);
      for (const fd of [...cards, e.fd, v]) await s.close(fd);
      return 0;
    }, []);
    const code = await sys.soc.clock.runUntilSettled(child.exitCode);
    if (child.process.group.uncaughtError !== undefined) throw child.process.group.uncaughtError;
    expect(code).toBe(0);
    await sys.proc.vfs.flushDelayedFput();
    expect(sys.soc.findings.findings.map((f) => f.message)).toEqual([]);
    expect(sys.dma.debug.liveMappings()).toBe(0);
  });
});
