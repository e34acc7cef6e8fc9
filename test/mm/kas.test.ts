import { describe, it, expect } from 'vitest';
import { Soc } from '../../src/hw/index.ts';
import { GiB, KernelBug, KernelError, MiB } from '../../src/lib/index.ts';
import { bootMm, type MmConfig } from '../../src/mm/index.ts';
import { kernelLayout } from '../../src/mm/kas.ts';

function armSoc() {
  return new Soc({
    seed: 5,
    banks: [
      { name: 'sram', base: 0x20000, size: 256 * 1024, kind: 'sram' },
      { name: 'dram0', base: 0x2000_0000, size: 512 * MiB, kind: 'dram' },
      { name: 'dram1', base: 0x8000_0000, size: 256 * MiB, kind: 'dram' },
    ],
    cache: { size: 32 * 1024, ways: 4, lineSize: 64 },
    masters: [],
  });
}

function boot(cfg: MmConfig = { lowmem: 384 * MiB, vmalloc: 16 * MiB }) {
  const soc = armSoc();
  return { soc, mm: bootMm(soc, cfg) };
}

describe('kernel layout', () => {
  it('gives a 32-bit kernel 760 MiB of lowmem with the default 240 MiB vmalloc', () => {
    const l = kernelLayout([{ base: 0x2000_0000, size: 2 * GiB }], {});
    expect(l.pageOffset).toBe(0xc000_0000);
    expect(l.lowmemEnd - l.physOffset).toBe(760 * MiB);
    expect(l.vmallocSize).toBe(240 * MiB);
    expect(l.vmallocStart).toBe(0xc000_0000 + 768 * MiB);
    expect(l.vmallocStart + l.vmallocSize).toBeLessThanOrEqual(0xff00_0000);
  });

  it('maps everything linearly when RAM reaches above 4 GiB, and refuses layouts that do not fit', () => {
    const l = kernelLayout([{ base: 0x8_0000_0000, size: 64 * GiB }], {});
    expect(l.lowmemEnd).toBe(0x8_0000_0000 + 64 * GiB);
    expect(l.pageOffset).toBe(2 ** 47);
    expect(() => kernelLayout([{ base: 0x8000_0000, size: 2 * GiB }], { lowmem: 1 * GiB })).toThrow(KernelError);
  });
});

