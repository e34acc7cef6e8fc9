import { KernelBug, hex, isPowerOfTwo, kerr, shouldFail, type FaultAttr } from '../lib/index.ts';
import { allClear, allSet, clearBits, findNextSetBit, findNextZeroBit, findZeroArea, setBits, alignStart } from './bitmap.ts';

/** Allocation strategy of a GenPool (genpool_algo_t). */
export type GenPoolAlgo = 'first-fit' | 'best-fit' | 'first-fit-order-align';

/** Options of GenPool.alloc. */
export interface GenPoolAllocOptions {
  /** Byte alignment of the returned address (power of two); absolute, not chunk-relative. */
  align?: number;
  algo?: GenPoolAlgo;
}

/** One chunk of a pool: a contiguous address range with its own bitmap (struct gen_pool_chunk). */
export interface GenPoolChunk {
  readonly start: number;
  /** One past the last address. */
  readonly end: number;
  /** Physical address of `start` (gen_pool_add_virt); equals start when not given. */
  readonly phys: number;
  /** Bytes not allocated. */
  avail: number;
  /** One bit per granule; set = allocated. */
  readonly map: Uint32Array;
  readonly bits: number;
}

/**
 * A general-purpose allocator of address ranges (struct gen_pool, lib/genalloc.c).
 * The pool manages numbers, not memory: chunks of any address space (IOVA
 * space, VCM regions, on-chip SRAM, per-device pools) are added with
 * `addChunk`, and ranges are handed out in units of 2^minAllocOrder bytes
 * from a per-chunk bitmap. Like the kernel's, it never sleeps and frees take
 * the size back from the caller; a free of bits that are not allocated is a
 * KernelBug and changes nothing.
 *
 * Chunks are searched in the order they were added. Best-fit picks the
 * smallest fitting free run over all chunks (the kernel's picks per chunk).
 */
export class GenPool {
  readonly name: string;
  readonly minAllocOrder: number;
  private readonly granule: number;
  private readonly chunkList: GenPoolChunk[] = [];
  private totalSize = 0;
  private totalAvail = 0;
  /** Default algorithm for `alloc` (gen_pool_set_algo). */
  algo: GenPoolAlgo = 'first-fit';
  /** The fail_gen_pool_alloc fault point, set by the pool's creator; null injects nothing. */
  failAlloc: FaultAttr | null = null;

  /** Creates an empty pool with a 2^minAllocOrder byte granule (gen_pool_create). */
  constructor(minAllocOrder: number, name = 'genpool') {
    if (!Number.isInteger(minAllocOrder) || minAllocOrder < 0 || minAllocOrder > 40) {
      throw kerr('EINVAL', `gen_pool ${name}: bad min_alloc_order ${minAllocOrder}`);
    }
    this.minAllocOrder = minAllocOrder;
    this.granule = 2 ** minAllocOrder;
    this.name = name;
  }

