import {
  L1_TABLE_BYTES,
  L1_SUPERSECTION,
  L2_TABLE_BYTES,
  SZ_16M,
  SZ_1M,
  SZ_4K,
  SZ_64K,
  decodeL1Leaf,
  decodeL2Leaf,
  largeAttrBits,
  largeDesc,
  sectionAttrBits,
  sectionDesc,
  smallAttrBits,
  smallDesc,
  supersectionDesc,
  tableDesc,
  type CpuCache,
  type DecodedLeaf,
  type PhysicalMemory,
} from '../hw/index.ts';
import { KernelBug, hex, kerr } from '../lib/index.ts';
import type { IotlbGather } from './iotlb-gather.ts';
import type { IoPageAllocator } from './page-allocator.ts';
import { IOMMU_READ, IOMMU_WRITE, protToPteAttrs, pteAttrsToProt } from './prot.ts';

/** Input (IOVA) and output (physical) address sizes of the format, in bits. */
if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new Error('io-pgtable v7s needs a little-endian host');

export const V7S_IAS = 32;
export const V7S_OAS = 32;
const TOP = 2 ** 32;
const PAGE = 4096;
const L2_PER_PAGE = PAGE / L2_TABLE_BYTES;

/** Where an io-pgtable gets its memory. */
export interface PgtableConfig {
  mem: PhysicalMemory;
  pages: IoPageAllocator;
  /**
   * The CPU cache, when the walker is not coherent with it: fresh table
   * pages are dropped from it so no line of their old contents can later be
   * written back over the descriptors.
   */
  cache?: CpuCache | null;
  /**
   * Called before every change to the tables; the SMMU driver uses it to
   * insist that changes happen between update-start and update-done.
   */
  guard?: () => void;
}

/**
 * An ARMv7 short-descriptor page table in simulated physical memory
 * (io-pgtable-arm-v7s): a 16 KiB first-level table from an order-2 page
 * allocation, and 1 KiB second-level tables packed four to a page. Maps
 * 4 KiB, 64 KiB, 1 MiB and 16 MiB pages; unmapping part of a bigger page
 * splits it, as Linux does. Descriptors are written straight to memory,
 * which stands for the store plus the cache clean a non-coherent walker
 * needs. It never touches the TLB: unmaps record what must be invalidated
 * in an IotlbGather, and the owner invalidates and frees tables after.
 */
export class ArmV7sPgtable {
  /** Physical address of the first-level table (the TTBR value). */
  readonly ttbr: number;
  private readonly mem: PhysicalMemory;
  private readonly pages: IoPageAllocator;
  private readonly cache: CpuCache | null;
  /** pfn of a page holding second-level tables -> bitmask of the quarters in use. */
  private readonly l2Pages = new Map<number, number>();
  /** Pages with a free quarter, in the order they became so. */
  private readonly l2Partial = new Set<number>();
  private readonly scratch = new Uint8Array(L2_TABLE_BYTES);
  private readonly view = new DataView(this.scratch.buffer);
  /** The scratch buffer as descriptors; page tables are little-endian, and so must the host be (checked at load). */
  private readonly words = new Uint32Array(this.scratch.buffer);
  private freed = false;
  private readonly guard: () => void;
  /** Second-level tables in use. */
  l2Tables = 0;

  /** Allocates the first-level table (alloc_io_pgtable_ops for ARM_V7S). */
  constructor(cfg: PgtableConfig) {
    this.mem = cfg.mem;
    this.pages = cfg.pages;
    this.cache = cfg.cache ?? null;
    this.guard = cfg.guard ?? (() => {});
    const pfn = this.pages.allocPages(2, { zero: true, maxPa: TOP });
    const pa = pfn * PAGE;
    if (pa % L1_TABLE_BYTES !== 0 || pa + L1_TABLE_BYTES > TOP) {
      this.pages.freePages(pfn, 2);
      throw kerr('ENOMEM', `io-pgtable v7s: first-level table at ${hex(pa)} is not 16 KiB aligned below 4 GiB`);
    }
    this.freshTable(pa, L1_TABLE_BYTES);
    this.ttbr = pa;
  }

  /** Bytes of memory the tables use. */
  get tableBytes(): number {
    return L1_TABLE_BYTES + this.l2Pages.size * PAGE;
  }

