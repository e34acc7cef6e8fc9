import { describe, expect, it, vi } from 'vitest';
import {
  DMA_TO_DEVICE,
  dmaMapPage,
  dmaMapSgtable,
  dmaUnmapSg,
  sgAllocTableFromPages,
  type Device,
} from '../../src/dma/index.ts';
import { dmaAllocCoherent } from '../../src/dma/mapping.ts';
import { KernelBug, PAGE_SIZE } from '../../src/lib/index.ts';
import { bootSystem, parsePlatform } from '../../src/sim/index.ts';
import { dmaSystem, highbuf } from './system.ts';

const PLATFORM = `name: map-errors
memory:
  - { name: dram0, base: 0x20000000, size: 128MiB }
kernel: { lowmem: 96MiB, vmalloc: 64MiB }
cpu: { cache: { size: 64KiB, ways: 4 }, prefetchProbability: 0 }
cma: { default: 16MiB }
iommus:
  - { name: smmu0, tlbEntries: 32, walkNs: 100, contexts: 4 }
devices:
  - { name: isp, kind: isp, iommu: smmu0, maxSegmentSize: 4MiB }
  - { name: cam, kind: camera, iommu: smmu0, bounce: true }
`;

function boot() {
  const sys = bootSystem(parsePlatform('map-errors.yaml', PLATFORM), { seed: 5 });
  const isp = sys.devices.get('isp')!;
  const domain = sys.domains.get('isp')!;
  /** IOVA ranges really allocated (the range caches hold freed ones). */
  const liveIovas = () => domain.iovad.liveRanges - domain.iovad.cachedRanges;
  return { sys, isp, cam: sys.devices.get('cam')!, domain, liveIovas };
}

/** A device like `dev` whose DMA mask is `bits` wide: its IOVA window is 2^bits bytes. */
function withMask(dev: Device, bits: number): Device {
  return { ...dev, dmaMaskBits: bits, coherentMaskBits: bits };
}

const errno = (code: string) => expect.objectContaining({ name: 'KernelError', code });

