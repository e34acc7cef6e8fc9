import type { CpuCache, PhysicalMemory } from '../hw/index.ts';
import { KernelBug, hex, kerr } from '../lib/index.ts';
import type { IotlbGather } from './iotlb-gather.ts';
import type { IoPageAllocator } from './page-allocator.ts';
import { IOMMU_CACHE, IOMMU_CACHE_NWA, IOMMU_CACHE_WT, IOMMU_MMIO, IOMMU_NOEXEC, IOMMU_NS, IOMMU_PRIV, IOMMU_READ, IOMMU_SHARED, IOMMU_WRITE } from './prot.ts';

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new Error('io-pgtable v7s needs a little-endian host');

/** Input (IOVA) and output (physical) address sizes of the format, in bits. */
export const V7S_IAS = 32;
export const V7S_OAS = 32;
const TOP = 2 ** 32;
const PAGE = 4096;

const SZ_4K = 0x1000;
const SZ_64K = 0x10000;
const SZ_1M = 0x100000;
const SZ_16M = 0x1000000;

/*
 * The descriptor layout as the driver writes it, named after Linux's
 * io-pgtable-arm-v7s.c. Level 1 is the 4096-entry table indexed by
 * IOVA[31:20], level 2 the 256-entry tables indexed by IOVA[19:12].
 */
const ARM_V7S_PTES_PER_LVL1 = 4096;
const ARM_V7S_PTES_PER_LVL2 = 256;
const ARM_V7S_LVL1_TABLE_SIZE = ARM_V7S_PTES_PER_LVL1 * 4;
const ARM_V7S_LVL2_TABLE_SIZE = ARM_V7S_PTES_PER_LVL2 * 4;
const L2_PER_PAGE = PAGE / ARM_V7S_LVL2_TABLE_SIZE;
/** Entries a contiguous (16x) section or page is written to. */
const ARM_V7S_CONT_PAGES = 16;

/** Type field [1:0]: a table at level 1, a page or section, a large (contiguous) page at level 2. */
const ARM_V7S_PTE_TYPE_MASK = 0x3;
const ARM_V7S_PTE_TYPE_TABLE = 0x1;
const ARM_V7S_PTE_TYPE_PAGE = 0x2;
const ARM_V7S_PTE_TYPE_CONT_PAGE = 0x1;
/** A level-1 table descriptor's pointer: a 1 KiB aligned table. */
const ARM_V7S_TABLE_MASK = 0xfffffc00;
/** Output address of a section (level 1) or small page (level 2). */
const ARM_V7S_LVL1_ADDR_MASK = 0xfff00000;
const ARM_V7S_LVL2_ADDR_MASK = 0xfffff000;
const ARM_V7S_CONT_SECTION_ADDR_MASK = 0xff000000;
const ARM_V7S_CONT_PAGE_ADDR_MASK = 0xffff0000;

/** Execute never: bit 4 of a section, bit 0 of a small page (BIT(4 * (2 - lvl))). */
const ARM_V7S_ATTR_XN_LVL1 = 1 << 4;
const ARM_V7S_ATTR_XN_LVL2 = 1 << 0;
const ARM_V7S_ATTR_B = 1 << 2;
const ARM_V7S_ATTR_C = 1 << 3;
const ARM_V7S_ATTR_NS_SECTION = 1 << 19;
/** A supersection: a section repeated over 16 entries. */
const ARM_V7S_CONT_SECTION = 1 << 18;
/** A large page keeps XN in bit 15 and TEX in [14:12], where a small page has them in bit 0 and [8:6]. */
const ARM_V7S_CONT_PAGE_XN_SHIFT = 15;
const ARM_V7S_CONT_PAGE_TEX_SHIFT = 6;

/*
 * AP, TEX, S and nG sit in the same order in an 8-bit block: bits [17:10]
 * of a section, [11:4] of a small page. They are defined relative to the
 * block and shifted into place by ARM_V7S_ATTR_SHIFT(lvl).
 */
const ARM_V7S_ATTR_SHIFT_LVL1 = 10;
const ARM_V7S_ATTR_SHIFT_LVL2 = 4;
const ARM_V7S_ATTR_AP0 = 1 << 0;
const ARM_V7S_ATTR_AP1 = 1 << 1;
const ARM_V7S_ATTR_AP2 = 1 << 5;
const ARM_V7S_ATTR_S = 1 << 6;
const ARM_V7S_TEX_SHIFT = 2;
const ARM_V7S_TEX_MASK = 0x7;
/** The simplified (AP[2:1]) permission model, with AP[0] as the access flag. */
const ARM_V7S_PTE_AF = ARM_V7S_ATTR_AP0;
const ARM_V7S_PTE_AP_UNPRIV = ARM_V7S_ATTR_AP1;
const ARM_V7S_PTE_AP_RDONLY = ARM_V7S_ATTR_AP2;

