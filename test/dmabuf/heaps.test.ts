import { describe, expect, it, vi } from 'vitest';
import { DMA_BIDIRECTIONAL } from '../../src/dma/index.ts';
import { dmaBufAttach, dmaBufDetach, dmaBufGet, dmaBufPut, dmaBufMapAttachment, dmaBufUnmapAttachment } from '../../src/dmabuf/index.ts';
import { dmaHeaps } from '../../src/dmabuf/dma-heap.ts';
import type { HeapBuffer } from '../../src/dmabuf/heap-buffer.ts';
import { KernelBug, MiB, PAGE_SIZE } from '../../src/lib/index.ts';
import type { Sys } from '../../src/proc/index.ts';
import {
  DMA_HEAP_IOCTL_ALLOC,
  MAP_PRIVATE,
  MAP_SHARED,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  PROT_READ,
  PROT_WRITE,
  _IOC,
  _IOC_READ,
  _IOC_WRITE,
  _IOWR,
} from '../../src/uapi/index.ts';
import { errno, fdinfo, heapAlloc, mismatches, newest, pattern, run, testSystem } from './helpers.ts';

async function alloc(sys: Sys, heap: string, a: Record<string, unknown>, cmd = DMA_HEAP_IOCTL_ALLOC): Promise<string> {
  const h = await sys.open(`/dev/dma_heap/${heap}`, O_RDWR);
  try {
    return await errno(sys.ioctl(h, cmd, a));
  } finally {
    await sys.close(h);
  }
}