  /**
   * Maps `pgcount` pages of `pgsize` from iova to paddr (map_pages). Maps
   * as many as fit in the current table and returns the bytes mapped; the
   * caller loops. EEXIST when any target entry is in use (nothing is
   * written then), ERANGE outside the 32-bit spaces, EINVAL for a bad size
   * or alignment. A prot with neither read nor write maps nothing.
   */
  mapPages(iova: number, paddr: number, pgsize: number, pgcount: number, prot: number): number {
    this.checkAlive();
    this.guard();
    if (pgsize !== SZ_4K && pgsize !== SZ_64K && pgsize !== SZ_1M && pgsize !== SZ_16M) {
      throw kerr('EINVAL', `io-pgtable v7s: page size ${hex(pgsize)} not supported`);
    }
    if (iova % pgsize !== 0 || paddr % pgsize !== 0 || !(pgcount >= 1)) {
      throw kerr('EINVAL', `io-pgtable v7s: iova ${hex(iova)} / pa ${hex(paddr)} not aligned to ${hex(pgsize)}`);
    }
    if (iova < 0 || iova >= TOP || paddr < 0 || paddr >= 2 ** V7S_OAS) {
      throw kerr('ERANGE', `io-pgtable v7s: iova ${hex(iova)} or pa ${hex(paddr)} outside the 32-bit spaces`);
    }
    // Like Linux: no access at all means there is nothing to map.
    if (!(prot & (IOMMU_READ | IOMMU_WRITE))) return pgcount * pgsize;
    const attrs = protToPteAttrs(prot);
    if (pgsize >= SZ_1M) {
      const per = pgsize / SZ_1M;
      const first = iova / SZ_1M;
      const n = Math.min(pgcount, Math.floor((4096 - first) / per), Math.floor((TOP - paddr) / pgsize));
      if (n < 1) throw kerr('ERANGE', `io-pgtable v7s: pa ${hex(paddr)} + ${hex(pgsize)} beyond 4 GiB`);
      const entries = n * per;
      this.readWords(this.ttbr + first * 4, entries);
      for (let i = 0; i < entries; i++) {
        if (this.view.getUint32(i * 4, true) !== 0) {
          throw kerr('EEXIST', `io-pgtable v7s: iova ${hex((first + i) * SZ_1M)} already mapped (level 1)`);
        }
      }
      const bits = sectionAttrBits(attrs);
      for (let p = 0; p < n; p++) {
        const pa = paddr + p * pgsize;
        const d = per === 1 ? sectionDesc(pa, bits) : supersectionDesc(pa, bits);
        for (let k = 0; k < per; k++) this.view.setUint32((p * per + k) * 4, d, true);
      }
      this.mem.write(this.ttbr + first * 4, this.scratch, 0, entries * 4);
      return n * pgsize;
    }
    const l2 = this.l2For(iova);
    const per = pgsize / SZ_4K;
    const first = (iova >>> 12) & 0xff;
    const n = Math.min(pgcount, Math.floor((256 - first) / per), Math.floor((TOP - paddr) / pgsize));
    if (n < 1) throw kerr('ERANGE', `io-pgtable v7s: pa ${hex(paddr)} + ${hex(pgsize)} beyond 4 GiB`);
    const entries = n * per;
    this.readWords(l2 + first * 4, entries);
    for (let i = 0; i < entries; i++) {
      if (this.view.getUint32(i * 4, true) !== 0) {
        throw kerr('EEXIST', `io-pgtable v7s: iova ${hex(iova + i * SZ_4K)} already mapped (level 2)`);
      }
    }
    if (per === 1) {
      const bits = smallAttrBits(attrs);
      for (let p = 0; p < n; p++) this.view.setUint32(p * 4, smallDesc(paddr + p * SZ_4K, bits), true);
    } else {
      const bits = largeAttrBits(attrs);
      for (let p = 0; p < n; p++) {
        const d = largeDesc(paddr + p * SZ_64K, bits);
        for (let k = 0; k < 16; k++) this.view.setUint32((p * 16 + k) * 4, d, true);
      }
    }
    this.mem.write(l2 + first * 4, this.scratch, 0, entries * 4);
    return n * pgsize;
  }

