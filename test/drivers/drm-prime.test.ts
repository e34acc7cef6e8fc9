import { describe, expect, it } from 'vitest';
import { DMA_BIDIRECTIONAL } from '../../src/dma/index.ts';
import { dmaBufAttach, dmaBufDetach, dmaBufGet, dmaBufPut, dmaBufMapAttachment, dmaBufUnmapAttachment } from '../../src/dmabuf/index.ts';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import type { DrmDevice } from '../../src/drivers/index.ts';
import { gemPrimeImportNoMap } from '../../src/drivers/gpu/drm/core/drm-prime.ts';
import { registerDrmDevice } from '../../src/drivers/gpu/drm/core/drm-device.ts';
import { vgemDriver } from '../../src/drivers/gpu/drm/vgem/vgem.ts';
import type { GemObject } from '../../src/drivers/gpu/drm/core/drm-gem.ts';
import type { DmaBuf } from '../../src/dmabuf/index.ts';
import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SET_NAME,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START,
  DMA_BUF_SYNC_WRITE,
  DRM_IOCTL_VERSION,
  EPOLLIN,
  EPOLLOUT,
  EPOLL_CTL_ADD,
  F_SETFL,
  O_NONBLOCK,
  POLLIN,
  POLLOUT,
  SEEK_CUR,
  SYNC_IOC_FILE_INFO,
  DRM_CLOEXEC,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_PRIME_HANDLE_TO_FD,
  FD_CLOEXEC,
  F_GETFD,
  F_GETFL,
  MAP_SHARED,
  O_ACCMODE,
  O_CREAT,
  O_RDONLY,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  SEEK_END,
} from '../../src/uapi/index.ts';
import { errno, fdinfo, fdinfoCountsAcrossDupAndMmap, fdinfoRow, heapAlloc, mismatches, pattern, run } from '../dmabuf/helpers.ts';
import { dumb, mapDumb, toFd, toHandle, vgemSystem } from './vgem-helpers.ts';

const SIZE = 65536;
const RW = PROT_READ | PROT_WRITE;