/**
 * Attribute bits of a level-`lvl` leaf for an iommu prot (arm_v7s_prot_to_pte):
 * everything but the address and type. Memory types with TEX remap off:
 * MMIO is shareable device (TEX 0, B); IOMMU_CACHE is write-back
 * write-allocate (TEX 1, C, B) and anything else normal non-cacheable (TEX 1),
 * as Linux writes them; the unimem extensions pick write-through (C) or
 * write-back no-allocate (C, B) with TEX 0. A level-2 result is in the
 * small-page layout (arm_v7s_pte_to_cont turns it into a large page's).
 * Unlike Linux, leaves stay global (nG clear) and shareable only on
 * IOMMU_SHARED; IOMMU_NS sets a section's NS, and table pointers stay secure.
 */
function protToPte(prot: number, lvl: 1 | 2): number {
  let tex = 0;
  let cb = 0;
  if (prot & IOMMU_MMIO) cb = ARM_V7S_ATTR_B;
  else if (!(prot & IOMMU_CACHE)) tex = 1;
  else if (prot & IOMMU_CACHE_WT) cb = ARM_V7S_ATTR_C;
  else if (prot & IOMMU_CACHE_NWA) cb = ARM_V7S_ATTR_C | ARM_V7S_ATTR_B;
  else {
    tex = 1;
    cb = ARM_V7S_ATTR_C | ARM_V7S_ATTR_B;
  }
  let attr = ((tex & ARM_V7S_TEX_MASK) << ARM_V7S_TEX_SHIFT) | ARM_V7S_PTE_AF;
  if (!(prot & IOMMU_PRIV)) attr |= ARM_V7S_PTE_AP_UNPRIV;
  if (!(prot & IOMMU_WRITE)) attr |= ARM_V7S_PTE_AP_RDONLY;
  if (prot & IOMMU_SHARED) attr |= ARM_V7S_ATTR_S;
  let pte = attr << (lvl === 1 ? ARM_V7S_ATTR_SHIFT_LVL1 : ARM_V7S_ATTR_SHIFT_LVL2);
  pte |= cb;
  if (prot & IOMMU_NOEXEC) pte |= lvl === 1 ? ARM_V7S_ATTR_XN_LVL1 : ARM_V7S_ATTR_XN_LVL2;
  if (lvl === 1 && prot & IOMMU_NS) pte |= ARM_V7S_ATTR_NS_SECTION;
  return pte >>> 0;
}

/**
 * The iommu prot a leaf this code wrote expresses (arm_v7s_pte_to_prot),
 * READ always included. `pte` is a section (level 1) or a small page
 * (level 2; convert a large page with contToPte first).
 */
function pteToProt(pte: number, lvl: 1 | 2): number {
  const attr = (pte >>> (lvl === 1 ? ARM_V7S_ATTR_SHIFT_LVL1 : ARM_V7S_ATTR_SHIFT_LVL2)) & 0xff;
  let prot = IOMMU_READ;
  if (!(attr & ARM_V7S_PTE_AP_RDONLY)) prot |= IOMMU_WRITE;
  if (!(attr & ARM_V7S_PTE_AP_UNPRIV)) prot |= IOMMU_PRIV;
  if (pte & (lvl === 1 ? ARM_V7S_ATTR_XN_LVL1 : ARM_V7S_ATTR_XN_LVL2)) prot |= IOMMU_NOEXEC;
  if (attr & ARM_V7S_ATTR_S) prot |= IOMMU_SHARED;
  if (lvl === 1 && pte & ARM_V7S_ATTR_NS_SECTION) prot |= IOMMU_NS;
  const tex = (attr >>> ARM_V7S_TEX_SHIFT) & ARM_V7S_TEX_MASK;
  const c = pte & ARM_V7S_ATTR_C;
  const b = pte & ARM_V7S_ATTR_B;
  if (tex === 0) {
    if (!c) prot |= IOMMU_MMIO;
    else prot |= IOMMU_CACHE | (b ? IOMMU_CACHE_NWA : IOMMU_CACHE_WT);
  } else if (tex === 1 && c && b) {
    prot |= IOMMU_CACHE;
  }
  return prot;
}