  /**
   * Maps `count` 4 KiB pages, page i at iova + i * 4 KiB to `pas[start + i]` (the
   * per-segment map_pages calls of __iommu_map_sg for a scattered list),
   * with one read and one write of each second-level table it touches.
   * Returns the bytes mapped. EINVAL/ERANGE/EEXIST as mapPages; on an error
   * the tables already written stay mapped, for the caller to unmap.
   */
  mapPageList(iova: number, pas: ArrayLike<number>, start: number, count: number, prot: number): number {
    this.checkAlive();
    this.guard();
    if (iova % SZ_4K !== 0 || iova < 0 || iova + count * SZ_4K > TOP) {
      throw kerr(iova % SZ_4K !== 0 ? 'EINVAL' : 'ERANGE', `io-pgtable v7s: page list at iova ${hex(iova)} x ${count}`);
    }
    if (!(prot & (IOMMU_READ | IOMMU_WRITE))) return count * SZ_4K;
    const bits = smallAttrBits(protToPteAttrs(prot));
    const words = this.words;
    const limit = 2 ** V7S_OAS;
    let done = 0;
    while (done < count) {
      const va = iova + done * SZ_4K;
      const l2 = this.l2For(va);
      const first = (va >>> 12) & 0xff;
      const n = Math.min(count - done, 256 - first);
      this.readWords(l2 + first * 4, n);
      const base = start + done;
      for (let i = 0; i < n; i++) {
        if (words[i] !== 0) throw kerr('EEXIST', `io-pgtable v7s: iova ${hex(va + i * SZ_4K)} already mapped (level 2)`);
        const pa = pas[base + i]!;
        if (pa < 0 || pa >= limit || (pa & 0xfff) !== 0) throw kerr(pa >= 0 && pa < limit ? 'EINVAL' : 'ERANGE', `io-pgtable v7s: pa ${hex(pa)} cannot be a 4 KiB page`);
        words[i] = smallDesc(pa, bits);
      }
      this.mem.write(l2 + first * 4, this.scratch, 0, n * 4);
      done += n;
    }
    return count * SZ_4K;
  }

  /**
   * Unmaps one page of `pgsize` at iova (unmap_pages with pgcount 1) and
   * returns the bytes unmapped, 0 when nothing (or only part of it) was
   * mapped there. A size matching a level clears that level's entries,
   * tables under them included; a smaller size inside a section or
   * supersection splits it first. Invalidations and freed tables go to
   * `gather`.
   */
  unmap(iova: number, pgsize: number, gather: IotlbGather): number {
    this.checkAlive();
    this.guard();
    if (iova < 0 || iova >= TOP || iova % SZ_4K !== 0) return 0;
    const mem = this.mem;
    const i1 = iova >>> 20;
    const p1 = this.ttbr + i1 * 4;
    if (pgsize >= SZ_1M) {
      const n = pgsize / SZ_1M;
      if ((n !== 1 && n !== 16) || iova % pgsize !== 0) return 0;
      this.readWords(this.ttbr + i1 * 4, n);
      for (let i = 0; i < n; i++) if (this.view.getUint32(i * 4, true) === 0) return 0;
      if (n === 1 && this.isSupersection(this.view.getUint32(0, true))) {
        this.splitSupersection(i1, gather);
      }
      this.readWords(this.ttbr + i1 * 4, n);
      for (let i = 0; i < n; i++) {
        const d = this.view.getUint32(i * 4, true);
        if ((d & 3) === 1) gather.freedTables.push((d & 0xfffffc00) >>> 0);
      }
      mem.fill(this.ttbr + i1 * 4, n * 4, 0);
      gather.addRange(iova, pgsize, SZ_1M);
      return pgsize;
    }
    if (pgsize !== SZ_4K && pgsize !== SZ_64K) return 0;
    if (iova % pgsize !== 0) return 0;
    let d1 = mem.readU32(p1);
    if (d1 === 0) return 0;
    if (this.isSupersection(d1)) {
      this.splitSupersection(i1, gather);
      d1 = mem.readU32(p1);
    }
    if ((d1 & 3) === 2) return this.splitSectionUnmap(iova, pgsize, d1, gather);
    if ((d1 & 3) !== 1) return 0;
    const l2 = (d1 & 0xfffffc00) >>> 0;
    const i2 = (iova >>> 12) & 0xff;
    const n = pgsize / SZ_4K;
    this.readWords(l2 + i2 * 4, n);
    for (let i = 0; i < n; i++) if (this.view.getUint32(i * 4, true) === 0) return 0;
    const d2 = this.view.getUint32(0, true);
    if (n === 1 && (d2 & 3) === 1) {
      // A 4 KiB unmap inside a large page: turn it into 16 small pages first.
      const leaf = decodeL2Leaf(d2)!;
      const bits = smallAttrBits(leaf.attrs);
      const base = l2 + ((i2 & ~15) >>> 0) * 4;
      for (let k = 0; k < 16; k++) this.view.setUint32(k * 4, smallDesc(leaf.base + k * SZ_4K, bits), true);
      mem.write(base, this.scratch, 0, 64);
      gather.addRange(iova - (iova % SZ_64K), SZ_64K, SZ_4K);
    }
    mem.fill(l2 + i2 * 4, n * 4, 0);
    gather.addRange(iova, pgsize, SZ_4K);
    return pgsize;
  }

