import { Soc } from '../src/hw/index.ts';
import { GiB, MiB } from '../src/lib/index.ts';
import { BackgroundLoad, bootMm, GenPool, PageAllocator, pageAllocatorStats } from '../src/mm/index.ts';
import { bufferCopyBytesPerSec, timeLoop, type BenchResult } from './harness.ts';

const LIVE = 4096;

/**
 * Order-0 alloc+free pairs against a working set of LIVE outstanding pages
 * (the oldest is freed as a new one is allocated), so splits and merges
 * happen as in a running system rather than one page bouncing on a list head.
 */
function pairsPerSec(p: PageAllocator): number {
  const ring = new Int32Array(LIVE);
  for (let i = 0; i < LIVE; i++) ring[i] = p.allocPages(0, { movable: (i & 1) === 0 });
  let k = 0;
  const batch = 2000;
  const r = timeLoop(() => {
    for (let j = 0; j < batch; j++) {
      p.freePages(ring[k]!, 0);
      ring[k] = p.allocPages(0, { movable: (k & 1) === 0 });
      k = (k + 1) % LIVE;
    }
  }, 400);
  for (let i = 0; i < LIVE; i++) p.freePages(ring[i]!, 0);
  return r.opsPerSec * batch;
}

/** The mm layer's benchmarks: page allocator speed and scaling, CMA allocation under load, genalloc. */
export default async function benchMm(): Promise<BenchResult[]> {
  const out: BenchResult[] = [];

  out.push(benchPageAlloc());
  out.push(await benchCma());
  out.push(benchGenalloc());
  return out;
}

/** Page allocator: the same working-set loop over 1 GiB and over 64 GiB of RAM. */
function benchPageAlloc(): BenchResult {
  const small = new PageAllocator([{ name: 'dram0', base: 0x8000_0000, size: 1 * GiB }]);
  const t0 = performance.now();
  const big = new PageAllocator([{ name: 'dram0', base: 0x8_0000_0000, size: 64 * GiB }]);
  const boot64Ms = performance.now() - t0;
  pairsPerSec(small); // warm up the JIT on both
  const p1 = pairsPerSec(small);
  const p64 = pairsPerSec(big);
  return {
    bench: 'mm.page-alloc-order0',
    metrics: {
      pairsPerSec1GiB: p1,
      pairsPerSec64GiB: p64,
      nsPerPair1GiB: 1e9 / p1,
      nsPerPair64GiB: 1e9 / p64,
      init64GiBMs: boot64Ms,
    },
    ratios: { cost64GiBOver1GiB: p1 / p64 },
  };
}

/** CMA: a 64 MiB allocation from a 256 MiB area 90% filled with movable pages, against Buffer.copy of the migrated bytes. */
async function benchCma(): Promise<BenchResult> {
  const soc = new Soc({
    seed: 11,
    banks: [{ name: 'dram0', base: 0x1_0000_0000, size: 512 * MiB, kind: 'dram' }],
    masters: [],
  });
  const mm = bootMm(soc, { cma: { default: 256 * MiB } });
  const area = mm.defaultCma!;
  const bg = new BackgroundLoad(mm.pages, soc.mem, soc.cache, soc.prng);
  // Fill everything, then free random pages until the area is 90% used
  // (random frees keep the fill even over the area), then reclaim elsewhere
  // so migration targets exist outside the area.
  while (bg.fillMovable(8192) > 0);
  while (pageAllocatorStats(mm.pages).freeByType.cma < area.count * 0.1) bg.freeMovable(1024);
  bg.freeMovableOutside(12288, area.basePfn, area.basePfn + area.count);
  const areaFill = area.stats().borrowedPages / area.count;
  const count = (64 * MiB) / 4096;
  const simBefore = soc.clock.now;
  const w0 = performance.now();
  const pfn = await soc.clock.runUntilSettled(area.alloc(count, 8));
  const wallMs = performance.now() - w0;
  const st = area.stats();
  const verify = bg.verify();
  const bytes = st.pagesMigrated * 4096;
  const copyBps = bufferCopyBytesPerSec(Math.max(bytes, 4096), 300);
  const copyMs = (bytes / copyBps) * 1000;
  const result: BenchResult = {
    bench: 'mm.cma-alloc-64MiB',
    metrics: {
      ok: pfn === null ? 0 : 1,
      areaFillPct: areaFill * 100,
      pagesMigrated: st.pagesMigrated,
      busyRetries: st.busyRetries,
      wallMs,
      simMs: (soc.clock.now - simBefore) / 1e6,
      bufferCopyMsSameBytes: copyMs,
      dataMismatches: verify.mismatches,
    },
    ratios: { wallOverBufferCopy: wallMs / copyMs },
  };
  if (pfn !== null) area.release(pfn, count);
  return result;
}

/** genalloc: an IOVA-like 1 GiB pool with 1024 live ranges of mixed sizes, each reallocated size-aligned. */
function benchGenalloc(): BenchResult {
  const pool = new GenPool(12, 'bench');
  pool.addChunk(0x1000_0000, 1 * GiB);
  const addrs = new Float64Array(1024);
  const sizes = new Float64Array(1024);
  for (let i = 0; i < 1024; i++) {
    sizes[i] = 4096 << (i % 5);
    addrs[i] = pool.alloc(sizes[i]!)!;
  }
  let g = 0;
  const gr = timeLoop(() => {
    for (let j = 0; j < 500; j++) {
      pool.free(addrs[g]!, sizes[g]!);
      addrs[g] = pool.alloc(sizes[g]!, { align: sizes[g]! })!;
      g = (g + 1) % 1024;
    }
  }, 300);
  return { bench: 'mm.genalloc', metrics: { allocFreePairsPerSec: gr.opsPerSec * 500, poolBytes: pool.size() }, ratios: {} };
}
