import { describe, expect, it } from 'vitest';
import { Smmu, Soc } from '../../src/hw/index.ts';
import { SmmuDriver, iommuAttachDevice, iommuDevice, iommuDomainAlloc, iommuMapPageList, iommuUnmap } from '../../src/iommu/index.ts';
import { MiB } from '../../src/lib/index.ts';
import { PageAllocator } from '../../src/mm/index.ts';
import { costCalibration } from '../../src/sim/cost-calibration.ts';

describe('the cost model against published figures', () => {
  const rows = costCalibration();

  it('covers every cited figure: the SM8150 map and unmap at 4 KiB, 1 MiB and 32 MiB, and flush_cache_all', () => {
    expect(rows.map((r) => r.figure)).toEqual([
      'iommu_map_sg 4 KiB',
      'iommu_unmap 4 KiB',
      'iommu_map_sg 1 MiB',
      'iommu_unmap 1 MiB',
      'iommu_map_sg 32 MiB',
      'iommu_unmap 32 MiB',
      'flush_cache_all, 1 MiB cache all dirty (armv7-mobile)',
    ]);
  });

  for (const r of rows.slice(0, 6)) {
    it(`${r.figure}: within 25% of the SM8150's ${(r.citedNs / 1e3).toFixed(2)} us`, () => {
      expect(r.ratio).toBeGreaterThan(0.75);
      expect(r.ratio).toBeLessThan(1.25);
    });
  }

  it('flush_cache_all of a dirty 1 MiB cache takes hundreds of microseconds', () => {
    const r = rows[6]!;
    expect(r.modelNs).toBeGreaterThanOrEqual(100_000);
    expect(r.modelNs).toBeLessThan(1_000_000);
  });

  it('the by-context flush of newer kernels (the driver default) makes the 32 MiB unmap one invalidation, not 8192', () => {
    const base = 0x8000_0000;
    const soc = new Soc({ seed: 1, banks: [{ name: 'dram', base, size: 128 * MiB, kind: 'dram' }], masters: [{ name: 'isp', coherent: true, bandwidth: 1e9, latencyNs: 0 }] });
    const smmu = new Smmu(soc, { name: 'smmu0', contexts: 1, tlbEntries: 64, walkNs: 150, tlbiNs: 126, syncNs: 200 });
    const driver = new SmmuDriver({ mem: soc.mem, pages: new PageAllocator([{ name: 'dram', base, size: 16 * MiB }], { hw: { mem: soc.mem } }), costs: soc.costs });
    driver.addSmmu(smmu);
    const d = iommuDomainAlloc(driver);
    iommuAttachDevice(d, iommuDevice('isp', soc.master('isp'), smmu.context(0)));
    iommuMapPageList(d, 0x1000_0000, Array.from({ length: 8192 }, (_, i) => base + 32 * MiB + i * 8192), 8192, 3);
    const from = soc.costs.length;
    expect(iommuUnmap(d, 0x1000_0000, 32 * MiB)).toBe(32 * MiB);
    const tlb = Array.from({ length: soc.costs.length - from }, (_, i) => soc.costs.at(from + i)).filter((r) => r.kind === 'tlb-invalidate');
    expect(tlb).toHaveLength(1);
    expect(tlb[0]!.ns).toBeLessThan(1_000);
  });
});
