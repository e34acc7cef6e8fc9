import { hex } from '../lib/index.ts';
import type { CostLedger, FindingLog, Tracer } from '../lib/index.ts';
import type { PhysicalMemory } from './memory.ts';
import type { Prng } from './prng.ts';
import { SmmuContext, zeroStats, type SmmuFault, type SmmuStats } from './smmu-context.ts';
import { SmmuTlb } from './smmu-tlb.ts';

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
  /** Where the time of its table walks is recorded, per master, when installed. */
  readonly costs: CostLedger | null;

  constructor(sys: { mem: PhysicalMemory; prng: Prng; findings?: FindingLog; tracer?: Tracer | null; clock?: { readonly now: number }; costs?: CostLedger }, cfg: SmmuConfig) {
    if (!Number.isInteger(cfg.contexts) || cfg.contexts < 1 || cfg.contexts > 256) {
      throw new Error(`SMMU ${cfg.name}: contexts must be 1..256 (got ${cfg.contexts})`);
    }
    if (!(cfg.walkNs >= 0)) throw new Error(`SMMU ${cfg.name}: walkNs must be >= 0`);
    this.name = cfg.name;
    this.cfg = { tlbiNs: 20, syncNs: 150, maxRetries: 8, ...cfg };
    this.mem = sys.mem;
    this.findings = sys.findings ?? null;
    this.host = sys;
    this.costs = sys.costs ?? null;
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