describe('PRIME export of a vgem dumb buffer (reference rows)', () => {
  it('prime_export_rdwr: fd 6, O_RDWR, cloexec, ino 1, /dmabuf:, fdinfo exp_name drm count 3; export twice gives the same buffer', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      await sys.open('/dev/dri/renderD128', O_RDWR);
      await sys.open('/dev/dri/card0', O_RDWR);
      const { handle } = await dumb(sys, card);
      const fd = await toFd(sys, card, handle);
      expect(fd).toBe(6);
      expect((await sys.fcntl(fd, F_GETFL)) & O_ACCMODE).toBe(O_RDWR);
      expect(await sys.fcntl(fd, F_GETFD)).toBe(FD_CLOEXEC);
      expect((await sys.fstat(fd)).st_ino).toBe(1);
      expect(await sys.readlink(`/proc/self/fd/${fd}`)).toBe('/dmabuf:');
      // dmabuf_fdinfo: the fd, the object's hold on its export and the file's PRIME cache entry
      expect(await fdinfoRow(sys, fd)).toBe('pos:0;flags:02000002;mnt_id:11;ino:1;size:65536;count:3;exp_name:drm;');
      expect(await sys.lseek(fd, 0, SEEK_END)).toBe(SIZE);
      const again = await toFd(sys, card, handle, 0);
      expect((await sys.fstat(again)).st_ino).toBe(1);
      expect(await sys.fcntl(again, F_GETFD)).toBe(0);
      expect(s.dbs.buffers).toHaveLength(1);
      // bufinfo lists the one buffer
      // debugfs_bufinfo: lines=10, total "Total 1 objects, 65536 bytes"
      const bufinfo = await sys.readFile('/sys/kernel/debug/dma_buf/bufinfo');
      expect(bufinfo.split('\n')).toHaveLength(10);
      expect(bufinfo).toContain('Total 1 objects, 65536 bytes');
      expect(bufinfo).toMatch(/\tdrm\t00000001\t/);
    });
  });

  it('prime_export_invalid_handle ENOENT, prime_export_bad_flags EINVAL (flags are checked before the handle)', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const { handle } = await dumb(sys, card);
      expect(await errno(toFd(sys, card, 0xdead))).toBe('ENOENT');
      expect(await errno(toFd(sys, card, handle, 0x4000000))).toBe('EINVAL');
      expect(await errno(toFd(sys, card, 0xdead, 0x4000000))).toBe('EINVAL');
      expect(await errno(sys.ioctl(card, DRM_IOCTL_PRIME_HANDLE_TO_FD, null))).toBe('EFAULT');
      // without DRM_RDWR the buffer is read-only, and stays so for later exports
      const ro = await toFd(sys, card, handle, DRM_CLOEXEC);
      expect((await sys.fcntl(ro, F_GETFL)) & O_ACCMODE).toBe(O_RDONLY);
      expect(await errno(sys.mmap(0, SIZE, RW, MAP_SHARED, ro, 0))).toBe('EACCES');
      const again = await toFd(sys, card, handle);
      expect((await sys.fcntl(again, F_GETFL)) & O_ACCMODE).toBe(O_RDONLY);
    });
  });

  it('dmabuf_fdinfo_count: initial 3, after dup 4, after mmap 5, after munmap and close 3', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const fd = await toFd(sys, card, (await dumb(sys, card)).handle);
      expect(await fdinfoCountsAcrossDupAndMmap(sys, fd, SIZE, RW)).toEqual(['3', '4', '5', '3']);
    });
  });

  it('dmabuf mmap rows: offset 4096 and the last page show page 0 (6.1 shmem fault ignores the offset); maps entry; range errors; mremap grow EFAULT', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const fd = await toFd(sys, card, (await dumb(sys, card)).handle);
      const all = await sys.mmap(0, SIZE, RW, MAP_SHARED, fd, 0);
      const data = pattern(SIZE, 5);
      await sys.store(all, data);
      // dmabuf_mmap_offset_4096: len 61440, every byte differs from the expected bytes, none from page 0 on
      const at4k = await sys.mmap(0, SIZE - PAGE_SIZE, PROT_READ, MAP_SHARED, fd, PAGE_SIZE);
      const got = await sys.load(at4k, SIZE - PAGE_SIZE);
      expect(mismatches(got, data.subarray(PAGE_SIZE))).toBe(61440);
      expect(mismatches(got, data.subarray(0, SIZE - PAGE_SIZE))).toBe(0);
      // dmabuf_mmap_last_page
      const last = await sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, SIZE - PAGE_SIZE);
      const lp = await sys.load(last, PAGE_SIZE);
      expect(mismatches(lp, data.subarray(SIZE - PAGE_SIZE))).toBe(4096);
      expect(mismatches(lp, data.subarray(0, PAGE_SIZE))).toBe(0);
      // dmabuf_proc_maps_entry: vm_pgoff carries the fake offset
      const maps = await sys.readFile('/proc/self/maps');
      const line = maps.split('\n').find((l) => l.startsWith(all.toString(16).padStart(8, '0')))!;
      expect(line).toMatch(/ rw-s 100000000 00:0a 1 +\/dmabuf:$/);
      // dmabuf_mmap_len100
      const small = await sys.mmap(0, 100, PROT_READ, MAP_SHARED, fd, 0);
      expect(mismatches(await sys.load(small, 100), data.subarray(0, 100))).toBe(0);
      expect(await errno(sys.mmap(0, SIZE + PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0))).toBe('EINVAL');
      expect(await errno(sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, SIZE))).toBe('EINVAL');
      expect(await errno(sys.mmap(0, 2 * PAGE_SIZE, PROT_READ, MAP_SHARED, fd, SIZE - PAGE_SIZE))).toBe('EINVAL');
      expect(await errno(sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 100))).toBe('EINVAL');
      expect(await errno(sys.mremap(all, SIZE, 2 * SIZE, 1 /* MREMAP_MAYMOVE */))).toBe('EFAULT');
      // the GEM mapping and the dma-buf mapping are the same pages
      const gem = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, card, await mapDumb(sys, card, 1));
      expect(mismatches(await sys.load(gem, SIZE), data)).toBe(0);
      // DMA_BUF_IOCTL_SYNC has nothing to do for GEM buffers but accepts the flags
      const sf = { flags: DMA_BUF_SYNC_READ, fd: -1 };
      await sys.ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, sf);
      expect(sf.fd).toBeGreaterThan(0);
    });
  });
});