  /** Returns the physical address iova maps to, or 0 when unmapped (iova_to_phys). */
  iovaToPhys(iova: number): number {
    this.checkAlive();
    if (iova < 0 || iova >= TOP) return 0;
    const d1 = this.mem.readU32(this.ttbr + (iova >>> 20) * 4);
    const t = d1 & 3;
    if (t === 2) {
      const leaf = decodeL1Leaf(d1)!;
      return leaf.base + (iova % leaf.size);
    }
    if (t !== 1) return 0;
    const d2 = this.mem.readU32(((d1 & 0xfffffc00) >>> 0) + ((iova >>> 12) & 0xff) * 4);
    const leaf = decodeL2Leaf(d2);
    return leaf ? leaf.base + (iova % leaf.size) : 0;
  }

  /** Returns the leaf descriptor mapping iova, decoded, or null. */
  leafAt(iova: number): DecodedLeaf | null {
    this.checkAlive();
    if (iova < 0 || iova >= TOP) return null;
    const d1 = this.mem.readU32(this.ttbr + (iova >>> 20) * 4);
    if ((d1 & 3) === 2) return decodeL1Leaf(d1);
    if ((d1 & 3) !== 1) return null;
    return decodeL2Leaf(this.mem.readU32(((d1 & 0xfffffc00) >>> 0) + ((iova >>> 12) & 0xff) * 4));
  }

  /** Returns the iommu prot of the mapping at iova, or 0 when unmapped. */
  protAt(iova: number): number {
    this.checkAlive();
    const d1 = this.mem.readU32(this.ttbr + (iova >>> 20) * 4);
    if ((d1 & 3) === 2) return pteAttrsToProt(decodeL1Leaf(d1)!.attrs);
    if ((d1 & 3) !== 1) return 0;
    const leaf = decodeL2Leaf(this.mem.readU32(((d1 & 0xfffffc00) >>> 0) + ((iova >>> 12) & 0xff) * 4));
    return leaf ? pteAttrsToProt(leaf.attrs) : 0;
  }

  /** Returns a second-level table that an unmap removed to the allocator (after its TLB sync). */
  freeTable(pa: number): void {
    const pfn = Math.floor(pa / PAGE);
    const q = (pa % PAGE) / L2_TABLE_BYTES;
    const mask = this.l2Pages.get(pfn);
    if (mask === undefined || !(mask & (1 << q))) throw new KernelBug(`io-pgtable v7s: free of table ${hex(pa)} that is not allocated`);
    this.l2Tables--;
    const left = mask & ~(1 << q);
    if (left === 0) {
      this.l2Pages.delete(pfn);
      this.l2Partial.delete(pfn);
      this.pages.freePages(pfn, 0);
    } else {
      this.l2Pages.set(pfn, left);
      this.l2Partial.add(pfn);
    }
  }

  /**
   * Frees every table (free_io_pgtable_ops). Tables an unmap removed but the
   * owner has not freed yet must be freed first; anything still mapped goes
   * with the tables.
   */
  free(): void {
    this.checkAlive();
    const tables: number[] = [];
    for (let base = 0; base < 4096; base += 256) {
      this.readWords(this.ttbr + base * 4, 256);
      for (let i = 0; i < 256; i++) {
        const d = this.view.getUint32(i * 4, true);
        if ((d & 3) === 1) tables.push((d & 0xfffffc00) >>> 0);
      }
    }
    if (tables.length !== this.l2Tables) {
      throw new KernelBug(`io-pgtable v7s: freed with ${this.l2Tables - tables.length} unmapped tables not yet returned (free them after the TLB sync)`);
    }
    for (const t of tables) this.freeTable(t);
    this.pages.freePages(this.ttbr / PAGE, 2);
    this.freed = true;
  }

  private checkAlive(): void {
    if (this.freed) throw new KernelBug('io-pgtable v7s: use after free_io_pgtable_ops');
  }

