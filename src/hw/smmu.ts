import { hex } from '../lib/index.ts';
import type { FindingLog, Tracer } from '../lib/index.ts';
import { DmaFault } from './dma-master.ts';
import type { DmaMaster, Translator } from './dma-master.ts';
import type { PhysicalMemory } from './memory.ts';
import type { Prng } from './prng.ts';
import { SmmuTlb } from './smmu-tlb.ts';
import { SMMU_L1_TABLE_BYTES, newSmmuWalk, smmuWalk, smmuWalkFrom, smmuWalkLeaf, type DecodedLeaf, type WalkFaultKind } from './smmu-walk.ts';

// Local copies of the TLB's constants: hot paths should not go through
// imported bindings, which some loaders compile to getter calls.
const PERM_WRITE = 1;
const PERM_UNPRIV = 2;
const SIZES = [1 << 12, 1 << 16, 1 << 20, 1 << 24];

/** Static description of one SMMU instance. */
export interface SmmuConfig {
  name: string;
  /** Number of hardware context banks. */
  contexts: number;
  /** Entries of the TLB all contexts share. */
  tlbEntries: number;
  /** Cost of one descriptor fetch of a table walk, in ns (a walk to a small page fetches two). */
  walkNs: number;
  /** Cost of one TLB invalidate operation, in ns (default 20). */
  tlbiNs?: number;
  /** Cost of a TLB sync, in ns (default 150). */
  syncNs?: number;
  /** How many times a stalled transaction is retried after its handler said 'retry' (default 8). */
  maxRetries?: number;
}

/** Counters of an SMMU or of one of its contexts. */
export interface SmmuStats {
  /** Translations served by the TLB. */
  tlbHits: number;
  tlbMisses: number;
  /** Table walks (TLB misses, retries, hardware translation requests). */
  walks: number;
  /** Simulated ns spent fetching descriptors. */
  walkNs: number;
  faults: number;
  /** Translations served by an entry that no longer matches the page tables. */
  staleHits: number;
  /** TLB invalidate and sync operations. */
  tlbMaintenanceOps: number;
  tlbMaintenanceNs: number;
}

function zeroStats(): SmmuStats {
  return { tlbHits: 0, tlbMisses: 0, walks: 0, walkNs: 0, faults: 0, staleHits: 0, tlbMaintenanceOps: 0, tlbMaintenanceNs: 0 };
}

/**
 * Why a translation failed: what the walk found (see WalkFaultKind), a write
 * to a read-only page or an unprivileged access to a privileged one
 * ('permission'), or a context that is not enabled ('disabled').
 */
export type SmmuFaultKind = WalkFaultKind | 'permission' | 'disabled';

/** A fault as the context's interrupt handler sees it (FSR/FAR). */
export interface SmmuFault {
  context: SmmuContext;
  iova: number;
  write: boolean;
  kind: SmmuFaultKind;
  /** Table level of the failing descriptor (0 when no walk happened). */
  level: number;
  message: string;
}

/**
 * A context's fault interrupt handler. 'retry' resumes the stalled
 * transaction (the handler has fixed the tables), 'terminate' aborts it.
 */
export type SmmuFaultHandler = (fault: SmmuFault) => 'retry' | 'terminate';

/** Translation registers of a context bank. */
export interface SmmuContextRegs {
  /** Physical address of the first-level table used below the split (-1: walks disabled). */
  ttbr0: number;
  /** Table used at and above the split (-1: walks disabled). */
  ttbr1?: number;
  /** TTBCR.N: addresses with any of the top N bits set use TTBR1; 0 means TTBR0 only. */
  split?: number;
}

/**
 * An SMMU (System MMU): several context banks that translate the DMA of the
 * masters connected to them, all sharing one TLB. Page tables are ARMv7
 * short-descriptor tables in simulated physical memory, read word by word
 * with `mem.readU32`; a TLB miss costs `walkNs` per descriptor fetched.
 *
 * The TLB is only as fresh as the software keeps it: after a page-table
 * change, entries stay in use until invalidated. When a translation is
 * served by an entry whose descriptors in memory have since changed, the
 * SMMU still uses it, as hardware does, and reports a 'stale-tlb' finding.
 */
