import { describe, expect, it } from 'vitest';
import { drmSendEvent } from '../../src/drivers/gpu/drm/core/drm-device.ts';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import type { PollFd, Sys } from '../../src/proc/index.ts';
import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_WRITE,
  DRM_CAP_DUMB_BUFFER,
  DRM_CAP_PRIME,
  DRM_CAP_SYNCOBJ,
  DRM_CAP_TIMESTAMP_MONOTONIC,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_GET_CAP,
  DRM_IOCTL_MODE_DESTROY_DUMB,
  DRM_IOCTL_MODE_GETRESOURCES,
  DRM_IOCTL_VERSION,
  DRM_PRIME_CAP_EXPORT,
  DRM_PRIME_CAP_IMPORT,
  O_EXCL,
  O_NONBLOCK,
  O_RDWR,
  POLLIN,
  POLLOUT,
  POLLRDNORM,
  SYNC_IOC_FILE_INFO,
  VGEM_FENCE_WRITE,
  makedev,
  type SyncFenceInfo,
  type SyncFileInfo,
} from '../../src/uapi/index.ts';
import { errno, run } from '../dmabuf/helpers.ts';
import { dumb, fenceAttach, fenceSignal, mapDumb, toFd, toHandle, vgemSystem } from './vgem-helpers.ts';

async function version(sys: Sys, fd: number, len = 64) {
  const v = { version_major: 0, version_minor: 0, version_patchlevel: 0, name_len: len, name: '', date_len: len, date: '', desc_len: len, desc: '' };
  await sys.ioctl(fd, DRM_IOCTL_VERSION, v);
  return v;
}

async function pollOnce(sys: Sys, fd: number, events = POLLIN | POLLOUT): Promise<number> {
  const p: PollFd[] = [{ fd, events }];
  await sys.poll(p, 0);
  return p[0]!.revents ?? 0;
}

async function syncInfo(sys: Sys, bufFd: number, flags: number) {
  const e = { flags, fd: -1 };
  await sys.ioctl(bufFd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, e);
  const fences: SyncFenceInfo[] = [];
  const info: SyncFileInfo = { name: '', status: 0, flags: 0, num_fences: 4, pad: 0, sync_fence_info: fences };
  await sys.ioctl(e.fd, SYNC_IOC_FILE_INFO, info);
  const poll = await pollOnce(sys, e.fd, POLLIN);
  await sys.close(e.fd);
  return { status: info.status, num_fences: info.num_fences, name: info.name, poll, fences };
}