describe('PRIME import (reference rows)', () => {
  it('prime_import_twice_same_file, _dup_fd_same_file, _into_exporter_file, prime_reexport_imported', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const a = await sys.open('/dev/dri/card0', O_RDWR);
      const b = await sys.open('/dev/dri/card0', O_RDWR);
      const { handle } = await dumb(sys, a);
      const fd = await toFd(sys, a, handle);
      const h1 = await toHandle(sys, b, fd);
      const h2 = await toHandle(sys, b, fd);
      expect([h1, h2]).toEqual([1, 1]);
      expect(await toHandle(sys, b, await sys.dup(fd))).toBe(1);
      expect(await toHandle(sys, a, fd)).toBe(handle);
      const re = await toFd(sys, b, h1);
      expect((await sys.fstat(re)).st_ino).toBe((await sys.fstat(fd)).st_ino);
      expect((await sys.fcntl(re, F_GETFL)) & O_ACCMODE).toBe(O_RDWR);
      expect(s.dbs.buffers).toHaveLength(1);
      expect(s.vgem.stats.objects).toBe(1);
    });
  });

  it('cross_file_read_sees_write / cross_file_write_seen_by_dmabuf_mmap: one object, three views', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const a = await sys.open('/dev/dri/card0', O_RDWR);
      const b = await sys.open('/dev/dri/card0', O_RDWR);
      const { handle } = await dumb(sys, a);
      const ma = await sys.mmap(0, SIZE, RW, MAP_SHARED, a, await mapDumb(sys, a, handle));
      const data = pattern(SIZE, 9);
      await sys.store(ma, data);
      const fd = await toFd(sys, a, handle);
      const hb = await toHandle(sys, b, fd);
      expect(hb).toBe(1);
      const off = await mapDumb(sys, b, hb);
      expect(off).toBe(0x1_0000_0000);
      const mb = await sys.mmap(0, SIZE, RW, MAP_SHARED, b, off);
      expect(mismatches(await sys.load(mb, SIZE), data)).toBe(0);
      const next = pattern(SIZE, 10);
      await sys.store(mb, next);
      const md = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, fd, 0);
      expect(mismatches(await sys.load(md, SIZE), next)).toBe(0);
      expect(mismatches(await sys.load(ma, SIZE), next)).toBe(0);
    });
  });

  it('prime_import_closed_fd EBADF, prime_import_regular_file EINVAL, prime_import_sync_file_fd EINVAL', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      expect(await errno(toHandle(sys, card, 1000))).toBe('EBADF');
      const probe = await sys.open('/probe', O_RDWR | O_CREAT, 0o644);
      expect(await errno(toHandle(sys, card, probe))).toBe('EINVAL');
      const fd = await toFd(sys, card, (await dumb(sys, card)).handle);
      const sf = { flags: DMA_BUF_SYNC_READ, fd: -1 };
      await sys.ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, sf);
      expect(await errno(toHandle(sys, card, sf.fd))).toBe('EINVAL');
      expect(await errno(toHandle(sys, card, card))).toBe('EINVAL');
    });
  });

  it('reimport_after_gem_close: the handle number comes back, MAP_DUMB works, the bytes are there', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const a = await sys.open('/dev/dri/card0', O_RDWR);
      const b = await sys.open('/dev/dri/card0', O_RDWR);
      const { handle } = await dumb(sys, a);
      const data = pattern(SIZE, 11);
      await sys.store(await sys.mmap(0, SIZE, RW, MAP_SHARED, a, await mapDumb(sys, a, handle)), data);
      const fd = await toFd(sys, a, handle);
      await dumb(sys, b);
      const old = await toHandle(sys, b, fd);
      expect(old).toBe(2);
      await sys.ioctl(b, DRM_IOCTL_GEM_CLOSE, { handle: old, pad: 0 });
      const again = await toHandle(sys, b, fd);
      expect(again).toBe(2);
      const m = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, b, await mapDumb(sys, b, again));
      expect(mismatches(await sys.load(m, SIZE), data)).toBe(0);
    });
  });

  it('scm_rights_parent_sees_child_write: a child imports the passed fd into its own open of card0 and writes; the parent sees it', async () => {
    const s = vgemSystem();
    const data = pattern(SIZE, 13);
    const status = await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const { handle } = await dumb(sys, card);
      const fd = await toFd(sys, card, handle);
      const [x, y] = await sys.socketpair();
      const child = await sys.fork(async (c) => {
        const m = await c.recvmsg(y);
        const own = await c.open('/dev/dri/card0', O_RDWR);
        const h = await toHandle(c, own, m.fds[0]!);
        const p = await c.mmap(0, SIZE, RW, MAP_SHARED, own, await mapDumb(c, own, h));
        await c.store(p, data);
        await c.exit(0);
      });
      await sys.sendmsg(x, { data: new Uint8Array([1]), fds: [fd] });
      await sys.close(fd);
      expect((await sys.wait(child)).status).toBe(0);
      const p = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, card, await mapDumb(sys, card, handle));
      expect(mismatches(await sys.load(p, SIZE), data)).toBe(0);
      return 0;
    });
    expect(status).toBe(0);
  });

  it('a foreign buffer (system heap) imports as an object sharing its reservation; re-export is the same buffer; MAP_DUMB is EINVAL; close detaches', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const heapFd = await heapAlloc(sys, 'system', SIZE);
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      await dumb(sys, card);
      const h = await toHandle(sys, card, heapFd);
      expect(h).toBe(2);
      expect(await toHandle(sys, card, heapFd)).toBe(2);
      const buf = s.dbs.buffers.find((d) => d.expName === 'system')!;
      expect(buf.attachments.map((a) => a.dev.name)).toEqual(['vgem']);
      const re = await toFd(sys, card, h);
      expect((await sys.fstat(re)).st_ino).toBe((await sys.fstat(heapFd)).st_ino);
      expect((await sys.fcntl(re, F_GETFL)) & O_ACCMODE).toBe(O_RDWR);
      expect(await errno(mapDumb(sys, card, h))).toBe('EINVAL');
      await sys.ioctl(card, DRM_IOCTL_GEM_CLOSE, { handle: h, pad: 0 });
      await s.vgem.settle();
      expect(buf.attachments).toHaveLength(0);
    });
    expect(s.dbs.buffers).toHaveLength(0);
  });
});