export class Smmu {
  readonly name: string;
  readonly cfg: Required<SmmuConfig>;
  readonly mem: PhysicalMemory;
  readonly tlb: SmmuTlb;
  readonly contexts: SmmuContext[] = [];
  /** Maintenance issued to the whole SMMU rather than one context. */
  private readonly global: SmmuStats = zeroStats();
  /** Warnings printed for faults nobody handled (the newest 1000 are kept). */
  readonly warnings: string[] = [];
  warningCount = 0;
  readonly findings: FindingLog | null;
  /** The SoC it sits on: its tracer (when one is installed) records walks and faults on this SMMU's lane. */
  private readonly host: { readonly tracer?: Tracer | null; readonly clock?: { readonly now: number } };

  constructor(sys: { mem: PhysicalMemory; prng: Prng; findings?: FindingLog; tracer?: Tracer | null; clock?: { readonly now: number } }, cfg: SmmuConfig) {
    if (!Number.isInteger(cfg.contexts) || cfg.contexts < 1 || cfg.contexts > 256) {
      throw new Error(`SMMU ${cfg.name}: contexts must be 1..256 (got ${cfg.contexts})`);
    }
    if (!(cfg.walkNs >= 0)) throw new Error(`SMMU ${cfg.name}: walkNs must be >= 0`);
    this.name = cfg.name;
    this.cfg = { tlbiNs: 20, syncNs: 150, maxRetries: 8, ...cfg };
    this.mem = sys.mem;
    this.findings = sys.findings ?? null;
    this.host = sys;
    this.tlb = new SmmuTlb(cfg.tlbEntries, cfg.contexts, sys.prng);
    for (let i = 0; i < cfg.contexts; i++) this.contexts.push(new SmmuContext(this, i));
  }

  /** Counters of the whole SMMU: its contexts' counters summed (a fresh object per read). */
  get stats(): SmmuStats {
    const t = { ...this.global };
    for (const c of this.contexts) {
      for (const k of Object.keys(t) as (keyof SmmuStats)[]) t[k] += c.stats[k];
    }
    return t;
  }

  /** Returns context bank `i`, or the one named `name` (`smmu0.ctx2`); throws if none. */
  context(id: number | string): SmmuContext {
    const c = typeof id === 'number' ? this.contexts[id] : this.contexts.find((x) => x.name === id);
    if (!c) throw new Error(`SMMU ${this.name} has no context ${id}`);
    return c;
  }

  /** Invalidates the whole TLB, every context (TLBIALL at reset); returns the cost in ns. */
  invalidateAll(): number {
    this.tlb.invalidateAll();
    return this.account(null, 1) + this.account(null, 0, true);
  }

  /** Records a warning (the kernel log line a driver prints for an unhandled fault). */
  warn(msg: string): void {
    this.warningCount++;
    this.warnings.push(msg);
    if (this.warnings.length > 1000) this.warnings.shift();
  }

  /** The SoC's tracer, or null when nothing is recorded. */
  get tracer(): Tracer | null {
    return this.host.tracer ?? null;
  }

  /** Records `walks` table walks that took `ns` of descriptor fetches, for a DMA transaction at `iova` starting now. */
  traceWalks(tr: Tracer, ctx: SmmuContext, iova: number, walks: number, ns: number): void {
    const now = this.host.clock?.now ?? 0;
    tr.complete(tr.lane('hardware', this.name), walks === 1 ? 'table walk' : `${walks} table walks`, 'iommu', now, ns, { context: ctx.name, masters: ctx.masters.join('+'), iova: hex(iova), walks });
  }

  /** Records a translation fault as an instant event on this SMMU's lane. */
  traceFault(tr: Tracer, f: SmmuFault): void {
    tr.instant(tr.lane('hardware', this.name), `${f.kind} fault`, 'iommu', { context: f.context.name, iova: hex(f.iova), write: f.write, level: f.level });
  }

  /** Accounts `ops` invalidations (or one sync) to the SMMU and context; returns their cost. */
  account(ctx: SmmuContext | null, ops: number, sync = false): number {
    const ns = sync ? this.cfg.syncNs : ops * this.cfg.tlbiNs;
    const n = sync ? 1 : ops;
    const st = ctx ? ctx.stats : this.global;
    st.tlbMaintenanceOps += n;
    st.tlbMaintenanceNs += ns;
    return ns;
  }
}

