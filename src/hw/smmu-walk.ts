import { BusError } from './memory.ts';
import type { PhysicalMemory } from './memory.ts';

/**
 * The SMMU's table walker: how the hardware reads an ARMv7 short-descriptor
 * translation table (ARM ARM, VMSAv7 "Short-descriptor translation table
 * format"). Every field position below is this file's own reading of the
 * architecture; nothing here is shared with software that writes tables, so
 * a wrong bit on either side shows up as a mismatch in the tests.
 *
 * A 16 KiB first-level table of 4096 words is indexed by VA[31:20]; a word
 * is a fault, a pointer to a 1 KiB second-level table (256 words indexed by
 * VA[19:12]), a 1 MiB section or a 16 MiB supersection. A second-level word
 * is a fault, a 64 KiB large page or a 4 KiB small page. Supersections and
 * large pages are written 16 times over; the walker reads the one slot its
 * VA indexes.
 *
 * What this SMMU honours: AP[2:0] in the access-flag model (SCTLR.AFE=1:
 * AP[0] is the access flag, AP[1] opens the page to unprivileged
 * transactions, AP[2] makes it read-only); TEX[2:0]:C:B with TEX remap off;
 * XN, S, nG and NS are decoded and reported but change no DMA outcome, since
 * masters do not fetch instructions and there is one security state and no
 * ASIDs. PXN is not implemented, so first-level type 0b11 is a fault. Domains
 * are ignored (manager access).
 */

/** Page sizes the format maps. */
export const SZ_4K = 0x1000;
export const SZ_64K = 0x10000;
export const SZ_1M = 0x100000;
export const SZ_16M = 0x1000000;
/** Every page size the walker can map, smallest first. */
export const SMMU_PAGE_SIZES: readonly number[] = [SZ_4K, SZ_64K, SZ_1M, SZ_16M];
/** The same as a bitmap (the SMMU's pgsize_bitmap). */
export const SMMU_PGSIZE_BITMAP = SZ_4K | SZ_64K | SZ_1M | SZ_16M;
/** Size of a first-level table: 4096 word descriptors (TTBCR.N = 0). */
export const SMMU_L1_TABLE_BYTES = 0x4000;

// First-level descriptor (ARM ARM B3.5.1).
const FL_TYPE_MASK = 0b11;
const FL_TYPE_PAGE_TABLE = 0b01;
const FL_TYPE_SECTION = 0b10;
/** Page-table descriptor: base of the second-level table, bits [31:10]. */
const FL_TABLE_BASE_MASK = 0xfffffc00;
const FL_TABLE_NS = 1 << 3;
const FL_SECT_B = 1 << 2;
const FL_SECT_C = 1 << 3;
const FL_SECT_XN = 1 << 4;
/** Supersections reuse the domain field [8:5] for PA[39:36]. */
const FL_SUPER_PA39_36_SHIFT = 5;
const FL_SECT_AP0 = 1 << 10;
const FL_SECT_AP1 = 1 << 11;
const FL_SECT_TEX_SHIFT = 12;
const FL_SECT_AP2 = 1 << 15;
const FL_SECT_S = 1 << 16;
const FL_SECT_NG = 1 << 17;
const FL_SECT_SUPERSECTION = 1 << 18;
const FL_SECT_NS = 1 << 19;
/** Section base PA[31:20] sits in bits [31:20]. */
const FL_SECT_BASE_SHIFT = 20;
/** Supersection base: PA[31:24] in [31:24], PA[35:32] in [23:20]. */
const FL_SUPER_BASE_SHIFT = 24;
const FL_SUPER_PA35_32_SHIFT = 20;

// Second-level descriptor (ARM ARM B3.5.1).
const SL_TYPE_MASK = 0b11;
const SL_TYPE_LARGE = 0b01;
/** Bit 1 set: small page; bit 0 is then its XN. */
const SL_SMALL = 0b10;
const SL_SMALL_XN = 1 << 0;
const SL_B = 1 << 2;
const SL_C = 1 << 3;
const SL_AP0 = 1 << 4;
const SL_AP1 = 1 << 5;
const SL_SMALL_TEX_SHIFT = 6;
const SL_AP2 = 1 << 9;
const SL_S = 1 << 10;
const SL_NG = 1 << 11;
const SL_LARGE_TEX_SHIFT = 12;
const SL_LARGE_XN = 1 << 15;
const SL_SMALL_BASE_SHIFT = 12;
const SL_LARGE_BASE_SHIFT = 16;

const TEX_MASK = 0b111;

