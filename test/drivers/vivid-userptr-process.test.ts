import { describe, expect, it } from 'vitest';
import { registerVivid } from '../../src/drivers/index.ts';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import type { Process } from '../../src/proc/index.ts';
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP,
  V4L2_MEMORY_USERPTR,
  VIDIOC_DQBUF,
  VIDIOC_QBUF,
  VIDIOC_REQBUFS,
  VIDIOC_STREAMOFF,
  VIDIOC_STREAMON,
  type V4l2RequestBuffers,
} from '../../src/uapi/index.ts';
import { errno, mismatches, procMmSystem, run } from '../dmabuf/helpers.ts';
import { VIVID_SIZE as SIZE, v4l2buf } from './v4l2-helpers.ts';
import { pinCount } from '../../src/mm/index.ts';

/** The dma-buf test SoC with a process kernel that has the mm (anonymous memory in DRAM) and vivid's vb2-vmalloc instance on /dev/video0. */
function system() {
  const s = procMmSystem();
  const [vivid] = registerVivid({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, seed: 5 });
  return { ...s, vivid: vivid! };
}

describe('vivid vmalloc USERPTR from a real process', () => {
  it('captures into anonymous memory the process mmapped, which it reads back through its own mapping; pins go with the buffers and nothing leaks', async () => {
    const s = system();
    const pages = s.mm.pages;
    const free0 = pages.freeCount();
    const status = await run(s, async (sys) => {
      const me: Process = s.k.processes.get(await sys.getpid())!;
      const v = await sys.open('/dev/video0', O_RDWR);
      const req: V4l2RequestBuffers = { count: 2, type: CAP, memory: V4L2_MEMORY_USERPTR, capabilities: 0, flags: 0 };
      await sys.ioctl(v, VIDIOC_REQBUFS, req);
      expect(req.count).toBe(2);
      const bufs = [await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)];
      // stale bytes the capture must overwrite
      await sys.store(bufs[0]!, new Uint8Array(SIZE).fill(0xee));
      // a pointer to memory that is not mapped, or read-only memory for a capture queue, is EFAULT
      expect(await errno(sys.ioctl(v, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_USERPTR, { userptr: 0x1000_0000 }, SIZE)))).toBe('EFAULT');
      const ro = await sys.mmap(0, SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      expect(await errno(sys.ioctl(v, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_USERPTR, { userptr: ro }, SIZE)))).toBe('EFAULT');
      for (const i of [0, 1]) await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(i, V4L2_MEMORY_USERPTR, { userptr: bufs[i] }, SIZE));
      // queued buffers' pages are pinned frames of the process's own mapping
      const vma = me.mm.find(bufs[0]!)!;
      const first = (bufs[0]! - vma.start) / PAGE_SIZE;
      for (let i = 0; i < SIZE / PAGE_SIZE; i++) expect(pinCount(pages, vma.pfns[first + i]!)).toBe(1);
      await sys.ioctl(v, VIDIOC_STREAMON, CAP);
      const b = v4l2buf(0, V4L2_MEMORY_USERPTR);
      await sys.ioctl(v, VIDIOC_DQBUF, b);
      expect([b.index, b.bytesused, b.m.userptr]).toEqual([0, SIZE, bufs[0]]);
      expect(mismatches(await sys.load(bufs[0]!, SIZE), s.vivid.expectedFrame(b.sequence))).toBe(0);
      // requeue the same pointer and take the next frame into it
      await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_USERPTR, { userptr: bufs[0] }, SIZE));
      const c = v4l2buf(0, V4L2_MEMORY_USERPTR);
      await sys.ioctl(v, VIDIOC_DQBUF, c);
      expect(c.m.userptr).toBe(bufs[1]);
      expect(mismatches(await sys.load(bufs[1]!, SIZE), s.vivid.expectedFrame(c.sequence))).toBe(0);
      await sys.ioctl(v, VIDIOC_STREAMOFF, CAP);
      await sys.close(v);
      for (let i = 0; i < SIZE / PAGE_SIZE; i++) expect(pinCount(pages, vma.pfns[first + i]!)).toBe(0);
      return 0;
    });
    expect(status).toBe(0);
    expect(s.k.anon!.nrPages).toBe(0);
    expect(pages.freeCount()).toBe(free0);
  });

  it('a process that exits with buffers queued leaves no pinned or leaked pages once the device is released', async () => {
    const s = system();
    const pages = s.mm.pages;
    const free0 = pages.freeCount();
    const status = await run(s, async (sys) => {
      const v = await sys.open('/dev/video0', O_RDWR);
      await sys.ioctl(v, VIDIOC_REQBUFS, { count: 1, type: CAP, memory: V4L2_MEMORY_USERPTR, capabilities: 0, flags: 0 });
      const a = await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_USERPTR, { userptr: a }, SIZE));
      await sys.ioctl(v, VIDIOC_STREAMON, CAP);
      // exit without DQBUF, STREAMOFF or close: exit unmaps first, the pins keep the pages until the fd's release
      return 0;
    });
    expect(status).toBe(0);
    expect(s.k.anon!.nrPages).toBe(0);
    expect(pages.freeCount()).toBe(free0);
  });
});
