import { describe, expect, it } from 'vitest';
import { registerVivid } from '../../src/drivers/index.ts';
import {
  F_GETFL,
  MAP_SHARED,
  O_ACCMODE,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP,
  V4L2_MEMORY_DMABUF,
  V4L2_MEMORY_MMAP,
  VIDIOC_DQBUF,
  VIDIOC_EXPBUF,
  VIDIOC_QBUF,
  VIDIOC_REQBUFS,
  VIDIOC_STREAMOFF,
  VIDIOC_STREAMON,
  type V4l2Buffer,
} from '../../src/uapi/index.ts';
import { errno, mismatches, run } from '../dmabuf/helpers.ts';
import { dumb, mapDumb, toFd, toHandle, vgemSystem } from './vgem-helpers.ts';

const SIZE = 614400;

function v4l2buf(index: number, memory: number, m: V4l2Buffer['m'] = {}, length = 0): V4l2Buffer {
  return { index, type: CAP, bytesused: 0, flags: 0, field: 0, timestamp: { tv_sec: 0, tv_usec: 0 }, sequence: 0, memory, m, length };
}

describe('vivid and vgem share buffers (reference rows)', () => {
  it('vivid_to_vgem_prime_import, vgem_reexport_imported_foreign_buf, vivid_to_vgem_import_twice', async () => {
    const s = vgemSystem();
    registerVivid({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock });
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      await dumb(sys, card);
      const v = await sys.open('/dev/video0', O_RDWR);
      await sys.ioctl(v, VIDIOC_REQBUFS, { count: 2, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
      const e = { type: CAP, index: 0, plane: 0, flags: O_RDWR, fd: -1 };
      await sys.ioctl(v, VIDIOC_EXPBUF, e);
      const h = await toHandle(sys, card, e.fd);
      expect(h).toBe(2);
      expect(await toHandle(sys, card, e.fd)).toBe(2);
      const re = await toFd(sys, card, h);
      expect((await sys.fstat(re)).st_ino).toBe((await sys.fstat(e.fd)).st_ino);
      expect((await sys.fcntl(re, F_GETFL)) & O_ACCMODE).toBe(O_RDWR);
      expect(await errno(mapDumb(sys, card, h))).toBe('EINVAL');
    });
  });

  it('vivid_capture_into_vgem_dmabuf: vivid captures into vgem dumb buffers; another DRM file\'s GEM view shows the frame', async () => {
    const s = vgemSystem();
    const [vm] = registerVivid({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock });
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const other = await sys.open('/dev/dri/card0', O_RDWR);
      const fds: number[] = [];
      const maps: number[] = [];
      for (let i = 0; i < 2; i++) {
        const d = await dumb(sys, card, 640, 480, 16);
        expect([d.pitch, d.size]).toEqual([1280, SIZE]);
        const m = await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, card, await mapDumb(sys, card, d.handle));
        await sys.store(m, new Uint8Array(SIZE).fill(0xaa));
        maps.push(m);
        fds.push(await toFd(sys, card, d.handle));
      }
      const v = await sys.open('/dev/video0', O_RDWR);
      await sys.ioctl(v, VIDIOC_REQBUFS, { count: 2, type: CAP, memory: V4L2_MEMORY_DMABUF, capabilities: 0, flags: 0 });
      for (const i of [0, 1]) await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(i, V4L2_MEMORY_DMABUF, { fd: fds[i] }));
      await sys.ioctl(v, VIDIOC_STREAMON, CAP);
      const b = v4l2buf(0, V4L2_MEMORY_DMABUF);
      await sys.ioctl(v, VIDIOC_DQBUF, b);
      expect([b.index, b.bytesused, b.m.fd]).toEqual([0, SIZE, fds[0]]);
      const frame = await sys.load(maps[0]!, SIZE);
      expect(mismatches(frame, new Uint8Array(SIZE).fill(0xaa))).toBe(SIZE - countEqual(vm!.expectedFrame(b.sequence), 0xaa));
      expect(mismatches(frame, vm!.expectedFrame(b.sequence))).toBe(0);
      // other_file_gem_view_diff: a second file imports the buffer and maps it through its own handle
      const ho = await toHandle(sys, other, fds[0]!);
      const mo = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, other, await mapDumb(sys, other, ho));
      expect(mismatches(await sys.load(mo, SIZE), frame)).toBe(0);
      await sys.close(v);
    });
    await s.vgem.settle();
    expect(s.dbs.buffers).toHaveLength(0);
    expect(s.vgem.stats.objects).toBe(0);
  });
});

describe('vivid dma-contig buffers in vgem (the vgem side of the vivid_dc_* rows)', () => {
  it('vivid_dc_to_vgem_import, vivid_dc_capture_frame_v4l2_vs_vgem, vivid_dc_reqbufs0_while_exported', async () => {
    const s = vgemSystem();
    const [, dc] = registerVivid({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, instances: [{ allocator: 'vmalloc' }, { allocator: 'dma-contig', device: s.cam }] });
    const cma = s.mm.defaultCma!;
    const used0 = cma.stats().usedPages;
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      await dumb(sys, card);
      const v = await sys.open('/dev/video4', O_RDWR);
      await sys.ioctl(v, VIDIOC_REQBUFS, { count: 2, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
      const e = { type: CAP, index: 0, plane: 0, flags: O_RDWR, fd: -1 };
      await sys.ioctl(v, VIDIOC_EXPBUF, e);
      const h = await toHandle(sys, card, e.fd);
      expect(h).toBe(2);
      const vgemView = await toFd(sys, card, h);
      expect((await sys.fstat(vgemView)).st_ino).toBe((await sys.fstat(e.fd)).st_ino);
      const view = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, vgemView, 0);
      for (const i of [0, 1]) await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(i, V4L2_MEMORY_MMAP));
      await sys.ioctl(v, VIDIOC_STREAMON, CAP);
      const b = v4l2buf(0, V4L2_MEMORY_MMAP);
      await sys.ioctl(v, VIDIOC_DQBUF, b);
      expect([b.index, b.bytesused]).toEqual([0, SIZE]);
      expect(mismatches(await sys.load(view, SIZE), dc!.expectedFrame(b.sequence))).toBe(0);
      await sys.ioctl(v, VIDIOC_STREAMOFF, CAP);
      // REQBUFS(0) while vgem holds an import: the buffer stays, readable through vgem's re-export
      await sys.ioctl(v, VIDIOC_REQBUFS, { count: 0, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
      await sys.close(e.fd);
      await sys.munmap(view, SIZE);
      const again = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, vgemView, 0);
      expect(mismatches(await sys.load(again, SIZE), dc!.expectedFrame(b.sequence))).toBe(0);
      expect(cma.stats().usedPages).toBe(used0 + SIZE / 4096);
      await sys.close(v);
    });
    await s.vgem.settle();
    expect(cma.stats().usedPages).toBe(used0);
    expect(s.dbs.buffers).toHaveLength(0);
  });
});

function countEqual(a: Uint8Array, v: number): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === v) n++;
  return n;
}
