/**
 * The ARMv7 short-descriptor translation table format, as an SMMU context
 * walks it (ARM ARM B3.5). A 16 KiB first-level table of 4096 words indexed
 * by VA[31:20] holds 1 MiB sections, 16 MiB supersections (the same word
 * repeated in 16 consecutive slots) or pointers to 1 KiB second-level tables
 * of 256 words indexed by VA[19:12], which hold 4 KiB small pages and 64 KiB
 * large pages (repeated in 16 consecutive slots).
 *
 * Permissions use the access-flag model (SCTLR.AFE=1): AP[0] is the access
 * flag and must be set, AP[1] allows unprivileged access, AP[2] makes the
 * page read-only. Memory attributes are TEX[2:0]:C:B with TEX remap off.
 *
 * This file is the single source of the bit layout: the walker decodes with
 * it and the io-pgtable code that builds tables encodes with it.
 */

export const L1_ENTRIES = 4096;
export const L1_TABLE_BYTES = L1_ENTRIES * 4;
export const L2_ENTRIES = 256;
export const L2_TABLE_BYTES = L2_ENTRIES * 4;

export const SZ_4K = 0x1000;
export const SZ_64K = 0x10000;
export const SZ_1M = 0x100000;
export const SZ_16M = 0x1000000;
/** Every page size the format can map, smallest first. */
export const SMMU_PAGE_SIZES: readonly number[] = [SZ_4K, SZ_64K, SZ_1M, SZ_16M];
/** The same as a bitmap (iommu pgsize_bitmap). */
export const SMMU_PGSIZE_BITMAP = SZ_4K | SZ_64K | SZ_1M | SZ_16M;

/** Descriptor type field [1:0]. */
export const DESC_FAULT = 0;
export const L1_TYPE_TABLE = 1;
export const L1_TYPE_SECTION = 2;
export const L2_TYPE_LARGE = 1;
/** A small page has bit 1 set; bit 0 is its XN bit. */
export const L2_TYPE_SMALL = 2;

export const L1_SUPERSECTION = 1 << 18;
export const L1_TABLE_NS = 1 << 3;

/** How a mapping is seen by memory (TEX:C:B, TEX remap disabled). */
export type SmmuMemAttr = 'strongly-ordered' | 'device' | 'nc' | 'wt' | 'wb' | 'wb-wa';

/** Attributes of one leaf descriptor. */
export interface PteAttrs {
  /** Writable (AP[2] clear). */
  write: boolean;
  /** Unprivileged transactions may use it (AP[1]). */
  unpriv: boolean;
  /** Execute never. */
  xn: boolean;
  mem: SmmuMemAttr;
  /** Shareable (S). */
  shared: boolean;
  /** Non-secure (NS); only meaningful in first-level descriptors and tables. */
  ns: boolean;
  /** Not global (nG). */
  ng: boolean;
}

const TEXCB: Record<SmmuMemAttr, number> = {
  'strongly-ordered': 0b000_0_0,
  device: 0b000_0_1,
  wt: 0b000_1_0,
  wb: 0b000_1_1,
  nc: 0b001_0_0,
  'wb-wa': 0b001_1_1,
};

/** Decodes TEX[2:0]:C:B (5 bits, TEX high) to a memory attribute. */
export function decodeTexCb(texcb: number): SmmuMemAttr {
  switch (texcb) {
    case 0b000_0_0:
      return 'strongly-ordered';
    case 0b000_0_1:
    case 0b010_0_0:
      return 'device';
    case 0b000_1_0:
      return 'wt';
    case 0b000_1_1:
      return 'wb';
    case 0b001_1_1:
      return 'wb-wa';
    default:
      // Outer/inner split encodings (TEX=1xx) and reserved ones: treat the
      // inner policy (C:B) as what the master sees.
      if (texcb & 0b100_0_0) {
        const inner = texcb & 3;
        return inner === 0 ? 'nc' : inner === 2 ? 'wt' : inner === 3 ? 'wb' : 'wb-wa';
      }
      return 'nc';
  }
}

/** Attribute bits of a section or supersection descriptor (everything but base and type). */
export function sectionAttrBits(a: PteAttrs): number {
  const t = TEXCB[a.mem];
  let v = ((t & 1) << 2) | (((t >> 1) & 1) << 3) | ((t >> 2) << 12);
  v |= 1 << 10; // AP[0]: access flag
  if (a.unpriv) v |= 1 << 11;
  if (!a.write) v |= 1 << 15;
  if (a.xn) v |= 1 << 4;
  if (a.shared) v |= 1 << 16;
  if (a.ng) v |= 1 << 17;
  if (a.ns) v |= 1 << 19;
  return v >>> 0;
}

/** Attribute bits of a small-page descriptor. */
export function smallAttrBits(a: PteAttrs): number {
  const t = TEXCB[a.mem];
  let v = ((t & 1) << 2) | (((t >> 1) & 1) << 3) | ((t >> 2) << 6);
  v |= 1 << 4;
  if (a.unpriv) v |= 1 << 5;
  if (!a.write) v |= 1 << 9;
  if (a.xn) v |= 1;
  if (a.shared) v |= 1 << 10;
  if (a.ng) v |= 1 << 11;
  return v >>> 0;
}