/**
 * One context bank of an SMMU. It is a `Translator`: installed as a DMA
 * master's `translator` (see `connect`), it turns the master's bus
 * addresses into physical ones, a whole page or section per call.
 *
 * Life cycle as the driver drives it: `bind` (claim the bank), `activate`
 * (program TTBRs and enable: a context switch, so the bank's old TLB entries
 * go), `deactivate`, `unbind`. Faults go to `handler`; with none, the SMMU
 * logs a warning and terminates the transaction, which the master sees as
 * DmaFault.
 */
export class SmmuContext implements Translator {
  readonly smmu: Smmu;
  readonly index: number;
  readonly name: string;
  /** Who claimed the bank (the driver's context name), or null. */
  owner: string | null = null;
  ttbr0 = -1;
  ttbr1 = -1;
  split = 0;
  enabled = false;
  /** Whether this context's transactions are privileged (most DMA is not). */
  privileged = false;
  handler: SmmuFaultHandler | null = null;
  readonly stats: SmmuStats = zeroStats();
  private readonly masterNames: string[] = [];
  private label: string;
  // Last translation used (a micro-TLB over the shared TLB): valid while the slot's generation is unchanged.
  private mVa = 0;
  private mEnd = 0;
  private mPa = 0;
  private mPerm = 0;
  private mSlot = 0;
  private mGen = -1;
  private readonly result = { pa: 0, run: 0 };
  private readonly w = newSmmuWalk();
  private readonly walkNs: number;

  constructor(smmu: Smmu, index: number) {
    this.smmu = smmu;
    this.index = index;
    this.name = `${smmu.name}.ctx${index}`;
    this.label = this.name;
    this.walkNs = smmu.cfg.walkNs;
  }

  /** True when translation is enabled with programmed tables (smmu_is_active). */
  get isActive(): boolean {
    return this.enabled;
  }

  /** Names of the masters whose DMA goes through this context. */
  get masters(): readonly string[] {
    return this.masterNames;
  }

  /** Routes a master's DMA through this context (its stream ID maps here). */
  connect(master: DmaMaster): void {
    if (master.translator && master.translator !== this) throw new Error(`${master.name} is already behind another translator`);
    master.translator = this;
    if (!this.masterNames.includes(master.name)) this.masterNames.push(master.name);
    this.label = this.masterNames.join('+');
  }

  /** Undoes `connect`: the master's bus addresses become physical again. */
  disconnect(master: DmaMaster): void {
    if (master.translator === this) master.translator = null;
    const i = this.masterNames.indexOf(master.name);
    if (i >= 0) this.masterNames.splice(i, 1);
    this.label = this.masterNames.length > 0 ? this.masterNames.join('+') : this.name;
  }

  /** Claims the bank for `owner` (smmu_ctx_bind); throws if another owner holds it. */
  bind(owner: string): void {
    if (this.owner !== null && this.owner !== owner) throw new Error(`${this.name} is bound to ${this.owner}`);
    this.owner = owner;
  }

  /** Releases the bank; it must be inactive. */
  unbind(): void {
    if (this.enabled) throw new Error(`${this.name}: unbind while active`);
    this.owner = null;
  }

  /** Writes the translation registers; takes effect for new walks, the TLB keeps what it holds. */
  program(regs: SmmuContextRegs): void {
    const split = regs.split ?? 0;
    if (!Number.isInteger(split) || split < 0 || split > 7) throw new Error(`${this.name}: TTBCR.N ${split} out of range`);
    for (const t of [regs.ttbr0, regs.ttbr1 ?? -1]) {
      if (t !== -1 && (t < 0 || t >= 2 ** 32 || t % (SMMU_L1_TABLE_BYTES >> split) !== 0)) throw new Error(`${this.name}: bad TTBR ${hex(t)}`);
    }
    this.ttbr0 = regs.ttbr0;
    this.ttbr1 = regs.ttbr1 ?? -1;
    this.split = split;
  }

