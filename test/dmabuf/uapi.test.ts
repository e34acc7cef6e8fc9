import { describe, expect, it } from 'vitest';
import { DmaResvUsage, dmaBufAttach, dmaBufDetach, dmaBufGet, dmaBufPut, type DmaBuf, type DmaFence } from '../../src/dmabuf/index.ts';
import { SwSyncTimeline } from '../../src/dmabuf/fence-timeline.ts';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import type { PollFd, Sys } from '../../src/proc/index.ts';
import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SET_NAME,
  DMA_BUF_SET_NAME_B,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START,
  DMA_BUF_SYNC_WRITE,
  DRM_IOCTL_VERSION,
  FD_CLOEXEC,
  FIONBIO,
  FIONREAD,
  F_GETFD,
  F_GETFL,
  F_SETFL,
  MAP_PRIVATE,
  MAP_SHARED,
  O_ACCMODE,
  O_CLOEXEC,
  O_CREAT,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  POLLIN,
  POLLOUT,
  PROT_READ,
  PROT_WRITE,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
  SYNC_IOC_FILE_INFO,
  _IOW,
  type SyncFenceInfo,
  type SyncFileInfo,
} from '../../src/uapi/index.ts';
import { errno, fdinfo, fdinfoCountsAcrossDupAndMmap, fdinfoRow, heapAlloc, mismatches, newest, pattern, run, testSystem } from './helpers.ts';

const SIZE = 65536;

/** Adds `fence` to the buffer's reservation object with `usage`, as a driver's job would. */
async function addFence(d: DmaBuf, fence: DmaFence, usage: DmaResvUsage): Promise<void> {
  await d.resv.lock();
  d.resv.reserveFences(1);
  d.resv.addFence(fence, usage);
  d.resv.unlock();
}

async function syncInfo(sys: Sys, fd: number): Promise<SyncFileInfo & { fences: SyncFenceInfo[] }> {
  const fences: SyncFenceInfo[] = [];
  const info: SyncFileInfo = { name: '', status: 0, flags: 0, num_fences: 4, pad: 0, sync_fence_info: fences };
  await sys.ioctl(fd, SYNC_IOC_FILE_INFO, info);
  return { ...info, fences };
}

async function pollOnce(sys: Sys, fd: number, events = POLLIN | POLLOUT, timeoutMs = 0): Promise<number> {
  const p: PollFd[] = [{ fd, events }];
  await sys.poll(p, timeoutMs);
  return p[0]!.revents ?? 0;
}

async function exportSync(sys: Sys, fd: number, flags: number): Promise<number> {
  const a = { flags, fd: -1 };
  await sys.ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, a);
  return a.fd;
}