/** A small page's attributes in a large page's layout (arm_v7s_pte_to_cont at level 2). */
function pteToCont(pte: number): number {
  const xn = pte & ARM_V7S_ATTR_XN_LVL2;
  const texMask = ARM_V7S_TEX_MASK << (ARM_V7S_TEX_SHIFT + ARM_V7S_ATTR_SHIFT_LVL2);
  const tex = pte & texMask;
  pte = (pte ^ xn ^ tex) | (xn << ARM_V7S_CONT_PAGE_XN_SHIFT) | (tex << ARM_V7S_CONT_PAGE_TEX_SHIFT);
  return pte >>> 0;
}

/** A large page's attributes in a small page's layout (arm_v7s_cont_to_pte at level 2). */
function contToPte(pte: number): number {
  const xnBit = 1 << ARM_V7S_CONT_PAGE_XN_SHIFT;
  const texMask = ARM_V7S_TEX_MASK << (ARM_V7S_TEX_SHIFT + ARM_V7S_ATTR_SHIFT_LVL2 + ARM_V7S_CONT_PAGE_TEX_SHIFT);
  const xn = pte & xnBit;
  const tex = pte & texMask;
  pte = (pte ^ xn ^ tex) | (xn >>> ARM_V7S_CONT_PAGE_XN_SHIFT) | (tex >>> ARM_V7S_CONT_PAGE_TEX_SHIFT);
  return pte >>> 0;
}

/** A section mapping the 1 MiB at `pa` with `attr` (from protToPte at level 1). */
function sectionPte(pa: number, attr: number): number {
  return ((pa & ARM_V7S_LVL1_ADDR_MASK) | attr | ARM_V7S_PTE_TYPE_PAGE) >>> 0;
}

/** A supersection mapping the 16 MiB at `pa` (below 4 GiB, so no extended address bits). */
function supersectionPte(pa: number, attr: number): number {
  return ((pa & ARM_V7S_CONT_SECTION_ADDR_MASK) | attr | ARM_V7S_CONT_SECTION | ARM_V7S_PTE_TYPE_PAGE) >>> 0;
}

/** A small page mapping the 4 KiB at `pa` with `attr` (from protToPte at level 2). */
function smallPte(pa: number, attr: number): number {
  return ((pa & ARM_V7S_LVL2_ADDR_MASK) | attr | ARM_V7S_PTE_TYPE_PAGE) >>> 0;
}

/** A large page mapping the 64 KiB at `pa` with `contAttr` (a small page's attributes through pteToCont). */
function largePte(pa: number, contAttr: number): number {
  return ((pa & ARM_V7S_CONT_PAGE_ADDR_MASK) | contAttr | ARM_V7S_PTE_TYPE_CONT_PAGE) >>> 0;
}

/** A level-1 entry pointing at the level-2 table at `pa` (arm_v7s_install_table). */
function tablePte(pa: number): number {
  return ((pa & ARM_V7S_TABLE_MASK) | ARM_V7S_PTE_TYPE_TABLE) >>> 0;
}

function isTable(pte: number): boolean {
  return (pte & ARM_V7S_PTE_TYPE_MASK) === ARM_V7S_PTE_TYPE_TABLE;
}

function isSection(pte: number): boolean {
  return (pte & ARM_V7S_PTE_TYPE_MASK) === ARM_V7S_PTE_TYPE_PAGE;
}

function isSupersection(pte: number): boolean {
  return isSection(pte) && (pte & ARM_V7S_CONT_SECTION) !== 0;
}

function tableAddr(pte: number): number {
  return (pte & ARM_V7S_TABLE_MASK) >>> 0;
}