describe("the driver's gem_prime_import hook", () => {
  it('PRIME_FD_TO_HANDLE imports through the hook once per file; a no-map import is attached, never mapped, shares the resv, refuses MAP_DUMB; an own export comes back as itself', async () => {
    const s = vgemSystem();
    const calls: DmaBuf[] = [];
    const hooked: DrmDevice = registerDrmDevice({
      dbs: s.dbs,
      mm: s.mm,
      device: s.vgem.device,
      index: 5,
      driver: {
        ...vgemDriver,
        name: 'hooked',
        gemPrimeImport: (dev, d) => {
          calls.push(d);
          return gemPrimeImportNoMap(dev, d);
        },
      },
    });
    const free0 = s.mm.pages.freeCount();
    await run(s, async (sys) => {
      const heapFd = await heapAlloc(sys, 'system', SIZE);
      const buf = s.dbs.buffers.find((d) => d.expName === 'system')!;
      const a = await sys.open('/dev/dri/card5', O_RDWR);
      const b = await sys.open('/dev/dri/card5', O_RDWR);
      const h = await toHandle(sys, a, heapFd);
      expect(await toHandle(sys, a, heapFd)).toBe(h);
      expect(calls).toEqual([buf]);
      const obj: GemObject = [...hooked.files].find((f) => f.objects.has(h))!.objects.get(h)!;
      expect(obj.importAttach?.dmabuf).toBe(buf);
      expect(obj.importSgt).toBeNull();
      expect(obj.resv).toBe(buf.resv);
      expect(buf.attachments.map((x) => x.dev.name)).toEqual(['vgem']);
      expect(s.ctx.debug.liveMappings(s.vgem.device)).toBe(0);
      expect(await errno(mapDumb(sys, a, h))).toBe('EINVAL');
      // the import is mapped for userspace through its exporter
      const data = pattern(SIZE, 11);
      await sys.store(await sys.mmap(0, SIZE, RW, MAP_SHARED, heapFd, 0), data);
      // re-export gives the foreign buffer back
      expect((await sys.fstat(await toFd(sys, a, h))).st_ino).toBe((await sys.fstat(heapFd)).st_ino);
      // an own export re-imported in another file is the original object: MAP_DUMB works, same offset
      const own = await dumb(sys, a);
      const ownFd = await toFd(sys, a, own.handle);
      const hb = await toHandle(sys, b, ownFd);
      expect(calls).toHaveLength(2);
      expect(await mapDumb(sys, b, hb)).toBe(await mapDumb(sys, a, own.handle));
      // the last handle frees the import, which detaches (nothing was mapped to unmap)
      await sys.ioctl(a, DRM_IOCTL_GEM_CLOSE, { handle: h, pad: 0 });
      await hooked.settle();
      expect(buf.attachments).toHaveLength(0);
    });
    await hooked.settle();
    expect(hooked.stats).toEqual({ objects: 0, bytes: 0, pagesAllocated: 0 });
    expect(s.dbs.buffers).toHaveLength(0);
    expect(s.ctx.debug.liveMappings()).toBe(0);
    expect(s.mm.pages.freeCount()).toBe(free0);
    expect(s.soc.findings.findings).toEqual([]);
  });
});

