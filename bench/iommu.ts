import { Smmu, Soc } from '../src/hw/index.ts';
import {
  IOMMU_CACHE,
  IOMMU_READ,
  IOMMU_WRITE,
  IovaDomain,
  SmmuDriver,
  iommuAttachDevice,
  iommuDetachDevice,
  iommuDevice,
  iommuDomainAlloc,
  iommuDomainFree,
  iommuMap,
  iommuMappingAt,
} from '../src/iommu/index.ts';
import { MiB } from '../src/lib/index.ts';
import { bootMm } from '../src/mm/index.ts';
import { bufferCopyBytesPerSec, timeLoop, type BenchResult } from './harness.ts';

const DRAM = 0x8000_0000;
const SIZE = 64 * MiB;
const BUF = DRAM + 128 * MiB;

/**
 * IOMMU benchmarks.
 *
 * iommu.stream-4k / iommu.stream-1m: a device reads a 64 MiB buffer through
 * its SMMU context, the buffer mapped with 4 KiB pages or with 1 MiB
 * sections (the same physical memory; only the IOVA's alignment differs).
 * TLB misses per MiB, simulated time (bus transfer + table walks) and wall
 * bytes/s against Buffer.copy of 64 MiB in the same run. `vsBufferCopy` is
 * the device path as DmaMaster drives it (one translate call per page or
 * section); `runVsBufferCopy` is the same stream when the master passes the
 * length it is about to move, which lets the context return one run over
 * physically contiguous pages (same TLB accounting, one copy per run).
 *
 * iommu.iova-cached / iommu.iova-tree: alloc+free pairs of a cached size
 * (16 KiB, the range caches) and of an uncached one (256 KiB, the tree),
 * with 1 000 and 1 000 000 live ranges; the ratio is the per-pair cost at a
 * million over the cost at a thousand.
 */
export default async function benchIommu(): Promise<BenchResult[]> {
  return [...stream(), ...iova()];
}

function stream(): BenchResult[] {
  const soc = new Soc({
    seed: 1,
    banks: [{ name: 'dram', base: DRAM, size: 256 * MiB, kind: 'dram' }],
    masters: [{ name: 'dev', coherent: false, bandwidth: 4e9, latencyNs: 100 }],
  });
  const mm = bootMm(soc, { reserved: [{ name: 'buffer', base: BUF, size: SIZE }], vmalloc: 32 * MiB });
  const smmu = new Smmu(soc, { name: 'smmu0', contexts: 2, tlbEntries: 64, walkNs: 150 });
  const driver = new SmmuDriver({ mem: soc.mem, pages: mm.pages, cache: soc.cache });
  driver.addSmmu(smmu);
  const dev = iommuDevice('dev', soc.master('dev'), smmu.context(0));
  for (let off = 0; off < SIZE; off += MiB) soc.mem.fill(BUF + off, MiB, (off / MiB) & 0xff);
  const dst = new Uint8Array(SIZE);
  const prot = IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE;
  const out: BenchResult[] = [];
  let baseline = 0;
  const measureBaseline = (): void => {
    baseline = Math.max(baseline, bufferCopyBytesPerSec(SIZE, 150));
  };
  measureBaseline();
  for (const [name, iova, pageSize] of [
    // iova = pa + 4 KiB (mod 64 KiB): only small pages fit. iova = pa + 1 MiB (mod 16 MiB): sections, no supersections.
    ['iommu.stream-4k', 0x1000_1000 - (BUF % 0x10000), 0x1000],
    ['iommu.stream-1m', 0x2010_0000 - (BUF % 0x1000000), 0x100000],
  ] as const) {
    const domain = iommuDomainAlloc(driver);
    iommuMap(domain, iova, BUF, SIZE, prot);
    if (iommuMappingAt(domain, iova + SIZE / 2)?.size !== pageSize) throw new Error(`${name}: mapped with the wrong page size`);
    iommuAttachDevice(domain, dev);
    const ctx = dev.ctx;

    // The device path: DmaMaster.readNow, one translate call per page or section.
    let best = Infinity;
    let misses = 0;
    let walkNs = 0;
    let busNs = 0;
    for (let k = 0; k < 5; k++) {
      // Every run starts with a cold TLB, as a new frame's stream would.
      ctx.tlbInvalidateAll();
      const m0 = smmu.stats.tlbMisses;
      const w0 = smmu.stats.walkNs;
      const t = performance.now();
      busNs = dev.master.readNow(iova, dst);
      best = Math.min(best, performance.now() - t);
      misses = smmu.stats.tlbMisses - m0;
      walkNs = smmu.stats.walkNs - w0;
      if (k === 2) measureBaseline();
    }
    if (dst[SIZE - 1] !== ((SIZE / MiB - 1) & 0xff)) throw new Error(`${name}: wrong data`);

    // The same stream with the length passed to the context: runs over contiguous pages.
    let bestRun = Infinity;
    for (let k = 0; k < 5; k++) {
      ctx.tlbInvalidateAll();
      const t = performance.now();
      let off = 0;
      while (off < SIZE) {
        const { pa, run } = ctx.translate(iova + off, false, SIZE - off);
        const n = Math.min(run, SIZE - off);
        soc.mem.read(pa, dst, off, n);
        off += n;
      }
      bestRun = Math.min(bestRun, performance.now() - t);
    }
    measureBaseline();
    iommuDetachDevice(domain, dev);
    iommuDomainFree(domain);
    const bps = (SIZE / best) * 1000;
    const runBps = (SIZE / bestRun) * 1000;
    out.push({
      bench: name,
      metrics: {
        bytes: SIZE,
        pageSize,
        tlbEntries: smmu.tlb.entries,
        tlbMissesPerMiB: misses / (SIZE / MiB),
        walkNs,
        simNs: busNs + walkNs,
        wallBytesPerSec: bps,
        runWallBytesPerSec: runBps,
        bufferCopyBytesPerSec: baseline,
      },
      ratios: { vsBufferCopy: bps / baseline, runVsBufferCopy: runBps / baseline },
    });
  }
  return out;
}

function iova(): BenchResult[] {
  const limit = 2 ** 40 - 1;
  const measure = (live: number, pages: number): number => {
    const d = new IovaDomain(4096, 1, live + 64);
    for (let i = 0; i < live; i++) d.allocIova(1 + (i % 7), limit);
    // Warm the path once, then time pairs.
    const p = d.allocIovaFast(pages, limit);
    d.freeIovaFast(p, pages);
    const r = timeLoop(() => {
      const x = d.allocIovaFast(pages, limit);
      d.freeIovaFast(x, pages);
    }, 300);
    return r.msPerOp * 1e6;
  };
  const out: BenchResult[] = [];
  for (const [name, pages] of [
    ['iommu.iova-cached', 4],
    ['iommu.iova-tree', 64],
  ] as const) {
    const small = measure(1000, pages);
    const big = measure(1_000_000, pages);
    out.push({
      bench: name,
      metrics: { pairBytes: pages * 4096, nsPerPair1k: small, nsPerPair1M: big, pairsPerSec1k: 1e9 / small, pairsPerSec1M: 1e9 / big },
      ratios: { cost1MOver1k: big / small },
    });
  }
  return out;
}
