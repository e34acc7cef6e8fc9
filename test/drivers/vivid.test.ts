import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import type { PollFd, Sys } from '../../src/proc/index.ts';
import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SET_NAME,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_START,
  FD_CLOEXEC,
  F_GETFD,
  F_GETFL,
  MAP_PRIVATE,
  MAP_SHARED,
  O_ACCMODE,
  O_CLOEXEC,
  O_RDONLY,
  O_RDWR,
  POLLIN,
  PROT_READ,
  PROT_WRITE,
  SEEK_END,
  SYNC_IOC_FILE_INFO,
  V4L2_BUF_TYPE_VIDEO_CAPTURE,
  V4L2_BUF_TYPE_VIDEO_OUTPUT,
  V4L2_MEMORY_DMABUF,
  V4L2_MEMORY_MMAP,
  V4L2_PIX_FMT_YUYV,
  VIDIOC_QBUF,
  VIDIOC_QUERYCAP,
  VIDIOC_STREAMOFF,
  VIDIOC_STREAMON,
  VIDIOC_S_FMT,
  fourccToString,
  type SyncFenceInfo,
  type SyncFileInfo,
  type V4l2Capability,
  type V4l2Format,
} from '../../src/uapi/index.ts';
import { errno, fdinfoRow, heapAlloc, mismatches, pattern, run } from '../dmabuf/helpers.ts';
import { VIVID_SIZE as SIZE, dqbuf, expbuf, ino, mapV4l2, querybuf, reqbufs, v4l2buf, vividSystem } from './v4l2-helpers.ts';

const CAP = V4L2_BUF_TYPE_VIDEO_CAPTURE;

function changedFrom(bytes: Uint8Array, value: number): number {
  let n = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== value) n++;
  return n;
}

