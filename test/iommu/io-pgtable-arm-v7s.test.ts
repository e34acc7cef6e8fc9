import { describe, expect, it } from 'vitest';
import { Soc } from '../../src/hw/index.ts';
import { IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE } from '../../src/iommu/index.ts';
import { ArmV7sPgtable } from '../../src/iommu/io-pgtable-arm-v7s.ts';
import {
  IOMMU_CACHE_WT,
  IOMMU_MMIO,
  IOMMU_NOEXEC,
  IOMMU_NS,
  IOMMU_PRIV,
  IOMMU_SHARED,
} from '../../src/iommu/prot.ts';
import { IotlbGather } from '../../src/iommu/iotlb-gather.ts';
import { MiB } from '../../src/lib/index.ts';
import { DRAM, TestPages } from './helpers.ts';

/*
 * What io-pgtable-arm-v7s writes into memory, word for word, against
 * descriptors derived by hand from the ARM ARM's short-descriptor format.
 * The mapped PAs need no memory behind them: only the tables are read.
 */

const SZ_4K = 0x1000;
const SZ_64K = 0x10000;
const SZ_1M = 0x100000;
const SZ_16M = 0x1000000;

function setup() {
  const soc = new Soc({ seed: 1, banks: [{ name: 'dram', base: DRAM, size: 8 * MiB, kind: 'dram' }], masters: [] });
  const pages = new TestPages(soc, DRAM, 8 * MiB);
  const pt = new ArmV7sPgtable({ mem: soc.mem, pages });
  const l1 = (index: number) => soc.mem.readU32(pt.ttbr + index * 4);
  /** The level-2 word for iova, after checking its level-1 word is a table pointer (type 0b01). */
  const l2 = (iova: number) => {
    const d1 = l1(iova >>> 20);
    expect(d1 & 0x3ff).toBe(0x001); // [1:0] 0b01 page table, NS 0, domain 0
    return soc.mem.readU32(((d1 & 0xfffffc00) >>> 0) + ((iova >>> 12) & 0xff) * 4);
  };
  return { soc, pages, pt, l1, l2 };
}

