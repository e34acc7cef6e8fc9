import { KernelBug, alignUp, hex, kerr } from '../lib/index.ts';
import { GenPool } from '../mm/index.ts';
import { VCM_PHYS_1M, VCM_PHYS_4K, VCM_PHYS_64K, VCM_PHYS_CONT, attrAlign } from './vcm-attrs.ts';
import type { Reservation } from './vcm.ts';
import type { Vcmm } from './vcmm.ts';

const SZ_4K = 0x1000;
const SZ_64K = 0x10000;
const SZ_1M = 0x100000;
/** Block sizes of the block pools, largest first. */
export const VCM_BLOCK_SIZES: readonly number[] = [SZ_1M, SZ_64K, SZ_4K];

/** The physical memory a memory target manages. */
export interface MemoryTargetConfig {
  /** The memtype name vcm_phys_alloc selects the target by. */
  name: string;
  /**
   * Block pools carved upwards from `base` (1 MiB aligned): count1M blocks of
   * 1 MiB, then count64K of 64 KiB, then count4K of 4 KiB.
   */
  blocks?: { base: number; count1M?: number; count64K?: number; count4K?: number };
  /** One contiguous pool. */
  contiguous?: { base: number; size: number };
}

/** One block pool: equal, naturally aligned blocks handed out lowest address first. */
class BlockPool {
  readonly size: number;
  readonly base: number;
  readonly count: number;
  private readonly stack: Float64Array;
  private top: number;
  private readonly taken: Uint8Array;

  constructor(base: number, size: number, count: number) {
    this.size = size;
    this.base = base;
    this.count = count;
    this.stack = new Float64Array(count);
    for (let i = 0; i < count; i++) this.stack[i] = base + (count - 1 - i) * size;
    this.top = count;
    this.taken = new Uint8Array(count);
  }

  get free(): number {
    return this.top;
  }

  take(): number {
    if (this.top === 0) return -1;
    const pa = this.stack[--this.top]!;
    this.taken[(pa - this.base) / this.size] = 1;
    return pa;
  }

  put(pa: number): void {
    const i = (pa - this.base) / this.size;
    if (!Number.isInteger(i) || i < 0 || i >= this.count || !this.taken[i]) {
      throw new KernelBug(`vcm: block ${hex(pa)} of ${hex(this.size)} is not allocated from this pool`);
    }
    this.taken[i] = 0;
    this.stack[this.top++] = pa;
  }
}

/**
 * A memory target (the VCMM's memtype): a platform-defined pool of physical
 * memory, as block pools of 1 MiB, 64 KiB and 4 KiB blocks and/or one
 * contiguous pool. The memory is the target's from creation on; the caller
 * took it out of the page allocator's hands (a carveout or reservation).
 */
export class MemoryTarget {
  readonly name: string;
  readonly ranges: { base: number; size: number }[] = [];
  private readonly pools = new Map<number, BlockPool>();
  readonly contig: GenPool | null = null;

