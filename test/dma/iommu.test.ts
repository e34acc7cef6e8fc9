import { describe, expect, it } from 'vitest';
import {
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  dmaFreeAttrs,
  dmaMapPage,
  dmaMapSg,
  dmaUnmapPage,
  dmaUnmapSg,
  sgAllocTableFromPages,
} from '../../src/dma/index.ts';
import { dmaAllocCoherent } from '../../src/dma/mapping.ts';
import { DmaFault } from '../../src/hw/index.ts';
import { MiB, PAGE_SIZE } from '../../src/lib/index.ts';
import { bootSystem, parsePlatform } from '../../src/sim/index.ts';
import { expectBytes } from '../util/bytes.ts';
import { pattern } from './system.ts';

const PLATFORM = `name: iommu-test
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
  return bootSystem(parsePlatform('iommu-test.yaml', PLATFORM), { seed: 5 });
}

/** 16 scattered lowmem pages, each written by the CPU and cleaned by nobody yet. */
function scattered(sys: ReturnType<typeof boot>, n: number): Uint32Array {
  const pfns = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    pfns[i] = sys.mm.pages.allocPages(0, {});
    sys.mm.pages.allocPages(0, {}); // a hole between pages, so nothing is physically contiguous
  }
  return pfns;
}

describe('the IOMMU implementation', () => {
  it('maps scattered pages into one contiguous IOVA segment the device reads correctly', () => {
    const sys = boot();
    const isp = sys.devices.get('isp')!;
    expect(isp.ops.name).toBe('iommu');
    const pfns = scattered(sys, 16);
    const data = pattern(16 * PAGE_SIZE, 1);
    for (let i = 0; i < 16; i++) sys.soc.cpu.store(pfns[i]! * PAGE_SIZE, data, i * PAGE_SIZE, PAGE_SIZE, 'wb');
    const sgt = sgAllocTableFromPages(pfns, 0, 16 * PAGE_SIZE, isp.maxSegmentSize);
    expect(sgt.origNents).toBe(16);
    expect(dmaMapSg(isp, sgt, DMA_TO_DEVICE)).toBe(1);
    expect(sgt.sgl[0]!.dmaLength).toBe(16 * PAGE_SIZE);
    const seen = new Uint8Array(16 * PAGE_SIZE);
    isp.master.readNow(sgt.sgl[0]!.dmaAddress, seen);
    expectBytes(seen, data);
    expect(sys.smmus.get('smmu0')!.stats.tlbMisses).toBeGreaterThan(0);
    dmaUnmapSg(isp, sgt, DMA_TO_DEVICE);
    // After the unmap the IOVA no longer translates: the DMA faults and the SMMU reports it.
    expect(() => isp.master.readNow(sgt.sgl[0]!.dmaAddress, seen)).toThrow(DmaFault);
    expect(sys.smmus.get('smmu0')!.stats.faults).toBe(1);
    expect(sys.soc.findings.ofKind('stale-tlb')).toEqual([]);
  });

  it('builds an allocation from pages, maps it contiguously, and the CPU sees device writes', async () => {
    const sys = boot();
    const isp = sys.devices.get('isp')!;
    const buf = await dmaAllocCoherent(isp, 2 * MiB + PAGE_SIZE);
    expect(buf.source.kind).toBe('pages');
    const data = pattern(buf.size, 2);
    isp.master.writeNow(buf.dmaAddr, data);
    const out = new Uint8Array(buf.size);
    sys.mm.kas.load(buf.cpuAddr!, out, 0, buf.size);
    expectBytes(out, data);
    const free = sys.mm.pages.freeCount();
    dmaFreeAttrs(isp, buf);
    expect(sys.mm.pages.freeCount()).toBeGreaterThan(free);
  });

  it('a device DMA past its mapping is a fault the device sees', () => {
    const sys = boot();
    const isp = sys.devices.get('isp')!;
    const pfn = sys.mm.pages.allocPages(0, {});
    const a = dmaMapPage(isp, pfn * PAGE_SIZE, PAGE_SIZE, DMA_FROM_DEVICE);
    expect(() => isp.master.writeNow(a, new Uint8Array(2 * PAGE_SIZE))).toThrow(DmaFault);
    expect(sys.smmus.get('smmu0')!.warnings.length).toBeGreaterThan(0);
    dmaUnmapPage(isp, a, PAGE_SIZE, DMA_FROM_DEVICE);
  });
});

describe('the IOMMU implementation with bounce buffers', () => {
  it('bounces a sub-page buffer so the device cannot see its neighbours', () => {
    const sys = boot();
    const cam = sys.devices.get('cam')!;
    expect(cam.ops.name).toBe('iommu-bounce');
    const pfn = sys.mm.pages.allocPages(0, {});
    const page = pattern(PAGE_SIZE, 3);
    sys.soc.cpu.store(pfn * PAGE_SIZE, page, 0, PAGE_SIZE, 'wb');
    const a = dmaMapPage(cam, pfn * PAGE_SIZE + 512, 256, DMA_TO_DEVICE);
    const seen = new Uint8Array(PAGE_SIZE);
    cam.master.readNow(a - (a % PAGE_SIZE), seen);
    // The device's page holds the 256 bytes and zeros: nothing else of the original page leaks.
    expectBytes(seen.subarray(a % PAGE_SIZE, (a % PAGE_SIZE) + 256), page.subarray(512, 768));
    expect(seen.reduce((s, x, i) => s + (i >= a % PAGE_SIZE && i < (a % PAGE_SIZE) + 256 ? 0 : x), 0)).toBe(0);
    dmaUnmapPage(cam, a, 256, DMA_TO_DEVICE);
    expect(sys.dma.stats.bounceBytes).toBe(256);
  });

  it('copies device writes back into the sub-page buffer only', () => {
    const sys = boot();
    const cam = sys.devices.get('cam')!;
    const pfn = sys.mm.pages.allocPages(0, {});
    const before = pattern(PAGE_SIZE, 4);
    sys.soc.cpu.store(pfn * PAGE_SIZE, before, 0, PAGE_SIZE, 'wb');
    const a = dmaMapPage(cam, pfn * PAGE_SIZE + 100, 300, DMA_FROM_DEVICE);
    cam.master.writeNow(a, new Uint8Array(300).fill(0xee));
    dmaUnmapPage(cam, a, 300, DMA_FROM_DEVICE);
    const out = new Uint8Array(PAGE_SIZE);
    sys.soc.cpu.load(pfn * PAGE_SIZE, out, 0, PAGE_SIZE, 'wb');
    const want = before.slice();
    want.fill(0xee, 100, 400);
    expectBytes(out, want);
  });

  it('maps page-aligned buffers without bouncing', () => {
    const sys = boot();
    const cam = sys.devices.get('cam')!;
    const pfn = sys.mm.pages.allocPages(1, {});
    const a = dmaMapPage(cam, pfn * PAGE_SIZE, 2 * PAGE_SIZE, DMA_TO_DEVICE);
    dmaUnmapPage(cam, a, 2 * PAGE_SIZE, DMA_TO_DEVICE);
    expect(sys.dma.stats.bounceBytes).toBe(0);
  });
});
