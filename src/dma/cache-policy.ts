import type { CpuCache } from '../hw/index.ts';
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaDirection } from './direction.ts';

/**
 * Cache maintenance around DMA for non-coherent devices, as ARMv7 does it
 * (arch/arm/mm/cache-v7.S v7_dma_map_area/v7_dma_unmap_area): before the
 * device reads, dirty lines are cleaned; before the CPU reads what the
 * device wrote, lines are invalidated, at map time and again at unmap time
 * because speculative prefetch may have refilled them meanwhile. Partial
 * lines at the ends of an invalidated range are cleaned first so that
 * neighbouring data sharing the line is not lost.
 *
 * Above a size threshold, walking the range line by line costs more than
 * flushing the whole cache by set/way, so the whole cache is flushed
 * instead. The threshold is measured on this cache at boot (the "heuristic
 * analysis at system startup" of the sources), or given by the platform.
 */
export class CachePolicy {
  readonly cache: CpuCache;
  /** Ranges of this many bytes or more are maintained with a whole-cache operation. */
  threshold: number;
  readonly calibrated: boolean;

  constructor(cache: CpuCache, threshold: number | 'auto' = 'auto') {
    this.cache = cache;
    this.calibrated = threshold === 'auto';
    this.threshold = threshold === 'auto' ? calibrateFlushThreshold(cache) : threshold;
  }

  /** Prepares memory for the device (__dma_page_cpu_to_dev). Returns ns spent. */
  cpuToDevice(pa: number, len: number, dir: DmaDirection): number {
    if (len >= this.threshold) return dir === DMA_FROM_DEVICE ? this.cache.cleanInvalidateAll() : this.cache.cleanAll();
    return dir === DMA_FROM_DEVICE ? this.invalidate(pa, len) : this.cache.cleanRange(pa, len);
  }

  /** Makes what the device wrote visible to the CPU (__dma_page_dev_to_cpu). Returns ns spent. */
  deviceToCpu(pa: number, len: number, dir: DmaDirection): number {
    if (dir === DMA_TO_DEVICE) return 0;
    if (len >= this.threshold) return this.cache.cleanInvalidateAll();
    return this.invalidate(pa, len);
  }

  /** Writes back and drops every line of a range (dmac_flush_range), used when a buffer changes memory type. */
  flush(pa: number, len: number): number {
    if (len >= this.threshold) return this.cache.cleanInvalidateAll();
    return this.cache.cleanInvalidateRange(pa, len);
  }

  /** v7_dma_inv_range: clean+invalidate partial edge lines, invalidate the rest. */
  private invalidate(pa: number, len: number): number {
    const L = this.cache.lineSize;
    const start = pa;
    const end = pa + len;
    let ns = 0;
    let a = start;
    let b = end;
    if (a % L !== 0) {
      const lineStart = a - (a % L);
      ns += this.cache.cleanInvalidateRange(lineStart, L);
      a = lineStart + L;
    }
    if (b % L !== 0 && b > a) {
      const lineStart = b - (b % L);
      ns += this.cache.cleanInvalidateRange(lineStart, L);
      b = lineStart;
    }
    if (b > a) ns += this.cache.invalidateRange(a, b - a);
    return ns;
  }
}

/**
 * Measures, on the cache itself, the range size at which maintenance by
 * address costs as much as a whole-cache clean+invalidate. Both probes are
 * real operations (clean+invalidate never loses data); their statistics are
 * rolled back so that a run's counters show only its own work.
 */
export function calibrateFlushThreshold(cache: CpuCache): number {
  const saved = { ...cache.stats };
  // the probe is the simulator measuring, not work anybody did
  const ledger = cache.ledger;
  cache.ledger = null;
  const probe = 256 * cache.lineSize;
  const rangeNs = cache.cleanInvalidateRange(0, probe);
  const wholeNs = cache.cleanInvalidateAll();
  Object.assign(cache.stats, saved);
  cache.ledger = ledger;
  const lines = Math.ceil((wholeNs / rangeNs) * (probe / cache.lineSize));
  return Math.max(1, lines) * cache.lineSize;
}