/** Attribute bits of a large-page descriptor. */
export function largeAttrBits(a: PteAttrs): number {
  const t = TEXCB[a.mem];
  let v = ((t & 1) << 2) | (((t >> 1) & 1) << 3) | ((t >> 2) << 12);
  v |= 1 << 4;
  if (a.unpriv) v |= 1 << 5;
  if (!a.write) v |= 1 << 9;
  if (a.xn) v |= 1 << 15;
  if (a.shared) v |= 1 << 10;
  if (a.ng) v |= 1 << 11;
  return v >>> 0;
}

/** A section descriptor mapping the 1 MiB at `pa` (pa below 4 GiB, 1 MiB aligned). */
export function sectionDesc(pa: number, attrBits: number): number {
  return ((pa & 0xfff00000) | attrBits | L1_TYPE_SECTION) >>> 0;
}

/** A supersection descriptor mapping the 16 MiB at `pa` (up to 40-bit PA, 16 MiB aligned). */
export function supersectionDesc(pa: number, attrBits: number): number {
  const lo = pa % 2 ** 32;
  const hi = Math.floor(pa / 2 ** 32);
  // Supersections have no domain field: bits [8:5] carry PA[39:36].
  const bits = (attrBits & ~(0xf << 5)) >>> 0;
  return ((lo & 0xff000000) | ((hi & 0xf) << 20) | (((hi >> 4) & 0xf) << 5) | bits | L1_SUPERSECTION | L1_TYPE_SECTION) >>> 0;
}

/** A first-level descriptor pointing at the second-level table at `pa` (1 KiB aligned, below 4 GiB). */
export function tableDesc(pa: number, ns: boolean): number {
  return ((pa & 0xfffffc00) | (ns ? L1_TABLE_NS : 0) | L1_TYPE_TABLE) >>> 0;
}

/** A small-page descriptor mapping the 4 KiB at `pa`. */
export function smallDesc(pa: number, attrBits: number): number {
  return ((pa & 0xfffff000) | attrBits | L2_TYPE_SMALL) >>> 0;
}

/** A large-page descriptor mapping the 64 KiB at `pa`. */
export function largeDesc(pa: number, attrBits: number): number {
  return ((pa & 0xffff0000) | attrBits | L2_TYPE_LARGE) >>> 0;
}

/** What one leaf descriptor says, decoded. */
export interface DecodedLeaf {
  /** Physical base of the page/section the descriptor maps. */
  base: number;
  /** Size it maps: 4 KiB, 64 KiB, 1 MiB or 16 MiB. */
  size: number;
  attrs: PteAttrs;
  /** Access flag (AP[0]). */
  af: boolean;
}

/** Decodes a first-level section/supersection descriptor; null for a fault or table entry. */
export function decodeL1Leaf(d: number): DecodedLeaf | null {
  if ((d & 3) !== L1_TYPE_SECTION) return null;
  const superS = (d & L1_SUPERSECTION) !== 0;
  const texcb = ((d >>> 12) & 7) * 4 + ((d >>> 3) & 1) * 2 + ((d >>> 2) & 1);
  const base = superS
    ? (d >>> 24) * SZ_16M + ((d >>> 20) & 0xf) * 2 ** 32 + ((d >>> 5) & 0xf) * 2 ** 36
    : (d >>> 20) * SZ_1M;
  return {
    base,
    size: superS ? SZ_16M : SZ_1M,
    af: (d & (1 << 10)) !== 0,
    attrs: {
      write: (d & (1 << 15)) === 0,
      unpriv: (d & (1 << 11)) !== 0,
      xn: (d & (1 << 4)) !== 0,
      mem: decodeTexCb(texcb),
      shared: (d & (1 << 16)) !== 0,
      ng: (d & (1 << 17)) !== 0,
      ns: (d & (1 << 19)) !== 0,
    },
  };
}

/** Decodes a second-level small/large page descriptor; null for a fault entry. */
export function decodeL2Leaf(d: number, ns = false): DecodedLeaf | null {
  if ((d & 3) === DESC_FAULT) return null;
  if (d & L2_TYPE_SMALL) {
    const texcb = ((d >>> 6) & 7) * 4 + ((d >>> 3) & 1) * 2 + ((d >>> 2) & 1);
    return {
      base: (d >>> 12) * SZ_4K,
      size: SZ_4K,
      af: (d & (1 << 4)) !== 0,
      attrs: {
        write: (d & (1 << 9)) === 0,
        unpriv: (d & (1 << 5)) !== 0,
        xn: (d & 1) !== 0,
        mem: decodeTexCb(texcb),
        shared: (d & (1 << 10)) !== 0,
        ng: (d & (1 << 11)) !== 0,
        ns,
      },
    };
  }
  const texcb = ((d >>> 12) & 7) * 4 + ((d >>> 3) & 1) * 2 + ((d >>> 2) & 1);
  return {
    base: (d >>> 16) * SZ_64K,
    size: SZ_64K,
    af: (d & (1 << 4)) !== 0,
    attrs: {
      write: (d & (1 << 9)) === 0,
      unpriv: (d & (1 << 5)) !== 0,
      xn: (d & (1 << 15)) !== 0,
      mem: decodeTexCb(texcb),
      shared: (d & (1 << 10)) !== 0,
      ng: (d & (1 << 11)) !== 0,
      ns,
    },
  };
}