describe('a heap dma-buf fd behaves as Linux 6.1 (reference rows)', () => {
  it('prime_export_rdwr / dmabuf_readlink / dmabuf_fdinfo / dmabuf_reopen_proc_fd', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', SIZE);
      expect((await sys.fcntl(fd, F_GETFL)) & O_ACCMODE).toBe(O_RDWR);
      expect(await sys.fcntl(fd, F_GETFD)).toBe(FD_CLOEXEC);
      expect((await sys.fstat(fd)).st_ino).toBe(1);
      expect((await sys.fstat(fd)).st_size).toBe(SIZE);
      expect(await sys.readlink(`/proc/self/fd/${fd}`)).toBe('/dmabuf:');
      expect(await fdinfoRow(sys, fd)).toBe('pos:0;flags:02000002;mnt_id:11;ino:1;size:65536;count:1;exp_name:system;');
      expect(await errno(sys.open(`/proc/self/fd/${fd}`, O_RDWR))).toBe('ENXIO');
    });
  });

  it('dmabuf_fdinfo_count: each fd and mapping is one reference', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', SIZE);
      expect(await fdinfoCountsAcrossDupAndMmap(sys, fd, SIZE, PROT_READ)).toEqual(['1', '2', '3', '1']);
    });
  });

  it('dmabuf_lseek_end / lseek_cur0 / write / pread / fcntl_setfl_nonblock / fionread / fionbio / drm ioctl', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', SIZE);
      expect(await sys.lseek(fd, 0, SEEK_END)).toBe(SIZE);
      expect(await sys.lseek(fd, 0, SEEK_SET)).toBe(0);
      expect(await errno(sys.lseek(fd, 0, SEEK_CUR))).toBe('EINVAL');
      expect(await errno(sys.lseek(fd, 1, SEEK_END))).toBe('EINVAL');
      expect(await errno(sys.write(fd, new Uint8Array(4)))).toBe('EINVAL');
      expect(await errno(sys.pread(fd, 4, 0))).toBe('ESPIPE');
      expect(await errno(sys.read(fd, 4))).toBe('EINVAL');
      await sys.fcntl(fd, F_SETFL, O_NONBLOCK);
      expect(await sys.fcntl(fd, F_GETFL)).toBe(0o4002);
      expect(await errno(sys.ioctl(fd, FIONREAD, { value: 0 }))).toBe('ENOTTY');
      expect(await errno(sys.ioctl(fd, FIONBIO, { value: 1 }))).toBe('ok');
      expect(await errno(sys.ioctl(fd, DRM_IOCTL_VERSION, {}))).toBe('ENOTTY');
      expect((await fdinfo(sys, fd)).pos).toBe('0');
    });
  });

  it('dmabuf_ro_mmap_rw_shared EACCES, ro_mmap_r_shared ok, ro_set_name ok', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', SIZE, O_RDONLY | O_CLOEXEC);
      expect((await sys.fcntl(fd, F_GETFL)) & O_ACCMODE).toBe(O_RDONLY);
      expect(await errno(sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0))).toBe('EACCES');
      expect(await errno(sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, fd, 0))).toBe('ok');
      expect(await errno(sys.ioctl(fd, DMA_BUF_SET_NAME, 'ro'))).toBe('ok');
    });
  });

  it('mmap ranges: offset 4096, last page, len 100 ok; beyond size, at size, straddling the end, unaligned offset EINVAL', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', SIZE);
      const all = await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      const data = pattern(SIZE, 3);
      await sys.store(all, data);
      const at4k = await sys.mmap(0, SIZE - PAGE_SIZE, PROT_READ, MAP_SHARED, fd, PAGE_SIZE);
      expect(mismatches(await sys.load(at4k, SIZE - PAGE_SIZE), data.subarray(PAGE_SIZE))).toBe(0);
      const last = await sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, SIZE - PAGE_SIZE);
      expect(mismatches(await sys.load(last, PAGE_SIZE), data.subarray(SIZE - PAGE_SIZE))).toBe(0);
      const small = await sys.mmap(0, 100, PROT_READ, MAP_SHARED, fd, 0);
      expect(mismatches(await sys.load(small, 100), data.subarray(0, 100))).toBe(0);
      expect(await errno(sys.mmap(0, SIZE + PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0))).toBe('EINVAL');
      expect(await errno(sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, SIZE))).toBe('EINVAL');
      expect(await errno(sys.mmap(0, 2 * PAGE_SIZE, PROT_READ, MAP_SHARED, fd, SIZE - PAGE_SIZE))).toBe('EINVAL');
      expect(await errno(sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 100))).toBe('EINVAL');
      const maps = await sys.readFile('/proc/self/maps');
      expect(maps).toMatch(/rw-s 00000000 00:0a 1 +\/dmabuf:/);
    });
  });

  it('DMA_BUF_IOCTL_SYNC flag validation (sync_* rows)', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', SIZE);
      const sync = (flags: number | bigint) => errno(sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags }));
      expect(await sync(DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ)).toBe('ok');
      expect(await sync(DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ)).toBe('ok');
      expect(await sync(DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE)).toBe('ok');
      expect(await sync(DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW)).toBe('ok');
      expect(await sync(DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW)).toBe('ok');
      expect(await sync(0)).toBe('EINVAL');
      expect(await sync(0x9)).toBe('EINVAL');
      expect(await sync(0x8000000000000001n)).toBe('EINVAL');
      expect(await sync(0xffffffffffffffffn)).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, null))).toBe('EFAULT');
      expect(_IOW('b', 0, 4)).toBe(0x40046200);
      expect(await errno(sys.ioctl(fd, 0x40046200, { flags: 1 }))).toBe('ENOTTY');
    });
  });

  it('DMA_BUF_SET_NAME: fdinfo and readlink show it; 31 bytes fit, 32 do not; empty, NULL, the u64 command', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', SIZE);
      await sys.ioctl(fd, DMA_BUF_SET_NAME, 'oracle-A');
      expect((await fdinfo(sys, fd)).name).toBe('oracle-A');
      expect(await sys.readlink(`/proc/self/fd/${fd}`)).toBe('/dmabuf:oracle-A');
      expect(await fdinfoRow(sys, fd)).toBe('pos:0;flags:02000002;mnt_id:11;ino:1;size:65536;count:1;exp_name:system;name:oracle-A;');
      const n31 = '0123456789abcdefghijklmnopqrstu';
      await sys.ioctl(fd, DMA_BUF_SET_NAME, n31);
      expect((await fdinfo(sys, fd)).name).toBe(n31);
      expect(await errno(sys.ioctl(fd, DMA_BUF_SET_NAME, n31 + 'v'))).toBe('EINVAL');
      expect((await fdinfo(sys, fd)).name).toBe(n31);
      await sys.ioctl(fd, DMA_BUF_SET_NAME, '');
      const text = await sys.readFile(`/proc/self/fdinfo/${fd}`);
      expect(text).toContain('name:\t\n');
      expect(await sys.readlink(`/proc/self/fd/${fd}`)).toBe('/dmabuf:');
      expect(await errno(sys.ioctl(fd, DMA_BUF_SET_NAME, null))).toBe('EFAULT');
      expect(DMA_BUF_SET_NAME_B >>> 0).toBe(0x40086201);
      await sys.ioctl(fd, DMA_BUF_SET_NAME_B, 'with space/slash');
      expect(await sys.readlink(`/proc/self/fd/${fd}`)).toBe('/dmabuf:with space/slash');
    });
  });

  it('dmabuf_poll_idle and export_sync_file_read/rw: the stub fence, signalled, poll IN, O_RDONLY and close-on-exec', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', SIZE);
      expect(await pollOnce(sys, fd)).toBe(POLLIN | POLLOUT);
      for (const flags of [DMA_BUF_SYNC_READ, DMA_BUF_SYNC_RW]) {
        const sf = await exportSync(sys, fd, flags);
        const info = await syncInfo(sys, sf);
        expect([info.status, info.num_fences, info.name]).toEqual([1, 1, 'stub-stub0-0']);
        expect(info.fences[0]).toMatchObject({ obj_name: 'stub', driver_name: 'stub', status: 1, flags: 0 });
        expect(await pollOnce(sys, sf, POLLIN)).toBe(POLLIN);
        expect(await sys.readlink(`/proc/self/fd/${sf}`)).toBe('anon_inode:sync_file');
        expect(await sys.fcntl(sf, F_GETFD)).toBe(FD_CLOEXEC);
        expect((await sys.fcntl(sf, F_GETFL)) & O_ACCMODE).toBe(O_RDONLY);
        await sys.close(sf);
      }
      expect(await errno(exportSync(sys, fd, 0))).toBe('EINVAL');
      expect(await errno(exportSync(sys, fd, 0x101))).toBe('EINVAL');
    });
  });

  it('IMPORT_SYNC_FILE: signalled import ok; bad flags, a non-sync_file fd and a dma-buf fd are EINVAL', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', SIZE);
      const sf = await exportSync(sys, fd, DMA_BUF_SYNC_READ);
      const imp = (flags: number, f: number) => errno(sys.ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags, fd: f }));
      expect(await imp(DMA_BUF_SYNC_READ, sf)).toBe('ok');
      expect(await imp(0x101, sf)).toBe('EINVAL');
      expect(await imp(0, sf)).toBe('EINVAL');
      const [a] = await sys.socketpair();
      expect(await imp(DMA_BUF_SYNC_WRITE, a)).toBe('EINVAL');
      expect(await imp(DMA_BUF_SYNC_WRITE, fd)).toBe('EINVAL');
      expect(await imp(DMA_BUF_SYNC_WRITE, 999)).toBe('EINVAL');
      expect(await pollOnce(sys, fd)).toBe(POLLIN | POLLOUT);
    });
  });

  it('a pending write fence: poll none, exported sync_files pending and named after the fence; signal: IN/OUT', async () => {
    const s = testSystem();
    const tl = new SwSyncTimeline(s.dbs.fctx, 'unbound', 'vgem');
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', SIZE);
      await addFence(newest(s.dbs), tl.createFence(1), DmaResvUsage.WRITE);
      expect(await pollOnce(sys, fd)).toBe(0);
      for (const flags of [DMA_BUF_SYNC_READ, DMA_BUF_SYNC_WRITE]) {
        const sf = await exportSync(sys, fd, flags);
        const info = await syncInfo(sys, sf);
        expect([info.status, info.num_fences, info.name]).toEqual([0, 1, 'vgem-unbound1-1']);
        expect(info.fences[0]).toMatchObject({ obj_name: 'unbound', driver_name: 'vgem', status: 0, timestamp_ns: 0 });
        expect(await pollOnce(sys, sf, POLLIN)).toBe(0);
        await sys.close(sf);
      }
      tl.signal(1);
      expect(await pollOnce(sys, fd)).toBe(POLLIN | POLLOUT);
    });
  });

  it('a pending read fence: readers go ahead (stub), writers wait (export_sync_file_*_pending_read)', async () => {
    const s = testSystem();
    const tl = new SwSyncTimeline(s.dbs.fctx, 'unbound', 'vgem');
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', SIZE);
      await addFence(newest(s.dbs), tl.createFence(1), DmaResvUsage.READ);
      expect(await pollOnce(sys, fd)).toBe(POLLIN);
      const r = await syncInfo(sys, await exportSync(sys, fd, DMA_BUF_SYNC_READ));
      expect([r.status, r.name]).toEqual([1, 'stub-stub0-0']);
      const w = await syncInfo(sys, await exportSync(sys, fd, DMA_BUF_SYNC_WRITE));
      expect([w.status, w.num_fences, w.name]).toEqual([0, 1, 'vgem-unbound1-1']);
    });
  });

  it('dmabuf_poll_out_wakes_on_signal: a poller for POLLOUT sleeps until another process signals the reader fence', async () => {
    const s = testSystem();
    const tl = new SwSyncTimeline(s.dbs.fctx, 'unbound', 'vgem');
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', SIZE);
      await addFence(newest(s.dbs), tl.createFence(1), DmaResvUsage.READ);
      const signaller = await sys.fork(async (c) => {
        await c.poll([], 200);
        tl.signal(1);
      });
      const t0 = s.soc.clock.now;
      const p: PollFd[] = [{ fd, events: POLLOUT }];
      expect(await sys.poll(p, -1)).toBe(1);
      expect(p[0]!.revents).toBe(POLLOUT);
      expect(s.soc.clock.now - t0).toBeGreaterThanOrEqual(200e6);
      await sys.wait(signaller);
    });
    expect(s.k.vfs.openFileCount).toBe(0);
  });

  it('scm_rights_parent_sees_child_write: a buffer passed to a child; each side sees the bytes the other wrote', async () => {
    const s = testSystem();
    const status = await run(s, async (sys) => {
      const [a, b] = await sys.socketpair();
      const child = await sys.fork(async (c) => {
        await c.close(a);
        const m = await c.recvmsg(b);
        const fd = m.fds[0]!;
        expect(await c.readlink(`/proc/self/fd/${fd}`)).toBe('/dmabuf:');
        const p = await c.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        await c.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW });
        if (mismatches(await c.load(p, SIZE), pattern(SIZE, 8)) !== 0) return 3;
        await c.store(p, pattern(SIZE, 9));
        await c.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW });
        await c.sendmsg(b, { data: new Uint8Array([1]) });
        return 0;
      });
      await sys.close(b);
      const fd = await heapAlloc(sys, 'system', SIZE);
      const p = await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      await sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE });
      await sys.store(p, pattern(SIZE, 8));
      await sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE });
      await sys.sendmsg(a, { fds: [fd] });
      await sys.close(fd);
      await sys.recvmsg(a);
      expect(mismatches(await sys.load(p, SIZE), pattern(SIZE, 9))).toBe(0);
      expect((await sys.wait(child)).status).toBe(0);
    });
    expect(status).toBe(0);
    expect(s.dbs.buffers).toHaveLength(0);
    expect(s.k.vfs.openFileCount).toBe(0);
  });

  it('dmabuf_set_name_while_attached: naming is allowed while a device is attached (6.1 dropped the EBUSY)', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', SIZE);
      const d = dmaBufGet(s.k.processes.get(await sys.getpid())!, fd);
      const att = await dmaBufAttach(d, s.dma0);
      expect(await errno(sys.ioctl(fd, DMA_BUF_SET_NAME, 'vivid-buf0'))).toBe('ok');
      expect((await fdinfo(sys, fd)).name).toBe('vivid-buf0');
      expect((await fdinfo(sys, fd)).count).toBe('2');
      await dmaBufDetach(d, att);
      await dmaBufPut(d);
    });
  });

  it('prime_import_closed_fd / prime_import_regular_file: dma_buf_get gives EBADF and EINVAL', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const p = s.k.processes.get(await sys.getpid())!;
      const f = await sys.open('/tmp/probe', O_RDWR | O_CREAT, 0o600);
      expect(await errno(() => dmaBufGet(p, 1000))).toBe('EBADF');
      expect(await errno(() => dmaBufGet(p, f))).toBe('EINVAL');
    });
  });

  it('a private mapping keeps its own copy of a written page', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', SIZE);
      const shared = await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      const priv = await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
      await sys.store(priv, new Uint8Array(16).fill(7));
      expect((await sys.load(shared, 16)).every((b) => b === 0)).toBe(true);
    });
  });

  it('debugfs_bufinfo: the header, one line per buffer, its attached devices and the totals', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', SIZE);
      await sys.ioctl(fd, DMA_BUF_SET_NAME, 'frame');
      const text = await sys.readFile('/sys/kernel/debug/dma_buf/bufinfo');
      const lines = text.split('\n');
      expect(lines[1]).toBe('Dma-buf Objects:');
      expect(lines[2]).toBe('size    \tflags   \tmode    \tcount   \texp_name\tino     \tname');
      expect(lines[3]).toBe('00065536\t00000002\t00080003\t00000001\tsystem\t00000001\tframe');
      expect(lines[4]).toBe('\tAttached Devices:');
      expect(lines[5]).toBe('Total 0 devices attached');
      expect(text.trim().split('\n').pop()).toBe('Total 1 objects, 65536 bytes');
    });
  });
});
