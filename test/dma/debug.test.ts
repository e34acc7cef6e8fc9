import { describe, expect, it } from 'vitest';
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  dmaMapPage,
  dmaMapSingle,
  dmaUnmapPage,
  dmaUnmapSingle,
} from '../../src/dma/index.ts';
import { dmaAllocCoherent, dmaDeviceRemove, dmaSyncSingleForCpu } from '../../src/dma/mapping.ts';
import { KernelBug } from '../../src/lib/index.ts';
import { dmaSystem, kbuf } from './system.ts';

describe('dma-debug', () => {
  it('reports an unmap of an address never mapped', () => {
    const { soc, dma0 } = dmaSystem();
    dmaUnmapPage(dma0, 0x2345_0000, 4096, DMA_TO_DEVICE);
    const f = soc.findings.ofKind('dma-debug');
    expect(f).toHaveLength(1);
    expect(f[0]!.call).toBe('dma_unmap_page');
    expect(f[0]!.message).toMatch(/free DMA memory it has not allocated \[device address=0x23450000\]/);
  });

  it('reports an unmap with the wrong size, direction or function', () => {
    const { soc, mm, dma0 } = dmaSystem();
    const b = kbuf(mm, 2);
    const a = dmaMapSingle(dma0, b.va, 8192, DMA_TO_DEVICE);
    dmaUnmapPage(dma0, a, 4096, DMA_FROM_DEVICE);
    const msgs = soc.findings.ofKind('dma-debug').map((f) => f.message);
    expect(msgs.some((m) => /different size .*\[map size=8192 bytes\] \[unmap size=4096 bytes\]/.test(m))).toBe(true);
    expect(msgs.some((m) => /different direction .*\[mapped with DMA_TO_DEVICE\] \[unmapped with DMA_FROM_DEVICE\]/.test(m))).toBe(true);
    expect(msgs.some((m) => /wrong function .*\[mapped as single\] \[unmapped as page\]/.test(m))).toBe(true);
  });

  it('keeps two mappings of one buffer at one address apart, as two importers make them, and unmaps each by its own direction', () => {
    const { soc, mm, dma0 } = dmaSystem();
    const b = kbuf(mm, 2);
    const a1 = dmaMapSingle(dma0, b.va, 8192, DMA_TO_DEVICE);
    const a2 = dmaMapSingle(dma0, b.va, 8192, DMA_BIDIRECTIONAL);
    expect(a2).toBe(a1);
    expect(dma0.ctx.debug.liveMappings(dma0)).toBe(2);
    dmaUnmapSingle(dma0, a1, 8192, DMA_BIDIRECTIONAL);
    expect(dma0.ctx.debug.liveMappings(dma0)).toBe(1);
    dmaUnmapSingle(dma0, a1, 8192, DMA_TO_DEVICE);
    expect(dma0.ctx.debug.liveMappings(dma0)).toBe(0);
    expect(soc.findings.ofKind('dma-debug')).toEqual([]);
    // a third unmap has nothing left to match
    dmaUnmapSingle(dma0, a1, 8192, DMA_TO_DEVICE);
    expect(soc.findings.ofKind('dma-debug')[0]!.message).toMatch(/free DMA memory it has not allocated/);
  });

  it('reports a sync of a range outside every mapping', () => {
    const { soc, mm, dma0 } = dmaSystem();
    const b = kbuf(mm, 1);
    const a = dmaMapSingle(dma0, b.va, 4096, DMA_FROM_DEVICE);
    dmaSyncSingleForCpu(dma0, a + 4096, 64, DMA_FROM_DEVICE);
    expect(soc.findings.ofKind('dma-debug')[0]!.message).toMatch(/sync DMA memory it has not allocated/);
    dmaUnmapSingle(dma0, a, 4096, DMA_FROM_DEVICE);
  });

  it('reports mappings still alive when a device goes away', async () => {
    const { soc, mm, dma0 } = dmaSystem();
    const b = kbuf(mm, 1);
    dmaMapSingle(dma0, b.va, 4096, DMA_BIDIRECTIONAL);
    await dmaAllocCoherent(dma0, 4096);
    expect(dmaDeviceRemove(dma0)).toBe(2);
    const leaks = soc.findings.ofKind('leak');
    expect(leaks).toHaveLength(2);
    expect(leaks[0]!.message).toMatch(/pending DMA allocations while released from device/);
  });

  it('reports a DMA address beyond the device mask', () => {
    const { soc, mm, dma0 } = dmaSystem();
    const hi = mm.pages.allocPages(0, { highmem: true }) * 4096;
    // A driver that lies about the device's mask: the map succeeds for 32 bits, the device has 30.
    dmaMapPage(dma0, hi, 4096, DMA_TO_DEVICE);
    dma0.dmaMaskBits = 30;
    dmaMapPage({ ...dma0, ops: { ...dma0.ops, mapPage: (_d, pa) => pa } }, hi, 4096, DMA_TO_DEVICE);
    expect(soc.findings.ofKind('dma-debug').some((f) => /beyond its DMA mask/.test(f.message))).toBe(true);
  });

  it('treats an invalid direction as a kernel bug and maps nothing', () => {
    const { ctx, mm, dma0 } = dmaSystem();
    const b = kbuf(mm, 1);
    expect(() => dmaMapSingle(dma0, b.va, 4096, 7 as never)).toThrow(KernelBug);
    expect(ctx.debug.liveMappings()).toBe(0);
  });
});

describe('cache maintenance policy', () => {
  it('calibrates the whole-flush threshold from the cache cost model at boot', () => {
    const { soc, ctx } = dmaSystem();
    const c = soc.cache;
    expect(ctx.policy.calibrated).toBe(true);
    const t = ctx.policy.threshold;
    // At the threshold a range walk costs about what a whole-cache walk does.
    expect(c.rangeCostNs(t)).toBeGreaterThanOrEqual(c.wholeCostNs());
    expect(c.rangeCostNs(t - 2 * c.lineSize)).toBeLessThan(c.wholeCostNs());
    expect(c.stats.fullFlushes).toBe(0);
  });

  it('maintains small buffers by range and big ones by a whole-cache flush', () => {
    const { soc, mm, ctx, dma0 } = dmaSystem();
    const t = ctx.policy.threshold;
    const small = kbuf(mm, 1);
    const a = dmaMapSingle(dma0, small.va, 4096, DMA_TO_DEVICE);
    expect(soc.cache.stats.cleanBytes).toBe(4096);
    expect(soc.cache.stats.fullFlushes).toBe(0);
    const big = kbuf(mm, Math.ceil(t / 4096) + 1);
    const b = dmaMapSingle(dma0, big.va, big.size, DMA_TO_DEVICE);
    expect(soc.cache.stats.fullFlushes).toBe(1);
    dmaUnmapSingle(dma0, a, 4096, DMA_TO_DEVICE);
    dmaUnmapSingle(dma0, b, big.size, DMA_TO_DEVICE);
  });

  it('honours a platform override', () => {
    const { ctx } = dmaSystem({ flushThreshold: 1 << 20 });
    expect(ctx.policy.calibrated).toBe(false);
    expect(ctx.policy.threshold).toBe(1 << 20);
  });
});
