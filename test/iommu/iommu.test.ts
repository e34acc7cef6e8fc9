import { describe, expect, it } from 'vitest';
import { DmaFault } from '../../src/hw/index.ts';
import {
  IOMMU_CACHE,
  IOMMU_READ,
  IOMMU_WRITE,
  iommuAttachDevice,
  iommuDetachDevice,
  iommuDomainAlloc,
  iommuDomainFree,
  iommuIovaToPhys,
  iommuMap,
  iommuMappingAt,
  iommuSetFaultHandler,
  iommuUnmap,
} from '../../src/iommu/index.ts';
import {
  iommuDeferUntilFlushed,
  iommuFlushIotlbAll,
  iommuGetDomainForDev,
  iommuMapSg,
  iommuPgsize,
} from '../../src/iommu/iommu.ts';
import { KernelBug, KernelError, MiB } from '../../src/lib/index.ts';
import { DRAM, pattern, rig, sameBytes } from './helpers.ts';

const RW = IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE;

describe('iommu_pgsize', () => {
  it('picks the largest size both addresses allow, and how many before a bigger one fits', () => {
    expect(iommuPgsize(0xff0000, 0x80ff0000, 20 * MiB)).toEqual({ pgsize: 0x10000, count: 1 });
    expect(iommuPgsize(0x1000000, 0x81000000, 20 * MiB)).toEqual({ pgsize: 16 * MiB, count: 1 });
    expect(iommuPgsize(0x1000, 0x80001000, 3 * MiB)).toEqual({ pgsize: 0x1000, count: 15 });
    // iova and pa disagree modulo 64 KiB: small pages all the way.
    expect(iommuPgsize(0x1000, 0x80002000, 3 * MiB)).toEqual({ pgsize: 0x1000, count: 768 });
  });
});

