import { describe, expect, it } from 'vitest';
import { Smmu, Soc } from '../../src/hw/index.ts';
import { SmmuDriver, iommuAttachDevice, iommuDevice, iommuDomainAlloc, iommuMapPageList, iommuUnmap, type IommuDomain } from '../../src/iommu/index.ts';
import { MiB, type CostKind } from '../../src/lib/index.ts';
import { DRAM, TestPages } from './helpers.ts';

/**
 * The IOMMU cost model against the figures it was fitted to: iommu_map_sg
 * and iommu_unmap on a Qualcomm SM8150 SMMU, posted with "iommu/io-pgtable:
 * Optimize partial walk flush for large scatter-gather list" (2021), for
 * buffers of scattered 4 KiB pages, before the by-context TLB flush (every
 * unmapped page invalidated by address: tlbInvalidateAllOver Infinity).
 * That SMMU used the LPAE format, whose tables span 2 MiB: its 1 MiB unmap
 * cleared 256 leaves. unimem's v7s tables span 1 MiB, so the 1 MiB case is
 * unmapped from an IOVA off the 1 MiB grid, which makes the same work.
 */
const CITED = [
  { size: 4096, mapUs: 2.067, unmapUs: 1.854 },
  { size: 1 * MiB, mapUs: 148.89, unmapUs: 130.718 },
  { size: 32 * MiB, mapUs: 4747.171, unmapUs: 1033.364 },
];

function sm8150(): { soc: Soc; domain: IommuDomain } {
  const soc = new Soc({ seed: 1, banks: [{ name: 'dram', base: DRAM, size: 256 * MiB, kind: 'dram' }], masters: [{ name: 'gpu', coherent: true, bandwidth: 1e9, latencyNs: 0 }] });
  // ~0.126 us per TLBIVA: the 32 MiB unmap is 8192 of them and little else
  const smmu = new Smmu(soc, { name: 'smmu0', contexts: 2, tlbEntries: 64, walkNs: 150, tlbiNs: 126, syncNs: 200 });
  const driver = new SmmuDriver({ mem: soc.mem, pages: new TestPages(soc, DRAM, 8 * MiB), costs: soc.costs, tlbInvalidateAllOver: Infinity });
  driver.addSmmu(smmu);
  const domain = iommuDomainAlloc(driver);
  iommuAttachDevice(domain, iommuDevice('gpu', soc.master('gpu'), smmu.context(0)));
  return { soc, domain };
}

/** CPU ns the ledger took for `kinds` while `fn` ran. */
function costOf(soc: Soc, kinds: CostKind[], fn: () => void): number {
  const from = soc.costs.length;
  fn();
  let ns = 0;
  for (let i = from; i < soc.costs.length; i++) {
    const r = soc.costs.at(i);
    if (kinds.includes(r.kind)) ns += r.ns;
  }
  return ns;
}

/** Scattered pages: every other 4 KiB page from 16 MiB into DRAM, so no two are contiguous. */
function scattered(count: number): number[] {
  return Array.from({ length: count }, (_, i) => DRAM + 16 * MiB + i * 8192);
}

describe('IOMMU cost calibration (SM8150 figures, within 25%)', () => {
  for (const c of CITED) {
    it(`maps and unmaps ${c.size / 1024} KiB as the SM8150 did`, () => {
      const { soc, domain } = sm8150();
      const pages = c.size / 4096;
      const iova = c.size === 1 * MiB ? 0x0008_0000 : 0x1000_0000;
      const mapNs = costOf(soc, ['iommu-map'], () => iommuMapPageList(domain, iova, scattered(pages), pages, 3));
      const unmapNs = costOf(soc, ['iommu-unmap', 'tlb-invalidate'], () => expect(iommuUnmap(domain, iova, c.size)).toBe(c.size));
      const ratios = { map: mapNs / 1e3 / c.mapUs, unmap: unmapNs / 1e3 / c.unmapUs };
      expect(ratios.map).toBeGreaterThan(0.75);
      expect(ratios.map).toBeLessThan(1.25);
      expect(ratios.unmap).toBeGreaterThan(0.75);
      expect(ratios.unmap).toBeLessThan(1.25);
    });
  }

  it('charges the unmap of a whole v7s table as one entry, and the by-context flush as one invalidation', () => {
    // the default driver threshold is the by-context flush of newer kernels
    const { soc } = sm8150();
    const driver = new SmmuDriver({ mem: soc.mem, pages: new TestPages(soc, DRAM + 8 * MiB, 8 * MiB), costs: soc.costs });
    const smmu = new Smmu(soc, { name: 'smmu1', contexts: 1, tlbEntries: 64, walkNs: 150, tlbiNs: 126, syncNs: 200 });
    driver.addSmmu(smmu);
    soc.addMaster({ name: 'isp', coherent: true, bandwidth: 1e9, latencyNs: 0 });
    const d = iommuDomainAlloc(driver);
    iommuAttachDevice(d, iommuDevice('isp', soc.master('isp'), smmu.context(0)));
    iommuMapPageList(d, 0x1000_0000, scattered(8192), 8192, 3);
    const ns = costOf(soc, ['iommu-unmap', 'tlb-invalidate'], () => iommuUnmap(d, 0x1000_0000, 32 * MiB));
    // with one invalidate-all instead of 8192 by address, the 32 MiB unmap costs a few tens of us, not a millisecond
    expect(ns).toBeLessThan(50_000);
    expect(ns).toBeGreaterThan(1_140);
  });
});
