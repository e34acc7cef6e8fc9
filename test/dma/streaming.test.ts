import { describe, expect, it } from 'vitest';
import {
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  dmaMapPage,
  dmaMapSingle,
  dmaUnmapPage,
  dmaUnmapSingle,
} from '../../src/dma/index.ts';
import { dmaSyncSingleForCpu, dmaSyncSingleForDevice } from '../../src/dma/mapping.ts';
import { expectBytes, mismatches } from '../util/bytes.ts';
import { dmaSystem, highbuf, kbuf, pattern } from './system.ts';

const LEN = 64 * 1024;

for (const coherent of [false, true]) {
  describe(`streaming DMA through the direct implementation (${coherent ? 'IO-coherent' : 'non-coherent'} SoC)`, () => {
    it('a DMA-engine copy with map/unmap delivers the CPU-written bytes to the CPU reader', () => {
      const { soc, mm, dma0 } = dmaSystem({ coherent });
      const src = kbuf(mm, 16);
      const dst = kbuf(mm, 16);
      const data = pattern(LEN, 1);
      mm.kas.store(src.va, data, 0, LEN);
      // The CPU has the old destination cached, as it would after earlier use.
      mm.kas.load(dst.va, new Uint8Array(LEN), 0, LEN);
      const s = dmaMapSingle(dma0, src.va, LEN, DMA_TO_DEVICE);
      const d = dmaMapSingle(dma0, dst.va, LEN, DMA_FROM_DEVICE);
      dma0.master.copyNow(d, s, LEN);
      dmaUnmapSingle(dma0, s, LEN, DMA_TO_DEVICE);
      dmaUnmapSingle(dma0, d, LEN, DMA_FROM_DEVICE);
      const out = new Uint8Array(LEN);
      mm.kas.load(dst.va, out, 0, LEN);
      expectBytes(out, data);
      expect(soc.findings.findings).toEqual([]);
      if (coherent) expect(soc.cache.stats.cleanBytes + soc.cache.stats.invalidateBytes).toBe(0);
      else expect(soc.cache.stats.cleanBytes >= LEN || soc.cache.stats.fullFlushes > 0).toBe(true);
    });

    it('reusing a mapping needs dma_sync_single_for_device after the CPU writes again', () => {
      const { soc, mm, dma0 } = dmaSystem({ coherent });
      const src = kbuf(mm, 16);
      const dst = kbuf(mm, 16);
      mm.kas.store(src.va, pattern(LEN, 1), 0, LEN);
      const s = dmaMapSingle(dma0, src.va, LEN, DMA_TO_DEVICE);
      const d = dmaMapSingle(dma0, dst.va, LEN, DMA_FROM_DEVICE);
      // Second frame: the CPU writes new data but forgets to hand the buffer back.
      const second = pattern(LEN, 2);
      mm.kas.store(src.va, second, 0, LEN);
      dma0.master.copyNow(d, s, LEN);
      dmaUnmapSingle(dma0, d, LEN, DMA_FROM_DEVICE);
      const out = new Uint8Array(LEN);
      mm.kas.load(dst.va, out, 0, LEN);
      if (coherent) expectBytes(out, second);
      else expect(mismatches(out, second)).toBeGreaterThan(LEN / 2);
      const f = soc.findings.ofKind('missing-sync');
      expect(f).toHaveLength(1);
      expect(f[0]!.message).toMatch(/CPU writes .* while the device owns it/);
      dmaUnmapSingle(dma0, s, LEN, DMA_TO_DEVICE);
    });

    it('with the sync the reused mapping is correct and clean', () => {
      const { soc, mm, dma0 } = dmaSystem({ coherent });
      const src = kbuf(mm, 16);
      const dst = kbuf(mm, 16);
      const s = dmaMapSingle(dma0, src.va, LEN, DMA_TO_DEVICE);
      const d = dmaMapSingle(dma0, dst.va, LEN, DMA_FROM_DEVICE);
      for (let frame = 0; frame < 3; frame++) {
        dmaSyncSingleForCpu(dma0, s, LEN, DMA_TO_DEVICE);
        const data = pattern(LEN, 10 + frame);
        mm.kas.store(src.va, data, 0, LEN);
        dmaSyncSingleForDevice(dma0, s, LEN, DMA_TO_DEVICE);
        dma0.master.copyNow(d, s, LEN);
        dmaSyncSingleForCpu(dma0, d, LEN, DMA_FROM_DEVICE);
        const out = new Uint8Array(LEN);
        mm.kas.load(dst.va, out, 0, LEN);
        expectBytes(out, data);
        dmaSyncSingleForDevice(dma0, d, LEN, DMA_FROM_DEVICE);
      }
      dmaUnmapSingle(dma0, s, LEN, DMA_TO_DEVICE);
      dmaUnmapSingle(dma0, d, LEN, DMA_FROM_DEVICE);
      expect(soc.findings.findings).toEqual([]);
    });

    it('reading a buffer the device only reads (TO_DEVICE) while it is mapped is harmless and not reported', () => {
      const { soc, mm, dma0 } = dmaSystem({ coherent });
      const src = kbuf(mm, 16);
      const data = pattern(LEN, 9);
      mm.kas.store(src.va, data, 0, LEN);
      const s = dmaMapSingle(dma0, src.va, LEN, DMA_TO_DEVICE);
      const out = new Uint8Array(LEN);
      mm.kas.load(src.va, out, 0, LEN);
      expectBytes(out, data);
      expect(soc.findings.findings).toEqual([]);
      // A write is another matter: the device may not see it.
      mm.kas.store(src.va, pattern(16, 3), 0, 16);
      expect(soc.findings.ofKind('missing-sync')).toHaveLength(1);
      dmaUnmapSingle(dma0, s, LEN, DMA_TO_DEVICE);
    });

    it('reading the destination before sync_for_cpu gives stale bytes and names the missing call', () => {
      const { soc, mm, dma0 } = dmaSystem({ coherent });
      const src = kbuf(mm, 16);
      const dst = kbuf(mm, 16);
      const old = pattern(LEN, 5);
      mm.kas.store(dst.va, old, 0, LEN);
      const data = pattern(LEN, 6);
      mm.kas.store(src.va, data, 0, LEN);
      const s = dmaMapSingle(dma0, src.va, LEN, DMA_TO_DEVICE);
      const d = dmaMapSingle(dma0, dst.va, LEN, DMA_FROM_DEVICE);
      // The CPU peeks while the device owns the buffer: the lines come back into the cache.
      mm.kas.load(dst.va, new Uint8Array(LEN), 0, LEN);
      dma0.master.copyNow(d, s, LEN);
      const early = new Uint8Array(LEN);
      mm.kas.load(dst.va, early, 0, LEN);
      if (coherent) expectBytes(early, data);
      else expectBytes(early, old);
      const f = soc.findings.ofKind('missing-sync');
      expect(f).toHaveLength(1);
      expect(f[0]!.message).toMatch(/CPU reads .*dma_sync_\*_for_cpu/);
      dmaUnmapSingle(dma0, d, LEN, DMA_FROM_DEVICE);
      const late = new Uint8Array(LEN);
      mm.kas.load(dst.va, late, 0, LEN);
      expectBytes(late, data);
      dmaUnmapSingle(dma0, s, LEN, DMA_TO_DEVICE);
    });
  });
}

