import type { Prng } from './prng.ts';

/** Entry permission bits. */
export const TLB_PERM_WRITE = 1;
export const TLB_PERM_UNPRIV = 2;

/** log2 of the page sizes an entry can hold, indexed by size code. */
export const TLB_SHIFTS: readonly number[] = [12, 16, 20, 24];
/** The page sizes themselves, indexed by size code. */
export const TLB_SIZES: readonly number[] = [1 << 12, 1 << 16, 1 << 20, 1 << 24];

const EMPTY = -1;

/**
 * The translation lookaside buffer one SMMU shares between all its contexts.
 * Fully associative, `entries` slots, each tagged with its context; a miss
 * that finds the TLB full replaces a victim chosen with the SoC's PRNG.
 * Every entry remembers the descriptors it was filled from (address and
 * value), so the SMMU can tell when an entry no longer matches the page
 * tables in memory, i.e. when it is stale.
 *
 * State lives in typed arrays indexed by slot; a hash of (context, size,
 * virtual page) with chains threaded through the slots makes lookups O(1)
 * per page size, and per-context counts of entries of each size let a lookup skip
 * sizes that context has none of. Nothing is allocated per lookup or fill.
 */
export class SmmuTlb {
  readonly entries: number;
  /** Context index per slot, -1 when the slot is free. */
  readonly ctx: Int16Array;
  readonly va: Float64Array;
  readonly sizeCode: Uint8Array;
  readonly pa: Float64Array;
  readonly perm: Uint8Array;
  /** Where the first-level descriptor was read from, and its value. */
  readonly d1Addr: Float64Array;
  readonly d1: Uint32Array;
  /** Where the second-level descriptor was read from (-1 for sections), and its value. */
  readonly d2Addr: Float64Array;
  readonly d2: Uint32Array;
  /** 1 once a stale use of the entry has been reported. */
  readonly staleSeen: Uint8Array;
  /** Bumped whenever a slot is refilled or dropped, so cached slot numbers can be revalidated. */
  readonly gen: Uint32Array;
  /** Hash chains threaded through the slots: first slot per bucket, next slot per slot (-1 ends). */
  private readonly heads: Int32Array;
  private readonly next: Int32Array;
  /** Hash key of each valid slot. */
  private readonly keys: Int32Array;
  private readonly hShift: number;
  private readonly freeSlots: Int32Array;
  private freeTop: number;
  private readonly counts: Int32Array;
  private readonly prng: Prng;
  private used = 0;
  private pool = 0;
  private poolBits = 0;
  private readonly victimBits: number;

  constructor(entries: number, maxContexts: number, prng: Prng) {
    if (!Number.isInteger(entries) || entries < 1) throw new Error(`SMMU TLB needs at least one entry (got ${entries})`);
    if (maxContexts > 256) throw new Error(`SMMU TLB supports at most 256 contexts (got ${maxContexts})`);
    this.entries = entries;
    this.ctx = new Int16Array(entries).fill(-1);
    this.va = new Float64Array(entries);
    this.sizeCode = new Uint8Array(entries);
    this.pa = new Float64Array(entries);
    this.perm = new Uint8Array(entries);
    this.d1Addr = new Float64Array(entries);
    this.d1 = new Uint32Array(entries);
    this.d2Addr = new Float64Array(entries).fill(-1);
    this.d2 = new Uint32Array(entries);
    this.staleSeen = new Uint8Array(entries);
    this.gen = new Uint32Array(entries);
    this.freeSlots = new Int32Array(entries);
    for (let i = 0; i < entries; i++) this.freeSlots[i] = entries - 1 - i;
    this.freeTop = entries;
    this.counts = new Int32Array(maxContexts * 4);
    this.prng = prng;
    this.victimBits = Math.max(1, Math.ceil(Math.log2(entries)));
    let bits = 4;
    while (1 << bits < entries * 4 && bits < 24) bits++;
    this.heads = new Int32Array(1 << bits).fill(EMPTY);
    this.next = new Int32Array(entries).fill(EMPTY);
    this.keys = new Int32Array(entries).fill(EMPTY);
    this.hShift = 32 - bits;
  }

  /** Number of valid entries. */
  get size(): number {
    return this.used;
  }

  /** Returns the slot translating `va` for context `c`, or -1. */
  lookup(c: number, va: number): number {
    const base = c * 4;
    for (let code = 0; code < 4; code++) {
      if (this.counts[base + code] === 0) continue;
      const s = this.find(key(c, code, va));
      if (s >= 0) return s;
    }
    return -1;
  }

