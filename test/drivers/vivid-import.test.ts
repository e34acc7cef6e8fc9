import { describe, expect, it } from 'vitest';
import { V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP, V4L2_MEMORY_DMABUF, V4L2_MEMORY_USERPTR, MAP_SHARED, O_RDWR, PROT_READ, VIDIOC_DQBUF, VIDIOC_QBUF, VIDIOC_REQBUFS, VIDIOC_STREAMON, DMA_BUF_IOCTL_SYNC, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_START } from '../../src/uapi/index.ts';
import { registerVivid } from '../../src/drivers/index.ts';
import type { UserPagesTask } from '../../src/drivers/media/videobuf2/vb2-core.ts';
import { vb2Dqbuf, vb2Qbuf, vb2Reqbufs, vb2Streamon } from '../../src/drivers/media/videobuf2/vb2-v4l2.ts';
import { ROOT_CRED, WaitQueueHead, type Task } from '../../src/fs/index.ts';
import { PAGE_SIZE, kerr } from '../../src/lib/index.ts';
import { errno, fragmentHighmem, heapAlloc, mismatches, run, testSystem } from '../dmabuf/helpers.ts';
import { VIVID_SIZE as SIZE, v4l2buf } from './v4l2-helpers.ts';
import { pinPages, unpinPages } from '../../src/mm/index.ts';

const FRAME_NS = Math.round(1e9 / 30);

describe('vivid dma-contig imports dma-bufs for its device', () => {
  it('a contiguous CMA-heap buffer is captured into by DMA; a scattered system-heap buffer is EFAULT (contiguous chunk too small)', async () => {
    const s = testSystem();
    // a 32-bit scatter-gather engine without IOMMU stands in for vivid's platform device
    const [, dc] = registerVivid({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, instances: [{ allocator: 'vmalloc' }, { allocator: 'dma-contig', device: s.dma0 }] });
    fragmentHighmem(s.mm);
    const written0 = s.soc.bus.port('dma0').bytesWritten;
    await run(s, async (sys) => {
      const v = await sys.open('/dev/video4', O_RDWR);
      await sys.ioctl(v, VIDIOC_REQBUFS, { count: 2, type: CAP, memory: V4L2_MEMORY_DMABUF, capabilities: 0, flags: 0 });
      const scattered = await heapAlloc(sys, 'system', SIZE);
      expect(await errno(sys.ioctl(v, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_DMABUF, { fd: scattered })))).toBe('EFAULT');
      expect(s.dbs.buffers.find((d) => d.attachments.length > 0)).toBeUndefined(); // the failed import detached
      const fds = [await heapAlloc(sys, 'reserved', SIZE), await heapAlloc(sys, 'reserved', SIZE)];
      for (const i of [0, 1]) await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(i, V4L2_MEMORY_DMABUF, { fd: fds[i] }));
      await sys.ioctl(v, VIDIOC_STREAMON, CAP);
      const b = v4l2buf(0, V4L2_MEMORY_DMABUF);
      await sys.ioctl(v, VIDIOC_DQBUF, b);
      expect([b.index, b.bytesused, b.m.fd]).toEqual([0, SIZE, fds[0]]);
      const view = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, fds[0]!, 0);
      await sys.ioctl(fds[0]!, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ });
      expect(mismatches(await sys.load(view, SIZE), dc!.expectedFrame(b.sequence))).toBe(0);
      await sys.close(v);
    });
    expect(s.soc.bus.port('dma0').bytesWritten - written0).toBeGreaterThanOrEqual(SIZE);
    expect(s.dbs.buffers.length).toBe(0);
  });
});

describe('vivid vmalloc USERPTR', () => {
  it('a task that can pin its pages gets frames written into them through a temporary kernel mapping; one that cannot gets EFAULT', async () => {
    const s = testSystem();
    const [vm] = registerVivid({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock });
    const q = vm!.queue;
    const n = SIZE / PAGE_SIZE;
    const pages = new Uint32Array(n);
    for (let i = 0; i < n; i++) pages[i] = s.mm.pages.allocPages(0, { highmem: true, zero: true });
    const bare: Task = {
      pid: 1,
      cred: ROOT_CRED,
      comm: 'test',
      fget: () => {
        throw kerr('EBADF', 'no fds');
      },
      installFd: () => {
        throw kerr('EMFILE', 'no fds');
      },
      signalPending: () => false,
      signalWait: new WaitQueueHead(),
    };
    let pinned = 0;
    const task: Task & UserPagesTask = {
      ...bare,
      pinUserPages(addr, len) {
        expect([addr, len]).toEqual([0x7000_0000, SIZE]);
        for (const p of pages) pinPages(s.mm.pages, p, 1);
        pinned++;
        return pages;
      },
      unpinUserPages(pfns) {
        for (const p of pfns) unpinPages(s.mm.pages, p, 1);
        pinned--;
      },
    };
    const req = { count: 2, type: CAP, memory: V4L2_MEMORY_USERPTR, capabilities: 0, flags: 0 };
    await vb2Reqbufs(q, req);
    expect(req.count).toBe(2);
    expect(await errno(vb2Qbuf(q, bare, v4l2buf(0, V4L2_MEMORY_USERPTR, { userptr: 0x7000_0000 }, SIZE)))).toBe('EFAULT');
    expect(await errno(vb2Qbuf(q, task, v4l2buf(0, V4L2_MEMORY_USERPTR, { userptr: 0x7000_0000 }, SIZE - 1)))).toBe('EINVAL');
    await vb2Qbuf(q, task, v4l2buf(0, V4L2_MEMORY_USERPTR, { userptr: 0x7000_0000 }, SIZE));
    await vb2Qbuf(q, task, v4l2buf(1, V4L2_MEMORY_USERPTR, { userptr: 0x7000_0000 }, SIZE));
    expect(pinned).toBe(2);
    await vb2Streamon(q, CAP);
    await s.soc.clock.run(s.soc.clock.now + FRAME_NS);
    const b = v4l2buf(0, V4L2_MEMORY_USERPTR);
    await vb2Dqbuf(q, bare, b, true);
    expect([b.index, b.bytesused, b.m.userptr]).toEqual([0, SIZE, 0x7000_0000]);
    const got = new Uint8Array(SIZE);
    const va = s.mm.kas.vmap(pages, 'wb');
    s.mm.kas.load(va, got, 0, SIZE);
    s.mm.kas.vunmap(va);
    expect(mismatches(got, vm!.expectedFrame(b.sequence))).toBe(0);
    const vmAreas = s.mm.kas.vmallocAreas();
    await q.release();
    expect(pinned).toBe(0);
    expect(s.mm.kas.vmallocAreas()).toBe(vmAreas);
    expect(s.soc.clock.pending).toBe(0);
  });
});