  /**
   * Programs the registers and enables translation (smmu_activate): a context
   * switch, so every TLB entry of this bank is invalidated first.
   */
  activate(regs?: SmmuContextRegs): number {
    if (this.owner === null) throw new Error(`${this.name}: activate before bind`);
    if (regs) this.program(regs);
    this.enabled = true;
    return this.tlbInvalidateAll() + this.tlbSync();
  }

  /** Disables translation: the bank's masters fault until it is activated again (smmu_deactivate). */
  deactivate(): number {
    this.enabled = false;
    return this.tlbInvalidateAll() + this.tlbSync();
  }

  /** Invalidates every TLB entry of this context (TLBIALL); returns the cost in ns. */
  tlbInvalidateAll(): number {
    this.smmu.tlb.invalidateContext(this.index);
    this.mGen = -1;
    return this.smmu.account(this, 1);
  }

  /** Invalidates the entries that translate `va` (TLBIVA); returns the cost in ns. */
  tlbInvalidateVa(va: number): number {
    this.smmu.tlb.invalidateRange(this.index, va, 1);
    this.mGen = -1;
    return this.smmu.account(this, 1);
  }

  /**
   * Invalidates the entries overlapping [va, va+len), one TLBIVA per granule
   * of `granule` bytes (the driver's tlb_add_page loop); returns the cost.
   */
  tlbInvalidateRange(va: number, len: number, granule = 4096): number {
    if (len <= 0) return 0;
    this.smmu.tlb.invalidateRange(this.index, va, len);
    this.mGen = -1;
    return this.smmu.account(this, Math.ceil(len / granule));
  }

  /** Waits for outstanding invalidations to complete (TLBSYNC); returns the cost in ns. */
  tlbSync(): number {
    return this.smmu.account(this, 0, true);
  }

  /**
   * Translates a bus address for a DMA transaction (the Translator port):
   * returns the physical address and how many bytes from there are
   * physically contiguous in this translation. Throws DmaFault when the
   * transaction is terminated.
   *
   * Without `len` the run ends at the end of the page or section. With
   * `len` (the bytes the master is about to move from `addr`), the run goes
   * on through following pages as long as they continue the physical range
   * with the same permissions, up to `len`: every page is looked up, and on
   * a miss walked and filled, exactly as separate calls would, so counters
   * and TLB contents do not depend on how the master splits its transfer.
   * A page that would fault or break the run is left for the next call.
   */
  translate(addr: number, write: boolean, len = 0): { pa: number; run: number } {
    const tr = this.smmu.tracer;
    if (tr) return this.translateTraced(tr, addr, write, len);
    return this.translateUntraced(addr, write, len);
  }

  /** `translate` recording its walks as one trace event per call (a call covers a whole run of the transfer). */
  private translateTraced(tr: Tracer, addr: number, write: boolean, len: number): { pa: number; run: number } {
    const st = this.stats;
    const walks0 = st.walks;
    const ns0 = st.walkNs;
    try {
      return this.translateUntraced(addr, write, len);
    } finally {
      if (st.walks !== walks0) this.smmu.traceWalks(tr, this, addr, st.walks - walks0, st.walkNs - ns0);
    }
  }