describe('dma-heaps', () => {
  it('registers /dev/dma_heap/system and /dev/dma_heap/<default CMA area>, root-only nodes', async () => {
    const s = testSystem();
    expect([...dmaHeaps(s.dbs).keys()]).toEqual(['system', 'reserved']);
    await run(s, async (sys) => {
      const st = await sys.fstat(await sys.open('/dev/dma_heap/system', O_RDWR));
      expect(st.st_mode & 0o777).toBe(0o600);
    });
    await run(s, async (sys) => {
      expect(await errno(sys.open('/dev/dma_heap/system', O_RDWR))).toBe('EACCES');
    }, { uid: 1000, gid: 1000, groups: [] });
  });

  it('DMA_HEAP_IOCTL_ALLOC validation: fd must be 0, fd_flags only O_ACCMODE|O_CLOEXEC, heap_flags 0, zero length', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const ok = { len: 4096, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0 };
      expect(await alloc(sys, 'system', { ...ok })).toBe('ok');
      expect(await alloc(sys, 'system', { ...ok, fd: 3 })).toBe('EINVAL');
      expect(await alloc(sys, 'system', { ...ok, fd_flags: O_RDWR | O_NONBLOCK })).toBe('EINVAL');
      expect(await alloc(sys, 'system', { ...ok, heap_flags: 1 })).toBe('EINVAL');
      expect(await alloc(sys, 'system', { ...ok, len: 0 })).toBe('EINVAL');
      expect(await alloc(sys, 'system', { ...ok, len: 0xffffffffffffffffn })).toBe('EINVAL');
      expect(await alloc(sys, 'system', { ...ok, len: 1n << 40n })).toBe('ENOMEM');
      expect(await alloc(sys, 'system', ok, _IOWR('H', 1, 24))).toBe('EINVAL');
      expect(await errno(sys.ioctl(await sys.open('/dev/dma_heap/system', O_RDWR), DMA_HEAP_IOCTL_ALLOC, null))).toBe('EFAULT');
      // an older, shorter struct: the missing fields read as zero, the fd still comes back
      const short = { len: 8192, fd: 0 };
      expect(await alloc(sys, 'system', short, _IOC(_IOC_READ | _IOC_WRITE, 'H', 0, 16))).toBe('ok');
      expect(short.fd).toBeGreaterThan(0);
      // without the write direction nothing is read: length 0
      expect(await alloc(sys, 'system', { ...ok }, _IOC(_IOC_READ, 'H', 0, 24))).toBe('EINVAL');
      void _IOC_WRITE;
    });
    expect(s.system.allocations).toBe(2);
  });

  it('lengths round up to pages; the fd flags become the file access mode (O_WRONLY buffers cannot be mapped)', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', 100);
      expect((await fdinfo(sys, fd)).size).toBe('4096');
      const ro = await heapAlloc(sys, 'system', PAGE_SIZE, O_RDONLY);
      expect(await errno(sys.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0))).toBe('EACCES');
      const wo = await heapAlloc(sys, 'system', PAGE_SIZE, O_WRONLY);
      expect(await errno(sys.mmap(0, PAGE_SIZE, PROT_WRITE, MAP_SHARED, wo, 0))).toBe('EACCES');
      expect((await fdinfo(sys, wo)).flags).toBe('01');
    });
  });

  it('the system heap builds buffers from 1 MiB, 64 KiB and 4 KiB blocks, largest first, zeroed; release frees them all', async () => {
    const s = testSystem();
    const free0 = s.mm.pages.freeCount();
    const len = 3 * MiB + 5 * 64 * 1024 + 3 * PAGE_SIZE;
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', len);
      const b = newest(s.dbs).priv as HeapBuffer;
      expect(b.entries.map(([, n]) => n)).toEqual([256, 256, 256, 16, 16, 16, 16, 16, 1, 1, 1]);
      const p = await sys.mmap(0, len, PROT_READ, MAP_SHARED, fd, 0);
      expect((await sys.load(p, len)).every((x) => x === 0)).toBe(true);
      expect(newest(s.dbs).expName).toBe('system');
      expect(newest(s.dbs).creator).toMatch(/\[\d+\]$/);
    });
    expect(s.dbs.buffers).toHaveLength(0);
    expect(s.mm.pages.freeCount()).toBe(free0);
  });

  it('a failed system-heap allocation gives back what it took (ENOMEM)', async () => {
    const s = testSystem();
    const free0 = s.mm.pages.freeCount();
    await run(s, async (sys) => {
      expect(await alloc(sys, 'system', { len: free0 * PAGE_SIZE + PAGE_SIZE, fd: 0, fd_flags: O_RDWR, heap_flags: 0 })).toBe('ENOMEM');
    });
    expect(s.mm.pages.freeCount()).toBe(free0);
  });

  it('a KernelBug from the page allocator reaches the caller instead of sending the system heap to smaller blocks', async () => {
    const s = testSystem();
    const real = s.mm.pages.allocPages.bind(s.mm.pages);
    let calls = 0;
    // the second 1 MiB block finds the allocator broken
    vi.spyOn(s.mm.pages, 'allocPages').mockImplementation((order, gfp) => {
      if (order === 8 && ++calls === 2) throw new KernelBug('free list corrupted');
      return real(order, gfp);
    });
    await expect(
      run(s, async (sys) => {
        await heapAlloc(sys, 'system', 2 * MiB);
      }),
    ).rejects.toThrow(KernelBug);
    expect(calls).toBe(2);
  });

  it('the CMA heap gives one contiguous range from the area, zeroed, mappable only shared, exp_name the area name', async () => {
    const s = testSystem();
    const area = s.mm.defaultCma!;
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'reserved', MiB);
      const d = newest(s.dbs);
      expect(d.expName).toBe('reserved');
      const b = d.priv as HeapBuffer;
      expect(b.entries).toHaveLength(1);
      expect(area.contains(b.pfns[0]!, 256)).toBe(true);
      expect(b.pfns[0]! % 256).toBe(0);
      expect(await errno(sys.mmap(0, MiB, PROT_READ, MAP_PRIVATE, fd, 0))).toBe('EINVAL');
      const p = await sys.mmap(0, MiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      expect((await sys.load(p, MiB)).every((x) => x === 0)).toBe(true);
      await sys.store(p, pattern(PAGE_SIZE, 1));
      // one sg entry for the whole buffer, mapped at its physical address for the display
      const k = dmaBufGet(s.k.processes.get(await sys.getpid())!, fd);
      const att = await dmaBufAttach(k, s.disp);
      const t = await dmaBufMapAttachment(att, DMA_BIDIRECTIONAL);
      expect(t.nents).toBe(1);
      expect(t.sgl[0]!.dmaAddress).toBe(b.pfns[0]! * PAGE_SIZE);
      const seen = new Uint8Array(PAGE_SIZE);
      s.soc.master('disp').readNow(t.sgl[0]!.dmaAddress, seen);
      expect(mismatches(seen, pattern(PAGE_SIZE, 1))).toBe(0); // the map cleaned the CPU's dirty lines
      await dmaBufUnmapAttachment(att, t, DMA_BIDIRECTIONAL);
      await dmaBufDetach(k, att);
      await dmaBufPut(k);
      expect(area.stats().buffers).toBe(1);
    });
    expect(area.stats().buffers).toBe(0);
  });

  it('the CMA heap fails with ENOMEM when the area is exhausted', async () => {
    const s = testSystem({ cma: 4 * MiB });
    await run(s, async (sys) => {
      await heapAlloc(sys, 'reserved', 3 * MiB);
      expect(await alloc(sys, 'reserved', { len: 2 * MiB, fd: 0, fd_flags: O_RDWR, heap_flags: 0 })).toBe('ENOMEM');
    });
  });
});