describe('vgem device nodes, VERSION and GET_CAP (reference rows)', () => {
  it('vgem_find / vgem_third_file: card0 and renderD128 are vgem 1.0.0, "Virtual GEM provider"; the primary opens twice', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const render = await sys.open('/dev/dri/renderD128', O_RDWR);
      const third = await sys.open('/dev/dri/card0', O_RDWR);
      expect([card, render, third]).toEqual([3, 4, 5]);
      for (const fd of [card, render, third]) {
        const v = await version(sys, fd);
        expect([v.name, v.desc, `${v.version_major}.${v.version_minor}.${v.version_patchlevel}`]).toEqual(['vgem', 'Virtual GEM provider', '1.0.0']);
        expect(v.date).toBe('20190303');
        expect([v.name_len, v.date_len, v.desc_len]).toEqual([4, 8, 20]);
      }
      expect((await sys.fstat(card)).st_rdev).toBe(makedev(226, 0));
      expect((await sys.fstat(render)).st_rdev).toBe(makedev(226, 128));
      // the VFS drops O_EXCL before the driver's open, so drm_open_helper's EBUSY never fires
      expect(await errno(sys.open('/dev/dri/card0', O_RDWR | O_EXCL))).toBe('ok');
    });
  });

  it('VERSION copies at most the lengths the caller gives and writes back the full lengths (drm_copy_field)', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const fd = await sys.open('/dev/dri/card0', O_RDWR);
      const v = await version(sys, fd, 2);
      expect([v.name, v.date, v.desc]).toEqual(['vg', '20', 'Vi']);
      expect([v.name_len, v.date_len, v.desc_len]).toEqual([4, 8, 20]);
      const z = await version(sys, fd, 0);
      expect([z.name, z.desc, z.name_len]).toEqual(['', '', 4]);
      expect(await errno(sys.ioctl(fd, DRM_IOCTL_VERSION, null))).toBe('EFAULT');
    });
  });

  it('drm_cap_dumb_buffer: EOPNOTSUPP with value 0 (vgem has no modesetting); PRIME, monotonic timestamps and syncobj answer', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      for (const node of ['/dev/dri/card0', '/dev/dri/renderD128']) {
        const fd = await sys.open(node, O_RDWR);
        const cap = (capability: number) => ({ capability, value: 77 as number | bigint });
        const d = cap(DRM_CAP_DUMB_BUFFER);
        expect(await errno(sys.ioctl(fd, DRM_IOCTL_GET_CAP, d))).toBe('EOPNOTSUPP');
        expect(d.value).toBe(0);
        const p = cap(DRM_CAP_PRIME);
        await sys.ioctl(fd, DRM_IOCTL_GET_CAP, p);
        expect(p.value).toBe(DRM_PRIME_CAP_IMPORT | DRM_PRIME_CAP_EXPORT);
        const t = cap(DRM_CAP_TIMESTAMP_MONOTONIC);
        await sys.ioctl(fd, DRM_IOCTL_GET_CAP, t);
        expect(t.value).toBe(1);
        const so = cap(DRM_CAP_SYNCOBJ);
        await sys.ioctl(fd, DRM_IOCTL_GET_CAP, so);
        expect(so.value).toBe(0);
        expect(await errno(sys.ioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, {}))).toBe('EOPNOTSUPP');
        expect(await errno(sys.ioctl(fd, 0xc010640e /* nr 0x0e: no entry in the core table */, {}))).toBe('EINVAL');
        await sys.close(fd);
      }
    });
  });
});

