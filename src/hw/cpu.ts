import type { CpuCache } from './cache.ts';
import type { PhysicalMemory } from './memory.ts';
import { PageCounters } from './page-counters.ts';
import type { Prng } from './prng.ts';

/**
 * Memory types of a CPU mapping (ARMv7 TEX/C/B): normal write-back
 * cacheable, normal write-through, normal non-cacheable bufferable
 * ("write-combine"), and strongly-ordered/device. Only the first two are
 * cacheable; the others bypass the cache, except that they can still hit a
 * line that a cacheable alias brought in.
 */
export type MemType = 'wb' | 'wt' | 'wc' | 'device';

/** True for memory types the CPU caches. */
export function isCacheable(t: MemType): boolean {
  return t === 'wb' || t === 'wt';
}

export interface CpuConfig {
  /** Probability that an access triggers a speculative prefetch. */
  prefetchProbability: number;
  /** Whether device DMA snoops the cache (IO-coherent interconnect). */
  ioCoherent: boolean;
}

const PAGE = 4096;

/**
 * The CPU's view of memory: loads and stores by physical address with a
 * memory type, through the data cache. The CPU's MMU model counts, per
 * physical page, how many cacheable mappings exist; that is all speculation
 * needs, because any such mapping may be read speculatively at any time,
 * used or not (the ARMv6/v7 rule behind the aliasing checks).
 */
export class Cpu {
  readonly cfg: CpuConfig;
  readonly cache: CpuCache;
  readonly mem: PhysicalMemory;
  private readonly prng: Prng;
  private readonly cacheableMaps = new PageCounters();
  /** Lines a speculative access pulled in through a cacheable alias of a page being used uncached. */
  aliasPrefetches = 0;
  /**
   * Watches every cacheable CPU access (a debug watchpoint unit). The
   * kernel's DMA debugging uses it to catch the CPU touching a buffer the
   * device owns without the cache maintenance that hands it back; an
   * access through a non-cacheable mapping (write-combined, device) neither
   * sees stale lines nor leaves dirty ones, so it needs none: a dma-buf
   * whose exporter maps it write-combined (vgem, drm_gem_prime's ops) has
   * no begin_cpu_access at all.
   */
  accessHook: ((pa: number, len: number, write: boolean) => void) | null = null;
  /**
   * A page the hook has said it need not see (a watchpoint on nothing
   * there): accesses inside it skip the call until the hook's owner sets
   * this back to -1, which it does whenever what it watches changes.
   */
  quietPage = -1;

  constructor(mem: PhysicalMemory, cache: CpuCache, prng: Prng, cfg: Partial<CpuConfig> = {}) {
    this.mem = mem;
    this.cache = cache;
    this.prng = prng;
    this.cfg = { prefetchProbability: 0.0, ioCoherent: false, ...cfg };
  }

  /** Simulated ns the CPU has spent in memory accesses and cache maintenance. */
  get busyNs(): number {
    return this.cache.stats.busyNs;
  }

  /** Records that a mapping of [pa, pa+len) with type `t` now exists (set_pte). */
  mapRange(pa: number, len: number, t: MemType): void {
    if (isCacheable(t)) this.cacheableMaps.add(Math.floor(pa / PAGE), pages(pa, len), 1);
  }

  /** Records that such a mapping is gone (pte_clear + TLB flush). */
  unmapRange(pa: number, len: number, t: MemType): void {
    if (isCacheable(t)) this.cacheableMaps.add(Math.floor(pa / PAGE), pages(pa, len), -1);
  }

  /** Number of cacheable CPU mappings of the page holding `pa`. */
  cacheableMappings(pa: number): number {
    return this.cacheableMaps.get(Math.floor(pa / PAGE));
  }

  /** True when some cacheable mapping covers part of [pa, pa+len). */
  hasCacheableAlias(pa: number, len: number): boolean {
    return this.cacheableMaps.any(Math.floor(pa / PAGE), pages(pa, len));
  }

  /** A CPU load of `len` bytes at `pa` through a mapping of type `t`. */
  load(pa: number, dst: Uint8Array, dstOff: number, len: number, t: MemType): void {
    if (len <= 0) return;
    if (this.accessHook && isCacheable(t) && !this.quiet(pa, len)) this.accessHook(pa, len, false);
    if (isCacheable(t)) {
      this.cache.read(pa, dst, dstOff, len);
      this.prefetchNext(pa + len);
    } else {
      this.speculateAlias(pa, len);
      this.cache.readUncached(pa, dst, dstOff, len);
    }
  }

  /** A CPU store of `src[srcOff..srcOff+len)` at `pa` through a mapping of type `t`. */
  store(pa: number, src: Uint8Array, srcOff: number, len: number, t: MemType): void {
    if (len <= 0) return;
    if (this.accessHook && isCacheable(t) && !this.quiet(pa, len)) this.accessHook(pa, len, true);
    if (t === 'wb') {
      this.cache.write(pa, src, srcOff, len);
      this.prefetchNext(pa + len);
    } else if (t === 'wt') {
      this.cache.writeThrough(pa, src, srcOff, len);
    } else {
      this.speculateAlias(pa, len);
      this.cache.writeUncached(pa, src, srcOff, len);
    }
  }

  /** A CPU memset through a mapping of type `t`. */
  fill(pa: number, len: number, value: number, t: MemType): void {
    if (len <= 0) return;
    if (this.accessHook && isCacheable(t) && !this.quiet(pa, len)) this.accessHook(pa, len, true);
    if (t === 'wb') this.cache.fill(pa, len, value);
    else if (t === 'wt') this.cache.writeThrough(pa, new Uint8Array(len).fill(value), 0, len);
    else {
      this.speculateAlias(pa, len);
      this.cache.fillUncached(pa, len, value);
    }
  }

  /** True when [pa, pa+len) lies inside the page the access hook need not see. */
  private quiet(pa: number, len: number): boolean {
    const page = Math.floor(pa / PAGE);
    return page === this.quietPage && pa + len <= (page + 1) * PAGE;
  }

  /** The next-line prefetcher: a cacheable access may pull the following line in. */
  private prefetchNext(pa: number): void {
    if (!this.prng.chance(this.cfg.prefetchProbability)) return;
    if (this.cacheableMaps.get(Math.floor(pa / PAGE)) > 0) this.cache.prefetch(pa);
  }

  /**
   * Code that works on a page through an uncached mapping also touches it
   * through the kernel's cacheable linear map (page-struct walks, zeroing,
   * copy routines), and the core may speculate down that alias at any time.
   * With the prefetch probability, one line of the range comes in that way.
   */
  private speculateAlias(pa: number, len: number): void {
    if (!this.prng.chance(this.cfg.prefetchProbability)) return;
    const at = pa + this.prng.int(len);
    if (this.cacheableMaps.get(Math.floor(at / PAGE)) > 0 && this.cache.prefetch(at)) this.aliasPrefetches++;
  }
}

function pages(pa: number, len: number): number {
  return Math.ceil((pa + len) / PAGE) - Math.floor(pa / PAGE);
}
