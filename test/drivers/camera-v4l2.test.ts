import { describe, expect, it } from 'vitest';
import { registerCamera } from '../../src/drivers/media/platform/camera.ts';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import type { Sys } from '../../src/proc/index.ts';
import {
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_START,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP,
  V4L2_BUF_TYPE_VIDEO_OUTPUT,
  V4L2_MEMORY_DMABUF,
  V4L2_MEMORY_MMAP,
  V4L2_MEMORY_USERPTR,
  VIDIOC_DQBUF,
  VIDIOC_EXPBUF,
  VIDIOC_QBUF,
  VIDIOC_QUERYBUF,
  VIDIOC_QUERYCAP,
  VIDIOC_REQBUFS,
  VIDIOC_STREAMOFF,
  VIDIOC_STREAMON,
  VIDIOC_S_FMT,
  type V4l2Capability,
  type V4l2ExportBuffer,
  type V4l2Format,
} from '../../src/uapi/index.ts';
import { errno, fdinfoRow, fragmentHighmem, heapAlloc, mismatches, run } from '../dmabuf/helpers.ts';
import { v4l2buf } from './v4l2-helpers.ts';
import { mediaSystem } from './camera-system.ts';

const W = 64;
const H = 48;
const SIZE = W * H * 2;

async function sFmt(sys: Sys, fd: number, width: number, height: number): Promise<V4l2Format> {
  const f = { type: CAP, fmt: { pix: { width, height, pixelformat: 0, field: 0 } } } as V4l2Format;
  await sys.ioctl(fd, VIDIOC_S_FMT, f);
  return f;
}