  private isSupersection(d: number): boolean {
    return (d & 3) === 2 && (d & L1_SUPERSECTION) !== 0;
  }

  /** Reads `n` words (n <= 256) at pa into the scratch buffer. */
  private readWords(pa: number, n: number): void {
    this.mem.read(pa, this.scratch, 0, n * 4);
  }

  /** Returns the second-level table for iova's MiB, installing a new one when the entry is empty. */
  private l2For(iova: number): number {
    const p1 = this.ttbr + (iova >>> 20) * 4;
    const d1 = this.mem.readU32(p1);
    if ((d1 & 3) === 1) return (d1 & 0xfffffc00) >>> 0;
    if (d1 !== 0) throw kerr('EEXIST', `io-pgtable v7s: iova ${hex(iova)} lies in a mapped section`);
    const l2 = this.allocTable();
    this.mem.writeU32(p1, tableDesc(l2, false));
    return l2;
  }

  /** Allocates a zeroed 1 KiB second-level table. */
  private allocTable(): number {
    let pfn = -1;
    for (const p of this.l2Partial) {
      pfn = p;
      break;
    }
    if (pfn < 0) {
      pfn = this.pages.allocPages(0, { zero: true, maxPa: TOP });
      if ((pfn + 1) * PAGE > TOP) {
        this.pages.freePages(pfn, 0);
        throw kerr('ENOMEM', `io-pgtable v7s: table page ${hex(pfn * PAGE)} is above 4 GiB`);
      }
      this.freshTable(pfn * PAGE, PAGE);
      this.l2Pages.set(pfn, 0);
      this.l2Partial.add(pfn);
    }
    const mask = this.l2Pages.get(pfn)!;
    let q = 0;
    while (mask & (1 << q)) q++;
    const next = mask | (1 << q);
    this.l2Pages.set(pfn, next);
    if (next === (1 << L2_PER_PAGE) - 1) this.l2Partial.delete(pfn);
    this.l2Tables++;
    const pa = pfn * PAGE + q * L2_TABLE_BYTES;
    this.mem.fill(pa, L2_TABLE_BYTES, 0);
    return pa;
  }

  /** Zeroes a new table page in memory and drops any cached copy of it. */
  private freshTable(pa: number, len: number): void {
    this.mem.fill(pa, len, 0);
    this.cache?.invalidateRange(pa, len);
  }

  /** Rewrites the supersection covering L1 index i1 as 16 sections (arm_v7s_split_cont). */
  private splitSupersection(i1: number, gather: IotlbGather): void {
    const first = i1 & ~15;
    const leaf = decodeL1Leaf(this.mem.readU32(this.ttbr + first * 4))!;
    const bits = sectionAttrBits(leaf.attrs);
    for (let k = 0; k < 16; k++) this.view.setUint32(k * 4, sectionDesc(leaf.base + k * SZ_1M, bits), true);
    this.mem.write(this.ttbr + first * 4, this.scratch, 0, 64);
    gather.addRange(first * SZ_1M, SZ_16M, SZ_1M);
  }

  /**
   * Unmaps part of a section: a new second-level table maps the rest of it
   * with pages of the unmapped size, and replaces the section
   * (arm_v7s_split_blk_unmap).
   */
  private splitSectionUnmap(iova: number, pgsize: number, d1: number, gather: IotlbGather): number {
    const leaf = decodeL1Leaf(d1)!;
    const l2 = this.allocTable();
    const i2 = (iova >>> 12) & 0xff;
    const per = pgsize / SZ_4K;
    if (per === 1) {
      const bits = smallAttrBits(leaf.attrs);
      for (let k = 0; k < 256; k++) this.view.setUint32(k * 4, k === i2 ? 0 : smallDesc(leaf.base + k * SZ_4K, bits), true);
    } else {
      const bits = largeAttrBits(leaf.attrs);
      for (let k = 0; k < 256; k++) {
        const inHole = k >= i2 && k < i2 + per;
        this.view.setUint32(k * 4, inHole ? 0 : largeDesc(leaf.base + (k & ~15) * SZ_4K, bits), true);
      }
    }
    this.mem.write(l2, this.scratch, 0, L2_TABLE_BYTES);
    this.mem.writeU32(this.ttbr + (iova >>> 20) * 4, tableDesc(l2, false));
    gather.addRange(iova, pgsize, SZ_4K);
    return pgsize;
  }
}