  constructor(cfg: MemoryTargetConfig) {
    this.name = cfg.name;
    if (cfg.blocks) {
      const b = cfg.blocks;
      if (b.base % SZ_1M !== 0) throw kerr('EINVAL', `memory target ${cfg.name}: block pool base ${hex(b.base)} is not 1 MiB aligned`);
      let at = b.base;
      for (const [size, n] of [
        [SZ_1M, b.count1M ?? 0],
        [SZ_64K, b.count64K ?? 0],
        [SZ_4K, b.count4K ?? 0],
      ] as const) {
        if (!Number.isInteger(n) || n < 0) throw kerr('EINVAL', `memory target ${cfg.name}: bad block count ${n}`);
        if (n === 0) continue;
        this.pools.set(size, new BlockPool(at, size, n));
        at += n * size;
      }
      if (at > b.base) this.ranges.push({ base: b.base, size: at - b.base });
    }
    if (cfg.contiguous) {
      const c = cfg.contiguous;
      const pool = new GenPool(12, `vcm-${cfg.name}-contig`);
      pool.addChunk(c.base, c.size);
      this.contig = pool;
      this.ranges.push({ base: c.base, size: c.size });
    }
    if (this.ranges.length === 0) throw kerr('EINVAL', `memory target ${cfg.name} has no memory`);
    const sorted = [...this.ranges].sort((x, y) => x.base - y.base);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i - 1]!.base + sorted[i - 1]!.size > sorted[i]!.base) throw kerr('EINVAL', `memory target ${cfg.name}: pools overlap`);
    }
  }

  /** Free blocks of `size` in the block pools. */
  freeBlocks(size: number): number {
    return this.pools.get(size)?.free ?? 0;
  }

  /** True when [pa, pa+len) lies inside one of the target's ranges. */
  contains(pa: number, len: number): boolean {
    return this.ranges.some((r) => pa >= r.base && pa + len <= r.base + r.size);
  }

  /** Takes one block of `size`, or -1. */
  takeBlock(size: number): number {
    return this.pools.get(size)?.take() ?? -1;
  }

  /** Returns a block. */
  putBlock(pa: number, size: number): void {
    const p = this.pools.get(size);
    if (!p) throw new KernelBug(`vcm: memory target ${this.name} has no ${hex(size)} blocks`);
    p.put(pa);
  }
}

/**
 * A physical memory allocation (struct physmem): the chunks backing it, in
 * the order they back a reservation. Chunks from the block pools come
 * largest first, so a reservation aligned to the largest block maps every
 * chunk with a page of its own size.
 */
export class PhysMem {
  readonly target: MemoryTarget;
  /** Bytes asked for, rounded up to 4 KiB. */
  readonly len: number;
  readonly attr: number;
  readonly pas: Float64Array;
  readonly sizes: Float64Array;
  /** True when the chunks form one physically contiguous range. */
  readonly contiguous: boolean;
  /** Reservations this memory backs. */
  readonly backings = new Set<Reservation>();
  /** Set once the memory is mapped in more than one space: every mapping of it is then shareable. */
  shareable = false;
  freed = false;
  private readonly fromContig: boolean;

  constructor(target: MemoryTarget, len: number, attr: number, chunks: { pa: number; size: number }[], fromContig: boolean) {
    this.target = target;
    this.len = len;
    this.attr = attr;
    this.pas = Float64Array.from(chunks.map((c) => c.pa));
    this.sizes = Float64Array.from(chunks.map((c) => c.size));
    this.fromContig = fromContig;
    let cont = true;
    for (let i = 1; i < chunks.length; i++) if (chunks[i]!.pa !== chunks[i - 1]!.pa + chunks[i - 1]!.size) cont = false;
    this.contiguous = cont;
  }

  /** Number of chunks. */
  get chunks(): number {
    return this.pas.length;
  }

  /** Bytes of the chunks (at least len). */
  get size(): number {
    let s = 0;
    for (let i = 0; i < this.sizes.length; i++) s += this.sizes[i]!;
    return s;
  }

  /** Physical address of the first byte. */
  get base(): number {
    return this.pas[0]!;
  }

  /** Calls fn(pa, len, offset) for each chunk, cut off after `len` bytes. */
  forEachChunk(len: number, fn: (pa: number, n: number, off: number) => void): void {
    let off = 0;
    for (let i = 0; i < this.pas.length && off < len; i++) {
      const n = Math.min(this.sizes[i]!, len - off);
      fn(this.pas[i]!, n, off);
      off += n;
    }
  }

  /** The page frame numbers of the first `len` bytes, in order. */
  pfns(len: number): number[] {
    const out: number[] = [];
    this.forEachChunk(len, (pa, n) => {
      for (let p = 0; p < n; p += SZ_4K) out.push((pa + p) / SZ_4K);
    });
    return out;
  }