/** A mapping as the page table reads it back: the leaf's physical base, size and iommu prot. */
export interface IoPgtableLeaf {
  base: number;
  size: number;
  prot: number;
}

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
  private readonly scratch = new Uint8Array(ARM_V7S_LVL2_TABLE_SIZE);
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
    if (pa % ARM_V7S_LVL1_TABLE_SIZE !== 0 || pa + ARM_V7S_LVL1_TABLE_SIZE > TOP) {
      this.pages.freePages(pfn, 2);
      throw kerr('ENOMEM', `io-pgtable v7s: first-level table at ${hex(pa)} is not 16 KiB aligned below 4 GiB`);
    }
    this.freshTable(pa, ARM_V7S_LVL1_TABLE_SIZE);
    this.ttbr = pa;
  }

  /** Bytes of memory the tables use. */
  get tableBytes(): number {
    return ARM_V7S_LVL1_TABLE_SIZE + this.l2Pages.size * PAGE;
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
    if (pgsize >= SZ_1M) {
      const per = pgsize / SZ_1M;
      const first = iova / SZ_1M;
      const n = Math.min(pgcount, Math.floor((ARM_V7S_PTES_PER_LVL1 - first) / per), Math.floor((TOP - paddr) / pgsize));
      if (n < 1) throw kerr('ERANGE', `io-pgtable v7s: pa ${hex(paddr)} + ${hex(pgsize)} beyond 4 GiB`);
      const entries = n * per;
      this.readWords(this.ttbr + first * 4, entries);
      for (let i = 0; i < entries; i++) {
        if (this.view.getUint32(i * 4, true) !== 0) {
          throw kerr('EEXIST', `io-pgtable v7s: iova ${hex((first + i) * SZ_1M)} already mapped (level 1)`);
        }
      }
      const attr = protToPte(prot, 1);
      for (let p = 0; p < n; p++) {
        const pa = paddr + p * pgsize;
        const d = per === 1 ? sectionPte(pa, attr) : supersectionPte(pa, attr);
        for (let k = 0; k < per; k++) this.view.setUint32((p * per + k) * 4, d, true);
      }
      this.mem.write(this.ttbr + first * 4, this.scratch, 0, entries * 4);
      return n * pgsize;
    }
    const l2 = this.l2For(iova);
    const per = pgsize / SZ_4K;
    const first = (iova >>> 12) & 0xff;
    const n = Math.min(pgcount, Math.floor((ARM_V7S_PTES_PER_LVL2 - first) / per), Math.floor((TOP - paddr) / pgsize));
    if (n < 1) throw kerr('ERANGE', `io-pgtable v7s: pa ${hex(paddr)} + ${hex(pgsize)} beyond 4 GiB`);
    const entries = n * per;
    this.readWords(l2 + first * 4, entries);
    for (let i = 0; i < entries; i++) {
      if (this.view.getUint32(i * 4, true) !== 0) {
        throw kerr('EEXIST', `io-pgtable v7s: iova ${hex(iova + i * SZ_4K)} already mapped (level 2)`);
      }
    }
    const attr = protToPte(prot, 2);
    if (per === 1) {
      for (let p = 0; p < n; p++) this.view.setUint32(p * 4, smallPte(paddr + p * SZ_4K, attr), true);
    } else {
      const cont = pteToCont(attr);
      for (let p = 0; p < n; p++) {
        const d = largePte(paddr + p * SZ_64K, cont);
        for (let k = 0; k < ARM_V7S_CONT_PAGES; k++) this.view.setUint32((p * ARM_V7S_CONT_PAGES + k) * 4, d, true);
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
    const attr = protToPte(prot, 2);
    const words = this.words;
    const limit = 2 ** V7S_OAS;
    let done = 0;
    while (done < count) {
      const va = iova + done * SZ_4K;
      const l2 = this.l2For(va);
      const first = (va >>> 12) & 0xff;
      const n = Math.min(count - done, ARM_V7S_PTES_PER_LVL2 - first);
      this.readWords(l2 + first * 4, n);
      const base = start + done;
      for (let i = 0; i < n; i++) {
        if (words[i] !== 0) throw kerr('EEXIST', `io-pgtable v7s: iova ${hex(va + i * SZ_4K)} already mapped (level 2)`);
        const pa = pas[base + i]!;
        if (pa < 0 || pa >= limit || (pa & 0xfff) !== 0) throw kerr(pa >= 0 && pa < limit ? 'EINVAL' : 'ERANGE', `io-pgtable v7s: pa ${hex(pa)} cannot be a 4 KiB page`);
        words[i] = smallPte(pa, attr);
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
      if (n === 1 && isSupersection(this.view.getUint32(0, true))) {
        this.splitSupersection(i1, gather);
      }
      this.readWords(this.ttbr + i1 * 4, n);
      let tables = false;
      for (let i = 0; i < n; i++) {
        const d = this.view.getUint32(i * 4, true);
        if (isTable(d)) {
          gather.freedTables.push(tableAddr(d));
          tables = true;
        }
      }
      mem.fill(this.ttbr + i1 * 4, n * 4, 0);
      // a removed table's leaves may each be in a TLB: the walk flush goes at the granule below (io_pgtable_tlb_flush_walk)
      gather.addRange(iova, pgsize, tables ? SZ_4K : SZ_1M);
      return pgsize;
    }
    if (pgsize !== SZ_4K && pgsize !== SZ_64K) return 0;
    if (iova % pgsize !== 0) return 0;
    let d1 = mem.readU32(p1);
    if (d1 === 0) return 0;
    if (isSupersection(d1)) {
      this.splitSupersection(i1, gather);
      d1 = mem.readU32(p1);
    }
    if (isSection(d1)) return this.splitSectionUnmap(iova, pgsize, d1, gather);
    if (!isTable(d1)) return 0;
    const l2 = tableAddr(d1);
    const i2 = (iova >>> 12) & 0xff;
    const n = pgsize / SZ_4K;
    this.readWords(l2 + i2 * 4, n);
    for (let i = 0; i < n; i++) if (this.view.getUint32(i * 4, true) === 0) return 0;
    const d2 = this.view.getUint32(0, true);
    if (n === 1 && (d2 & ARM_V7S_PTE_TYPE_MASK) === ARM_V7S_PTE_TYPE_CONT_PAGE) {
      // A 4 KiB unmap inside a large page: turn it into 16 small pages first (arm_v7s_split_cont).
      const attr = contToPte(d2 & ~ARM_V7S_CONT_PAGE_ADDR_MASK & ~ARM_V7S_PTE_TYPE_MASK);
      const pa = (d2 & ARM_V7S_CONT_PAGE_ADDR_MASK) >>> 0;
      const base = l2 + ((i2 & ~(ARM_V7S_CONT_PAGES - 1)) >>> 0) * 4;
      for (let k = 0; k < ARM_V7S_CONT_PAGES; k++) this.view.setUint32(k * 4, smallPte(pa + k * SZ_4K, attr), true);
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
    if (isSection(d1)) {
      if (d1 & ARM_V7S_CONT_SECTION) return ((d1 & ARM_V7S_CONT_SECTION_ADDR_MASK) >>> 0) + (iova % SZ_16M);
      return ((d1 & ARM_V7S_LVL1_ADDR_MASK) >>> 0) + (iova % SZ_1M);
    }
    if (!isTable(d1)) return 0;
    const d2 = this.mem.readU32(tableAddr(d1) + ((iova >>> 12) & 0xff) * 4);
    const type = d2 & ARM_V7S_PTE_TYPE_MASK;
    if (type === 0) return 0;
    if (type & ARM_V7S_PTE_TYPE_PAGE) return ((d2 & ARM_V7S_LVL2_ADDR_MASK) >>> 0) + (iova % SZ_4K);
    return ((d2 & ARM_V7S_CONT_PAGE_ADDR_MASK) >>> 0) + (iova % SZ_64K);
  }

  /** Returns the leaf mapping iova (its base, size and prot), or null when unmapped. */
  leafAt(iova: number): IoPgtableLeaf | null {
    this.checkAlive();
    if (iova < 0 || iova >= TOP) return null;
    const d1 = this.mem.readU32(this.ttbr + (iova >>> 20) * 4);
    if (isSection(d1)) {
      const sup = (d1 & ARM_V7S_CONT_SECTION) !== 0;
      return { base: (d1 & (sup ? ARM_V7S_CONT_SECTION_ADDR_MASK : ARM_V7S_LVL1_ADDR_MASK)) >>> 0, size: sup ? SZ_16M : SZ_1M, prot: pteToProt(d1, 1) };
    }
    if (!isTable(d1)) return null;
    const d2 = this.mem.readU32(tableAddr(d1) + ((iova >>> 12) & 0xff) * 4);
    const type = d2 & ARM_V7S_PTE_TYPE_MASK;
    if (type === 0) return null;
    if (type & ARM_V7S_PTE_TYPE_PAGE) return { base: (d2 & ARM_V7S_LVL2_ADDR_MASK) >>> 0, size: SZ_4K, prot: pteToProt(d2, 2) };
    return { base: (d2 & ARM_V7S_CONT_PAGE_ADDR_MASK) >>> 0, size: SZ_64K, prot: pteToProt(contToPte(d2 & ~ARM_V7S_PTE_TYPE_MASK), 2) };
  }

  /** Returns a second-level table that an unmap removed to the allocator (after its TLB sync). */
  freeTable(pa: number): void {
    const pfn = Math.floor(pa / PAGE);
    const q = (pa % PAGE) / ARM_V7S_LVL2_TABLE_SIZE;
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
    for (let base = 0; base < ARM_V7S_PTES_PER_LVL1; base += ARM_V7S_PTES_PER_LVL2) {
      this.readWords(this.ttbr + base * 4, ARM_V7S_PTES_PER_LVL2);
      for (let i = 0; i < ARM_V7S_PTES_PER_LVL2; i++) {
        const d = this.view.getUint32(i * 4, true);
        if (isTable(d)) tables.push(tableAddr(d));
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

  /** Reads `n` words (n <= 256) at pa into the scratch buffer. */
  private readWords(pa: number, n: number): void {
    this.mem.read(pa, this.scratch, 0, n * 4);
  }

  /** Returns the second-level table for iova's MiB, installing a new one when the entry is empty. */
  private l2For(iova: number): number {
    const p1 = this.ttbr + (iova >>> 20) * 4;
    const d1 = this.mem.readU32(p1);
    if (isTable(d1)) return tableAddr(d1);
    if (d1 !== 0) throw kerr('EEXIST', `io-pgtable v7s: iova ${hex(iova)} lies in a mapped section`);
    const l2 = this.allocTable();
    this.mem.writeU32(p1, tablePte(l2));
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
    const pa = pfn * PAGE + q * ARM_V7S_LVL2_TABLE_SIZE;
    this.mem.fill(pa, ARM_V7S_LVL2_TABLE_SIZE, 0);
    return pa;
  }

  /** Zeroes a new table page in memory and drops any cached copy of it. */
  private freshTable(pa: number, len: number): void {
    this.mem.fill(pa, len, 0);
    this.cache?.invalidateRange(pa, len);
  }

  /** Rewrites the supersection covering L1 index i1 as 16 sections (arm_v7s_split_cont). */
  private splitSupersection(i1: number, gather: IotlbGather): void {
    const first = i1 & ~(ARM_V7S_CONT_PAGES - 1);
    const d = this.mem.readU32(this.ttbr + first * 4);
    const attr = d & ~ARM_V7S_LVL1_ADDR_MASK & ~ARM_V7S_CONT_SECTION & ~ARM_V7S_PTE_TYPE_MASK;
    const pa = (d & ARM_V7S_CONT_SECTION_ADDR_MASK) >>> 0;
    for (let k = 0; k < ARM_V7S_CONT_PAGES; k++) this.view.setUint32(k * 4, sectionPte(pa + k * SZ_1M, attr), true);
    this.mem.write(this.ttbr + first * 4, this.scratch, 0, ARM_V7S_CONT_PAGES * 4);
    gather.addRange(first * SZ_1M, SZ_16M, SZ_1M);
  }

  /**
   * Unmaps part of a section: a new second-level table maps the rest of it
   * with pages of the unmapped size and the section's prot, and replaces
   * the section (arm_v7s_split_blk_unmap).
   */
  private splitSectionUnmap(iova: number, pgsize: number, d1: number, gather: IotlbGather): number {
    const pa = (d1 & ARM_V7S_LVL1_ADDR_MASK) >>> 0;
    const attr = protToPte(pteToProt(d1, 1), 2);
    const l2 = this.allocTable();
    const i2 = (iova >>> 12) & 0xff;
    const per = pgsize / SZ_4K;
    if (per === 1) {
      for (let k = 0; k < ARM_V7S_PTES_PER_LVL2; k++) this.view.setUint32(k * 4, k === i2 ? 0 : smallPte(pa + k * SZ_4K, attr), true);
    } else {
      const cont = pteToCont(attr);
      for (let k = 0; k < ARM_V7S_PTES_PER_LVL2; k++) {
        const inHole = k >= i2 && k < i2 + per;
        this.view.setUint32(k * 4, inHole ? 0 : largePte(pa + (k & ~(ARM_V7S_CONT_PAGES - 1)) * SZ_4K, cont), true);
      }
    }
    this.mem.write(l2, this.scratch, 0, ARM_V7S_LVL2_TABLE_SIZE);
    this.mem.writeU32(this.ttbr + (iova >>> 20) * 4, tablePte(l2));
    gather.addRange(iova, pgsize, SZ_4K);
    return pgsize;
  }
}