  /**
   * Fills an entry for context `c` mapping the page of size 2^TLB_SHIFTS[code]
   * at `vaBase` to `paBase`; returns its slot. Replaces a PRNG-chosen victim
   * when full. `absent` says the caller has just looked the page up and
   * missed, which saves a probe.
   */
  insert(c: number, vaBase: number, code: number, paBase: number, perm: number, d1Addr: number, d1: number, d2Addr: number, d2: number, absent = false): number {
    const k = key(c, code, vaBase);
    let s = absent ? -1 : this.find(k);
    if (s < 0) {
      if (this.freeTop > 0) s = this.freeSlots[--this.freeTop]!;
      else {
        s = this.victim();
        this.drop(s);
        this.freeTop--;
      }
      this.hashInsert(k, s);
      this.counts[c * 4 + code]!++;
      this.used++;
    }
    this.ctx[s] = c;
    this.va[s] = vaBase;
    this.sizeCode[s] = code;
    this.pa[s] = paBase;
    this.perm[s] = perm;
    this.d1Addr[s] = d1Addr;
    this.d1[s] = d1;
    this.d2Addr[s] = d2Addr;
    this.d2[s] = d2;
    this.staleSeen[s] = 0;
    this.gen[s]!++;
    return s;
  }

  /** Drops every entry of context `c` (TLBIALL for one context); returns the number dropped. */
  invalidateContext(c: number): number {
    let n = 0;
    if (!this.hasAny(c)) return 0;
    for (let s = 0; s < this.entries; s++) {
      if (this.ctx[s] === c) {
        this.drop(s);
        n++;
      }
    }
    return n;
  }

  /** Drops every entry of context `c` that overlaps [va, va+len) (TLBIVA over a range). */
  invalidateRange(c: number, va: number, len: number): number {
    if (!this.hasAny(c) || len <= 0) return 0;
    const end = va + len;
    let n = 0;
    for (let s = 0; s < this.entries; s++) {
      if (this.ctx[s] !== c) continue;
      const b = this.va[s]!;
      if (b < end && b + TLB_SIZES[this.sizeCode[s]!]! > va) {
        this.drop(s);
        n++;
      }
    }
    return n;
  }

  /** Drops every entry (TLBIALL of the whole SMMU). */
  invalidateAll(): number {
    let n = 0;
    for (let s = 0; s < this.entries; s++) {
      if (this.ctx[s]! >= 0) {
        this.drop(s);
        n++;
      }
    }
    return n;
  }

  /** Entries of context `c` currently held. */
  entriesOf(c: number): number {
    const b = c * 4;
    return this.counts[b]! + this.counts[b + 1]! + this.counts[b + 2]! + this.counts[b + 3]!;
  }

  /**
   * Picks a victim slot uniformly with the SoC's PRNG. One 32-bit draw
   * serves several victims (log2(entries) bits each, rejection-sampled when
   * entries is not a power of two), which keeps the miss path cheap.
   */
  private victim(): number {
    const bits = this.victimBits;
    while (true) {
      if (this.poolBits < bits) {
        this.pool = this.prng.nextU32();
        this.poolBits = 32;
      }
      const v = this.pool & ((1 << bits) - 1);
      this.pool >>>= bits;
      this.poolBits -= bits;
      if (v < this.entries) return v;
    }
  }

  private bucket(k: number): number {
    return Math.imul(k, 0x9e3779b1) >>> this.hShift;
  }

  private find(k: number): number {
    let s = this.heads[this.bucket(k)]!;
    while (s >= 0 && this.keys[s] !== k) s = this.next[s]!;
    return s;
  }

  private hashInsert(k: number, s: number): void {
    const b = this.bucket(k);
    this.keys[s] = k;
    this.next[s] = this.heads[b]!;
    this.heads[b] = s;
  }

  private hashDelete(k: number, s: number): void {
    const b = this.bucket(k);
    let p = this.heads[b]!;
    if (p === s) this.heads[b] = this.next[s]!;
    else {
      while (this.next[p] !== s) {
        if (p < 0) throw new Error(`tlb chain broken: slot ${s} key ${k} bucket ${b}`);
        p = this.next[p]!;
      }
      this.next[p] = this.next[s]!;
    }
    this.keys[s] = EMPTY;
  }

  private hasAny(c: number): boolean {
    return this.entriesOf(c) > 0;
  }

  private drop(s: number): void {
    const c = this.ctx[s]!;
    if (c < 0) return;
    const code = this.sizeCode[s]!;
    this.hashDelete(this.keys[s]!, s);
    this.counts[c * 4 + code]!--;
    this.ctx[s] = -1;
    this.gen[s]!++;
    this.freeSlots[this.freeTop++] = s;
    this.used--;
  }
}

/** Hash key of (context, size code, virtual page at that size). VAs are 32-bit, so it stays a small integer. */
function key(c: number, code: number, va: number): number {
  return ((va >>> TLB_SHIFTS[code]!) * 4 + code) * 256 + c;
}