describe('KernelAddressSpace', () => {
  it('translates lowmem both ways and has no address for highmem', () => {
    const { mm } = boot();
    const kas = mm.kas;
    const pfn = 0x20000 + 5;
    const va = kas.pfnToVirt(pfn);
    expect(va).toBe(0xc000_5000);
    expect(kas.virtToPhys(va + 123)).toBe(pfn * 4096 + 123);
    expect(kas.isLowmem(pfn)).toBe(true);
    expect(kas.isLowmem(0x80000)).toBe(false);
    expect(() => kas.pfnToVirt(0x80000)).toThrow(/highmem/);
    expect(() => kas.pfnToVirt(0x10)).toThrow(/not RAM/);
    expect(mm.pages.isHighmem(0x20000 + 384 * 256)).toBe(true);
  });

  it('registers the linear map with the CPU at boot and removes/restores aliases', () => {
    const { soc, mm } = boot();
    const { kas, pages } = mm;
    expect(soc.cpu.cacheableMappings(0x2000_0000)).toBe(1);
    expect(soc.cpu.cacheableMappings(0x2000_0000 + 384 * MiB - 1)).toBe(1);
    expect(soc.cpu.cacheableMappings(0x2000_0000 + 384 * MiB)).toBe(0);
    expect(soc.cpu.cacheableMappings(0x8000_0000)).toBe(0);
    const pfn = pages.allocPages(2);
    const pa = pfn * 4096;
    kas.removeLinearAlias(pfn, 4);
    expect(soc.cpu.hasCacheableAlias(pa, 4 * 4096)).toBe(false);
    expect(kas.hasLinearAlias(pfn + 3)).toBe(false);
    const buf = new Uint8Array(8);
    expect(() => kas.load(kas.pfnToVirt(pfn) + 8, buf, 0, 8)).toThrow(/paging request/);
    expect(() => kas.removeLinearAlias(pfn + 3, 2)).toThrow(KernelBug);
    expect(soc.cpu.cacheableMappings(pa + 4 * 4096)).toBe(1);
    expect(() => pages.freePages(pfn, 2)).toThrow(/linear/);
    kas.restoreLinearAlias(pfn, 4);
    expect(soc.cpu.cacheableMappings(pa)).toBe(1);
    expect(() => kas.restoreLinearAlias(pfn, 1)).toThrow(KernelBug);
    pages.freePages(pfn, 2);
    expect(() => kas.removeLinearAlias(pfn, 1)).toThrow(/not allocated/);
    expect(() => kas.removeLinearAlias(0x80000, 1)).toThrow(/lowmem/);
  });

  it('vmap registers each mapping with its memory type and counts vmalloc space', () => {
    const { soc, mm } = boot();
    const { kas, pages } = mm;
    const hi = pages.allocPages(0, { highmem: true });
    const lo = pages.allocPages(0);
    expect(kas.vmallocUsed()).toBe(0);
    const wb = kas.vmap([hi, lo], 'wb');
    expect(kas.vmallocUsed()).toBe(3 * 4096);
    expect(soc.cpu.cacheableMappings(hi * 4096)).toBe(1);
    expect(soc.cpu.cacheableMappings(lo * 4096)).toBe(2);
    const wc = kas.vmap([lo], 'wc');
    expect(soc.cpu.cacheableMappings(lo * 4096)).toBe(2);
    expect(kas.memTypeAt(wc)).toBe('wc');
    expect(kas.virtToPhys(wb + 4096 + 7)).toBe(lo * 4096 + 7);
    expect(() => kas.virtToPhys(wb + 2 * 4096)).toThrow(KernelBug); // guard page
    kas.vunmap(wb);
    expect(soc.cpu.cacheableMappings(hi * 4096)).toBe(0);
    expect(soc.cpu.cacheableMappings(lo * 4096)).toBe(1);
    expect(() => kas.vunmap(wb)).toThrow(KernelBug);
    kas.vunmap(wc);
    expect(kas.vmallocUsed()).toBe(0);
  });

  it('kernel loads and stores by virtual address reach the right bytes with the mapping type', () => {
    const { soc, mm } = boot();
    const { kas, pages } = mm;
    const a = pages.allocPages(0, { highmem: true });
    const b = pages.allocPages(0, { highmem: true });
    const va = kas.vmap([b, a], 'wc');
    const data = new Uint8Array(6000).map((_, i) => (i * 7) & 0xff);
    kas.store(va + 100, data, 0, 6000);
    // Write-combined stores go straight to memory.
    expect(soc.mem.readBytes(b * 4096 + 100, 3996)).toEqual(data.subarray(0, 3996));
    expect(soc.mem.readBytes(a * 4096, 2004)).toEqual(data.subarray(3996));
    const back = new Uint8Array(6000);
    kas.load(va + 100, back, 0, 6000);
    expect(back).toEqual(data);
    // Through the cacheable linear map the store stays in the cache until cleaned.
    const l = pages.allocPages(0);
    const lva = kas.pfnToVirt(l);
    kas.fill(lva, 64, 0x5a);
    expect(soc.mem.readBytes(l * 4096, 1)[0]).toBe(0);
    soc.cache.cleanRange(l * 4096, 64);
    expect(soc.mem.readBytes(l * 4096, 64).every((x) => x === 0x5a)).toBe(true);
    expect(() => kas.load(0xbfff_f000, back, 0, 1)).toThrow(/paging request/);
  });

  it('vmalloc takes pages and address space, runs out with ENOMEM without leaking, and vfree gives both back', () => {
    const { mm } = boot();
    const { kas, pages } = mm;
    const free0 = pages.freeCount();
    const va = kas.vmalloc(1 * MiB);
    expect(pages.freeCount()).toBe(free0 - 256);
    expect(kas.vmallocUsed()).toBe(1 * MiB + 4096);
    const data = new Uint8Array([1, 2, 3]);
    kas.store(va + 1 * MiB - 2, data, 0, 2);
    expect(() => kas.vmalloc(15 * MiB)).toThrow(KernelError);
    expect(pages.freeCount()).toBe(free0 - 256);
    expect(kas.vmallocAreas()).toBe(1);
    expect(() => kas.vunmap(va)).toThrow(/vfree/);
    kas.vfree(va);
    expect(pages.freeCount()).toBe(free0);
    expect(kas.vmallocUsed()).toBe(0);
  });

  it('kmap gives highmem pages a temporary address', () => {
    const { soc, mm } = boot();
    const { kas, pages } = mm;
    const h = pages.allocPages(0, { highmem: true });
    const va = kas.kmap(h);
    expect(kas.vmallocUsed()).toBe(8192);
    kas.fill(va, 4096, 0x11);
    soc.cache.cleanRange(h * 4096, 4096);
    expect(soc.mem.readBytes(h * 4096 + 4095, 1)[0]).toBe(0x11);
    kas.kunmap(va);
    expect(kas.vmallocUsed()).toBe(0);
    const l = pages.allocPages(0);
    expect(kas.kmap(l)).toBe(kas.pfnToVirt(l));
  });

  it('no-map reservations are out of the allocator and the linear map', () => {
    const { soc, mm } = boot({ lowmem: 384 * MiB, vmalloc: 16 * MiB, reserved: [{ name: 'carveout', base: 0x2100_0000, size: 2 * MiB, nomap: true }] });
    expect(soc.cpu.cacheableMappings(0x2100_0000)).toBe(0);
    expect(soc.cpu.cacheableMappings(0x2120_0000)).toBe(1);
    expect(mm.pages.totalPages()).toBe((768 - 2) * 256);
    const b = new Uint8Array(1);
    expect(() => mm.kas.load(mm.kas.pfnToVirt(0x21000), b, 0, 1)).toThrow(KernelBug);
  });
});