describe('dmabounce: direct mapping with bounce buffers', () => {
  it('bounces a highmem buffer the 30-bit USB host cannot reach, and the bytes arrive', () => {
    const { soc, mm, ctx, usb, dma0 } = dmaSystem();
    const hi = highbuf(mm, 4);
    const len = 4 * 4096;
    const data = pattern(len, 7);
    soc.cpu.store(hi.pa, data, 0, len, 'wb');
    const addr = dmaMapPage(usb, hi.pa, len, DMA_TO_DEVICE);
    expect(addr + len).toBeLessThanOrEqual(2 ** 30);
    expect(addr).not.toBe(hi.pa);
    const seen = new Uint8Array(len);
    usb.master.readNow(addr, seen);
    expectBytes(seen, data);
    dmaUnmapPage(usb, addr, len, DMA_TO_DEVICE);
    expect(ctx.stats.bounceBytes).toBe(len);
    // The direct implementation without bounce cannot map it at all.
    const maps = ctx.stats.maps;
    expect(() => dmaMapPage({ ...dma0, dmaMaskBits: 30 }, hi.pa, len, DMA_TO_DEVICE)).toThrow(expect.objectContaining({ code: 'EIO' }));
    expect(ctx.stats.mappingErrors).toBe(1);
    expect(ctx.stats.maps).toBe(maps);
    expect(soc.findings.findings).toEqual([]);
  });

  it('copies device-written data back on unmap and on sync_for_cpu', () => {
    const { soc, mm, ctx, usb } = dmaSystem();
    const hi = highbuf(mm, 1);
    const addr = dmaMapPage(usb, hi.pa, 4096, DMA_FROM_DEVICE);
    const first = pattern(4096, 8);
    usb.master.writeNow(addr, first);
    dmaSyncSingleForCpu(usb, addr, 4096, DMA_FROM_DEVICE);
    const out = new Uint8Array(4096);
    soc.cpu.load(hi.pa, out, 0, 4096, 'wb');
    expectBytes(out, first);
    dmaSyncSingleForDevice(usb, addr, 4096, DMA_FROM_DEVICE);
    const second = pattern(4096, 9);
    usb.master.writeNow(addr, second);
    dmaUnmapPage(usb, addr, 4096, DMA_FROM_DEVICE);
    soc.cpu.load(hi.pa, out, 0, 4096, 'wb');
    expectBytes(out, second);
    expect(ctx.stats.bounceBytes).toBe(2 * 4096);
    expect(usb.bounce!.inUse).toBe(0);
  });

  it('does not bounce what the device can reach', () => {
    const { mm, ctx, usb } = dmaSystem();
    const lo = kbuf(mm, 1);
    const addr = dmaMapSingle(usb, lo.va, 4096, DMA_TO_DEVICE);
    expect(addr).toBe(lo.pa);
    dmaUnmapSingle(usb, addr, 4096, DMA_TO_DEVICE);
    expect(ctx.stats.bounceBytes).toBe(0);
  });
});