describe('IOMMU API', () => {
  it('maps with the largest page sizes, and a device moves real bytes through them', () => {
    const { soc, driver, cam, pages } = rig();
    const d = iommuDomainAlloc(driver);
    iommuAttachDevice(d, cam);
    expect(iommuGetDomainForDev(driver, cam)).toBe(d);
    const iova = 0x00ff_0000;
    const pa = DRAM + 0x00ff_0000 + 16 * MiB; // same offset modulo 16 MiB
    const size = 16 * MiB + 2 * MiB + 0x13000;
    iommuMap(d, iova, pa, size, RW);
    expect(iommuMappingAt(d, iova)?.size).toBe(0x10000);
    expect(iommuMappingAt(d, 0x0100_0000)?.size).toBe(16 * MiB);
    expect(iommuMappingAt(d, 0x0200_0000)?.size).toBe(MiB);
    expect(iommuMappingAt(d, 0x0210_0000)?.size).toBe(MiB);
    expect(iommuMappingAt(d, 0x0220_2000)?.size).toBe(0x1000);
    expect(iommuMappingAt(d, 0x0220_3000)).toBeNull();
    expect(d.stats.pagesMapped).toEqual({ 0x1000: 3, 0x10000: 1, 0x100000: 2, 0x1000000: 1 });
    expect(iommuIovaToPhys(d, iova + 0x123456)).toBe(pa + 0x123456);
    expect(iommuIovaToPhys(d, 0x4000_0000)).toBe(0);

    const data = pattern(size, 1);
    cam.master.writeNow(iova, data);
    expect(sameBytes(soc.mem.readBytes(pa, size), data)).toBe(true);
    const back = new Uint8Array(size);
    cam.master.readNow(iova, back);
    expect(sameBytes(back, data)).toBe(true);

    expect(iommuUnmap(d, iova, size)).toBe(size);
    expect(() => cam.master.readNow(iova, new Uint8Array(4))).toThrow(DmaFault);
    iommuDetachDevice(d, cam);
    iommuDomainFree(d);
    expect(pages.allocated).toBe(0);
  });

  it('reports errors with Linux errno and leaves nothing half-mapped', () => {
    const { driver } = rig();
    const d = iommuDomainAlloc(driver);
    const err = (f: () => void): string => {
      try {
        f();
      } catch (e) {
        return e instanceof KernelError ? e.code : String(e);
      }
      return 'ok';
    };
    expect(err(() => iommuMap(d, 0x1800, DRAM, 0x1000, RW))).toBe('EINVAL');
    expect(err(() => iommuMap(d, 0xffff_f000, DRAM, 0x2000, RW))).toBe('ERANGE');
    iommuMap(d, 0x20_3000, DRAM + 0x50_3000, 0x1000, RW);
    // Overlaps the page at 0x203000: fails, and the 3 pages before it are unmapped again.
    expect(err(() => iommuMap(d, 0x20_0000, DRAM + 0x60_0000, 0x10000, RW))).toBe('EEXIST');
    expect(iommuIovaToPhys(d, 0x20_0000)).toBe(0);
    expect(iommuIovaToPhys(d, 0x20_3000)).toBe(DRAM + 0x50_3000);
    // A section over a range that has a table: EEXIST too.
    expect(err(() => iommuMap(d, 0x20_0000, DRAM + MiB * 8, MiB, RW))).toBe('EEXIST');
    expect(d.stats.mappedBytes).toBe(0x1000);
    // Unaligned unmap does nothing; unmap stops at the first hole.
    expect(iommuUnmap(d, 0x20_3800, 0x1000)).toBe(0);
    expect(iommuUnmap(d, 0x20_3000, 0x3000)).toBe(0x1000);
    expect(iommuUnmap(d, 0x20_3000, 0x1000)).toBe(0);
    iommuDomainFree(d);
    expect(() => iommuMap(d, 0, DRAM, 0x1000, RW)).toThrow(KernelBug);
  });

  it('splits a section when part of it is unmapped, keeping the rest', () => {
    const { soc, driver, cam } = rig();
    const d = iommuDomainAlloc(driver);
    iommuAttachDevice(d, cam);
    iommuMap(d, 0x10_0000, DRAM + 0x40_0000, MiB, RW);
    const data = pattern(MiB, 4);
    cam.master.writeNow(0x10_0000, data);
    expect(iommuUnmap(d, 0x14_0000, 0x1000)).toBe(0x1000);
    expect(iommuMappingAt(d, 0x10_0000)?.size).toBe(0x1000);
    expect(iommuIovaToPhys(d, 0x14_0000)).toBe(0);
    expect(iommuIovaToPhys(d, 0x14_1000)).toBe(DRAM + 0x44_1000);
    // The section's TLB entry went with the invalidation: the hole faults.
    expect(() => cam.master.readNow(0x14_0010, new Uint8Array(1))).toThrow(/translation fault \(level 2\)/);
    const b = new Uint8Array(0x1000);
    cam.master.readNow(0x14_1000, b);
    expect(b).toEqual(data.subarray(0x41000, 0x42000));
    // A 64 KiB unmap inside a section leaves 64 KiB pages around it.
    iommuMap(d, 0x30_0000, DRAM + 0x50_0000, MiB, RW);
    expect(iommuUnmap(d, 0x32_0000, 0x10000)).toBe(0x10000);
    expect(iommuMappingAt(d, 0x31_0000)?.size).toBe(0x10000);
    // A 1 MiB unmap inside a supersection leaves 15 sections; a 4 KiB one inside a large page, 15 small pages.
    iommuMap(d, 0x100_0000, DRAM + 16 * MiB, 16 * MiB, RW);
    expect(iommuMappingAt(d, 0x100_0000)?.size).toBe(16 * MiB);
    expect(iommuUnmap(d, 0x150_0000, MiB)).toBe(MiB);
    expect(iommuMappingAt(d, 0x140_0000)?.size).toBe(MiB);
    expect(iommuIovaToPhys(d, 0x150_0000)).toBe(0);
    expect(iommuIovaToPhys(d, 0x1ff_ffff)).toBe(DRAM + 32 * MiB - 1);
    iommuMap(d, 0x5000_0000, DRAM + 0x60_0000, 0x10000, RW);
    expect(iommuMappingAt(d, 0x5000_0000)?.size).toBe(0x10000);
    expect(iommuUnmap(d, 0x5000_3000, 0x1000)).toBe(0x1000);
    expect(iommuMappingAt(d, 0x5000_0000)?.size).toBe(0x1000);
    expect(iommuIovaToPhys(d, 0x5000_3000)).toBe(0);
    expect(iommuIovaToPhys(d, 0x5000_f000)).toBe(DRAM + 0x60_f000);
    // Unmapping a 16 MiB range that is only partly mapped unmaps nothing at that level.
    expect(iommuUnmap(d, 0x100_0000, 16 * MiB)).toBe(0);
    expect(soc.findings.findings).toHaveLength(1); // only the fault above
    iommuDetachDevice(d, cam);
    iommuDomainFree(d);
  });

  it('strict domains invalidate at unmap; lazy ones leave stale translations until the flush', async () => {
    const { soc, driver, cam, pages } = rig();
    const old = DRAM + 0x80_0000;
    const other = DRAM + 0x90_0000;
    soc.mem.write(old, new Uint8Array([1, 2, 3, 4]));
    soc.mem.write(other, new Uint8Array([9, 9, 9, 9]));

    const strict = iommuDomainAlloc(driver, { flush: 'strict' });
    iommuAttachDevice(strict, cam);
    iommuMap(strict, 0x4000, old, 0x1000, RW);
    const b = new Uint8Array(4);
    cam.master.readNow(0x4000, b);
    iommuUnmap(strict, 0x4000, 0x1000);
    expect(() => cam.master.readNow(0x4000, b)).toThrow(DmaFault);
    iommuDetachDevice(strict, cam);
    iommuDomainFree(strict);

    const lazy = iommuDomainAlloc(driver, { flush: 'lazy' });
    iommuAttachDevice(lazy, cam);
    iommuMap(lazy, 0x4000, old, 0x1000, RW);
    cam.master.readNow(0x4000, b);
    iommuUnmap(lazy, 0x4000, 0x1000);
    let freed = false;
    iommuDeferUntilFlushed(lazy, () => (freed = true));
    expect(freed).toBe(false);
    // The page table says unmapped, the TLB still translates: the device reads the old page.
    cam.master.readNow(0x4000, b);
    expect(b).toEqual(new Uint8Array([1, 2, 3, 4]));
    // Remapping the IOVA elsewhere before the flush: the device still goes to the old page.
    iommuMap(lazy, 0x4000, other, 0x1000, RW);
    cam.master.readNow(0x4000, b);
    expect(b).toEqual(new Uint8Array([1, 2, 3, 4]));
    const stale = soc.findings.ofKind('stale-tlb');
    expect(stale).toHaveLength(1);
    expect(stale[0]!.message).toMatch(/\(cam\): DMA read at iova 0x00004000 used a stale TLB entry to pa 0x80800000/);
    // The flush-queue timer (10 ms of simulated time) retires the entry.
    await soc.clock.run();
    expect(soc.clock.now).toBe(10_000_000);
    expect(freed).toBe(true);
    cam.master.readNow(0x4000, b);
    expect(b).toEqual(new Uint8Array([9, 9, 9, 9]));
    iommuUnmap(lazy, 0x4000, 0x1000);
    iommuFlushIotlbAll(lazy);
    expect(() => cam.master.readNow(0x4000, b)).toThrow(DmaFault);
    iommuDetachDevice(lazy, cam);
    iommuDomainFree(lazy);
    expect(pages.allocated).toBe(0);
  });

  it('frees second-level tables only after the invalidation that hides them', () => {
    const { driver, cam, pages } = rig();
    const lazy = iommuDomainAlloc(driver, { flush: 'lazy' });
    iommuAttachDevice(lazy, cam);
    const base = pages.allocated;
    iommuMap(lazy, 0x10_0000, DRAM + 0x80_0000, 0x8000, RW);
    expect(pages.allocated).toBe(base + 1); // one page holding the 1 KiB table
    expect(iommuUnmap(lazy, 0x10_0000, MiB)).toBe(MiB); // a section-sized unmap removes the table
    expect(pages.allocated).toBe(base + 1);
    iommuFlushIotlbAll(lazy);
    expect(pages.allocated).toBe(base);
    iommuDetachDevice(lazy, cam);
    iommuDomainFree(lazy);
  });

  it('lets a fault handler map on demand and retry', () => {
    const { soc, driver, cam } = rig();
    const d = iommuDomainAlloc(driver);
    iommuAttachDevice(d, cam);
    const faults: number[] = [];
    iommuSetFaultHandler(d, (f) => {
      faults.push(f.iova);
      iommuMap(f.domain, f.iova - (f.iova % 0x1000), DRAM + 0xa0_0000 + (f.iova % 0x10000) - (f.iova % 0x1000), 0x1000, RW);
      return 'retry';
    });
    const data = pattern(0x3000, 2);
    cam.master.writeNow(0x2000_0000, data);
    expect(faults).toEqual([0x2000_0000, 0x2000_1000, 0x2000_2000]);
    expect(soc.mem.readBytes(DRAM + 0xa0_0000, 0x3000)).toEqual(data);
    expect(d.stats.faults).toBe(3);
    // Without a handler the SMMU warns and terminates.
    iommuSetFaultHandler(d, null);
    expect(() => cam.master.readNow(0x3000_0000, new Uint8Array(1))).toThrow(DmaFault);
    expect(soc.findings.ofKind('iommu-fault')).toHaveLength(1);
    iommuDetachDevice(d, cam);
    iommuDomainFree(d);
  });

  it('attaches one domain to several devices and keeps their TLBs coherent', () => {
    const { soc, driver, cam, isp } = rig();
    const d = iommuDomainAlloc(driver);
    iommuAttachDevice(d, cam);
    iommuAttachDevice(d, isp);
    const d2 = iommuDomainAlloc(driver);
    expect(() => iommuAttachDevice(d2, cam)).toThrow(/EBUSY/);
    iommuMap(d, 0x10_0000, DRAM + 0x80_0000, 0x2000, RW);
    cam.master.writeNow(0x10_0000, new Uint8Array([5, 6]));
    const b = new Uint8Array(2);
    isp.master.readNow(0x10_0000, b);
    expect(b).toEqual(new Uint8Array([5, 6]));
    iommuUnmap(d, 0x10_0000, 0x2000);
    expect(() => cam.master.readNow(0x10_0000, b)).toThrow(DmaFault);
    expect(() => isp.master.readNow(0x10_0000, b)).toThrow(DmaFault);
    expect(soc.findings.ofKind('stale-tlb')).toHaveLength(0);
    expect(() => iommuDomainFree(d)).toThrow(/still attached/);
    iommuDetachDevice(d, cam);
    iommuDetachDevice(d, isp);
    expect(() => iommuDetachDevice(d, isp)).toThrow(/EINVAL/);
    iommuDomainFree(d);
    iommuDomainFree(d2);
  });

  it('splits a context between a low and a high domain', () => {
    const { driver, cam } = rig();
    const low = iommuDomainAlloc(driver);
    const high = iommuDomainAlloc(driver);
    iommuAttachDevice(low, cam, 'low');
    iommuAttachDevice(high, cam, 'high');
    expect(() => iommuAttachDevice(iommuDomainAlloc(driver), cam, 'high')).toThrow(/EBUSY/);
    iommuMap(low, 0x10_0000, DRAM + 0x80_0000, 0x1000, RW);
    iommuMap(high, 0x8010_0000, DRAM + 0x90_0000, 0x1000, RW);
    iommuMap(high, 0x10_0000, DRAM + 0xa0_0000, 0x1000, RW); // never used: below the split
    expect(cam.ctx.translate(0x10_0000, false).pa).toBe(DRAM + 0x80_0000);
    expect(cam.ctx.translate(0x8010_0000, false).pa).toBe(DRAM + 0x90_0000);
    iommuDetachDevice(low, cam);
    expect(() => cam.ctx.translate(0x10_0000, false)).toThrow(DmaFault);
    expect(cam.ctx.translate(0x8010_0000, false).pa).toBe(DRAM + 0x90_0000);
  });

  it('maps scatterlists back to back and insists on the update bracket', () => {
    const { driver } = rig();
    const d = iommuDomainAlloc(driver);
    const n = iommuMapSg(
      d,
      0x40_0000,
      [
        { pa: DRAM + 0x100_0000, len: 0x3000 },
        { pa: DRAM + 0x200_0000, len: 0x1000 },
      ],
      RW,
    );
    expect(n).toBe(0x4000);
    expect(iommuIovaToPhys(d, 0x40_3000)).toBe(DRAM + 0x200_0000);
    expect(() => d.pgtable.mapPages(0x50_0000, DRAM, 0x1000, 1, RW)).toThrow(/outside smmu_update_start/);
    expect(() => driver.updateDone(d)).toThrow(KernelBug);
  });
});