describe('vgem dumb buffers (reference rows)', () => {
  it('vgem_dumb_create / _odd / _width0 / _overflow', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const fd = await sys.open('/dev/dri/card0', O_RDWR);
      expect(await dumb(sys, fd)).toEqual({ handle: 1, pitch: 1024, size: 65536 });
      expect(await dumb(sys, fd, 100, 3, 24)).toEqual({ handle: 2, pitch: 300, size: 4096 });
      expect(await errno(dumb(sys, fd, 0, 64, 32))).toBe('EINVAL');
      expect(await errno(dumb(sys, fd, 64, 0, 32))).toBe('EINVAL');
      expect(await errno(dumb(sys, fd, 64, 64, 0))).toBe('EINVAL');
      expect(await errno(dumb(sys, fd, 65536, 65536, 32))).toBe('EINVAL');
      // a failed create leaves no handle behind: the next one is 3
      expect((await dumb(sys, fd, 1, 1, 8)).handle).toBe(3);
    });
  });

  it('render_node_dumb_create: EACCES on renderD128 (no DRM_RENDER_ALLOW); MAP_DUMB and DESTROY_DUMB too', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const r = await sys.open('/dev/dri/renderD128', O_RDWR);
      expect(await errno(dumb(sys, r))).toBe('EACCES');
      expect(await errno(mapDumb(sys, r, 1))).toBe('EACCES');
      expect(await errno(sys.ioctl(r, DRM_IOCTL_MODE_DESTROY_DUMB, { handle: 1 }))).toBe('EACCES');
      // render clients may share: import a buffer made on the primary node, and close it
      const c = await sys.open('/dev/dri/card0', O_RDWR);
      const buf = await toFd(sys, c, (await dumb(sys, c)).handle);
      const h = await toHandle(sys, r, buf);
      expect(h).toBe(1);
      expect(await errno(sys.ioctl(r, DRM_IOCTL_GEM_CLOSE, { handle: h, pad: 0 }))).toBe('ok');
    });
  });

  it('GEM_CLOSE and DESTROY_DUMB: EINVAL for an unknown handle; handles are the lowest free from 1; pages go with the last reference', async () => {
    const s = vgemSystem();
    const free0 = s.mm.pages.freeCount();
    await run(s, async (sys) => {
      const fd = await sys.open('/dev/dri/card0', O_RDWR);
      const a = await dumb(sys, fd);
      const b = await dumb(sys, fd);
      expect([a.handle, b.handle]).toEqual([1, 2]);
      expect(await errno(sys.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle: 9, pad: 0 }))).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, DRM_IOCTL_MODE_DESTROY_DUMB, { handle: 9 }))).toBe('EINVAL');
      await sys.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle: 1, pad: 0 });
      expect(await errno(sys.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle: 1, pad: 0 }))).toBe('EINVAL');
      expect((await dumb(sys, fd)).handle).toBe(1);
      // a mapping keeps the object (and its pages) after the handle goes
      const off = await mapDumb(sys, fd, 2);
      const m = await sys.mmap(0, 65536, 3, 1, fd, off);
      await sys.store(m, new Uint8Array(65536).fill(0x5a));
      await sys.ioctl(fd, DRM_IOCTL_MODE_DESTROY_DUMB, { handle: 2 });
      expect(s.vgem.stats.objects).toBe(2);
      expect((await sys.load(m + 65535, 1))[0]).toBe(0x5a);
      await sys.munmap(m, 65536);
      expect(s.vgem.stats.objects).toBe(1);
    });
    expect(s.vgem.stats).toEqual({ objects: 0, bytes: 0, pagesAllocated: 0 });
    expect(s.mm.pages.freeCount()).toBe(free0);
  });

  it('fake offsets start at 0x100000000, follow each other, and a freed range is reused (best fit)', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const fd = await sys.open('/dev/dri/card0', O_RDWR);
      const a = await dumb(sys, fd);
      const b = await dumb(sys, fd, 1, 1, 8);
      const c = await dumb(sys, fd);
      expect(await mapDumb(sys, fd, a.handle)).toBe(0x1_0000_0000);
      expect(await mapDumb(sys, fd, b.handle)).toBe(0x1_0000_0000 + 65536);
      expect(await mapDumb(sys, fd, c.handle)).toBe(0x1_0000_0000 + 65536 + PAGE_SIZE);
      expect(await errno(mapDumb(sys, fd, 99))).toBe('ENOENT');
      // the one-page hole between a and c fits a one-page object best, better than the space after c
      await sys.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle: b.handle, pad: 0 });
      const d = await dumb(sys, fd, 1, 1, 8);
      expect(await mapDumb(sys, fd, d.handle)).toBe(0x1_0000_0000 + 65536);
      await sys.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle: a.handle, pad: 0 });
      const e = await dumb(sys, fd);
      expect(await mapDumb(sys, fd, e.handle)).toBe(0x1_0000_0000);
      const f = await dumb(sys, fd);
      expect(await mapDumb(sys, fd, f.handle)).toBe(0x1_0000_0000 + 2 * 65536 + PAGE_SIZE);
    });
  });

  it('gem_mmap_last_page: the DRM fd maps only from an object\'s first page; a file without a handle gets EACCES', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const fd = await sys.open('/dev/dri/card0', O_RDWR);
      const { handle } = await dumb(sys, fd);
      const off = await mapDumb(sys, fd, handle);
      expect(off).toBe(0x1_0000_0000);
      expect(await errno(sys.mmap(0, PAGE_SIZE, 3, 1, fd, off + 61440))).toBe('EINVAL');
      expect(await errno(sys.mmap(0, 65536 + PAGE_SIZE, 3, 1, fd, off))).toBe('EINVAL');
      expect(await errno(sys.mmap(0, PAGE_SIZE, 3, 1, fd, 0))).toBe('EINVAL');
      expect(await errno(sys.mmap(0, PAGE_SIZE, 3, 1, fd, off))).toBe('ok');
      const other = await sys.open('/dev/dri/card0', O_RDWR);
      expect(await errno(sys.mmap(0, 65536, 3, 1, other, off))).toBe('EACCES');
      // new pages read as zero
      const m = await sys.mmap(0, 65536, 3, 1, fd, off);
      expect((await sys.load(m, 65536)).every((x) => x === 0)).toBe(true);
    });
  });
});