  /**
   * Adds [start, start+size) to the pool (gen_pool_add / gen_pool_add_virt).
   * `phys` is the physical address of `start` when the pool holds virtual
   * addresses. Overlapping an existing chunk is a KernelBug.
   */
  addChunk(start: number, size: number, phys = start): void {
    const g = this.granule;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(size) || start < 0 || size <= 0 || start % g !== 0 || size % g !== 0) {
      throw kerr('EINVAL', `gen_pool ${this.name}: chunk ${hex(start)}+${hex(size)} is not a positive multiple of ${g} bytes`);
    }
    const end = start + size;
    for (const c of this.chunkList) {
      if (start < c.end && c.start < end) {
        throw new KernelBug(`gen_pool ${this.name}: chunk ${hex(start)}-${hex(end)} overlaps chunk ${hex(c.start)}-${hex(c.end)}`);
      }
    }
    const bits = size / g;
    this.chunkList.push({ start, end, phys, avail: size, map: new Uint32Array(Math.ceil(bits / 32)), bits });
    this.totalSize += size;
    this.totalAvail += size;
  }

  /**
   * Allocates `size` bytes, rounded up to the granule, and returns the
   * address (gen_pool_alloc_algo). Throws KernelError EINVAL for a size that
   * is not a positive integer or an alignment that is not a power of two,
   * ENOMEM when nothing fits (the pool is unchanged).
   */
  alloc(size: number, opts?: GenPoolAllocOptions): number {
    const addr = this.tryAlloc(size, opts);
    if (addr === null) throw kerr('ENOMEM', `gen_pool ${this.name}: no ${hex(size)} bytes free${opts?.align ? ` aligned to ${hex(opts.align)}` : ''}`);
    return addr;
  }

  /**
   * As `alloc`, but null instead of ENOMEM, for callers that grow the pool
   * or fall back when it is full (a pool address may be 0, so failure
   * cannot be 0 as gen_pool_alloc's is).
   */
  tryAlloc(size: number, opts?: GenPoolAllocOptions): number | null {
    if (!(size > 0) || !Number.isSafeInteger(size)) throw kerr('EINVAL', `gen_pool ${this.name}: bad size ${size}`);
    const g = this.granule;
    const n = Math.ceil(size / g);
    const algo = opts?.algo ?? this.algo;
    let align = opts?.align ?? g;
    if (!isPowerOfTwo(align)) throw kerr('EINVAL', `gen_pool ${this.name}: alignment ${align} is not a power of two`);
    if (algo === 'first-fit-order-align') align = Math.max(align, 2 ** Math.ceil(Math.log2(n)) * g);
    const alignBits = Math.max(1, align / g);
    const mask = alignBits - 1;
    if (shouldFail(this.failAlloc, size, `gen_pool_alloc(${this.name})`)) return null;

    let bestChunk: GenPoolChunk | null = null;
    let bestBit = -1;
    let bestLen = Infinity;
    for (const c of this.chunkList) {
      if (c.avail < n * g) continue;
      const off = (c.start / g) % alignBits;
      if (algo !== 'best-fit') {
        const s = findZeroArea(c.map, 0, c.bits, n, mask, off);
        if (s >= 0) return this.take(c, s, n);
        continue;
      }
      // Best fit: walk every free run, keep the shortest one that holds n aligned bits.
      let i = 0;
      while (i < c.bits) {
        const z = findNextZeroBit(c.map, i, c.bits);
        if (z >= c.bits) break;
        const e = findNextSetBit(c.map, z, c.bits);
        const s = alignStart(z, mask, off);
        if (s + n <= e && e - z < bestLen) {
          bestLen = e - z;
          bestChunk = c;
          bestBit = s;
          if (bestLen === n) break;
        }
        i = e;
      }
      if (bestLen === n) break;
    }
    return bestChunk ? this.take(bestChunk, bestBit, n) : null;
  }

  /**
   * Allocates exactly [addr, addr+size) (gen_pool_alloc_algo with
   * gen_pool_fixed_alloc). EINVAL for a size that is not positive, ENOMEM
   * when the range is outside the pool's chunks or not all free.
   */
  allocAt(addr: number, size: number): number {
    const got = this.tryAllocAt(addr, size);
    if (got === null) throw kerr('ENOMEM', `gen_pool ${this.name}: ${hex(addr)}+${hex(size)} is not free`);
    return got;
  }

  /** As `allocAt`, but null instead of ENOMEM. */
  tryAllocAt(addr: number, size: number): number | null {
    if (!(size > 0) || !Number.isSafeInteger(size)) throw kerr('EINVAL', `gen_pool ${this.name}: bad size ${size}`);
    const c = this.chunkOf(addr);
    if (!c || addr % this.granule !== 0) return null;
    const n = Math.ceil(size / this.granule);
    const s = (addr - c.start) / this.granule;
    if (s + n > c.bits || !allClear(c.map, s, n)) return null;
    return this.take(c, s, n);
  }

  /**
   * Returns [addr, addr+size) to the pool (gen_pool_free). KernelBug, with
   * nothing changed, when the range is outside every chunk or any part of it
   * is not allocated.
   */
  free(addr: number, size: number): void {
    const g = this.granule;
    const c = this.chunkOf(addr);
    const n = Math.ceil(size / g);
    if (!c || !(size > 0) || addr % g !== 0 || addr + n * g > c.end) {
      throw new KernelBug(`gen_pool ${this.name}: free of ${hex(addr)}+${hex(size)} is outside the pool's chunks`);
    }
    const s = (addr - c.start) / g;
    if (!allSet(c.map, s, n)) {
      const first = findNextZeroBit(c.map, s, s + n);
      throw new KernelBug(
        `gen_pool ${this.name}: free of ${hex(addr)}+${hex(size)} covers ${hex(c.start + first * g)}, which is not allocated`,
      );
    }
    clearBits(c.map, s, n);
    c.avail += n * g;
    this.totalAvail += n * g;
  }

  /** Bytes free in the pool (gen_pool_avail). */
  avail(): number {
    return this.totalAvail;
  }

  /** Bytes the pool manages (gen_pool_size). */
  size(): number {
    return this.totalSize;
  }

  /** Size in bytes of the largest free run of any chunk (for statistics and fragmentation). */
  largestFree(): number {
    let best = 0;
    for (const c of this.chunkList) {
      let i = 0;
      while (i < c.bits) {
        const z = findNextZeroBit(c.map, i, c.bits);
        if (z >= c.bits) break;
        const e = findNextSetBit(c.map, z, c.bits);
        if (e - z > best) best = e - z;
        i = e;
      }
    }
    return best * this.granule;
  }

  /** True when `addr` lies in one of the pool's chunks (gen_pool_has_addr for one byte). */
  hasAddr(addr: number, size = 1): boolean {
    const c = this.chunkOf(addr);
    return c !== null && addr + size <= c.end;
  }

  /** Translates a pool address to its physical address (gen_pool_virt_to_phys); -1 when outside. */
  virtToPhys(addr: number): number {
    const c = this.chunkOf(addr);
    return c ? c.phys + (addr - c.start) : -1;
  }

  /** The pool's chunks, in the order they were added (gen_pool_for_each_chunk). */
  chunks(): readonly GenPoolChunk[] {
    return this.chunkList;
  }

  /** Checks the pool is unused before it is dropped (gen_pool_destroy); KernelBug when allocations remain. */
  destroy(): void {
    if (this.totalAvail !== this.totalSize) {
      throw new KernelBug(`gen_pool ${this.name}: destroyed with ${this.totalSize - this.totalAvail} bytes still allocated`);
    }
    this.chunkList.length = 0;
    this.totalAvail = 0;
    this.totalSize = 0;
  }

  private take(c: GenPoolChunk, bit: number, n: number): number {
    setBits(c.map, bit, n);
    const bytes = n * this.granule;
    c.avail -= bytes;
    this.totalAvail -= bytes;
    return c.start + bit * this.granule;
  }

  private chunkOf(addr: number): GenPoolChunk | null {
    for (const c of this.chunkList) if (addr >= c.start && addr < c.end) return c;
    return null;
  }
}
