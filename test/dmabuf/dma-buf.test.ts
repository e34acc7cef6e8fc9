import { describe, expect, it } from 'vitest';
import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, sgTotalLength, type SgTable } from '../../src/dma/index.ts';
import {
  DmaResvUsage,
  dmaBufAttach,
  dmaBufBeginCpuAccess,
  dmaBufDetach,
  dmaBufFd,
  dmaBufGet,
  dmaBufPut,
  dmaBufEndCpuAccess,
  exportDmaBuf,
  getDmaBuf,
  dmaBufMapAttachment,
  dmaBufUnmapAttachment,
  dmaBufVmap,
  dmaBufVunmap,
  type DmaBuf,
  type DmaBufOps,
} from '../../src/dmabuf/index.ts';
import { SwSyncTimeline } from '../../src/dmabuf/fence-timeline.ts';
import { HeapBuffer, heapBufferOps } from '../../src/dmabuf/heap-buffer.ts';
import { dmaBufPin } from '../../src/dmabuf/dma-buf-attach.ts';
import { KernelBug, PAGE_SIZE } from '../../src/lib/index.ts';
import type { Process, Sys } from '../../src/proc/index.ts';
import { DMA_BUF_IOCTL_SYNC, DMA_BUF_SYNC_END, DMA_BUF_SYNC_START, DMA_BUF_SYNC_WRITE, MAP_SHARED, O_RDWR, PROT_READ, PROT_WRITE } from '../../src/uapi/index.ts';
import { errno, heapAlloc, mismatches, pattern, run, testSystem, type TestSystem } from './helpers.ts';

const SIZE = 256 * 1024;

/** The calling process as the kernel sees it. */
async function self(s: TestSystem, sys: Sys): Promise<Process> {
  return s.k.processes.get(await sys.getpid())!;
}

/** A minimal exporter over system-heap-like pages that counts its releases. */
function countingExporter() {
  const released: DmaBuf[] = [];
  const base = heapBufferOps({ mmapByFault: false });
  const ops: DmaBufOps = { ...base, release: (d) => (base.release(d), released.push(d)) };
  return { ops, released };
}

/** Writes `data` into the buffer through the device's DMA view of an sg table. */
function deviceWrite(s: TestSystem, master: string, sgt: SgTable, data: Uint8Array): void {
  let off = 0;
  for (let i = 0; i < sgt.nents; i++) {
    const sg = sgt.sgl[i]!;
    s.soc.master(master).writeNow(sg.dmaAddress, data, off, sg.dmaLength);
    off += sg.dmaLength;
  }
}

/** Reads the buffer as the device sees it through an sg table. */
function deviceRead(s: TestSystem, master: string, sgt: SgTable): Uint8Array {
  const out = new Uint8Array(sgTotalLength(sgt));
  let off = 0;
  for (let i = 0; i < sgt.nents; i++) {
    const sg = sgt.sgl[i]!;
    s.soc.master(master).readNow(sg.dmaAddress, out, off, sg.dmaLength);
    off += sg.dmaLength;
  }
  return out;
}

