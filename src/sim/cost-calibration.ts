import { CpuCache, Prng, PhysicalMemory, Smmu, Soc } from '../hw/index.ts';
import { SmmuDriver, iommuAttachDevice, iommuDevice, iommuDomainAlloc, iommuMapPageList, iommuUnmap, type IommuDomain } from '../iommu/index.ts';
import { MiB, type CostKind } from '../lib/index.ts';
import { PageAllocator } from '../mm/index.ts';
import { loadPlatform } from './platform.ts';

/** One published figure next to what the cost model gives for the same work. */
export interface CalibrationRow {
  figure: string;
  source: string;
  citedNs: number;
  modelNs: number;
  /** modelNs / citedNs. */
  ratio: number;
}

const SM8150 =
  'iommu_map_sg / iommu_unmap on a Qualcomm SM8150 SMMU, posted with "iommu/io-pgtable: Optimize partial walk flush for large scatter-gather list" (linux-arm-msm, 2021)';
const FLUSH_ALL = 'issue 14: flush_cache_all on a Cortex-A class core is "in the hundreds of us" (no primary measurement found; checked as 100-1000 us)';

const DRAM = 0x8000_0000;

/**
 * The SM8150 setup: a coherent SMMU walker, the default IOMMU CPU costs
 * (fitted to these figures), 126 ns per TLB invalidation by address, and
 * the page-by-page invalidation of the kernels before the by-context flush.
 */
function sm8150(): { soc: Soc; domain: IommuDomain } {
  const soc = new Soc({ seed: 1, banks: [{ name: 'dram', base: DRAM, size: 256 * MiB, kind: 'dram' }], masters: [{ name: 'gpu', coherent: true, bandwidth: 1e9, latencyNs: 0 }] });
  const smmu = new Smmu(soc, { name: 'smmu0', contexts: 1, tlbEntries: 64, walkNs: 150, tlbiNs: 126, syncNs: 200 });
  const pages = new PageAllocator([{ name: 'dram', base: DRAM, size: 16 * MiB }], { hw: { mem: soc.mem } });
  const driver = new SmmuDriver({ mem: soc.mem, pages, costs: soc.costs, tlbInvalidateAllOver: Infinity });
  driver.addSmmu(smmu);
  const domain = iommuDomainAlloc(driver);
  iommuAttachDevice(domain, iommuDevice('gpu', soc.master('gpu'), smmu.context(0)));
  return { soc, domain };
}

/** CPU ns the ledger took for `kinds` while `fn` ran. */
function costOf(soc: Soc, kinds: readonly CostKind[], fn: () => void): number {
  const from = soc.costs.length;
  fn();
  let ns = 0;
  for (let i = from; i < soc.costs.length; i++) {
    const r = soc.costs.at(i);
    if (kinds.includes(r.kind)) ns += r.ns;
  }
  return ns;
}

/**
 * The IOMMU rows: buffers of scattered 4 KiB pages mapped with
 * iommu_map_sg and unmapped with iommu_unmap. The SM8150 used the LPAE
 * format, whose tables span 2 MiB, so its 1 MiB unmap cleared 256 leaves;
 * v7s tables span 1 MiB, so that case is unmapped from an IOVA off the
 * 1 MiB grid, which makes the same work.
 */
function iommuRows(): CalibrationRow[] {
  const cited = [
    { size: 4096, map: 2.067, unmap: 1.854 },
    { size: 1 * MiB, map: 148.89, unmap: 130.718 },
    { size: 32 * MiB, map: 4747.171, unmap: 1033.364 },
  ];
  const rows: CalibrationRow[] = [];
  for (const c of cited) {
    const { soc, domain } = sm8150();
    const n = c.size / 4096;
    const iova = c.size === 1 * MiB ? 0x0008_0000 : 0x1000_0000;
    const pas = Array.from({ length: n }, (_, i) => DRAM + 32 * MiB + i * 8192);
    const mapNs = costOf(soc, ['iommu-map'], () => iommuMapPageList(domain, iova, pas, n, 3));
    const unmapNs = costOf(soc, ['iommu-unmap', 'tlb-invalidate'], () => {
      if (iommuUnmap(domain, iova, c.size) !== c.size) throw new Error(`calibration: unmap of ${c.size} bytes stopped short`);
    });
    const label = c.size >= MiB ? `${c.size / MiB} MiB` : `${c.size / 1024} KiB`;
    rows.push(row(`iommu_map_sg ${label}`, SM8150, c.map * 1e3, mapNs));
    rows.push(row(`iommu_unmap ${label}`, SM8150, c.unmap * 1e3, unmapNs));
  }
  return rows;
}

/** flush_cache_all of armv7-mobile's cache with every line dirty, the worst case a DMA sync can hit. */
function flushAllRow(): CalibrationRow {
  const p = loadPlatform('armv7-mobile');
  const mem = new PhysicalMemory([{ name: 'dram', base: DRAM, size: 64 * MiB, kind: 'dram' }]);
  const cache = new CpuCache(mem, new Prng(1), p.cpu.cache);
  const line = new Uint8Array(cache.lineSize).fill(0x5a);
  for (let a = 0; a < p.cpu.cache.size; a += cache.lineSize) cache.write(DRAM + a, line, 0, line.length);
  const ns = cache.cleanInvalidateAll();
  // the figure is a range: the row compares against the middle of it
  return { ...row('flush_cache_all, 1 MiB cache all dirty (armv7-mobile)', FLUSH_ALL, 300_000, ns) };
}

function row(figure: string, source: string, citedNs: number, modelNs: number): CalibrationRow {
  return { figure, source, citedNs, modelNs, ratio: modelNs / citedNs };
}

/** Each published figure the cost model's defaults are calibrated against, with the model's figure for the same work. */
export function costCalibration(): CalibrationRow[] {
  return [...iommuRows(), flushAllRow()];
}