describe('platform camera on videobuf2-dma-sg behind an IOMMU', () => {
  it('MMAP: scattered pages, one IOMMU range, frames written by the camera DMA equal the sensor pattern; nothing leaks', async () => {
    const s = mediaSystem();
    fragmentHighmem(s.mm);
    const cam = registerCamera({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, device: s.camDev, nr: 10, width: W, height: H });
    const written0 = s.soc.bus.port('cam').bytesWritten;
    const free0 = s.mm.pages.freeCount();
    await run(s, async (sys) => {
      const v = await sys.open('/dev/video10', O_RDWR);
      const cap = {} as V4l2Capability;
      await sys.ioctl(v, VIDIOC_QUERYCAP, cap);
      expect([cap.driver, cap.bus_info, cap.device_caps & 1]).toEqual(['unimem-camera', 'platform:camera', 1]);
      const f = await sFmt(sys, v, W + 1, H);
      expect([f.fmt.pix.width, f.fmt.pix.height, f.fmt.pix.bytesperline, f.fmt.pix.sizeimage]).toEqual([W, H, W * 2, SIZE]);
      await sys.ioctl(v, VIDIOC_REQBUFS, { count: 3, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
      expect(await errno(sFmt(sys, v, 32, 32))).toBe('EBUSY');
      const views: number[] = [];
      for (const i of [0, 1, 2]) {
        const b = v4l2buf(i, V4L2_MEMORY_MMAP);
        await sys.ioctl(v, VIDIOC_QUERYBUF, b);
        views.push(await sys.mmap(0, b.length, PROT_READ, MAP_SHARED, v, b.m.offset!));
        await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(i, V4L2_MEMORY_MMAP));
      }
      expect(await errno(sys.ioctl(v, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_MMAP)))).toBe('EINVAL'); // already queued
      expect(await errno(sys.ioctl(v, VIDIOC_QBUF, v4l2buf(3, V4L2_MEMORY_MMAP)))).toBe('EINVAL');
      expect(await errno(sys.ioctl(v, VIDIOC_STREAMON, V4L2_BUF_TYPE_VIDEO_OUTPUT))).toBe('EINVAL');
      const mem = cam.queue.bufs[0]!.mem as unknown as { pages: Uint32Array; sgt: { nents: number; sgl: { dmaAddress: number }[] } };
      expect(mem.sgt.nents).toBe(1); // the IOMMU made the scattered pages one device range
      expect(mem.sgt.sgl[0]!.dmaAddress).toBeGreaterThanOrEqual(0x1000_0000);
      await sys.ioctl(v, VIDIOC_STREAMON, CAP);
      for (let k = 0; k < 4; k++) {
        const b = v4l2buf(0, V4L2_MEMORY_MMAP);
        await sys.ioctl(v, VIDIOC_DQBUF, b);
        expect([b.bytesused, b.sequence, b.flags & 0x40]).toEqual([SIZE, k, 0]); // no ERROR flag
        expect(mismatches(await sys.load(views[b.index]!, SIZE), cam.expectedFrame(b.sequence))).toBe(0);
        await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(b.index, V4L2_MEMORY_MMAP));
      }
      await sys.ioctl(v, VIDIOC_STREAMOFF, CAP);
      const nb = await sys.open('/dev/video10', O_RDWR | O_NONBLOCK);
      expect(await errno(sys.ioctl(nb, VIDIOC_DQBUF, v4l2buf(0, V4L2_MEMORY_MMAP)))).toBe('EBUSY'); // another file owns the queue
      await sys.close(nb);
      for (const va of views) await sys.munmap(va, SIZE);
      await sys.close(v);
    });
    expect(cam.framesCaptured).toBeGreaterThanOrEqual(4);
    expect(s.soc.bus.port('cam').bytesWritten - written0).toBeGreaterThanOrEqual(4 * SIZE);
    expect(s.mm.pages.freeCount()).toBe(free0);
    expect(s.soc.clock.pending).toBe(0);
  });

  it('EXPBUF gives videobuf2_dma_sg dma-bufs whose CPU view holds the frame; a scattered system-heap buffer is captured into by DMABUF', async () => {
    const s = mediaSystem();
    fragmentHighmem(s.mm);
    const cam = registerCamera({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, device: s.camDev, nr: 10, width: W, height: H });
    await run(s, async (sys) => {
      const v = await sys.open('/dev/video10', O_RDWR);
      await sys.ioctl(v, VIDIOC_REQBUFS, { count: 2, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
      const e: V4l2ExportBuffer = { type: CAP, index: 1, plane: 0, flags: O_CLOEXEC | O_RDWR, fd: -1 };
      await sys.ioctl(v, VIDIOC_EXPBUF, e);
      expect(await fdinfoRow(sys, e.fd)).toContain('exp_name:videobuf2_dma_sg;');
      for (const i of [0, 1]) await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(i, V4L2_MEMORY_MMAP));
      await sys.ioctl(v, VIDIOC_STREAMON, CAP);
      let b = v4l2buf(0, V4L2_MEMORY_MMAP);
      await sys.ioctl(v, VIDIOC_DQBUF, b);
      b = v4l2buf(0, V4L2_MEMORY_MMAP);
      await sys.ioctl(v, VIDIOC_DQBUF, b);
      expect(b.index).toBe(1);
      const view = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, e.fd, 0);
      await sys.ioctl(e.fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ });
      expect(mismatches(await sys.load(view, SIZE), cam.expectedFrame(b.sequence))).toBe(0);
      await sys.ioctl(v, VIDIOC_STREAMOFF, CAP);
      await sys.ioctl(v, VIDIOC_REQBUFS, { count: 0, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
      // the exported buffer outlives REQBUFS(0)
      expect(mismatches(await sys.load(view, SIZE), cam.expectedFrame(b.sequence))).toBe(0);
      await sys.munmap(view, SIZE);
      await sys.close(e.fd);

      await sys.ioctl(v, VIDIOC_REQBUFS, { count: 2, type: CAP, memory: V4L2_MEMORY_DMABUF, capabilities: 0, flags: 0 });
      const small = await heapAlloc(sys, 'system', PAGE_SIZE);
      expect(await errno(sys.ioctl(v, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_DMABUF, { fd: small })))).toBe('EINVAL');
      expect(await errno(sys.ioctl(v, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_DMABUF, { fd: 999 })))).toBe('EINVAL');
      const fds = [await heapAlloc(sys, 'system', SIZE), await heapAlloc(sys, 'system', SIZE)];
      for (const i of [0, 1]) await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(i, V4L2_MEMORY_DMABUF, { fd: fds[i] }));
      await sys.ioctl(v, VIDIOC_STREAMON, CAP);
      const d = v4l2buf(0, V4L2_MEMORY_DMABUF);
      await sys.ioctl(v, VIDIOC_DQBUF, d);
      expect([d.index, d.bytesused, d.m.fd]).toEqual([0, SIZE, fds[0]]);
      const hv = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, fds[0]!, 0);
      await sys.ioctl(fds[0]!, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ });
      expect(mismatches(await sys.load(hv, SIZE), cam.expectedFrame(d.sequence))).toBe(0);
      await sys.munmap(hv, SIZE);
      await sys.close(v);
      for (const fd of [...fds, small]) await sys.close(fd);
    });
    expect(s.dbs.buffers.length).toBe(0);
    expect(s.soc.clock.pending).toBe(0);
  });

  it('USERPTR: frames land in a process\'s anonymous memory through a per-frame IOMMU mapping of the pinned pages', async () => {
    const s = mediaSystem();
    const cam = registerCamera({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, device: s.camDev, nr: 10, width: W, height: H });
    await run(s, async (sys) => {
      const v = await sys.open('/dev/video10', O_RDWR);
      await sys.ioctl(v, VIDIOC_REQBUFS, { count: 2, type: CAP, memory: V4L2_MEMORY_USERPTR, capabilities: 0, flags: 0 });
      const len = 2 * Math.ceil(SIZE / PAGE_SIZE) * PAGE_SIZE;
      const base = await sys.mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      const half = len / 2;
      for (const i of [0, 1]) await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(i, V4L2_MEMORY_USERPTR, { userptr: base + i * half }, SIZE));
      await sys.ioctl(v, VIDIOC_STREAMON, CAP);
      const b = v4l2buf(0, V4L2_MEMORY_USERPTR);
      await sys.ioctl(v, VIDIOC_DQBUF, b);
      expect([b.index, b.bytesused, b.m.userptr]).toEqual([0, SIZE, base]);
      expect(mismatches(await sys.load(base, SIZE), cam.expectedFrame(b.sequence))).toBe(0);
      await sys.close(v);
      await sys.munmap(base, len);
    });
    expect(s.soc.clock.pending).toBe(0);
  });
  it('frame periods without a queued buffer are dropped but counted in the sequence, as vivid does', async () => {
    const s = mediaSystem();
    const cam = registerCamera({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, device: s.camDev, nr: 10, width: W, height: H, fps: 100 });
    await run(s, async (sys) => {
      const v = await sys.open('/dev/video10', O_RDWR);
      await sys.ioctl(v, VIDIOC_REQBUFS, { count: 2, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
      for (const i of [0, 1]) await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(i, V4L2_MEMORY_MMAP));
      await sys.ioctl(v, VIDIOC_STREAMON, CAP);
      await sys.poll([], 55); // five periods and a half
      const seqs: number[] = [];
      for (let k = 0; k < 2; k++) {
        const b = v4l2buf(0, V4L2_MEMORY_MMAP);
        await sys.ioctl(v, VIDIOC_DQBUF, b);
        seqs.push(b.sequence);
      }
      expect(seqs).toEqual([0, 1]);
      await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_MMAP));
      const b = v4l2buf(0, V4L2_MEMORY_MMAP);
      await sys.ioctl(v, VIDIOC_DQBUF, b);
      expect(b.sequence).toBeGreaterThanOrEqual(5);
      expect(mismatches(await sys.load(await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, v, 0), SIZE), cam.expectedFrame(b.sequence))).toBe(0);
      await sys.close(v);
    });
    expect(cam.framesCaptured).toBe(3);
    expect(cam.framesDropped).toBeGreaterThanOrEqual(3);
    expect(s.soc.clock.pending).toBe(0);
  });
});
