import { describe, expect, it } from 'vitest';
import { registerVivid } from '../../src/drivers/index.ts';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import type { Sys } from '../../src/proc/index.ts';
import {
  DMA_BUF_SET_NAME,
  F_ADD_SEALS,
  F_SEAL_SHRINK,
  F_GETFL,
  MAP_PRIVATE,
  MAP_SHARED,
  MFD_ALLOW_SEALING,
  O_ACCMODE,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  UDMABUF_CREATE,
  V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP,
  V4L2_MEMORY_DMABUF,
  V4L2_MEMORY_MMAP,
  VIDIOC_REQBUFS,
  VIDIOC_DQBUF,
  VIDIOC_QBUF,
  VIDIOC_STREAMOFF,
  VIDIOC_STREAMON,
} from '../../src/uapi/index.ts';
import { errno, fdinfoRow, mismatches, pattern, run } from '../dmabuf/helpers.ts';
import { VIVID_SIZE as SIZE, expbuf, ino, mapV4l2, reqbufs, v4l2buf, withVivid } from './v4l2-helpers.ts';
import { dumb, mapDumb, toFd, toHandle, vgemSystem } from './vgem-helpers.ts';

/** Maps a vgem handle through MAP_DUMB's fake offset. */
async function mapGem(sys: Sys, card: number, handle: number, prot = PROT_READ): Promise<number> {
  return sys.mmap(0, SIZE, prot, MAP_SHARED, card, await mapDumb(sys, card, handle));
}

/** vgem plus vivid's two instances (vb2-vmalloc on /dev/video0, vb2-dma-contig on the camera at /dev/video4). */
const system = () => withVivid(vgemSystem());

/** Bytes of `a` equal to `v`. */
function countEqual(a: Uint8Array, v: number): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === v) n++;
  return n;
}