describe('dma-buf export, fds and references', () => {
  it('refuses ops without map, unmap or release, pin without unpin, caching with pin, and a zero size (EINVAL)', () => {
    const s = testSystem();
    const good = heapBufferOps({ mmapByFault: false });
    const ex = (ops: Partial<DmaBufOps>, size = PAGE_SIZE) => () => exportDmaBuf(s.dbs, { ops: ops as DmaBufOps, size, flags: O_RDWR, priv: null, expName: 't' });
    expect(ex({ ...good, mapDmaBuf: undefined as never })).toThrow(/EINVAL/);
    expect(ex({ ...good, unmapDmaBuf: undefined as never })).toThrow(/EINVAL/);
    expect(ex({ ...good, release: undefined as never })).toThrow(/EINVAL/);
    expect(ex({ ...good, pin: () => {} })).toThrow(/EINVAL/);
    expect(ex({ ...good, cacheSgtMapping: true, pin: () => {}, unpin: () => {} })).toThrow(/EINVAL/);
    expect(ex(good, 0)).toThrow(/EINVAL/);
    expect(s.dbs.buffers).toHaveLength(0);
  });

  it('dma_buf_get: EBADF for a closed fd, EINVAL for a file that is not a dma-buf; a reference otherwise', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const p = await self(s, sys);
      const fd = await heapAlloc(sys, 'system', SIZE);
      const [sock] = await sys.socketpair();
      expect(await errno(() => dmaBufGet(p, 77))).toBe('EBADF');
      expect(await errno(() => dmaBufGet(p, sock))).toBe('EINVAL');
      const d = dmaBufGet(p, fd);
      expect(d.file.count).toBe(2);
      await dmaBufPut(d);
      expect(d.file.count).toBe(1);
    });
  });

  it('the exporter release runs exactly once, on the last reference, whoever holds it', async () => {
    const s = testSystem();
    const { ops, released } = countingExporter();
    const mk = () => {
      const pfn = s.mm.pages.allocPages(2, { zero: true });
      const pfns = Uint32Array.from({ length: 4 }, (_, i) => pfn + i);
      const priv = new HeapBuffer(s.mm, 4 * PAGE_SIZE, pfns, [[pfn, 4]], () => s.mm.pages.freePages(pfn, 2), { contiguous: true, deviceLocal: false, runs: 1, source: 'test' });
      return exportDmaBuf(s.dbs, { ops, size: 4 * PAGE_SIZE, flags: O_RDWR, priv, expName: 'counting' });
    };
    let kernelHeld: DmaBuf | null = null;
    await run(s, async (sys) => {
      const p = await self(s, sys);
      // 1: the last reference is a mapping
      const a = mk();
      const fdA = dmaBufFd(p, a, 0);
      const m = await sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fdA, 0);
      await sys.close(fdA);
      expect(released).toEqual([]);
      await sys.munmap(m, PAGE_SIZE);
      expect(released).toEqual([a]);
      // 2: the last reference is a message in flight, dropped when the socket goes
      const b = mk();
      const fdB = dmaBufFd(p, b, 0);
      const [x, y] = await sys.socketpair();
      await sys.sendmsg(x, { fds: [fdB] });
      await sys.close(fdB);
      expect(released).toEqual([a]);
      await sys.close(x);
      await sys.close(y);
      expect(released).toEqual([a, b]);
      // 3: a kernel user outlives the process
      const c = mk();
      dmaBufFd(p, c, 0);
      kernelHeld = getDmaBuf(c);
    });
    expect(released).toHaveLength(2);
    expect(kernelHeld!.released).toBe(false);
    await dmaBufPut(kernelHeld!);
    expect(released).toHaveLength(3);
    expect(s.dbs.buffers).toHaveLength(0);
    expect(s.k.vfs.openFileCount).toBe(0);
  });
});

describe('the RFC sharing steps: export, fd, get + attach, map, end of DMA, detach + put', () => {
  it('a device fills the buffer through its mapping; the CPU and a second device see the bytes; the buffer survives its exporter fd', async () => {
    const s = testSystem();
    const data = pattern(SIZE, 5);
    await run(s, async (sys) => {
      const p = await self(s, sys);
      // 1-2: the exporter (the system heap) announces a buffer; userspace gets an fd
      const fd = await heapAlloc(sys, 'system', SIZE);
      // 3: a buffer-user takes a reference and attaches its device
      const d = dmaBufGet(p, fd);
      const attIsp = await dmaBufAttach(d, s.isp);
      const attDma = await dmaBufAttach(d, s.dma0);
      await sys.close(fd); // the exporter's fd goes; the importer's reference keeps the buffer
      expect(d.released).toBe(false);
      // 4: access: the sg table comes back mapped for the device (IOVAs for the ISP, bus addresses for dma0)
      const t1 = await dmaBufMapAttachment(attIsp, DMA_FROM_DEVICE);
      expect(t1.nents).toBeGreaterThan(0);
      expect(t1.sgl[0]!.dmaAddress).toBeGreaterThanOrEqual(0x1000_0000);
      deviceWrite(s, 'isp', t1, data);
      // 5: end of DMA
      await dmaBufUnmapAttachment(attIsp, t1, DMA_FROM_DEVICE);
      const t2 = await dmaBufMapAttachment(attDma, DMA_TO_DEVICE);
      expect(mismatches(deviceRead(s, 'dma0', t2), data)).toBe(0);
      await dmaBufUnmapAttachment(attDma, t2, DMA_TO_DEVICE);
      // 6: disconnect
      await dmaBufDetach(d, attIsp);
      await dmaBufDetach(d, attDma);
      expect(d.attachments).toHaveLength(0);
      await dmaBufPut(d);
      expect(d.released).toBe(true);
    });
    expect(s.soc.findings.findings).toEqual([]);
    expect(s.ctx.debug.liveMappings()).toBe(0);
  });
});