  private translateUntraced(addr: number, write: boolean, len: number): { pa: number; run: number } {
    const r = this.result;
    if (addr >= this.mVa && addr < this.mEnd && this.smmu.tlb.gen[this.mSlot] === this.mGen && this.allowed(this.mPerm, write)) {
      this.stats.tlbHits++;
      this.checkStale(this.mSlot, addr, write);
      r.pa = this.mPa + (addr - this.mVa);
      r.run = this.mEnd - addr;
    } else if (!this.fillMiss(addr, write)) {
      this.translateSlow(addr, write);
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
    if (!this.enabled) return false;
    const tlb = this.smmu.tlb;
    const c = this.index;
    if (tlb.lookup(c, addr) >= 0 || !this.walk(addr)) return false;
    const w = this.w;
    const perm = w.perm;
    if (!((!write || (perm & PERM_WRITE) !== 0) && (this.privileged || (perm & PERM_UNPRIV) !== 0))) return false;
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
    return (!write || (perm & PERM_WRITE) !== 0) && (this.privileged || (perm & PERM_UNPRIV) !== 0);
  }

  /** Points the last-translation cache at `slot` and sets the result for `addr` from it. */
  private useSlot(slot: number, addr: number): void {
    const tlb = this.smmu.tlb;
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

  private translateSlow(addr: number, write: boolean): void {
    const smmu = this.smmu;
    const tlb = smmu.tlb;
    for (let attempt = 0; ; attempt++) {
      let kind: SmmuFaultKind;
      let level = 0;
      if (!this.enabled) {
        kind = 'disabled';
      } else {
        let slot = tlb.lookup(this.index, addr);
        if (slot >= 0) {
          this.stats.tlbHits++;
          this.checkStale(slot, addr, write);
        } else {
          this.stats.tlbMisses++;
          const ok = this.walk(addr);
          this.accountWalk(this.w.fetches);
          if (ok) {
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
              return;
            }
          }
        }
        if (slot >= 0) {
          if (this.allowed(tlb.perm[slot]!, write)) {
            this.useSlot(slot, addr);
            return;
          }
          kind = 'permission';
          level = tlb.d2Addr[slot]! >= 0 ? 2 : 1;
        } else {
          kind = this.w.fault;
          level = this.w.level;
        }
      }
      this.stats.faults++;
      const what = `${kind} fault${level > 0 ? ` (level ${level})` : ''} on DMA ${write ? 'write' : 'read'} at iova ${hex(addr)}`;
      const fault: SmmuFault = { context: this, iova: addr, write, kind, level, message: `${this.name}: ${what}` };
      const tr = smmu.tracer;
      if (tr) smmu.traceFault(tr, fault);
      if (kind !== 'disabled' && this.handler) {
        const verdict = this.handler(fault);
        if (verdict === 'retry' && attempt < smmu.cfg.maxRetries) continue;
        const why = verdict === 'retry' ? `${what}, still faulting after ${smmu.cfg.maxRetries} retries` : `${what}, terminated by the fault handler`;
        throw new DmaFault(this.label, addr, write, `${this.name}: ${why}`);
      }
      const msg = `${this.name} (${this.label}): unhandled ${what}; transaction terminated`;
      smmu.warn(msg);
      smmu.findings?.report('iommu-fault', 'smmu_fault', msg);
      throw new DmaFault(this.label, addr, write, `${this.name}: unhandled ${what}`);
    }
  }

  /**
   * Grows the current result over the following pages while they continue
   * it physically with usable permissions, up to `len` bytes. Each page is
   * accounted (hit, or miss + walk + fill) only once it is known to join
   * the run, so a page left out is accounted by the call that reaches it.
   */
  private extend(write: boolean, len: number): void {
    const smmu = this.smmu;
    const tlb = smmu.tlb;
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
    const ttbr = this.ttbrFor(va);
    if (d1Addr >= 0 && ttbr >= 0 && ttbr + (va >>> 20) * 4 === d1Addr) return smmuWalkFrom(this.smmu.mem, va, d1Addr, d1, this.w);
    return this.walk(va);
  }

  /** The table `va` is walked in: TTBR1 at and above the TTBCR.N split, else TTBR0. */
  private ttbrFor(va: number): number {
    return this.split > 0 && va >= 2 ** (32 - this.split) ? this.ttbr1 : this.ttbr0;
  }

  /**
   * Walks the tables for `va` into `this.w` (its fetch count is for the
   * caller to account); on failure the walk says why and returns false.
   */
  private walk(va: number): boolean {
    return smmuWalk(this.smmu.mem, this.ttbrFor(va), va, this.w);
  }

  /** Counts one walk of `fetches` descriptor fetches. */
  private accountWalk(fetches: number): void {
    const ns = fetches * this.walkNs;
    this.stats.walks++;
    this.stats.walkNs += ns;
  }

  /** Compares a TLB entry with its descriptors in memory; a mismatch is a stale translation in use. */
  private checkStale(slot: number, addr: number, write: boolean): void {
    const tlb = this.smmu.tlb;
    const mem = this.smmu.mem;
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
    this.smmu.findings?.report(
      'stale-tlb',
      'smmu_translate',
      `${this.name} (${this.label}): DMA ${write ? 'write' : 'read'} at iova ${hex(addr)} used a stale TLB entry to pa ${hex(pa)}; the ${tableNow} (TLB not invalidated after the page-table change)`,
    );
  }
}