describe('vivid buffers shared with vgem (reference rows that need vgem)', () => {
  it('vivid_to_vgem_prime_import, vgem_reexport_imported_foreign_buf, vivid_to_vgem_import_twice, dmabuf_set_name_while_attached, vivid_dmabuf_fdinfo_after_import', async () => {
    const s = system();
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      expect((await dumb(sys, card)).handle).toBe(1);
      const v = await sys.open('/dev/video0', O_RDWR);
      await reqbufs(sys, v, 2);
      const va = await mapV4l2(sys, v, 0);
      const data = pattern(SIZE, 6);
      await sys.store(va, data);
      const fd = await expbuf(sys, v, 0);
      const h = await toHandle(sys, card, fd);
      expect(h).toBe(2);
      const re = await toFd(sys, card, h);
      expect(await ino(sys, re)).toBe(await ino(sys, fd));
      expect((await sys.fcntl(re, F_GETFL)) & O_ACCMODE).toBe(O_RDWR);
      expect(await toHandle(sys, card, fd)).toBe(h);
      expect(await toHandle(sys, card, re)).toBe(h);
      await sys.ioctl(fd, DMA_BUF_SET_NAME, 'vivid-buf0');
      const row = await fdinfoRow(sys, fd);
      expect(row).toMatch(new RegExp(`^pos:0;flags:02000002;mnt_id:11;ino:${await ino(sys, fd)};size:${SIZE};count:\\d+;exp_name:videobuf2_vmalloc;name:vivid-buf0;$`));
      // Linux refuses MAP_DUMB on an imported object; vgem's view is the re-exported fd, which is vivid's memory
      expect(await errno(mapDumb(sys, card, h))).toBe('EINVAL');
      const gv = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, re, 0);
      expect(mismatches(await sys.load(gv, SIZE), data)).toBe(0);
    });
  });

  it('vivid_capture_into_vgem_dmabuf, other_file_gem_view_diff: vivid (vmalloc) captures into vgem dumb buffers over every byte; another vgem file sees the same bytes; nothing leaks', async () => {
    const s = system();
    const dev = s.vivid[0]!;
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const fds: number[] = [];
      const maps: number[] = [];
      for (let i = 0; i < 2; i++) {
        const d = await dumb(sys, card, 640, 480, 16);
        expect([d.pitch, d.size]).toEqual([1280, SIZE]);
        const gv = await mapGem(sys, card, d.handle, PROT_READ | PROT_WRITE);
        await sys.store(gv, new Uint8Array(SIZE).fill(0xaa));
        maps.push(gv);
        fds.push(await toFd(sys, card, d.handle));
      }
      const v = await sys.open('/dev/video0', O_RDWR);
      expect((await reqbufs(sys, v, 2, V4L2_MEMORY_DMABUF)).count).toBe(2);
      for (const i of [0, 1]) await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(i, V4L2_MEMORY_DMABUF, { fd: fds[i] }));
      await sys.ioctl(v, VIDIOC_STREAMON, CAP);
      const b = v4l2buf(0, V4L2_MEMORY_DMABUF);
      await sys.ioctl(v, VIDIOC_DQBUF, b);
      expect([b.index, b.bytesused, b.m.fd]).toEqual([0, SIZE, fds[0]]);
      const got = await sys.load(maps[0]!, SIZE);
      // every byte the frame does not happen to share with the stale fill was written
      expect(mismatches(got, new Uint8Array(SIZE).fill(0xaa))).toBe(SIZE - countEqual(dev.expectedFrame(b.sequence), 0xaa));
      expect(mismatches(got, dev.expectedFrame(b.sequence))).toBe(0);
      const other = await sys.open('/dev/dri/card0', O_RDWR);
      const oh = await toHandle(sys, other, fds[0]!);
      expect(mismatches(await sys.load(await mapGem(sys, other, oh), SIZE), got)).toBe(0);
      await sys.ioctl(v, VIDIOC_STREAMOFF, CAP);
      await sys.close(v);
    });
    await s.vgem.settle();
    expect(s.dbs.buffers).toHaveLength(0);
    expect(s.vgem.stats.objects).toBe(0);
  });

  it('vivid_dc_to_vgem_import, vivid_dc_capture_frame_v4l2_vs_vgem, vivid_dc_reqbufs0_while_exported', async () => {
    const s = system();
    const dev = s.vivid[1]!;
    const cma = s.mm.defaultCma!;
    const used0 = cma.stats().usedPages;
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      await dumb(sys, card);
      const v = await sys.open('/dev/video4', O_RDWR);
      await reqbufs(sys, v, 2);
      const map0 = await mapV4l2(sys, v, 0);
      const fd = await expbuf(sys, v, 0);
      const h = await toHandle(sys, card, fd);
      expect(h).toBe(2);
      const re = await toFd(sys, card, h);
      expect(await ino(sys, re)).toBe(await ino(sys, fd));
      const gv = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, re, 0);
      for (const i of [0, 1]) await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(i, V4L2_MEMORY_MMAP));
      await sys.ioctl(v, VIDIOC_STREAMON, CAP);
      const b = v4l2buf(0, V4L2_MEMORY_MMAP);
      await sys.ioctl(v, VIDIOC_DQBUF, b);
      expect([b.index, b.bytesused]).toEqual([0, SIZE]);
      const a = await sys.load(map0, SIZE);
      expect(mismatches(a, await sys.load(gv, SIZE))).toBe(0);
      expect(mismatches(a, dev.expectedFrame(b.sequence))).toBe(0);
      await sys.ioctl(v, VIDIOC_STREAMOFF, CAP);
      // REQBUFS(0) while vgem holds an import: buffer 0 stays in CMA, readable through vgem's re-export
      expect((await reqbufs(sys, v, 0)).count).toBe(0);
      expect(mismatches(await sys.load(gv, SIZE), a)).toBe(0);
      expect(cma.stats().usedPages).toBe(used0 + SIZE / 4096);
      await sys.close(fd);
      await sys.munmap(gv, SIZE);
      const again = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, re, 0);
      expect(mismatches(await sys.load(again, SIZE), dev.expectedFrame(b.sequence))).toBe(0);
      await sys.close(v);
    });
    await s.vgem.settle();
    expect(cma.stats().usedPages).toBe(used0);
    expect(s.dbs.buffers.length).toBe(0);
  });

  it('MAP_PRIVATE: vgem refuses it on its dma-buf and its DRM fd (EINVAL, no COW of shmem GEM pages); vivid\'s buffer accepts it, directly and through vgem\'s import', async () => {
    const s = system();
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const d = await dumb(sys, card);
      const gfd = await toFd(sys, card, d.handle);
      expect(await errno(sys.mmap(0, d.size, PROT_READ, MAP_PRIVATE, gfd, 0))).toBe('EINVAL');
      expect(await errno(sys.mmap(0, d.size, PROT_READ | PROT_WRITE, MAP_PRIVATE, gfd, 0))).toBe('EINVAL');
      expect(await errno(sys.mmap(0, d.size, PROT_READ, MAP_PRIVATE, card, await mapDumb(sys, card, d.handle)))).toBe('EINVAL');
      // the refused mapping took no reference: the shared one still works and closing frees the object
      const shared = await sys.mmap(0, d.size, PROT_READ | PROT_WRITE, MAP_SHARED, gfd, 0);
      await sys.store(shared, new Uint8Array([1, 2, 3]));
      await sys.munmap(shared, d.size);
      const v = await sys.open('/dev/video0', O_RDWR);
      await reqbufs(sys, v, 1);
      const va = await mapV4l2(sys, v, 0);
      await sys.store(va, new Uint8Array([9, 9, 9, 9]));
      const vfd = await expbuf(sys, v, 0);
      const priv = await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, vfd, 0);
      await sys.store(priv, new Uint8Array([7]));
      expect([...(await sys.load(priv, 4))]).toEqual([7, 9, 9, 9]);
      expect([...(await sys.load(va, 4))]).toEqual([9, 9, 9, 9]);
      // vgem's import of it is mapped by its exporter, which allows the private mapping
      const re = await toFd(sys, card, await toHandle(sys, card, vfd));
      const viaVgem = await sys.mmap(0, SIZE, PROT_READ, MAP_PRIVATE, re, 0);
      expect([...(await sys.load(viaVgem, 4))]).toEqual([9, 9, 9, 9]);
      await sys.munmap(priv, SIZE);
      await sys.munmap(viaVgem, SIZE);
      await sys.munmap(va, SIZE);
      for (const fd of [re, vfd, v, gfd, card]) await sys.close(fd);
    });
    await s.vgem.settle();
    expect(s.vgem.stats.objects).toBe(0);
    expect(s.dbs.buffers).toHaveLength(0);
  });

  it('shmem pages are scattered: a vgem dumb buffer and a memfd-backed udmabuf are EFAULT on vivid\'s dma-contig queue, and still captured into by the vmalloc one', async () => {
    const base = vgemSystem();
    // vivid's dma-contig instance on a 32-bit engine without IOMMU that reaches all of DRAM, as x86's vivid device does
    const s = { ...base, vivid: registerVivid({ vfs: base.k.vfs, dbs: base.dbs, mm: base.mm, clock: base.soc.clock, instances: [{ allocator: 'vmalloc' }, { allocator: 'dma-contig', device: base.dma0 }] }) };
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const d = await dumb(sys, card, 640, 480, 16);
      const gem = await toFd(sys, card, d.handle);
      await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, gem, 0);
      const mfd = await sys.memfd_create('frame', MFD_ALLOW_SEALING);
      await sys.ftruncate(mfd, SIZE);
      await sys.fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK);
      await sys.write(mfd, new Uint8Array(SIZE).fill(1));
      const udma = await sys.ioctl(await sys.open('/dev/udmabuf', O_RDWR), UDMABUF_CREATE, { memfd: mfd, flags: 0, offset: 0, size: SIZE });
      // no two consecutive pages of either buffer are physically consecutive
      const pfns = [...(s.dbs.buffers.find((b) => b.expName === 'drm')!.priv as { pages: Uint32Array }).pages];
      expect(pfns).toHaveLength(SIZE / PAGE_SIZE);
      expect(pfns.filter((p, i) => i > 0 && p === pfns[i - 1]! + 1)).toEqual([]);
      const dc = await sys.open('/dev/video4', O_RDWR);
      await sys.ioctl(dc, VIDIOC_REQBUFS, { count: 2, type: CAP, memory: V4L2_MEMORY_DMABUF, capabilities: 0, flags: 0 });
      expect(await errno(sys.ioctl(dc, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_DMABUF, { fd: gem })))).toBe('EFAULT');
      expect(await errno(sys.ioctl(dc, VIDIOC_QBUF, v4l2buf(1, V4L2_MEMORY_DMABUF, { fd: udma })))).toBe('EFAULT');
      expect(s.dbs.buffers.filter((b) => b.attachments.length > 0)).toEqual([]);
      const vm = await sys.open('/dev/video0', O_RDWR);
      await sys.ioctl(vm, VIDIOC_REQBUFS, { count: 2, type: CAP, memory: V4L2_MEMORY_DMABUF, capabilities: 0, flags: 0 });
      await sys.ioctl(vm, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_DMABUF, { fd: gem }));
      await sys.ioctl(vm, VIDIOC_QBUF, v4l2buf(1, V4L2_MEMORY_DMABUF, { fd: udma }));
      await sys.ioctl(vm, VIDIOC_STREAMON, CAP);
      for (const want of [gem, udma]) {
        const b = v4l2buf(0, V4L2_MEMORY_DMABUF);
        await sys.ioctl(vm, VIDIOC_DQBUF, b);
        expect([b.m.fd, b.bytesused]).toEqual([want, SIZE]);
        const view = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, want, 0);
        expect(mismatches(await sys.load(view, SIZE), s.vivid[0]!.expectedFrame(b.sequence))).toBe(0);
      }
    });
  });
});