describe('lifetimes and device access', () => {
  it('everything goes when the processes exit: objects, pages, buffers, files', async () => {
    const s = vgemSystem();
    const free0 = s.mm.pages.freeCount();
    await run(s, async (sys) => {
      const a = await sys.open('/dev/dri/card0', O_RDWR);
      const b = await sys.open('/dev/dri/renderD128', O_RDWR);
      const { handle } = await dumb(sys, a);
      const fd = await toFd(sys, a, handle);
      await toHandle(sys, b, fd);
      await sys.mmap(0, SIZE, RW, MAP_SHARED, fd, 0);
      await sys.mmap(0, SIZE, RW, MAP_SHARED, a, await mapDumb(sys, a, handle));
      await sys.store((await sys.mmap(0, SIZE, RW, MAP_SHARED, fd, 0)) + 10, new Uint8Array([1]));
      expect(s.vgem.stats.pagesAllocated).toBe(16);
      // the buffer outlives every handle through its fd
      await sys.close(a);
      await sys.close(b);
      expect(s.vgem.stats.objects).toBe(1);
      expect(s.dbs.buffers).toHaveLength(1);
    });
    await s.vgem.settle();
    expect(s.vgem.stats).toEqual({ objects: 0, bytes: 0, pagesAllocated: 0 });
    expect(s.dbs.buffers).toHaveLength(0);
    expect(s.k.vfs.openFileCount).toBe(0);
    expect(s.mm.pages.freeCount()).toBe(free0);
    expect(s.soc.findings.findings.map((f) => f.message)).toEqual([]);
  });

  it('another device DMAs from an exported vgem buffer: its sg table covers the object\'s pages', async () => {
    const s = vgemSystem();
    let bytes: Uint8Array | null = null;
    const data = pattern(SIZE, 17);
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const { handle } = await dumb(sys, card);
      await sys.store(await sys.mmap(0, SIZE, RW, MAP_SHARED, card, await mapDumb(sys, card, handle)), data);
      const fd = await toFd(sys, card, handle);
      const p = s.k.processes.get(await sys.getpid())!;
      const d = dmaBufGet(p, fd);
      const att = await dmaBufAttach(d, s.dma0);
      const sgt = await dmaBufMapAttachment(att, DMA_BIDIRECTIONAL);
      let total = 0;
      for (let i = 0; i < sgt.nents; i++) total += sgt.sgl[i]!.dmaLength;
      expect(total).toBe(SIZE);
      // write-combined CPU mappings leave nothing in the cache: a device read sees the bytes
      const out = new Uint8Array(SIZE);
      let o = 0;
      for (let i = 0; i < sgt.nents; i++) {
        const seg = sgt.sgl[i]!;
        await s.dma0.master.read(seg.dmaAddress, out.subarray(o, o + seg.dmaLength));
        o += seg.dmaLength;
      }
      bytes = out;
      await dmaBufUnmapAttachment(att, sgt, DMA_BIDIRECTIONAL);
      await dmaBufDetach(d, att);
      await dmaBufPut(d);
    });
    expect(mismatches(bytes!, data)).toBe(0);
  });
});