describe('vgem fences (reference rows)', () => {
  it('attach_write, poll and sync_file export while pending, EBUSY, signal, bad flags and handles, pending read', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const fd = await sys.open('/dev/dri/card0', O_RDWR);
      const { handle } = await dumb(sys, fd);
      const buf = await toFd(sys, fd, handle);
      // vgem_fence_attach_write
      const f1 = await fenceAttach(sys, fd, handle, VGEM_FENCE_WRITE);
      expect(f1).toBe(1);
      // dmabuf_poll_write_fence_pending
      expect(await pollOnce(sys, buf)).toBe(0);
      // export_sync_file_read_pending_write / _write_pending_write
      for (const flags of [DMA_BUF_SYNC_READ, DMA_BUF_SYNC_WRITE]) {
        const i = await syncInfo(sys, buf, flags);
        expect([i.status, i.num_fences, i.name, i.poll]).toEqual([0, 1, 'vgem-unbound1-1', 0]);
        expect(i.fences[0]).toMatchObject({ obj_name: 'unbound', driver_name: 'vgem', status: 0 });
      }
      // vgem_fence_attach_write_while_write_pending (uses up context 2)
      expect(await errno(fenceAttach(sys, fd, handle, VGEM_FENCE_WRITE))).toBe('EBUSY');
      // dmabuf_poll_after_signal
      await fenceSignal(sys, fd, f1);
      expect(await pollOnce(sys, buf)).toBe(POLLIN | POLLOUT);
      expect(await errno(fenceSignal(sys, fd, f1))).toBe('ENOENT');
      expect(await errno(fenceSignal(sys, fd, 77))).toBe('ENOENT');
      // vgem_fence_signal_bad_flags: on a live fence (context 3), which stays pending
      const f2 = await fenceAttach(sys, fd, handle, VGEM_FENCE_WRITE);
      expect(f2).toBe(2); // ids are per file and the EBUSY attempt got none
      expect(await errno(fenceSignal(sys, fd, f2, 1))).toBe('EINVAL');
      await fenceSignal(sys, fd, f2);
      // vgem_fence_attach_bad_flags / _bad_handle use up no context
      expect(await errno(fenceAttach(sys, fd, handle, 0x2))).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, 0xc0106441, { handle, flags: 0, out_fence: 0, pad: 1 }))).toBe('EINVAL');
      expect(await errno(fenceAttach(sys, fd, 0xdead, 0))).toBe('ENOENT');
      // export_sync_file_read_pending_read / _write_pending_read
      const f3 = await fenceAttach(sys, fd, handle, 0);
      expect(f3).toBe(3);
      expect(await pollOnce(sys, buf)).toBe(POLLIN);
      const r = await syncInfo(sys, buf, DMA_BUF_SYNC_READ);
      expect([r.status, r.num_fences, r.name, r.poll]).toEqual([1, 1, 'stub-stub0-0', POLLIN]);
      const w = await syncInfo(sys, buf, DMA_BUF_SYNC_WRITE);
      expect([w.status, w.num_fences, w.name, w.poll]).toEqual([0, 1, 'vgem-unbound4-1', 0]);
      // a second reader may join; a writer may not
      expect(await fenceAttach(sys, fd, handle, 0)).toBe(4);
      expect(await errno(fenceAttach(sys, fd, handle, VGEM_FENCE_WRITE))).toBe('EBUSY');
      // a reader must wait for a pending writer
      await fenceSignal(sys, fd, 3);
      await fenceSignal(sys, fd, 4);
      const f5 = await fenceAttach(sys, fd, handle, VGEM_FENCE_WRITE);
      expect(await errno(fenceAttach(sys, fd, handle, 0))).toBe('EBUSY');
      await fenceSignal(sys, fd, f5);
    });
  });

  it('dmabuf_poll_out_wakes_on_signal: a poller for POLLOUT sleeps until a child signals the read fence through the inherited fd', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const fd = await sys.open('/dev/dri/card0', O_RDWR);
      const { handle } = await dumb(sys, fd);
      const buf = await toFd(sys, fd, handle);
      const f = await fenceAttach(sys, fd, handle, 0);
      const child = await sys.fork(async (c) => {
        await c.poll([], 200);
        await fenceSignal(c, fd, f);
      });
      const t0 = s.soc.clock.now;
      const p: PollFd[] = [{ fd: buf, events: POLLOUT }];
      expect(await sys.poll(p, -1)).toBe(1);
      expect(p[0]!.revents).toBe(POLLOUT);
      expect(s.soc.clock.now - t0).toBeGreaterThanOrEqual(200e6);
      expect((await sys.wait(child)).status).toBe(0);
    });
    expect(s.k.vfs.openFileCount).toBe(0);
  });

  it('vgem_fence_via_importer_visible_to_exporter_fd: a fence attached through another file\'s import blocks the exporter\'s fd', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const a = await sys.open('/dev/dri/card0', O_RDWR);
      const b = await sys.open('/dev/dri/renderD128', O_RDWR);
      const { handle } = await dumb(sys, a);
      const buf = await toFd(sys, a, handle);
      const hb = await toHandle(sys, b, buf);
      const f = await fenceAttach(sys, b, hb, VGEM_FENCE_WRITE);
      expect(await pollOnce(sys, buf)).toBe(0);
      // the importer's fence blocks the exporter's own attach
      expect(await errno(fenceAttach(sys, a, handle, 0))).toBe('EBUSY');
      // fence ids are per file: the exporter cannot signal it
      expect(await errno(fenceSignal(sys, a, f))).toBe('ENOENT');
      await fenceSignal(sys, b, f);
      expect(await pollOnce(sys, buf)).toBe(POLLIN | POLLOUT);
    });
  });

  it('a fence nobody signals times out after 10 s (signal then says ETIMEDOUT); closing the file signals its fences', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const fd = await sys.open('/dev/dri/card0', O_RDWR);
      const { handle } = await dumb(sys, fd);
      const buf = await toFd(sys, fd, handle);
      const f = await fenceAttach(sys, fd, handle, VGEM_FENCE_WRITE);
      const t0 = s.soc.clock.now;
      const p: PollFd[] = [{ fd: buf, events: POLLIN }];
      expect(await sys.poll(p, -1)).toBe(1);
      expect(s.soc.clock.now - t0).toBeGreaterThanOrEqual(10e9);
      expect(await errno(fenceSignal(sys, fd, f))).toBe('ETIMEDOUT');
      expect(await errno(fenceSignal(sys, fd, f))).toBe('ENOENT');
      // a second file attaches and closes without signalling
      const other = await sys.open('/dev/dri/card0', O_RDWR);
      const h2 = await toHandle(sys, other, buf);
      await fenceAttach(sys, other, h2, VGEM_FENCE_WRITE);
      expect(await pollOnce(sys, buf)).toBe(0);
      const t1 = s.soc.clock.now;
      await sys.close(other);
      expect(await pollOnce(sys, buf)).toBe(POLLIN | POLLOUT);
      expect(s.soc.clock.now - t1).toBeLessThan(1e9);
    });
  });
});

