import { hex } from '../lib/index.ts';
import type { Tracer } from '../lib/index.ts';
import { DmaFault } from './dma-master.ts';
import type { DmaMaster, Translator } from './dma-master.ts';
import type { Smmu } from './smmu.ts';
import { SmmuTranslation } from './smmu-translate.ts';
import { SMMU_L1_TABLE_BYTES, type DecodedLeaf, type WalkFaultKind } from './smmu-walk.ts';

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

/** Counters all at zero. */
export function zeroStats(): SmmuStats {
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
  private masterLabel: string;
  private readonly xlate: SmmuTranslation;

  constructor(smmu: Smmu, index: number) {
    this.smmu = smmu;
    this.index = index;
    this.name = `${smmu.name}.ctx${index}`;
    this.masterLabel = this.name;
    this.xlate = new SmmuTranslation(this);
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
    this.masterLabel = this.masterNames.join('+');
  }

  /** Undoes `connect`: the master's bus addresses become physical again. */
  disconnect(master: DmaMaster): void {
    if (master.translator === this) master.translator = null;
    const i = this.masterNames.indexOf(master.name);
    if (i >= 0) this.masterNames.splice(i, 1);
    this.masterLabel = this.masterNames.length > 0 ? this.masterNames.join('+') : this.name;
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
    this.xlate.forget();
    return this.smmu.account(this, 1);
  }

  /** Invalidates the entries that translate `va` (TLBIVA); returns the cost in ns. */
  tlbInvalidateVa(va: number): number {
    this.smmu.tlb.invalidateRange(this.index, va, 1);
    this.xlate.forget();
    return this.smmu.account(this, 1);
  }

  /**
   * Invalidates the entries overlapping [va, va+len), one TLBIVA per granule
   * of `granule` bytes (the driver's tlb_add_page loop); returns the cost.
   */
  tlbInvalidateRange(va: number, len: number, granule = 4096): number {
    if (len <= 0) return 0;
    this.smmu.tlb.invalidateRange(this.index, va, len);
    this.xlate.forget();
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
    // The retry loop is written out here and in translateTraced rather than
    // in a helper: a finding's call site is found on the stack, which has
    // room for only so many frames.
    let ns0 = this.stats.walkNs;
    for (let attempt = 0; ; attempt++) {
      const r = this.xlate.translate(addr, write, len);
      if (this.stats.walkNs !== ns0) {
        this.noteWalks(this.stats.walkNs - ns0);
        ns0 = this.stats.walkNs;
      }
      if (r) return r;
      this.raiseFault(addr, write, this.xlate.faultKind, this.xlate.faultLevel, attempt);
    }
  }

  /** `translate` recording its walks as one trace event per call (a call covers a whole run of the transfer). */
  private translateTraced(tr: Tracer, addr: number, write: boolean, len: number): { pa: number; run: number } {
    const st = this.stats;
    const walks0 = st.walks;
    const ns0 = st.walkNs;
    try {
      for (let attempt = 0; ; attempt++) {
        const r = this.xlate.translate(addr, write, len);
        if (r) return r;
        this.raiseFault(addr, write, this.xlate.faultKind, this.xlate.faultLevel, attempt);
      }
    } finally {
      if (st.walks !== walks0) {
        this.smmu.traceWalks(tr, this, addr, st.walks - walks0, st.walkNs - ns0);
        this.noteWalks(st.walkNs - ns0);
      }
    }
  }

  /** Records `ns` of table walks for the bank's master (the SMMU's own time, not the CPU's). */
  private noteWalks(ns: number): void {
    this.smmu.costs?.note('tlb-miss-walk', ns, 0, { device: this.masters[0] ?? this.name });
  }

  /**
   * Hardware address translation of one address (ATS1, smmu_translate):
   * walks the tables without touching the TLB. Returns the leaf (base, size,
   * attributes) and the physical address, or null when nothing maps it.
   */
  resolve(va: number): (DecodedLeaf & { pa: number }) | null {
    return this.xlate.resolve(va);
  }

  /** The masters behind this context, for messages (its own name when none). */
  get label(): string {
    return this.masterLabel;
  }

  /** The first-level table `va` is walked in: TTBR1 at and above the TTBCR.N split, else TTBR0 (-1: none). */
  ttbrFor(va: number): number {
    return this.split > 0 && va >= 2 ** (32 - this.split) ? this.ttbr1 : this.ttbr0;
  }

  /**
   * Reports a fault on a transaction (FSR/FAR and the context interrupt):
   * counts and traces it, then asks the handler. Returns when the handler
   * asked for a retry, at most maxRetries times for one transaction
   * (`attempt` counts them); otherwise the transaction is terminated with a
   * DmaFault, after a warning and an 'iommu-fault' finding when no handler
   * took it. A disabled context goes to no handler.
   */
  raiseFault(addr: number, write: boolean, kind: SmmuFaultKind, level: number, attempt: number): void {
    const smmu = this.smmu;
    this.stats.faults++;
    const what = `${kind} fault${level > 0 ? ` (level ${level})` : ''} on DMA ${write ? 'write' : 'read'} at iova ${hex(addr)}`;
    const fault: SmmuFault = { context: this, iova: addr, write, kind, level, message: `${this.name}: ${what}` };
    const tr = smmu.tracer;
    if (tr) smmu.traceFault(tr, fault);
    if (kind !== 'disabled' && this.handler) {
      const verdict = this.handler(fault);
      if (verdict === 'retry' && attempt < smmu.cfg.maxRetries) return;
      const why = verdict === 'retry' ? `${what}, still faulting after ${smmu.cfg.maxRetries} retries` : `${what}, terminated by the fault handler`;
      throw new DmaFault(this.masterLabel, addr, write, `${this.name}: ${why}`);
    }
    const msg = `${this.name} (${this.masterLabel}): unhandled ${what}; transaction terminated`;
    smmu.warn(msg);
    smmu.findings?.report('iommu-fault', 'smmu_fault', msg);
    throw new DmaFault(this.masterLabel, addr, write, `${this.name}: unhandled ${what}`);
  }
}