describe('the dma-buf rows on a vgem dumb buffer', () => {
  it('ro mmap, name, reexported name, fdinfo after name, file ops that fail, fcntl, epoll and poll idle', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const { handle } = await dumb(sys, card);
      // a second object exported read-only for the ro rows
      const ro = await toFd(sys, card, (await dumb(sys, card)).handle, DRM_CLOEXEC);
      expect(await errno(sys.mmap(0, SIZE, RW, MAP_SHARED, ro, 0))).toBe('EACCES');
      expect(await errno(sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, ro, 0))).toBe('ok');
      expect(await errno(sys.ioctl(ro, DMA_BUF_SET_NAME, 'ro'))).toBe('ok');
      const fd = await toFd(sys, card, handle);
      expect(await errno(sys.lseek(fd, 0, SEEK_CUR))).toBe('EINVAL');
      expect(await errno(sys.write(fd, new Uint8Array(4)))).toBe('EINVAL');
      expect(await errno(sys.pread(fd, 4, 0))).toBe('ESPIPE');
      expect(await errno(sys.fsync(fd))).toBe('EINVAL');
      expect(await errno(sys.ftruncate(fd, 0))).toBe('EINVAL');
      expect(await errno(sys.open(`/proc/self/fd/${fd}`, O_RDWR))).toBe('ENXIO');
      expect(await errno(sys.ioctl(fd, DRM_IOCTL_VERSION, {}))).toBe('ENOTTY');
      // dmabuf_set_name / dmabuf_name_visible_via_reexport / dmabuf_fdinfo_after_name
      await sys.ioctl(fd, DMA_BUF_SET_NAME, 'oracle-A');
      expect(await sys.readlink(`/proc/self/fd/${fd}`)).toBe('/dmabuf:oracle-A');
      const re = await toFd(sys, card, handle);
      expect((await fdinfo(sys, re)).name).toBe('oracle-A');
      expect(await fdinfoRow(sys, fd)).toBe(`pos:0;flags:02000002;mnt_id:11;ino:${(await sys.fstat(fd)).st_ino};size:65536;count:4;exp_name:drm;name:oracle-A;`);
      // dmabuf_fcntl_setfl_nonblock
      await sys.fcntl(fd, F_SETFL, O_NONBLOCK);
      expect(await sys.fcntl(fd, F_GETFL)).toBe(0o4002);
      // dmabuf_poll_idle / dmabuf_epoll_idle
      const p = [{ fd, events: POLLIN | POLLOUT, revents: 0 }];
      expect(await sys.poll(p, 0)).toBe(1);
      expect(p[0]!.revents).toBe(POLLIN | POLLOUT);
      const ep = await sys.epoll_create(1);
      await sys.epoll_ctl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLIN | EPOLLOUT, data: 1 });
      const evs = await sys.epoll_wait(ep, 4, 0);
      expect(evs.map((e) => e.events)).toEqual([EPOLLIN | EPOLLOUT]);
    });
  });

  it('DMA_BUF_IOCTL_SYNC flags, EXPORT_SYNC_FILE and IMPORT_SYNC_FILE rows', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const fd = await toFd(sys, card, (await dumb(sys, card)).handle);
      const sync = (flags: number | bigint) => errno(sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags }));
      for (const ok of [DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW]) {
        expect(await sync(ok)).toBe('ok');
      }
      for (const bad of [0, 0x9, 0x8000000000000001n, 0xffffffffffffffffn]) expect(await sync(bad)).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, null))).toBe('EFAULT');
      const exp = async (flags: number) => {
        const a = { flags, fd: -1 };
        await sys.ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, a);
        return a.fd;
      };
      const sf = await exp(DMA_BUF_SYNC_READ);
      const info = { name: '', status: 0, flags: 0, num_fences: 0, pad: 0, sync_fence_info: 0 };
      await sys.ioctl(sf, SYNC_IOC_FILE_INFO, info);
      expect([info.status, info.num_fences, info.name]).toEqual([1, 1, 'stub-stub0-0']);
      expect(await sys.readlink(`/proc/self/fd/${sf}`)).toBe('anon_inode:sync_file');
      expect(await errno(exp(0))).toBe('EINVAL');
      expect(await errno(exp(0x101))).toBe('EINVAL');
      const imp = (flags: number, f: number) => errno(sys.ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags, fd: f }));
      expect(await imp(DMA_BUF_SYNC_READ, sf)).toBe('ok');
      expect(await imp(0x101, sf)).toBe('EINVAL');
      expect(await imp(DMA_BUF_SYNC_WRITE, card)).toBe('EINVAL');
      expect(await imp(DMA_BUF_SYNC_WRITE, fd)).toBe('EINVAL');
      const p = [{ fd, events: POLLIN | POLLOUT, revents: 0 }];
      await sys.poll(p, 0);
      expect(p[0]!.revents).toBe(POLLIN | POLLOUT);
    });
  });
});