// Permission bits of a walk result; the same values as the TLB's entry
// bits, kept local because hot paths should not go through imported
// bindings (some loaders compile those to getter calls).
const PERM_WRITE = 1;
const PERM_UNPRIV = 2;

/**
 * Why a walk found no translation: no valid descriptor ('translation'), a
 * descriptor without its access flag ('access-flag'), or a descriptor fetch
 * from memory nothing decodes ('external').
 */
export type WalkFaultKind = 'translation' | 'access-flag' | 'external';

/** One walk's outcome, written in place so a walk allocates nothing. */
export interface SmmuWalk {
  /** VA of the start of the page or section found. */
  vaBase: number;
  /** Size code of what was found: 0 small page, 1 large page, 2 section, 3 supersection. */
  code: number;
  paBase: number;
  /** PERM_WRITE | PERM_UNPRIV as AP[2:1] say. */
  perm: number;
  /** Where the first-level descriptor was read, and its value. */
  d1Addr: number;
  d1: number;
  /** Where the second-level descriptor was read (-1 when there was none), and its value. */
  d2Addr: number;
  d2: number;
  /** Descriptors fetched from memory, whether or not the walk succeeded. */
  fetches: number;
  /** On failure: why, and at which level (0 when no descriptor was read). */
  fault: WalkFaultKind;
  level: number;
}

/** A zeroed walk result to reuse across walks. */
export function newSmmuWalk(): SmmuWalk {
  return { vaBase: 0, code: 0, paBase: 0, perm: 0, d1Addr: 0, d1: 0, d2Addr: -1, d2: 0, fetches: 0, fault: 'translation', level: 0 };
}

function fail(w: SmmuWalk, kind: WalkFaultKind, level: number): boolean {
  w.fault = kind;
  w.level = level;
  return false;
}

/**
 * Walks the tables at `ttbr` (-1: walks disabled) for `va` into `w`.
 * Returns true when a valid, accessed leaf maps it; false with `w.fault`
 * and `w.level` set otherwise. `w.fetches` counts the descriptor reads.
 */
export function smmuWalk(mem: PhysicalMemory, ttbr: number, va: number, w: SmmuWalk): boolean {
  w.fetches = 0;
  if (!(va >= 0 && va < 2 ** 32)) return fail(w, 'translation', 0);
  if (ttbr < 0) return fail(w, 'translation', 1);
  const d1Addr = ttbr + (va >>> 20) * 4;
  let d1: number;
  try {
    d1 = mem.readU32(d1Addr);
  } catch (e) {
    w.fetches = 1;
    if (e instanceof BusError) return fail(w, 'external', 1);
    throw e;
  }
  return smmuWalkFrom(mem, va, d1Addr, d1, w);
}

/**
 * Finishes a walk of `va` whose first-level descriptor `d1` was read from
 * `d1Addr`: decodes it, and fetches the second-level descriptor when it
 * points at a table. Same result convention as `smmuWalk`; the first-level
 * read counts as one fetch.
 */
export function smmuWalkFrom(mem: PhysicalMemory, va: number, d1Addr: number, d1: number, w: SmmuWalk): boolean {
  w.fetches = 1;
  let af: number;
  let ap1: number;
  let ap2: number;
  let d2 = 0;
  let d2Addr = -1;
  const t1 = d1 & FL_TYPE_MASK;
  if (t1 === FL_TYPE_SECTION) {
    if (d1 & FL_SECT_SUPERSECTION) {
      w.code = 3;
      w.paBase = (d1 >>> FL_SUPER_BASE_SHIFT) * SZ_16M + ((d1 >>> FL_SUPER_PA35_32_SHIFT) & 0xf) * 2 ** 32 + ((d1 >>> FL_SUPER_PA39_36_SHIFT) & 0xf) * 2 ** 36;
    } else {
      w.code = 2;
      w.paBase = (d1 >>> FL_SECT_BASE_SHIFT) * SZ_1M;
    }
    af = d1 & FL_SECT_AP0;
    ap1 = d1 & FL_SECT_AP1;
    ap2 = d1 & FL_SECT_AP2;
  } else if (t1 === FL_TYPE_PAGE_TABLE) {
    d2Addr = ((d1 & FL_TABLE_BASE_MASK) >>> 0) + ((va >>> 12) & 0xff) * 4;
    w.fetches = 2;
    try {
      d2 = mem.readU32(d2Addr);
    } catch (e) {
      if (e instanceof BusError) return fail(w, 'external', 2);
      throw e;
    }
    const t2 = d2 & SL_TYPE_MASK;
    if (t2 === 0) return fail(w, 'translation', 2);
    if (t2 === SL_TYPE_LARGE) {
      w.code = 1;
      w.paBase = (d2 >>> SL_LARGE_BASE_SHIFT) * SZ_64K;
    } else {
      w.code = 0;
      w.paBase = (d2 >>> SL_SMALL_BASE_SHIFT) * SZ_4K;
    }
    af = d2 & SL_AP0;
    ap1 = d2 & SL_AP1;
    ap2 = d2 & SL_AP2;
  } else {
    // 0b00 is a fault; 0b11 would be a section with PXN, which this SMMU lacks.
    return fail(w, 'translation', 1);
  }
  if (af === 0) return fail(w, 'access-flag', d2Addr >= 0 ? 2 : 1);
  const size = SMMU_PAGE_SIZES[w.code]!;
  w.vaBase = Math.floor(va / size) * size;
  w.perm = (ap2 === 0 ? PERM_WRITE : 0) | (ap1 !== 0 ? PERM_UNPRIV : 0);
  w.d1Addr = d1Addr;
  w.d1 = d1;
  w.d2Addr = d2Addr;
  w.d2 = d2;
  return true;
}