describe('attachments and mappings', () => {
  it('a second mapping in another direction is EBUSY; the same direction (a second IOVA range) or after unmap is fine', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const d = dmaBufGet(await self(s, sys), await heapAlloc(sys, 'system', SIZE));
      const att = await dmaBufAttach(d, s.isp);
      const t = await dmaBufMapAttachment(att, DMA_TO_DEVICE);
      expect(await errno(dmaBufMapAttachment(att, DMA_FROM_DEVICE))).toBe('EBUSY');
      const t2 = await dmaBufMapAttachment(att, DMA_TO_DEVICE);
      expect(t2).not.toBe(t);
      await dmaBufUnmapAttachment(att, t, DMA_TO_DEVICE);
      await dmaBufUnmapAttachment(att, t2, DMA_TO_DEVICE);
      const t3 = await dmaBufMapAttachment(att, DMA_FROM_DEVICE);
      await dmaBufUnmapAttachment(att, t3, DMA_FROM_DEVICE);
      await dmaBufDetach(d, att);
      await dmaBufPut(d);
    });
    expect(s.soc.findings.findings).toEqual([]);
  });

  it("a static importer's map waits for the buffer's KERNEL fences (memory management), not for writers", async () => {
    const s = testSystem();
    const tl = new SwSyncTimeline(s.dbs.fctx, 'ttm', 'kernel');
    const wr = new SwSyncTimeline(s.dbs.fctx, 'render', 'gpu');
    await run(s, async (sys) => {
      const d = dmaBufGet(await self(s, sys), await heapAlloc(sys, 'system', SIZE));
      await d.resv.lock();
      d.resv.reserveFences(2);
      const kf = tl.createFence(1);
      const wf = wr.createFence(1);
      d.resv.addFence(kf, DmaResvUsage.KERNEL);
      d.resv.addFence(wf, DmaResvUsage.WRITE);
      d.resv.unlock();
      kf.put();
      wf.put();
      const att = await dmaBufAttach(d, s.dma0);
      s.soc.clock.after(5_000_000, () => tl.signal(1));
      const t0 = s.soc.clock.now;
      const t = await dmaBufMapAttachment(att, DMA_TO_DEVICE);
      expect(s.soc.clock.now - t0).toBeGreaterThanOrEqual(5_000_000);
      expect(wf.isSignaled()).toBe(false);
      await dmaBufUnmapAttachment(att, t, DMA_TO_DEVICE);
      await dmaBufDetach(d, att);
      wr.signal(1);
      await dmaBufPut(d);
    });
  });

  it('importer ops without moveNotify are EINVAL; a static importer cannot pin; a dynamic one must hold the lock', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const d = dmaBufGet(await self(s, sys), await heapAlloc(sys, 'system', SIZE));
      expect(await errno(dmaBufAttach(d, s.dma0, {} as never))).toBe('EINVAL');
      const st = await dmaBufAttach(d, s.dma0);
      await expect(dmaBufPin(st)).rejects.toBeInstanceOf(KernelBug);
      // a dynamic importer of a static exporter gets its mapping at attach, cached until detach
      const dyn = await dmaBufAttach(d, s.gpu, { moveNotify: () => {} });
      expect(dyn.sgt).not.toBeNull();
      expect(dyn.dir).toBe(DMA_BIDIRECTIONAL);
      await expect(dmaBufMapAttachment(dyn, DMA_TO_DEVICE)).rejects.toBeInstanceOf(KernelBug);
      await d.resv.lock();
      expect(await dmaBufMapAttachment(dyn, DMA_TO_DEVICE)).toBe(dyn.sgt);
      d.resv.unlock();
      await dmaBufDetach(d, dyn);
      await dmaBufDetach(d, st);
      await dmaBufPut(d);
    });
    expect(s.ctx.debug.liveMappings()).toBe(0);
  });

  it('detaching with a mapping outstanding is reported as a leak', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const d = dmaBufGet(await self(s, sys), await heapAlloc(sys, 'system', SIZE));
      const att = await dmaBufAttach(d, s.dma0);
      const t = await dmaBufMapAttachment(att, DMA_TO_DEVICE);
      await dmaBufDetach(d, att);
      expect(s.soc.findings.ofKind('leak')[0]!.message).toMatch(/dma0 detached .* 1 mapping/);
      void t;
      await dmaBufPut(d);
    });
  });
});

