import { hex } from '../lib/index.ts';
import type { PhysicalMemory } from './memory.ts';
import type { SmmuContext, SmmuFaultKind, SmmuStats } from './smmu-context.ts';
import type { SmmuTlb } from './smmu-tlb.ts';
import { newSmmuWalk, smmuWalk, smmuWalkFrom, smmuWalkLeaf, type DecodedLeaf } from './smmu-walk.ts';

// Local copies of the TLB's constants: hot paths should not go through
// imported bindings, which some loaders compile to getter calls.
const PERM_WRITE = 1;
const PERM_UNPRIV = 2;
const SIZES = [1 << 12, 1 << 16, 1 << 20, 1 << 24];

/**
 * How one context bank turns bus addresses into physical ones: its
 * last-used translation (a micro-TLB in front of the shared TLB), the
 * shared TLB, and on a miss a table walk whose result fills the TLB. Every
 * hit on a TLB entry is checked against the descriptors in memory, so a
 * stale entry in use is reported. Faults go back to the context, whose
 * handler may fix the tables and have the walk retried.
 */
export class SmmuTranslation {
  private readonly ctx: SmmuContext;
  private readonly tlb: SmmuTlb;
  private readonly mem: PhysicalMemory;
  private readonly index: number;
  private readonly stats: SmmuStats;
  private readonly walkNs: number;
  // Last translation used: valid while its TLB slot's generation is unchanged.
  private mVa = 0;
  private mEnd = 0;
  private mPa = 0;
  private mPerm = 0;
  private mSlot = 0;
  private mGen = -1;
  private readonly result = { pa: 0, run: 0 };
  private readonly w = newSmmuWalk();
  /** Why the last translate() returned null, and at which table level (0: no walk). */
  faultKind: SmmuFaultKind = 'translation';
  faultLevel = 0;

  constructor(ctx: SmmuContext) {
    this.ctx = ctx;
    this.tlb = ctx.smmu.tlb;
    this.mem = ctx.smmu.mem;
    this.index = ctx.index;
    this.stats = ctx.stats;
    this.walkNs = ctx.smmu.cfg.walkNs;
  }

  /** Drops the last-used translation; called on every TLB invalidation. */
  forget(): void {
    this.mGen = -1;
  }

  /**
   * Translates `addr` for a transaction of `len` bytes (see
   * SmmuContext.translate); returns a result object reused by every call,
   * or null on a fault, whose kind and level are then in faultKind and
   * faultLevel for the context to report.
   */
  translate(addr: number, write: boolean, len: number): { pa: number; run: number } | null {
    const r = this.result;
    if (addr >= this.mVa && addr < this.mEnd && this.tlb.gen[this.mSlot] === this.mGen && this.allowed(this.mPerm, write)) {
      this.stats.tlbHits++;
      this.checkStale(this.mSlot, addr, write);
      r.pa = this.mPa + (addr - this.mVa);
      r.run = this.mEnd - addr;
    } else if (!this.fillMiss(addr, write) && !this.translateSlow(addr, write)) {
      return null;
    }
    if (len > r.run) this.extend(write, len);
    return r;
  }

  /**
   * The common miss: not in the TLB, the walk succeeds and the access is
   * allowed. Fills the TLB and the result; returns false, having changed
   * nothing, in every other case (left to translateSlow).
   */
  private fillMiss(addr: number, write: boolean): boolean {
    if (!this.ctx.enabled) return false;
    const tlb = this.tlb;
    const c = this.index;
    if (tlb.lookup(c, addr) >= 0 || !this.walk(addr)) return false;
    const w = this.w;
    const perm = w.perm;
    if (!((!write || (perm & PERM_WRITE) !== 0) && (this.ctx.privileged || (perm & PERM_UNPRIV) !== 0))) return false;
    const st = this.stats;
    const ns = this.w.fetches * this.walkNs;
    st.tlbMisses++;
    st.walks++;
    st.walkNs += ns;
    const vaBase = w.vaBase;
    const paBase = w.paBase;
    const slot = tlb.insert(c, vaBase, w.code, paBase, perm, w.d1Addr, w.d1, w.d2Addr, w.d2, true);
    const end = vaBase + SIZES[w.code]!;
    this.mVa = vaBase;
    this.mEnd = end;
    this.mPa = paBase;
    this.mPerm = perm;
    this.mSlot = slot;
    this.mGen = tlb.gen[slot]!;
    const r = this.result;
    r.pa = paBase + (addr - vaBase);
    r.run = end - addr;
    return true;
  }