  /** Returns the chunks to their pools (used by vcmPhysFree). */
  release(): void {
    for (let i = 0; i < this.pas.length; i++) {
      if (this.fromContig) this.target.contig!.free(this.pas[i]!, this.sizes[i]!);
      else this.target.putBlock(this.pas[i]!, this.sizes[i]!);
    }
  }
}

/**
 * Allocates physical memory from memory target `memtype` (vcm_phys_alloc).
 * With VCM_PHYS_CONT it is one chunk of the contiguous pool, aligned to the
 * alignment attribute or else to the largest SMMU page size it can use.
 * Otherwise it is blocks of the block pools, largest first, never splitting
 * a block: 1 MiB blocks while at least 1 MiB is left, then 64 KiB, then
 * 4 KiB; a remainder no smaller block can cover takes the next larger block
 * free. The block-size bits restrict the sizes used; the alignment attribute
 * excludes blocks smaller than it. ENODEV for an unknown target, ENOMEM
 * when the pools cannot cover the request (nothing stays allocated).
 */
export function vcmPhysAlloc(vcmm: Vcmm, memtype: string, len: number, attr = 0): PhysMem {
  const target = vcmm.targets.get(memtype);
  if (!target) throw kerr('ENODEV', `vcm_phys_alloc: no memory target ${memtype}`);
  if (!(len > 0) || !Number.isSafeInteger(len)) throw kerr('EINVAL', `vcm_phys_alloc: bad length ${len}`);
  const want = alignUp(len, SZ_4K);
  const align = attrAlign(attr);
  if (attr & VCM_PHYS_CONT) {
    if (!target.contig) throw kerr('ENOMEM', `vcm_phys_alloc: memory target ${memtype} has no contiguous pool`);
    const a = align || (want >= SZ_1M ? SZ_1M : want >= SZ_64K ? SZ_64K : SZ_4K);
    const pa = target.contig.tryAlloc(want, { align: a });
    if (pa === null) throw kerr('ENOMEM', `vcm_phys_alloc: no ${hex(want)} contiguous bytes aligned to ${hex(a)} in ${memtype}`);
    return new PhysMem(target, want, attr, [{ pa, size: want }], true);
  }
  let sizes = VCM_BLOCK_SIZES.filter((s) => (attr & (VCM_PHYS_1M | VCM_PHYS_64K | VCM_PHYS_4K)) === 0 || attr & blockBit(s));
  if (align) sizes = sizes.filter((s) => s >= align);
  if (sizes.length === 0) throw kerr('EINVAL', `vcm_phys_alloc: no block size satisfies attr 0x${attr.toString(16)}`);
  const got: { pa: number; size: number }[] = [];
  let left = want;
  for (const s of sizes) {
    while (left >= s) {
      const pa = target.takeBlock(s);
      if (pa < 0) break;
      got.push({ pa, size: s });
      left -= s;
    }
  }
  while (left > 0) {
    // Too little left for any free block of a smaller size: cover it with the smallest free block.
    const s = [...sizes].reverse().find((x) => target.freeBlocks(x) > 0);
    if (s === undefined) {
      for (const g of got) target.putBlock(g.pa, g.size);
      throw kerr('ENOMEM', `vcm_phys_alloc: memory target ${memtype} cannot cover ${hex(want)} bytes with free blocks`);
    }
    got.push({ pa: target.takeBlock(s), size: s });
    left -= s;
  }
  return new PhysMem(target, want, attr, got, false);
}

/** Frees a physical allocation (vcm_phys_free). EBUSY while it backs a reservation; KernelBug when freed twice. */
export function vcmPhysFree(physmem: PhysMem): void {
  if (physmem.freed) throw new KernelBug('vcm_phys_free: physmem freed twice');
  if (physmem.backings.size > 0) throw kerr('EBUSY', `vcm_phys_free: still backs ${physmem.backings.size} reservation(s); vcm_unback them first`);
  physmem.release();
  physmem.freed = true;
}

function blockBit(size: number): number {
  return size === SZ_1M ? VCM_PHYS_1M : size === SZ_64K ? VCM_PHYS_64K : VCM_PHYS_4K;
}
