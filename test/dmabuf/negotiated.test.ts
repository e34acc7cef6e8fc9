import { describe, expect, it } from 'vitest';
import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, createDevice, sgTotalLength, type Device, type SgTable } from '../../src/dma/index.ts';
import {
  dmaBufAttach,
  dmaBufDetach,
  dmaBufFd,
  dmaBufPut,
  exportNegotiatedBuffer,
  dmaBufMapAttachment,
  dmaBufUnmapAttachment,
  dmaBufVmap,
  dmaBufVunmap,
  type DmaBufAttachment,
  type NegotiatedBufferOptions,
} from '../../src/dmabuf/index.ts';
import { describeDmaBuf, dmaBufDebugView } from '../../src/dmabuf/dma-buf-debug.ts';
import { dmaBufPin, dmaBufUnpin } from '../../src/dmabuf/dma-buf-attach.ts';
import { MiB, PAGE_SIZE } from '../../src/lib/index.ts';
import { GenPool } from '../../src/mm/index.ts';
import { DMA_BUF_IOCTL_SYNC, DMA_BUF_SYNC_END, DMA_BUF_SYNC_START, DMA_BUF_SYNC_WRITE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/uapi/index.ts';
import { errno, fragmentHighmem, mismatches, pattern, run, testSystem, type TestSystem } from './helpers.ts';

const SIZE = MiB;

function negotiated(s: TestSystem, opts: Partial<NegotiatedBufferOptions> = {}) {
  return exportNegotiatedBuffer(s.dbs, { size: SIZE, mm: s.mm, expName: 'frames', creator: 'test', ...opts });
}

function deviceWrite(s: TestSystem, dev: Device, sgt: SgTable, data: Uint8Array): void {
  let off = 0;
  for (let i = 0; i < sgt.nents; i++) {
    const sg = sgt.sgl[i]!;
    dev.master.writeNow(sg.dmaAddress, data, off, sg.dmaLength);
    off += sg.dmaLength;
  }
}

function deviceRead(dev: Device, sgt: SgTable): Uint8Array {
  const out = new Uint8Array(sgTotalLength(sgt));
  let off = 0;
  for (let i = 0; i < sgt.nents; i++) {
    const sg = sgt.sgl[i]!;
    dev.master.readNow(sg.dmaAddress, out, off, sg.dmaLength);
    off += sg.dmaLength;
  }
  return out;
}

/** Runs kernel-side code as a simulated thread and returns its result. */
async function kthread<T>(s: TestSystem, fn: () => Promise<T>): Promise<T> {
  const p = s.soc.clock.spawn(fn);
  return s.soc.clock.runUntilSettled(p);
}

describe('late allocation: the storage is placed at the first map, for every attached device', () => {
  it('collates an IOMMU device and a contiguous-only camera: CMA below the camera mask, explained device by device', async () => {
    const s = testSystem();
    await kthread(s, async () => {
      const { dmabuf, backing } = negotiated(s);
      const isp = await dmaBufAttach(dmabuf, s.isp);
      const cam = await dmaBufAttach(dmabuf, s.cam);
      expect(backing.pfns).toBeNull();
      const t = await dmaBufMapAttachment(isp, DMA_FROM_DEVICE);
      const pfns = backing.pfns!;
      expect(s.mm.defaultCma!.contains(pfns[0]!, SIZE / PAGE_SIZE)).toBe(true);
      expect(pfns[SIZE / PAGE_SIZE - 1]).toBe(pfns[0]! + SIZE / PAGE_SIZE - 1);
      const text = backing.explain();
      expect(text).toMatch(/isp: behind an IOMMU: any page, any address/);
      expect(text).toMatch(/cam: physical addresses below 0x40000000, contiguous \(no IOMMU and no scatter-gather\)/);
      expect(text).toMatch(/placed in cma:reserved .*contiguity required \(cam: no IOMMU and no scatter-gather\)/);
      expect(text).toMatch(/allocated at first use by isp's map/);
      const ct = await dmaBufMapAttachment(cam, DMA_TO_DEVICE);
      expect(ct.nents).toBe(1);
      await dmaBufUnmapAttachment(isp, t, DMA_FROM_DEVICE);
      await dmaBufUnmapAttachment(cam, ct, DMA_TO_DEVICE);
      await dmaBufDetach(dmabuf, isp);
      await dmaBufDetach(dmabuf, cam);
      await dmaBufPut(dmabuf);
    });
    expect(s.mm.defaultCma!.stats().buffers).toBe(0);
  });

  it('with only IOMMU and scatter-gather devices it stays in scattered pages, large blocks first', async () => {
    const s = testSystem();
    await kthread(s, async () => {
      const { dmabuf, backing } = negotiated(s, { size: 3 * MiB + 64 * 1024 });
      const a = await dmaBufAttach(dmabuf, s.isp);
      const b = await dmaBufAttach(dmabuf, s.dma0);
      const t = await dmaBufMapAttachment(b, DMA_TO_DEVICE);
      expect(backing.describe().source).toBe('system pages (3 x order 8, 1 x order 4)');
      expect(backing.explain()).toMatch(/dma0: physical addresses below 0x100000000/);
      for (const sg of t.sgl) expect(sg.dmaAddress + sg.dmaLength).toBeLessThanOrEqual(2 ** 32);
      await dmaBufUnmapAttachment(b, t, DMA_TO_DEVICE);
      await dmaBufDetach(dmabuf, a);
      await dmaBufDetach(dmabuf, b);
      await dmaBufPut(dmabuf);
    });
  });

  it('refuses a device nothing can serve (EBUSY, with the reason)', async () => {
    const s = testSystem();
    const tiny = createDevice(s.ctx, s.soc.master('cam'), {
      name: 'tiny',
      kind: 'camera',
      dmaMaskBits: 28,
      maxSegmentSize: MiB,
      segmentBoundary: 0xffffffff,
      coherent: false,
      needsContiguous: true,
      alignment: PAGE_SIZE,
      bounce: false,
    });
    await kthread(s, async () => {
      const { dmabuf, backing } = negotiated(s);
      const e = await dmaBufAttach(dmabuf, tiny).catch((x: Error) => x);
      expect(String(e)).toMatch(/EBUSY: tiny cannot share this buffer: contiguity required .* but no CMA area below 0x10000000 \(tiny\) holds 256 pages/);
      expect(dmabuf.attachments).toHaveLength(0);
      expect(backing.history.at(-1)).toMatch(/refused tiny/);
      await dmaBufPut(dmabuf);
    });
  });
});

describe('migration when a stricter device attaches later', () => {
  it('static importers: the strict map waits for the outstanding mapping, then the bytes move and the sg tables change', async () => {
    const s = testSystem();
    const size = 60 * PAGE_SIZE;
    const data = pattern(size, 21);
    fragmentHighmem(s.mm);
    const freeBefore = s.mm.pages.freeCount();
    await kthread(s, async () => {
      const { dmabuf, backing } = negotiated(s, { size });
      const isp = await dmaBufAttach(dmabuf, s.isp);
      const t1 = await dmaBufMapAttachment(isp, DMA_FROM_DEVICE);
      deviceWrite(s, s.isp, t1, data);
      const before = Array.from(backing.pfns!);
      // 3 x 64 KiB from lowmem, then single pages from fragmented highmem
      expect(backing.describe().runs).toBeGreaterThan(3);
      expect(Math.max(...before) * PAGE_SIZE).toBeGreaterThanOrEqual(0x8000_0000);
      // the camera arrives while the ISP still holds its mapping
      const cam = await dmaBufAttach(dmabuf, s.cam);
      expect(backing.migrationPending).toBe(true);
      let unmappedAt = -1;
      s.soc.clock.after(2_000_000, () => {
        unmappedAt = s.soc.clock.now;
        void dmaBufUnmapAttachment(isp, t1, DMA_FROM_DEVICE);
      });
      const ct = await dmaBufMapAttachment(cam, DMA_TO_DEVICE);
      expect(unmappedAt).toBeGreaterThan(0);
      expect(s.soc.clock.now).toBeGreaterThan(unmappedAt);
      expect(ct.nents).toBe(1);
      const after = Array.from(backing.pfns!);
      expect(after).not.toEqual(before);
      expect(s.mm.defaultCma!.contains(after[0]!, size / PAGE_SIZE)).toBe(true);
      expect(ct.sgl[0]!.dmaAddress).toBe(after[0]! * PAGE_SIZE);
      expect(mismatches(deviceRead(s.cam, ct), data)).toBe(0);
      // the ISP's next mapping points at the new pages, through new IOVAs
      const t2 = await dmaBufMapAttachment(isp, DMA_TO_DEVICE);
      expect(mismatches(deviceRead(s.isp, t2), data)).toBe(0);
      expect(s.iommu.iovaToPhys(t2.sgl[0]!.dmaAddress)).toBe(after[0]! * PAGE_SIZE);
      expect(backing.migrations).toBe(1);
      expect(backing.explain()).toMatch(/move for cam's map waits for 1 outstanding mapping\(s\): isp/);
      expect(backing.explain()).toMatch(/moved for cam's map: system pages .* -> cma:reserved .*cam needs one contiguous range/);
      await dmaBufUnmapAttachment(isp, t2, DMA_TO_DEVICE);
      await dmaBufUnmapAttachment(cam, ct, DMA_TO_DEVICE);
      await dmaBufDetach(dmabuf, isp);
      await dmaBufDetach(dmabuf, cam);
      await dmaBufPut(dmabuf);
    });
    expect(s.mm.pages.freeCount()).toBe(freeBefore);
    expect(s.soc.findings.findings).toEqual([]);
  });

  it('EBUSY with the reason when the storage is pinned for scanout, and when a static importer of a dynamic exporter holds it', async () => {
    const s = testSystem();
    await kthread(s, async () => {
      const { dmabuf, backing } = negotiated(s, { dynamic: true });
      const scanout = await dmaBufAttach(dmabuf, s.isp, { moveNotify: () => {} });
      await dmabuf.resv.lock();
      await dmaBufPin(scanout);
      const t = await dmaBufMapAttachment(scanout, DMA_TO_DEVICE);
      dmabuf.resv.unlock();
      const e = await dmaBufAttach(dmabuf, s.cam).catch((x: Error) => x);
      expect(String(e)).toMatch(/EBUSY: cam cannot share this buffer: cam addresses memory below 0x40000000 only; .* the storage cannot move: isp pinned it \(dma_buf_pin/);
      expect(describeDmaBuf(dmabuf)).toMatch(/refused cam/);
      await dmabuf.resv.lock();
      await dmaBufUnmapAttachment(scanout, t, DMA_TO_DEVICE);
      dmaBufUnpin(scanout);
      dmabuf.resv.unlock();
      // a static importer of a dynamic exporter is mapped and pinned at attach
      const st = await dmaBufAttach(dmabuf, s.dma0);
      expect(st.sgt).not.toBeNull();
      const e2 = await dmaBufAttach(dmabuf, s.cam).catch((x: Error) => x);
      expect(String(e2)).toMatch(/dma0 is a static importer of a dynamic exporter/);
      await dmaBufDetach(dmabuf, st);
      await dmaBufDetach(dmabuf, scanout);
      // nothing pins it any more: the camera gets in, and the storage moves at its pin
      const cam = await dmaBufAttach(dmabuf, s.cam);
      expect(cam.sgt!.nents).toBe(1);
      expect(backing.migrations).toBe(1);
      await dmaBufDetach(dmabuf, cam);
      await dmaBufPut(dmabuf);
    });
  });

  it('dynamic importers are told to move; a mapping they keep holds the old storage until they return it', async () => {
    const s = testSystem();
    const data = pattern(SIZE, 33);
    await kthread(s, async () => {
      const { dmabuf, backing } = negotiated(s, { dynamic: true });
      let ispTable: SgTable | null = null;
      const moved: string[] = [];
      const isp: DmaBufAttachment = await dmaBufAttach(dmabuf, s.isp, { moveNotify: (a) => void moved.push(a.dev.name) });
      await dmabuf.resv.lock();
      ispTable = await dmaBufMapAttachment(isp, DMA_BIDIRECTIONAL);
      deviceWrite(s, s.isp, ispTable, data);
      dmabuf.resv.unlock();
      const old = Array.from(backing.pfns!);
      const cam = await dmaBufAttach(dmabuf, s.cam, { moveNotify: (a) => void moved.push(a.dev.name) });
      await dmabuf.resv.lock();
      const ct = await dmaBufMapAttachment(cam, DMA_TO_DEVICE);
      dmabuf.resv.unlock();
      expect(moved).toEqual(['cam', 'isp']);
      expect(mismatches(deviceRead(s.cam, ct), data)).toBe(0);
      expect(backing.explain()).toMatch(/old storage still mapped by dynamic importers: system pages/);
      // the old pages are still allocated while the ISP's stale mapping exists
      expect(s.mm.pages.isAllocated(old[0]!)).toBe(true);
      await dmabuf.resv.lock();
      await dmaBufUnmapAttachment(isp, ispTable, DMA_BIDIRECTIONAL);
      await dmaBufUnmapAttachment(cam, ct, DMA_TO_DEVICE);
      dmabuf.resv.unlock();
      expect(s.mm.pages.isAllocated(old[0]!)).toBe(false);
      expect(backing.history.some((h) => /old storage .* freed: isp returned the last mapping/.test(h))).toBe(true);
      await dmaBufDetach(dmabuf, isp);
      await dmaBufDetach(dmabuf, cam);
      await dmaBufPut(dmabuf);
    });
  });

  it('a stricter device that detaches before the move cancels it', async () => {
    const s = testSystem();
    await kthread(s, async () => {
      const { dmabuf, backing } = negotiated(s);
      const isp = await dmaBufAttach(dmabuf, s.isp);
      const t = await dmaBufMapAttachment(isp, DMA_TO_DEVICE);
      const before = Array.from(backing.pfns!);
      const cam = await dmaBufAttach(dmabuf, s.cam);
      expect(backing.migrationPending).toBe(true);
      await dmaBufDetach(dmabuf, cam);
      expect(backing.migrationPending).toBe(false);
      await dmaBufUnmapAttachment(isp, t, DMA_TO_DEVICE);
      await dmaBufUnmapAttachment(isp, await dmaBufMapAttachment(isp, DMA_TO_DEVICE), DMA_TO_DEVICE);
      expect(Array.from(backing.pfns!)).toEqual(before);
      expect(backing.migrations).toBe(0);
      await dmaBufDetach(dmabuf, isp);
      await dmaBufPut(dmabuf);
    });
  });

  it('a map by an attachment that itself holds a mapping into the storage that must move is EDEADLK', async () => {
    const s = testSystem();
    await kthread(s, async () => {
      const { dmabuf } = negotiated(s);
      const isp = await dmaBufAttach(dmabuf, s.isp);
      const t = await dmaBufMapAttachment(isp, DMA_TO_DEVICE);
      const cam = await dmaBufAttach(dmabuf, s.cam);
      expect(await errno(dmaBufMapAttachment(isp, DMA_TO_DEVICE))).toBe('EDEADLK');
      await dmaBufUnmapAttachment(isp, t, DMA_TO_DEVICE);
      const ct = await dmaBufMapAttachment(cam, DMA_TO_DEVICE);
      await dmaBufUnmapAttachment(cam, ct, DMA_TO_DEVICE);
      await dmaBufDetach(dmabuf, isp);
      await dmaBufDetach(dmabuf, cam);
      await dmaBufPut(dmabuf);
    });
  });

  it('a kernel vmap keeps the storage in place: a stricter device is refused while it is held', async () => {
    const s = testSystem();
    await kthread(s, async () => {
      const { dmabuf } = negotiated(s);
      const va = await dmaBufVmap(dmabuf);
      expect(String(await dmaBufAttach(dmabuf, s.cam).catch((e: Error) => e))).toMatch(/the kernel holds a vmap of it/);
      dmaBufVunmap(dmabuf, va);
      const cam = await dmaBufAttach(dmabuf, s.cam);
      await dmaBufDetach(dmabuf, cam);
      await dmaBufPut(dmabuf);
    });
  });
});

describe('CPU mappings of negotiated buffers', () => {
  it('a user mapping made before any device follows the move: the process keeps reading its bytes, the camera sees them', async () => {
    const s = testSystem();
    const data = pattern(SIZE, 41);
    const { dmabuf, backing } = negotiated(s);
    await run(s, async (sys) => {
      const p = s.k.processes.get(await sys.getpid())!;
      const fd = dmaBufFd(p, dmabuf, 0);
      const m = await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      expect(backing.explain()).toMatch(/first use by an mmap/);
      await sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE });
      await sys.store(m, data);
      await sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE });
      const cam = await dmaBufAttach(dmabuf, s.cam);
      const ct = await dmaBufMapAttachment(cam, DMA_TO_DEVICE);
      expect(backing.migrations).toBe(1);
      expect(mismatches(deviceRead(s.cam, ct), data)).toBe(0);
      expect(mismatches(await sys.load(m, SIZE), data)).toBe(0);
      const vma = p.mm.find(m)!;
      expect(vma.pfns[0]).toBe(backing.pfns![0]);
      await dmaBufUnmapAttachment(cam, ct, DMA_TO_DEVICE);
      await dmaBufDetach(dmabuf, cam);
    });
    expect(dmabuf.released).toBe(true);
  });

  it('an uncached buffer maps write-combine and loses its linear alias; the CPU writes reach the device without sync', async () => {
    const s = testSystem();
    const data = pattern(SIZE, 43);
    const { dmabuf, backing } = negotiated(s, { uncached: true });
    await run(s, async (sys) => {
      const p = s.k.processes.get(await sys.getpid())!;
      const cam = await dmaBufAttach(dmabuf, s.cam);
      const ct = await dmaBufMapAttachment(cam, DMA_TO_DEVICE);
      const pfn = backing.pfns![0]!;
      expect(s.mm.kas.hasLinearAlias(pfn)).toBe(false);
      const fd = dmaBufFd(p, dmabuf, 0);
      const m = await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      expect(p.mm.find(m)!.installedMemType).toBe('wc');
      await sys.store(m, data);
      expect(mismatches(deviceRead(s.cam, ct), data)).toBe(0);
      await dmaBufUnmapAttachment(cam, ct, DMA_TO_DEVICE);
      await dmaBufDetach(dmabuf, cam);
      await sys.munmap(m, SIZE);
      await sys.close(fd);
      expect(s.mm.kas.hasLinearAlias(pfn)).toBe(true);
    });
    expect(s.soc.cpu.aliasPrefetches).toBe(0);
  });

  it('a device-local pool serves devices next to it; a device that cannot reach it moves the buffer out', async () => {
    const s = testSystem();
    const pool = new GenPool(12, 'sram');
    pool.addChunk(0x1000_0000, 256 * 1024);
    const data = pattern(64 * 1024, 51);
    await kthread(s, async () => {
      const { dmabuf, backing } = negotiated(s, { size: 64 * 1024, uncached: true, pools: [{ name: 'sram', pool, devices: [s.cam, s.dma0], cacheable: false }] });
      const cam = await dmaBufAttach(dmabuf, s.cam);
      const dma = await dmaBufAttach(dmabuf, s.dma0);
      const t = await dmaBufMapAttachment(dma, DMA_FROM_DEVICE);
      expect(backing.describe()).toMatchObject({ deviceLocal: true, contiguous: true });
      expect(t.sgl[0]!.dmaAddress).toBe(0x1000_0000);
      deviceWrite(s, s.dma0, t, data);
      await dmaBufUnmapAttachment(dma, t, DMA_FROM_DEVICE);
      expect(backing.explain()).toMatch(/every attached device \(cam, dma0\) reaches device-local pool sram/);
      const isp = await dmaBufAttach(dmabuf, s.isp);
      const it = await dmaBufMapAttachment(isp, DMA_TO_DEVICE);
      expect(backing.describe().deviceLocal).toBe(false);
      expect(backing.describe().source).toMatch(/^cma:reserved/);
      expect(mismatches(deviceRead(s.isp, it), data)).toBe(0);
      expect(pool.avail()).toBe(256 * 1024);
      await dmaBufUnmapAttachment(isp, it, DMA_TO_DEVICE);
      for (const a of [cam, dma, isp]) await dmaBufDetach(dmabuf, a);
      await dmaBufPut(dmabuf);
    });
  });

  it('the debug view lists the summit metadata: creator, attributes, pins, each device and its mapping', async () => {
    const s = testSystem();
    await kthread(s, async () => {
      const { dmabuf } = negotiated(s);
      const isp = await dmaBufAttach(dmabuf, s.isp);
      const t = await dmaBufMapAttachment(isp, DMA_FROM_DEVICE);
      const v = dmaBufDebugView(s.dbs);
      expect(v).toMatch(/dma-buf ino \d+ "": 1048576 bytes, exp_name frames, creator test/);
      expect(v).toMatch(/attributes: sharable, (contiguous|scattered \(\d+ runs\)), system memory/);
      expect(v).toMatch(/cpu cache: cacheable \(wb\)/);
      expect(v).toMatch(/pins: 0, kernel vmap users: 0, live mappings: 1/);
      expect(v).toMatch(/isp \(static importer; iommu ops, non-coherent, 32-bit mask, behind an IOMMU\)\n {6}mapped DMA_FROM_DEVICE for 0 ns: \d+ page run\(s\), 1048576 bytes/);
      await dmaBufUnmapAttachment(isp, t, DMA_FROM_DEVICE);
      await dmaBufDetach(dmabuf, isp);
      await dmaBufPut(dmabuf);
    });
  });
});