  /**
   * Hardware address translation of one address (ATS1, smmu_translate):
   * walks the tables without touching the TLB. Returns the leaf (base, size,
   * attributes) and the physical address, or null when nothing maps it.
   */
  resolve(va: number): (DecodedLeaf & { pa: number }) | null {
    const ok = this.walk(va);
    this.accountWalk(this.w.fetches);
    if (!ok) return null;
    const w = this.w;
    return { ...smmuWalkLeaf(w), pa: w.paBase + (va - w.vaBase) };
  }

  private allowed(perm: number, write: boolean): boolean {
    return (!write || (perm & PERM_WRITE) !== 0) && (this.ctx.privileged || (perm & PERM_UNPRIV) !== 0);
  }

  /** Points the last-translation cache at `slot` and sets the result for `addr` from it. */
  private useSlot(slot: number, addr: number): void {
    const tlb = this.tlb;
    const vaBase = tlb.va[slot]!;
    this.mVa = vaBase;
    this.mEnd = vaBase + SIZES[tlb.sizeCode[slot]!]!;
    this.mPa = tlb.pa[slot]!;
    this.mPerm = tlb.perm[slot]!;
    this.mSlot = slot;
    this.mGen = tlb.gen[slot]!;
    this.result.pa = this.mPa + (addr - vaBase);
    this.result.run = this.mEnd - addr;
  }

  /**
   * Every case the fast paths leave: a TLB hit without the permission, a
   * walk that faults, a disabled context. Returns false with the fault in
   * faultKind/faultLevel; a walk that succeeds fills the TLB even when its
   * permissions then fault the access.
   */
  private translateSlow(addr: number, write: boolean): boolean {
    const tlb = this.tlb;
    if (!this.ctx.enabled) return this.fault('disabled', 0);
    let slot = tlb.lookup(this.index, addr);
    if (slot >= 0) {
      this.stats.tlbHits++;
      this.checkStale(slot, addr, write);
    } else {
      this.stats.tlbMisses++;
      const ok = this.walk(addr);
      this.accountWalk(this.w.fetches);
      if (!ok) return this.fault(this.w.fault, this.w.level);
      const w = this.w;
      slot = tlb.insert(this.index, w.vaBase, w.code, w.paBase, w.perm, w.d1Addr, w.d1, w.d2Addr, w.d2, true);
      if (this.allowed(w.perm, write)) {
        // Fill the last-translation cache straight from the walk.
        this.mVa = w.vaBase;
        this.mEnd = w.vaBase + SIZES[w.code]!;
        this.mPa = w.paBase;
        this.mPerm = w.perm;
        this.mSlot = slot;
        this.mGen = tlb.gen[slot]!;
        const r = this.result;
        r.pa = w.paBase + (addr - w.vaBase);
        r.run = this.mEnd - addr;
        return true;
      }
    }
    if (this.allowed(tlb.perm[slot]!, write)) {
      this.useSlot(slot, addr);
      return true;
    }
    return this.fault('permission', tlb.d2Addr[slot]! >= 0 ? 2 : 1);
  }

  private fault(kind: SmmuFaultKind, level: number): false {
    this.faultKind = kind;
    this.faultLevel = level;
    return false;
  }

