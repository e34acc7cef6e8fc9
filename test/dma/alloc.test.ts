import { describe, expect, it } from 'vitest';
import {
  DMA_ATTR_NO_KERNEL_MAPPING,
  dmaAllocAttrs,
  dmaAllocWc,
  dmaFreeAttrs,
  dmaMmapAttrs,
} from '../../src/dma/index.ts';
import { dmaAllocCoherent, dmaAllocNoncoherent } from '../../src/dma/mapping.ts';
import { MiB, PAGE_SIZE } from '../../src/lib/index.ts';
import { expectBytes } from '../util/bytes.ts';
import { dmaSystem, pattern } from './system.ts';

describe('dma_alloc_attrs on the direct implementation', () => {
  it('gives a zeroed, physically contiguous, non-cacheable buffer with no cacheable alias left', async () => {
    const { soc, mm, dma0 } = dmaSystem();
    // Dirty the future buffer's lines through the linear map first, as earlier users of the pages would.
    const buf = await dmaAllocCoherent(dma0, 256 * 1024);
    expect(buf.contiguous).toBe(true);
    expect(buf.memType).toBe('wc');
    expect(buf.source.kind).toBe('cma');
    expect(buf.cpuAddr).not.toBeNull();
    for (let i = 0; i < buf.pfns.length; i++) {
      expect(buf.pfns[i]).toBe(buf.pfns[0]! + i);
      expect(soc.cpu.cacheableMappings(buf.pfns[i]! * PAGE_SIZE)).toBe(0);
    }
    const out = new Uint8Array(buf.size);
    mm.kas.load(buf.cpuAddr!, out, 0, buf.size);
    expectBytes(out, new Uint8Array(buf.size));
    dmaFreeAttrs(dma0, buf);
    expect(soc.cpu.cacheableMappings(buf.pfns[0]! * PAGE_SIZE)).toBe(1);
  });

  it('keeps device writes visible to the CPU through the uncached view even with aggressive prefetch', async () => {
    const { mm, dma0 } = dmaSystem({ prefetch: 1 });
    const buf = await dmaAllocCoherent(dma0, 64 * 1024);
    const out = new Uint8Array(buf.size);
    for (let round = 0; round < 4; round++) {
      const data = pattern(buf.size, round);
      dma0.master.writeNow(buf.dmaAddr, data);
      mm.kas.load(buf.cpuAddr!, out, 0, buf.size);
      expectBytes(out, data);
    }
    dmaFreeAttrs(dma0, buf);
  });

  it('CPU writes through the coherent buffer reach the device without any cache maintenance', async () => {
    const { soc, mm, dma0 } = dmaSystem();
    const buf = await dmaAllocWc(dma0, 8192);
    const data = pattern(8192, 3);
    const before = soc.cache.stats.cleanBytes;
    mm.kas.store(buf.cpuAddr!, data, 0, 8192);
    const seen = new Uint8Array(8192);
    dma0.master.readNow(buf.dmaAddr, seen);
    expectBytes(seen, data);
    expect(soc.cache.stats.cleanBytes).toBe(before);
    dmaFreeAttrs(dma0, buf);
  });

  it('NO_KERNEL_MAPPING uses no vmalloc space, and the saving shows in the counters', async () => {
    const { mm, dma0 } = dmaSystem();
    const base = mm.kas.vmallocUsed();
    const mapped = await dmaAllocAttrs(dma0, 1 * MiB, 0);
    expect(mm.kas.vmallocUsed() - base).toBeGreaterThanOrEqual(1 * MiB);
    const unmapped = await dmaAllocAttrs(dma0, 1 * MiB, DMA_ATTR_NO_KERNEL_MAPPING);
    expect(unmapped.cpuAddr).toBeNull();
    expect(unmapped.vmallocBytes).toBe(0);
    expect(mm.kas.vmallocUsed() - base).toBe(mapped.vmallocBytes);
    // Userspace can still map it, with the buffer's memory type.
    const view = dmaMmapAttrs(dma0, unmapped, 0, 1 * MiB);
    expect(view.memType).toBe('wc');
    expect(view.pfns.length).toBe(256);
    dmaFreeAttrs(dma0, mapped);
    dmaFreeAttrs(dma0, unmapped);
    expect(mm.kas.vmallocUsed()).toBe(base);
  });

  it('a non-consistent buffer is cacheable and needs syncs like a streaming one', async () => {
    const { soc, dma0 } = dmaSystem();
    const buf = await dmaAllocNoncoherent(dma0, 8192);
    expect(buf.memType).toBe('wb');
    expect(soc.cpu.cacheableMappings(buf.dmaAddr)).toBe(1);
    dmaFreeAttrs(dma0, buf);
  });

  it('on an IO-coherent SoC buffers stay cacheable and keep the linear map', async () => {
    const { soc, dma0 } = dmaSystem({ coherent: true });
    const buf = await dmaAllocCoherent(dma0, 64 * 1024);
    expect(buf.memType).toBe('wb');
    expect(buf.vmallocBytes).toBe(0);
    expect(soc.cpu.cacheableMappings(buf.dmaAddr)).toBe(1);
    dmaFreeAttrs(dma0, buf);
  });

  it('rejects a zero size with EINVAL and returns every page on free', async () => {
    const { mm, dma0 } = dmaSystem();
    await expect(dmaAllocAttrs(dma0, 0)).rejects.toMatchObject({ code: 'EINVAL' });
    const free = mm.pages.freeCount();
    const cmaUsed = mm.defaultCma!.stats().usedPages;
    const a = await dmaAllocCoherent(dma0, 4096);
    const b = await dmaAllocCoherent(dma0, 3 * 4096 + 5);
    dmaFreeAttrs(dma0, a);
    dmaFreeAttrs(dma0, b);
    expect(mm.pages.freeCount()).toBe(free);
    expect(mm.defaultCma!.stats().usedPages).toBe(cmaUsed);
  });

  it('allocates for the 30-bit USB host below its coherent mask', async () => {
    const { usb } = dmaSystem();
    const buf = await dmaAllocCoherent(usb, 2 * MiB);
    expect(buf.dmaAddr + buf.size).toBeLessThanOrEqual(2 ** 30);
    dmaFreeAttrs(usb, buf);
  });
});