describe('CPU access', () => {
  it('vmap is counted: one kernel mapping, vmalloc space taken once and given back at the last vunmap', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const d = dmaBufGet(await self(s, sys), await heapAlloc(sys, 'system', SIZE));
      const before = s.mm.kas.vmallocUsed();
      const va = await dmaBufVmap(d);
      const used = s.mm.kas.vmallocUsed() - before;
      expect(used).toBeGreaterThanOrEqual(SIZE);
      expect(await dmaBufVmap(d)).toBe(va);
      expect(s.mm.kas.vmallocUsed() - before).toBe(used);
      const out = new Uint8Array(16);
      s.mm.kas.store(va, pattern(16, 1), 0, 16);
      s.mm.kas.load(va, out, 0, 16);
      expect(mismatches(out, pattern(16, 1))).toBe(0);
      dmaBufVunmap(d, va);
      expect(s.mm.kas.vmallocUsed() - before).toBe(used);
      dmaBufVunmap(d, va);
      expect(s.mm.kas.vmallocUsed()).toBe(before);
      expect(() => dmaBufVunmap(d, va)).toThrow(KernelBug);
      await dmaBufPut(d);
    });
  });

  it('a CPU writer through a cacheable mmap that forgets DMA_BUF_IOCTL_SYNC(END) leaves dirty lines the non-coherent device does not see', async () => {
    const s = testSystem();
    const data = pattern(SIZE, 11);
    const seen: Record<string, number> = {};
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', SIZE);
      const d = dmaBufGet(await self(s, sys), fd);
      const att = await dmaBufAttach(d, s.dma0);
      const t = await dmaBufMapAttachment(att, DMA_BIDIRECTIONAL);
      const p = await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      // forgets both START and END
      await sys.store(p, data.subarray(0, 32 * 1024));
      seen.forgot = mismatches(deviceRead(s, 'dma0', t).subarray(0, 32 * 1024), data.subarray(0, 32 * 1024));
      // does it right
      await sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE });
      await sys.store(p, data);
      await sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE });
      seen.synced = mismatches(deviceRead(s, 'dma0', t), data);
      await dmaBufUnmapAttachment(att, t, DMA_BIDIRECTIONAL);
      await dmaBufDetach(d, att);
      await dmaBufPut(d);
    });
    expect(seen.forgot).toBeGreaterThan(16 * 1024);
    expect(seen.synced).toBe(0);
    expect(s.soc.findings.ofKind('missing-sync').length).toBeGreaterThan(0);
  });

  it('a CPU writer that syncs reaches a buffer only a device writer (FROM_DEVICE) has mapped: END cleans, as the heaps do with the CPU direction', async () => {
    const s = testSystem();
    const data = pattern(SIZE, 17);
    let seen = -1;
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', SIZE);
      const d = dmaBufGet(await self(s, sys), fd);
      // a capture device's import: mapped for its writes only
      const att = await dmaBufAttach(d, s.dma0);
      const t = await dmaBufMapAttachment(att, DMA_FROM_DEVICE);
      const p = await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      await sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE });
      await sys.store(p, data);
      await sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE });
      // what memory holds now, as any other device would read it
      seen = mismatches(deviceRead(s, 'dma0', t), data);
      await dmaBufUnmapAttachment(att, t, DMA_FROM_DEVICE);
      await dmaBufDetach(d, att);
      await dmaBufPut(d);
    });
    expect(seen).toBe(0);
    expect(s.soc.findings.findings).toEqual([]);
  });

  it('begin_cpu_access invalidates what the device wrote, so the CPU does not read stale lines', async () => {
    const s = testSystem();
    const data = pattern(SIZE, 13);
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', SIZE);
      const d = dmaBufGet(await self(s, sys), fd);
      const p = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, fd, 0);
      const att = await dmaBufAttach(d, s.dma0);
      const t = await dmaBufMapAttachment(att, DMA_BIDIRECTIONAL);
      await dmaBufBeginCpuAccess(d, DMA_BIDIRECTIONAL);
      await sys.load(p, SIZE); // the old contents are now cached
      await dmaBufEndCpuAccess(d, DMA_BIDIRECTIONAL);
      deviceWrite(s, 'dma0', t, data);
      expect(mismatches(await sys.load(p, SIZE), data)).toBeGreaterThan(0);
      await dmaBufBeginCpuAccess(d, DMA_BIDIRECTIONAL);
      expect(mismatches(await sys.load(p, SIZE), data)).toBe(0);
      await dmaBufEndCpuAccess(d, DMA_BIDIRECTIONAL);
      await dmaBufUnmapAttachment(att, t, DMA_BIDIRECTIONAL);
      await dmaBufDetach(d, att);
      await dmaBufPut(d);
    });
  });
});