  /**
   * Grows the current result over the following pages while they continue
   * it physically with usable permissions, up to `len` bytes. Each page is
   * accounted (hit, or miss + walk + fill) only once it is known to join
   * the run, so a page left out is accounted by the call that reaches it.
   */
  private extend(write: boolean, len: number): void {
    const tlb = this.tlb;
    const r = this.result;
    const pa0 = r.pa;
    let run = r.run;
    let va = this.mEnd;
    let last = -1;
    let hits = 0;
    let misses = 0;
    let fetches = 0;
    // Within one call memory does not change, so one first-level descriptor
    // read serves every page of the same MiB (each walk still pays for it).
    let d1Addr = -1;
    let d1 = 0;
    while (run < len && va < 2 ** 32) {
      const expectPa = pa0 + run;
      let slot = tlb.lookup(this.index, va);
      if (slot >= 0) {
        if (tlb.pa[slot]! + (va - tlb.va[slot]!) !== expectPa || !this.allowed(tlb.perm[slot]!, write)) break;
        hits++;
        this.checkStale(slot, va, write);
      } else {
        const ok = this.walkCached(va, d1Addr, d1);
        const w = this.w;
        if (!ok || w.paBase + (va - w.vaBase) !== expectPa || !this.allowed(w.perm, write)) break;
        d1Addr = w.d1Addr;
        d1 = w.d1;
        misses++;
        fetches += this.w.fetches;
        slot = tlb.insert(this.index, w.vaBase, w.code, w.paBase, w.perm, w.d1Addr, w.d1, w.d2Addr, w.d2, true);
      }
      last = slot;
      const end = tlb.va[slot]! + SIZES[tlb.sizeCode[slot]!]!;
      run += end - va;
      va = end;
    }
    if (last < 0) return;
    const st = this.stats;
    st.tlbHits += hits;
    st.tlbMisses += misses;
    st.walks += misses;
    const ns = fetches * this.walkNs;
    st.walkNs += ns;
    this.useSlot(last, va - 1);
    r.pa = pa0;
    r.run = run;
  }

  /** `walk`, reusing a first-level descriptor read earlier in the same call when it is the same word. */
  private walkCached(va: number, d1Addr: number, d1: number): boolean {
    const ttbr = this.ctx.ttbrFor(va);
    if (d1Addr >= 0 && ttbr >= 0 && ttbr + (va >>> 20) * 4 === d1Addr) return smmuWalkFrom(this.mem, va, d1Addr, d1, this.w);
    return this.walk(va);
  }

  /**
   * Walks the tables for `va` into `this.w` (its fetch count is for the
   * caller to account); on failure the walk says why and returns false.
   */
  private walk(va: number): boolean {
    return smmuWalk(this.mem, this.ctx.ttbrFor(va), va, this.w);
  }

  /** Counts one walk of `fetches` descriptor fetches. */
  private accountWalk(fetches: number): void {
    const ns = fetches * this.walkNs;
    this.stats.walks++;
    this.stats.walkNs += ns;
  }

  /** Compares a TLB entry with its descriptors in memory; a mismatch is a stale translation in use. */
  private checkStale(slot: number, addr: number, write: boolean): void {
    const tlb = this.tlb;
    const mem = this.mem;
    let now1 = mem.readU32(tlb.d1Addr[slot]!);
    let stale = now1 !== tlb.d1[slot];
    let now2 = -1;
    const d2Addr = tlb.d2Addr[slot]!;
    if (!stale && d2Addr >= 0) {
      now2 = mem.readU32(d2Addr);
      stale = now2 !== tlb.d2[slot];
    }
    if (!stale) return;
    this.stats.staleHits++;
    if (tlb.staleSeen[slot]) return;
    tlb.staleSeen[slot] = 1;
    now1 >>>= 0;
    const pa = tlb.pa[slot]! + (addr - tlb.va[slot]!);
    const tableNow = stale && now2 < 0 ? `first-level descriptor is now ${hex(now1)}` : `second-level descriptor is now ${hex(now2 >>> 0)}`;
    this.ctx.smmu.findings?.report(
      'stale-tlb',
      'smmu_translate',
      `${this.ctx.name} (${this.ctx.label}): DMA ${write ? 'write' : 'read'} at iova ${hex(addr)} used a stale TLB entry to pa ${hex(pa)}; the ${tableNow} (TLB not invalidated after the page-table change)`,
    );
  }
}