describe('dma_map_sgtable gives the errno Linux documents', () => {
  it('EINVAL when the IOMMU refuses a segment: a page beyond its 32-bit output range', () => {
    const { sys, isp, domain, liveIovas } = boot();
    const ok = sys.mm.pages.allocPages(0, {});
    // pfn 0x100000 is 4 GiB: the short-descriptor page table cannot point there.
    const sgt = sgAllocTableFromPages(Uint32Array.of(ok, 0x10_0000), 0, 2 * PAGE_SIZE, isp.maxSegmentSize);
    const live0 = liveIovas();
    const mapped0 = domain.stats.mappedBytes;
    expect(() => dmaMapSgtable(isp, sgt, DMA_TO_DEVICE)).toThrow(errno('EINVAL'));
    // Will not succeed if retried, and nothing stays behind.
    expect(() => dmaMapSgtable(isp, sgt, DMA_TO_DEVICE)).toThrow(errno('EINVAL'));
    expect(liveIovas()).toBe(live0);
    expect(domain.stats.mappedBytes).toBe(mapped0);
    expect(sys.dma.stats.mappingErrors).toBe(2);
    expect(sys.dma.stats.maps).toBe(0);
    // The good page alone maps.
    const good = sgAllocTableFromPages(Uint32Array.of(ok), 0, PAGE_SIZE, isp.maxSegmentSize);
    dmaMapSgtable(isp, good, DMA_TO_DEVICE);
    expect(good.nents).toBe(1);
    dmaUnmapSg(isp, good, DMA_TO_DEVICE);
    expect(liveIovas()).toBe(live0);
    expect(sys.soc.findings.findings).toEqual([]);
  });

  it('ENOMEM when the IOVA space runs out: a 2 MiB table for a device with a 1 MiB window', () => {
    const { sys, isp, domain, liveIovas } = boot();
    const small = withMask(isp, 20);
    const pfn = sys.mm.pages.allocPages(9, {});
    const pfns = Uint32Array.from({ length: 512 }, (_, i) => pfn + i);
    const sgt = sgAllocTableFromPages(pfns, 0, 512 * PAGE_SIZE, isp.maxSegmentSize);
    const live0 = liveIovas();
    expect(() => dmaMapSgtable(small, sgt, DMA_TO_DEVICE)).toThrow(errno('ENOMEM'));
    expect(liveIovas()).toBe(live0);
    expect(domain.stats.mappedBytes).toBe(0);
    // Resources, not usage: half the table fits, and the whole one fits a wider mask.
    const half = sgAllocTableFromPages(pfns.subarray(0, 128), 0, 128 * PAGE_SIZE, isp.maxSegmentSize);
    dmaMapSgtable(small, half, DMA_TO_DEVICE);
    expect(half.sgl[0]!.dmaAddress + half.sgl[0]!.dmaLength).toBeLessThanOrEqual(2 ** 20);
    dmaUnmapSg(small, half, DMA_TO_DEVICE);
    dmaMapSgtable(isp, sgt, DMA_TO_DEVICE);
    expect(sgt.nents).toBe(1);
    dmaUnmapSg(isp, sgt, DMA_TO_DEVICE);
    expect(liveIovas()).toBe(live0);
  });

  it('EIO when a lower-level map of one entry fails: memory a direct device cannot reach', () => {
    const { mm, ctx, dma0 } = dmaSystem();
    const dev = withMask(dma0, 30);
    const hi = highbuf(mm, 1);
    const lo = mm.pages.allocPages(0, {});
    const sgt = sgAllocTableFromPages(Uint32Array.of(lo, hi.pa / PAGE_SIZE), 0, 2 * PAGE_SIZE, dev.maxSegmentSize);
    expect(() => dmaMapSgtable(dev, sgt, DMA_TO_DEVICE)).toThrow(errno('EIO'));
    expect(ctx.stats).toMatchObject({ maps: 0, mappingErrors: 1 });
    // The same pages map for the device that can reach them.
    dmaMapSgtable(dma0, sgt, DMA_TO_DEVICE);
    expect(sgt.nents).toBe(2);
    dmaUnmapSg(dma0, sgt, DMA_TO_DEVICE);
  });

  it('EIO, not ENOMEM, from the bounce path when one entry cannot be mapped (iommu_dma_map_sg_swiotlb)', () => {
    const { sys, cam } = boot();
    const iovad = sys.domains.get('cam')!.iovad;
    // Someone holds all of the IOVA space but four pages.
    const filler = iovad.allocIova(0xfffff - 4, 0xfffff, false);
    const live0 = iovad.liveRanges - iovad.cachedRanges;
    const pfn = sys.mm.pages.allocPages(5, {});
    // Sub-page entries are bounced one by one, each through its own IOVA page: four fit, the fifth does not.
    const sgt = sgAllocTableFromPages(Uint32Array.from({ length: 32 }, (_, i) => pfn + i), 100, 32 * PAGE_SIZE - 200, 2048);
    expect(sgt.origNents).toBeGreaterThan(4);
    expect(() => dmaMapSgtable(cam, sgt, DMA_TO_DEVICE)).toThrow(errno('EIO'));
    // The four entries mapped before the failing one were unmapped and their bounce buffers returned.
    expect(cam.bounce!.peak).toBeGreaterThan(0);
    expect(cam.bounce!.inUse).toBe(0);
    expect(cam.bounce!.live.size).toBe(0);
    expect(iovad.liveRanges - iovad.cachedRanges).toBe(live0);
    // With the space back, the same table maps.
    iovad.freeIova(filler);
    dmaMapSgtable(cam, sgt, DMA_TO_DEVICE);
    dmaUnmapSg(cam, sgt, DMA_TO_DEVICE);
    expect(cam.bounce!.inUse).toBe(0);
  });
});

describe('a KernelBug inside a path that used to swallow every error', () => {
  it('propagates from the bounce buffer allocation of dma_map_page instead of becoming a mapping error', () => {
    const { mm, ctx, usb } = dmaSystem();
    const hi = highbuf(mm, 1);
    dmaMapPage(usb, hi.pa, 64, DMA_TO_DEVICE); // creates the pool
    vi.spyOn(usb.bounce!.pool, 'tryAlloc').mockImplementation(() => {
      throw new KernelBug('bitmap corrupted');
    });
    expect(() => dmaMapPage(usb, hi.pa, 64, DMA_TO_DEVICE)).toThrow(KernelBug);
    expect(ctx.stats.mappingErrors).toBe(0);
  });

  it('propagates from the page allocation of an IOMMU buffer instead of falling back to smaller pages', async () => {
    const { sys, isp } = boot();
    vi.spyOn(sys.mm.pages, 'allocPages').mockImplementation(() => {
      throw new KernelBug('free list corrupted');
    });
    await expect(dmaAllocCoherent(isp, 64 * 1024)).rejects.toThrow(KernelBug);
  });
});