/** How a mapping is seen by memory (TEX:C:B, TEX remap disabled). */
export type SmmuMemAttr = 'strongly-ordered' | 'device' | 'nc' | 'wt' | 'wb' | 'wb-wa';

/** The attributes of one leaf descriptor, as the walker reads them. */
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
  /** Non-secure: NS of a section, or of the table that holds the page. */
  ns: boolean;
  /** Not global (nG). */
  ng: boolean;
}

/** A leaf the walker found, decoded (what ATS1 reports). */
export interface DecodedLeaf {
  /** Physical base of the page or section. */
  base: number;
  /** Size it maps: 4 KiB, 64 KiB, 1 MiB or 16 MiB. */
  size: number;
  attrs: PteAttrs;
  /** Access flag (AP[0]). */
  af: boolean;
}

/** Memory type of TEX[2:0]:C:B (TEX remap off; ARM ARM table B3-10). */
function memAttr(tex: number, c: boolean, b: boolean): SmmuMemAttr {
  const cb = (c ? 2 : 0) | (b ? 1 : 0);
  if (tex & 0b100) {
    // Cacheable with separate outer/inner policies: the master sees the inner one (C:B).
    return cb === 0 ? 'nc' : cb === 1 ? 'wb-wa' : cb === 2 ? 'wt' : 'wb';
  }
  if (tex === 0b000) return cb === 0 ? 'strongly-ordered' : cb === 1 ? 'device' : cb === 2 ? 'wt' : 'wb';
  if (tex === 0b001) return cb === 3 ? 'wb-wa' : 'nc';
  // TEX=010 C:B=00 is non-shareable device; the rest of 01x is reserved.
  return tex === 0b010 && cb === 0 ? 'device' : 'nc';
}

/** Decodes the leaf a successful walk ended on (its attributes included). */
export function smmuWalkLeaf(w: SmmuWalk): DecodedLeaf {
  const d1 = w.d1;
  if (w.d2Addr < 0) {
    return {
      base: w.paBase,
      size: SMMU_PAGE_SIZES[w.code]!,
      af: (d1 & FL_SECT_AP0) !== 0,
      attrs: {
        write: (d1 & FL_SECT_AP2) === 0,
        unpriv: (d1 & FL_SECT_AP1) !== 0,
        xn: (d1 & FL_SECT_XN) !== 0,
        mem: memAttr((d1 >>> FL_SECT_TEX_SHIFT) & TEX_MASK, (d1 & FL_SECT_C) !== 0, (d1 & FL_SECT_B) !== 0),
        shared: (d1 & FL_SECT_S) !== 0,
        ng: (d1 & FL_SECT_NG) !== 0,
        ns: (d1 & FL_SECT_NS) !== 0,
      },
    };
  }
  const d2 = w.d2;
  const small = (d2 & SL_SMALL) !== 0;
  return {
    base: w.paBase,
    size: small ? SZ_4K : SZ_64K,
    af: (d2 & SL_AP0) !== 0,
    attrs: {
      write: (d2 & SL_AP2) === 0,
      unpriv: (d2 & SL_AP1) !== 0,
      xn: (d2 & (small ? SL_SMALL_XN : SL_LARGE_XN)) !== 0,
      mem: memAttr((d2 >>> (small ? SL_SMALL_TEX_SHIFT : SL_LARGE_TEX_SHIFT)) & TEX_MASK, (d2 & SL_C) !== 0, (d2 & SL_B) !== 0),
      shared: (d2 & SL_S) !== 0,
      ng: (d2 & SL_NG) !== 0,
      ns: (d1 & FL_TABLE_NS) !== 0,
    },
  };
}