describe('vivid with videobuf2-vmalloc (/dev/video0), as the reference rows show', () => {
  it('QUERYCAP names the driver and bus; vivid_s_fmt gives 640x480 YUYV, bytesperline 1280, sizeimage 614400, progressive', async () => {
    const s = vividSystem();
    await run(s, async (sys) => {
      const fd = await sys.open('/dev/video0', O_RDWR);
      const cap = { driver: '', card: '', bus_info: '', version: 0, capabilities: 0, device_caps: 0 } as V4l2Capability;
      await sys.ioctl(fd, VIDIOC_QUERYCAP, cap);
      expect([cap.driver, cap.bus_info]).toEqual(['vivid', 'platform:vivid-000']);
      expect(cap.device_caps & 1).toBe(1);
      const f = { type: CAP, fmt: { pix: { width: 640, height: 480, pixelformat: V4L2_PIX_FMT_YUYV, field: 0 } } } as V4l2Format;
      await sys.ioctl(fd, VIDIOC_S_FMT, f);
      const p = f.fmt.pix;
      expect([p.width, p.height, fourccToString(p.pixelformat), p.bytesperline, p.sizeimage, p.field]).toEqual([640, 480, 'YUYV', 1280, SIZE, 1]);
      await sys.close(fd);
    });
  });

  it('vivid_expbuf_0/1, vivid_dmabuf_size: MMAP buffers export as O_RDWR close-on-exec videobuf2_vmalloc dma-bufs, one inode each', async () => {
    const s = vividSystem();
    await run(s, async (sys) => {
      const v = await sys.open('/dev/video0', O_RDWR);
      const r = await reqbufs(sys, v, 2);
      expect(r.count).toBe(2);
      const fds: number[] = [];
      const inos: number[] = [];
      for (const index of [0, 1]) {
        const b = await querybuf(sys, v, index);
        expect(b.length).toBe(SIZE);
        expect(await mapV4l2(sys, v, index)).toBeGreaterThan(0);
        const fd = await expbuf(sys, v, index);
        expect(await sys.fcntl(fd, F_GETFD)).toBe(FD_CLOEXEC);
        expect((await sys.fcntl(fd, F_GETFL)) & O_ACCMODE).toBe(O_RDWR);
        expect(await sys.readlink(`/proc/self/fd/${fd}`)).toBe('/dmabuf:');
        const i = await ino(sys, fd);
        expect(await fdinfoRow(sys, fd)).toBe(`pos:0;flags:02000002;mnt_id:11;ino:${i};size:${SIZE};count:1;exp_name:videobuf2_vmalloc;`);
        fds.push(fd);
        inos.push(i);
      }
      expect(inos[1]).toBe(inos[0]! + 1);
      const st = await sys.fstat(fds[0]!);
      expect(st.st_size).toBe(SIZE);
      expect(await sys.lseek(fds[0]!, 0, SEEK_END)).toBe(SIZE);
      expect((await querybuf(sys, v, 0)).flags & 1).toBe(1); // MAPPED
    });
  });

  it('vivid_dmabuf_mmap_*: the dma-buf sees writes through the V4L2 mapping; an offset mapping shows page 0 as Linux 6.1 does; beyond the size is EINVAL', async () => {
    const s = vividSystem();
    await run(s, async (sys) => {
      const v = await sys.open('/dev/video0', O_RDWR);
      await reqbufs(sys, v, 2);
      const va = await mapV4l2(sys, v, 0);
      const data = pattern(SIZE, 3);
      await sys.store(va, data);
      const fd = await expbuf(sys, v, 0);
      // vivid_dmabuf_mmap_sees_v4l2_mmap_write
      const whole = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, fd, 0);
      expect(mismatches(await sys.load(whole, SIZE), data)).toBe(0);
      // vivid_dmabuf_mmap_offset_8192
      const at = await sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 8192);
      const got = await sys.load(at, PAGE_SIZE);
      expect(mismatches(got, data.subarray(8192, 8192 + PAGE_SIZE))).toBe(4096);
      expect(mismatches(got, data.subarray(0, PAGE_SIZE))).toBe(0);
      // vivid_dmabuf_mmap_private_ro
      expect(await errno(sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_PRIVATE, fd, 0))).toBe('ok');
      // vivid_dmabuf_mmap_beyond_size
      expect(await errno(sys.mmap(0, 618496, PROT_READ, MAP_SHARED, fd, 0))).toBe('EINVAL');
    });
  });

  it('vivid_expbuf_index_out_of_range, _wrong_type, _twice_same_buffer; SET_NAME, SYNC end-read and the stub sync_file work on the export', async () => {
    const s = vividSystem();
    await run(s, async (sys) => {
      const v = await sys.open('/dev/video0', O_RDWR);
      await reqbufs(sys, v, 2);
      expect(await errno(expbuf(sys, v, 2))).toBe('EINVAL');
      expect(await errno(expbuf(sys, v, 0, O_CLOEXEC | O_RDWR, V4L2_BUF_TYPE_VIDEO_OUTPUT))).toBe('EINVAL');
      expect(await errno(expbuf(sys, v, 0, O_CLOEXEC | O_RDWR | 0x800000))).toBe('EINVAL');
      const a = await expbuf(sys, v, 0);
      const b = await expbuf(sys, v, 0);
      expect(await ino(sys, a)).not.toBe(await ino(sys, b));
      await sys.ioctl(a, DMA_BUF_SET_NAME, 'vivid-buf0');
      expect(await fdinfoRow(sys, a)).toContain(';exp_name:videobuf2_vmalloc;name:vivid-buf0;');
      expect(await errno(sys.ioctl(a, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ }))).toBe('ok');
      const e = { flags: DMA_BUF_SYNC_READ, fd: -1 };
      await sys.ioctl(a, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, e);
      const fences: SyncFenceInfo[] = [];
      const info: SyncFileInfo = { name: '', status: 0, flags: 0, num_fences: 4, pad: 0, sync_fence_info: fences };
      await sys.ioctl(e.fd, SYNC_IOC_FILE_INFO, info);
      expect([info.status, info.num_fences, info.name]).toEqual([1, 1, 'stub-stub0-0']);
      const p: PollFd[] = [{ fd: e.fd, events: POLLIN }];
      await sys.poll(p, 0);
      expect(p[0]!.revents).toBe(POLLIN);
    });
  });

  it('vivid_streamon_mmap / vivid_streamoff: frames land in MMAP buffers in order, deterministic in sequence and seed; REQBUFS(0) then EXPBUF is EINVAL', async () => {
    const s = vividSystem();
    const dev = s.vivid[0]!;
    await run(s, async (sys) => {
      const v = await sys.open('/dev/video0', O_RDWR);
      await reqbufs(sys, v, 2);
      const maps = [await mapV4l2(sys, v, 0), await mapV4l2(sys, v, 1)];
      for (const i of [0, 1]) await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(i));
      expect(await errno(sys.ioctl(v, VIDIOC_STREAMON, CAP))).toBe('ok');
      for (let k = 0; k < 4; k++) {
        const b = await dqbuf(sys, v);
        expect([b.index, b.bytesused, b.sequence, b.field]).toEqual([k % 2, SIZE, k, 1]);
        expect(mismatches(await sys.load(maps[b.index]!, SIZE), dev.expectedFrame(k))).toBe(0);
        await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(b.index));
      }
      expect(await errno(sys.ioctl(v, VIDIOC_STREAMOFF, CAP))).toBe('ok');
      expect(await errno(dqbuf(sys, v))).toBe('EINVAL');
      await reqbufs(sys, v, 0);
      expect(await errno(expbuf(sys, v, 0))).toBe('EINVAL');
    });
    expect(dev.framesCaptured).toBe(4);
  });

  it('vivid_reqbufs_dmabuf .. vivid_reqbufs0_dmabuf: a DMABUF queue, its fd checks, and capture into imported (also read-only) heap buffers', async () => {
    const s = vividSystem();
    const dev = s.vivid[0]!;
    const free0 = s.mm.pages.freeCount();
    await run(s, async (sys) => {
      const v = await sys.open('/dev/video0', O_RDWR);
      const r = await reqbufs(sys, v, 2, V4L2_MEMORY_DMABUF);
      expect([r.count, r.capabilities]).toEqual([2, 0x1f]);
      expect(await errno(expbuf(sys, v, 0))).toBe('EINVAL');
      const small = await heapAlloc(sys, 'system', 65536);
      expect(await errno(sys.ioctl(v, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_DMABUF, { fd: small }, SIZE)))).toBe('EFAULT');
      expect(await errno(sys.ioctl(v, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_DMABUF, { fd: small }, 0)))).toBe('EINVAL');
      const [sa] = await sys.socketpair();
      expect(await errno(sys.ioctl(v, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_DMABUF, { fd: sa }, 0)))).toBe('EINVAL');
      expect(await errno(sys.ioctl(v, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_DMABUF, { fd: -1 }, 0)))).toBe('EINVAL');
      expect(await errno(sys.ioctl(v, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_MMAP)))).toBe('EINVAL');
      const rw = await heapAlloc(sys, 'system', SIZE);
      const ro = await heapAlloc(sys, 'system', SIZE, O_RDONLY | O_CLOEXEC);
      expect((await sys.fcntl(ro, F_GETFL)) & O_ACCMODE).toBe(O_RDONLY);
      const view = await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0);
      await sys.store(view, new Uint8Array(SIZE).fill(0xaa));
      await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_DMABUF, { fd: rw }, 0));
      await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(1, V4L2_MEMORY_DMABUF, { fd: ro }, 0));
      expect(await errno(sys.ioctl(v, VIDIOC_STREAMON, CAP))).toBe('ok');
      const b0 = await dqbuf(sys, v, V4L2_MEMORY_DMABUF);
      expect([b0.index, b0.bytesused, b0.m.fd, b0.length]).toEqual([0, SIZE, rw, SIZE]);
      await sys.ioctl(rw, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ });
      const got = await sys.load(view, SIZE);
      expect(mismatches(got, dev.expectedFrame(b0.sequence))).toBe(0);
      expect(changedFrom(got, 0xaa)).toBeGreaterThan(SIZE * 0.99);
      const b1 = await dqbuf(sys, v, V4L2_MEMORY_DMABUF);
      expect([b1.index, b1.m.fd]).toEqual([1, ro]);
      const roView = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, ro, 0);
      expect(mismatches(await sys.load(roView, SIZE), dev.expectedFrame(b1.sequence))).toBe(0);
      await sys.ioctl(v, VIDIOC_STREAMOFF, CAP);
      expect(await errno(reqbufs(sys, v, 0, V4L2_MEMORY_DMABUF))).toBe('ok');
      for (const fd of [small, sa, rw, ro, v]) await sys.close(fd);
      await sys.munmap(view, SIZE);
      await sys.munmap(roView, SIZE);
    });
    expect(s.dbs.buffers.length).toBe(0);
    expect(s.mm.pages.freeCount()).toBe(free0);
  });
});