describe('io-pgtable-arm-v7s descriptors, word for word', () => {
  it('a small page at 0x12345000, read-only and execute-never', () => {
    const { pt, l2 } = setup();
    expect(pt.mapPages(0x00405000, 0x12345000, SZ_4K, 1, IOMMU_READ | IOMMU_CACHE | IOMMU_NOEXEC)).toBe(SZ_4K);
    // [31:12] 0x12345 | AP[2] 0x200 (RO) | TEX[8:6]=001 0x40 | AP[1:0]=11 0x30
    // (AF, unprivileged) | C 0x8 | B 0x4 | small 0x2 | XN 0x1
    expect(l2(0x00405000)).toBe(0x1234527f);
    expect(l2(0x00404000)).toBe(0);
    expect(l2(0x00406000)).toBe(0);
    expect(pt.leafAt(0x00405123)).toEqual({ base: 0x12345000, size: SZ_4K, prot: IOMMU_READ | IOMMU_CACHE | IOMMU_NOEXEC });
    expect(pt.iovaToPhys(0x00405123)).toBe(0x12345123);
  });

  it('a 64 KiB large page, written to 16 slots; a 4 KiB unmap splits it into small pages', () => {
    const { pt, l2 } = setup();
    pt.mapPages(0x00430000, 0x12340000, SZ_64K, 1, IOMMU_READ | IOMMU_WRITE | IOMMU_SHARED);
    // [31:16] 0x1234 | XN(15) 0 | TEX[14:12]=001 0x1000 | S 0x400 | AP[1:0]=11 0x30
    // | C 0, B 0 (normal non-cacheable) | large 0b01
    for (let va = 0x00430000; va < 0x00440000; va += SZ_4K) expect(l2(va)).toBe(0x12341431);
    expect(l2(0x0042f000)).toBe(0);
    expect(l2(0x00440000)).toBe(0);
    expect(pt.leafAt(0x00438000)).toEqual({ base: 0x12340000, size: SZ_64K, prot: IOMMU_READ | IOMMU_WRITE | IOMMU_SHARED });

    const gather = new IotlbGather();
    expect(pt.unmap(0x00431000, SZ_4K, gather)).toBe(SZ_4K);
    // Small pages now: TEX moves to [8:6] 0x40, S 0x400, AP 0x30, small 0x2.
    expect(l2(0x00430000)).toBe(0x12340472);
    expect(l2(0x00431000)).toBe(0);
    expect(l2(0x00432000)).toBe(0x12342472);
    expect(l2(0x0043f000)).toBe(0x1234f472);
    expect([gather.start, gather.end]).toEqual([0x00430000, 0x00440000]);
  });

  it('a 1 MiB section for privileged device access; a 4 KiB unmap splits it into a table', () => {
    const { pt, l1, l2 } = setup();
    pt.mapPages(0x00700000, 0x12300000, SZ_1M, 1, IOMMU_READ | IOMMU_WRITE | IOMMU_MMIO | IOMMU_PRIV | IOMMU_NOEXEC);
    // [31:20] 0x123 | AP[2] 0 | TEX 0 | AP[1:0]=01 0x400 (AF, privileged) | XN(4) 0x10
    // | C 0, B 0x4 (device) | section 0b10
    expect(l1(0x007)).toBe(0x12300416);
    expect(l1(0x006)).toBe(0);
    expect(l1(0x008)).toBe(0);

    const gather = new IotlbGather();
    expect(pt.unmap(0x00701000, SZ_4K, gather)).toBe(SZ_4K);
    // Small pages with the same prot: AP[1:0]=01 0x10 | B 0x4 | small 0x2 | XN 0x1.
    expect(l2(0x00700000)).toBe(0x12300017);
    expect(l2(0x00701000)).toBe(0);
    expect(l2(0x007ff000)).toBe(0x123ff017);
  });

  it('a 16 MiB supersection in 16 slots; a 1 MiB unmap splits it into sections', () => {
    const { pt, l1 } = setup();
    pt.mapPages(0x02000000, 0x11000000, SZ_16M, 1, IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE);
    // [31:24] 0x11 | PA[35:32] 0 | supersection(18) 0x40000 | TEX=001 0x1000
    // | AP[1:0]=11 0xc00 | PA[39:36] 0 | C 0x8 | B 0x4 | 0b10
    for (let i = 0x20; i < 0x30; i++) expect(l1(i)).toBe(0x11041c0e);
    expect(l1(0x1f)).toBe(0);
    expect(l1(0x30)).toBe(0);
    expect(pt.iovaToPhys(0x02abcdef)).toBe(0x11abcdef);

    const gather = new IotlbGather();
    expect(pt.unmap(0x02100000, SZ_1M, gather)).toBe(SZ_1M);
    // Sections: bit 18 clear, PA[31:20] per MiB.
    expect(l1(0x20)).toBe(0x11001c0e);
    expect(l1(0x21)).toBe(0);
    expect(l1(0x22)).toBe(0x11201c0e);
    expect(l1(0x2f)).toBe(0x11f01c0e);
  });

  it('the unimem attribute extensions: write-through and non-secure sections', () => {
    const { pt, l1 } = setup();
    pt.mapPages(0x00800000, 0x12400000, SZ_1M, 1, IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE | IOMMU_CACHE_WT | IOMMU_NS);
    // [31:20] 0x124 | NS(19) 0x80000 | TEX 0 | AP[1:0]=11 0xc00 | C 0x8, B 0 (write-through) | 0b10
    expect(l1(0x008)).toBe(0x12480c0a);
    expect(pt.leafAt(0x00800000)!.prot).toBe(IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE | IOMMU_CACHE_WT | IOMMU_NS);
  });
});
