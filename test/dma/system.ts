import { createDevice, createDmaContext, type Device, type DmaContext } from '../../src/dma/index.ts';
import { Soc } from '../../src/hw/index.ts';
import { MiB, PAGE_SIZE } from '../../src/lib/index.ts';
import { bootMm, type Mm } from '../../src/mm/index.ts';

export interface DmaTestSystem {
  soc: Soc;
  mm: Mm;
  ctx: DmaContext;
  dma0: Device;
  usb: Device;
}

/**
 * A small SoC for DMA tests: 192 MiB of lowmem at 0x20000000 (reachable by a
 * 30-bit mask), 64 MiB of highmem at 0x80000000 (not reachable), a 32 MiB
 * default CMA area, a DMA engine and a 30-bit USB host with dmabounce.
 */
export function dmaSystem(opts: { coherent?: boolean; prefetch?: number; flushThreshold?: number } = {}): DmaTestSystem {
  const coherent = opts.coherent ?? false;
  const soc = new Soc({
    seed: 3,
    banks: [
      { name: 'dram0', base: 0x2000_0000, size: 192 * MiB, kind: 'dram' },
      { name: 'dram1', base: 0x8000_0000, size: 64 * MiB, kind: 'dram' },
    ],
    cache: { size: 64 * 1024, ways: 4 },
    prefetchProbability: opts.prefetch ?? 0,
    ioCoherent: coherent,
    masters: [
      { name: 'dma0', coherent, bandwidth: 2e9, latencyNs: 100 },
      { name: 'usb', coherent, bandwidth: 60e6, latencyNs: 1000 },
    ],
  });
  const mm = bootMm(soc, { lowmem: 192 * MiB, vmalloc: 64 * MiB, cma: { default: 32 * MiB } });
  const ctx = createDmaContext(soc, mm, { flushThreshold: opts.flushThreshold ?? 'auto' });
  const common = { coherent, needsContiguous: false, alignment: PAGE_SIZE, segmentBoundary: 0xffff_ffff, cma: null, iommu: null };
  const dma0 = createDevice(ctx, soc.master('dma0'), { ...common, name: 'dma0', kind: 'dma-engine', dmaMaskBits: 32, maxSegmentSize: 16 * MiB, bounce: false });
  const usb = createDevice(ctx, soc.master('usb'), { ...common, name: 'usb', kind: 'usb', dmaMaskBits: 30, maxSegmentSize: 64 * 1024, bounce: true });
  return { soc, mm, ctx, dma0, usb };
}

/** A kmalloc-like lowmem buffer: its pages and linear-map address. */
export function kbuf(mm: Mm, pages: number): { pa: number; va: number; size: number } {
  const order = Math.ceil(Math.log2(pages));
  const pfn = mm.pages.allocPages(order, {});
  return { pa: pfn * PAGE_SIZE, va: mm.kas.pfnToVirt(pfn), size: pages * PAGE_SIZE };
}

/** A highmem page range (no permanent kernel mapping). */
export function highbuf(mm: Mm, pages: number): { pa: number; size: number } {
  const order = Math.ceil(Math.log2(pages));
  const pfn = mm.pages.allocPages(order, { highmem: true });
  if (!mm.pages.isHighmem(pfn)) throw new Error('expected a highmem page');
  return { pa: pfn * PAGE_SIZE, size: pages * PAGE_SIZE };
}

export function pattern(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 13 + seed * 101 + (i >> 9)) & 0xff;
  return b;
}