describe('the DRM fd itself', () => {
  it('poll says nothing ready and a non-blocking read is EAGAIN while no events are queued; a sent event wakes a blocked reader', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const fd = await sys.open('/dev/dri/card0', O_RDWR);
      expect(await pollOnce(sys, fd)).toBe(0);
      const nb = await sys.open('/dev/dri/card0', O_RDWR | O_NONBLOCK);
      expect(await errno(sys.read(nb, 4096))).toBe('EAGAIN');
      const pid = await sys.getpid();
      const drmFile = [...s.vgem.files].find((f) => f.pid === pid)!;
      const t0 = s.soc.clock.now;
      s.soc.clock.after(5e6, () => {
        drmSendEvent(drmFile, new Uint8Array([2, 0, 0, 0, 16, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]));
        drmSendEvent(drmFile, new Uint8Array(16).fill(9));
      });
      const first = await sys.read(fd, 20);
      expect(s.soc.clock.now - t0).toBeGreaterThanOrEqual(5e6);
      // whole events only: the second does not fit in what is left of 20 bytes
      expect(Array.from(first.subarray(0, 8))).toEqual([2, 0, 0, 0, 16, 0, 0, 0]);
      expect(first.length).toBe(16);
      expect(await pollOnce(sys, fd, POLLIN | POLLRDNORM)).toBe(POLLIN | POLLRDNORM);
      expect(await sys.read(fd, 8)).toHaveLength(0);
      expect((await sys.read(fd, 64)).every((x) => x === 9)).toBe(true);
      expect(await pollOnce(sys, fd)).toBe(0);
    });
  });
});