describe('vivid with videobuf2-dma-contig (/dev/video4), as the vivid_dc_* rows show', () => {
  async function findCapture(sys: Sys, bus: string): Promise<string> {
    for (let n = 0; n < 8; n++) {
      let fd: number;
      try {
        fd = await sys.open(`/dev/video${n}`, O_RDWR);
      } catch {
        continue;
      }
      const cap = {} as V4l2Capability;
      await sys.ioctl(fd, VIDIOC_QUERYCAP, cap);
      await sys.close(fd);
      if (cap.bus_info === bus) return `/dev/video${n}`;
    }
    return '';
  }

  it('vivid_dc_find_capture / vivid_dc_expbuf_0: bus platform:vivid-001 at /dev/video4, exports videobuf2_dma_contig', async () => {
    const s = vividSystem();
    await run(s, async (sys) => {
      expect(await findCapture(sys, 'platform:vivid-001')).toBe('/dev/video4');
      const v = await sys.open('/dev/video4', O_RDWR);
      const r = await reqbufs(sys, v, 2);
      expect(r.count).toBe(2);
      expect(r.capabilities & 0x2).toBe(0); // no USERPTR for dma-contig
      expect((await querybuf(sys, v, 0)).length).toBe(SIZE);
      expect(await mapV4l2(sys, v, 0)).toBeGreaterThan(0);
      const fd = await expbuf(sys, v, 0);
      expect(await fdinfoRow(sys, fd)).toMatch(/;exp_name:videobuf2_dma_contig;$/);
      expect(await sys.fcntl(fd, F_GETFD)).toBe(FD_CLOEXEC);
      expect((await sys.fcntl(fd, F_GETFL)) & O_ACCMODE).toBe(O_RDWR);
      expect(await sys.readlink(`/proc/self/fd/${fd}`)).toBe('/dmabuf:');
    });
  });

  it('vivid_dc_capture_frame_v4l2_vs_vgem: the camera DMAs the frame into contiguous memory; the V4L2 and dma-buf views agree', async () => {
    const s = vividSystem();
    const dev = s.vivid[1]!;
    await run(s, async (sys) => {
      const v = await sys.open('/dev/video4', O_RDWR);
      await reqbufs(sys, v, 2);
      const map0 = await mapV4l2(sys, v, 0);
      const fd = await expbuf(sys, v, 0);
      const dview = await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      await sys.store(dview, new Uint8Array(SIZE).fill(0x5a));
      for (const i of [0, 1]) await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(i));
      await sys.ioctl(v, VIDIOC_STREAMON, CAP);
      const b = await dqbuf(sys, v);
      expect([b.index, b.bytesused]).toEqual([0, SIZE]);
      const a = await sys.load(map0, SIZE);
      expect(mismatches(a, await sys.load(dview, SIZE))).toBe(0);
      expect(mismatches(a, dev.expectedFrame(b.sequence))).toBe(0);
      await sys.ioctl(v, VIDIOC_STREAMOFF, CAP);
    });
    expect(s.soc.bus.port('cam').bytesWritten).toBeGreaterThanOrEqual(SIZE);
  });

  it('vivid_dc_reqbufs0_while_exported: REQBUFS(0) orphans an exported buffer, which stays readable until its last user goes', async () => {
    const s = vividSystem();
    const cma = s.mm.defaultCma!;
    const used0 = cma.stats().usedPages;
    await run(s, async (sys) => {
      const v = await sys.open('/dev/video4', O_RDWR);
      await reqbufs(sys, v, 2);
      expect(cma.stats().usedPages).toBe(used0 + 2 * (SIZE / PAGE_SIZE));
      const map0 = await mapV4l2(sys, v, 0);
      const data = pattern(SIZE, 9);
      await sys.store(map0, data);
      const fd = await expbuf(sys, v, 0);
      const dview = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, fd, 0);
      expect(await errno(reqbufs(sys, v, 0))).toBe('ok');
      // buffer 1 had no users and went at once; buffer 0 lives on for its mappings and its dma-buf
      expect(cma.stats().usedPages).toBe(used0 + SIZE / PAGE_SIZE);
      expect(mismatches(await sys.load(dview, SIZE), data)).toBe(0);
      expect(mismatches(await sys.load(map0, SIZE), data)).toBe(0);
      await sys.munmap(dview, SIZE);
      await sys.munmap(map0, SIZE);
      await sys.close(fd);
      await sys.close(v);
    });
    expect(s.dbs.buffers.length).toBe(0);
    expect(cma.stats().usedPages).toBe(used0);
  });
});

