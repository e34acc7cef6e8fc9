import type { Clock, CpuCache, PhysicalMemory, Smmu, SmmuContext, SmmuFault, SmmuFaultHandler, SmmuStats } from '../hw/index.ts';
import { KernelBug, hex, kerr } from '../lib/index.ts';
import type { CostLedger, FaultInjection } from '../lib/index.ts';
import type { IommuDomain } from './domain.ts';
import type { IommuDevice } from './iommu-device.ts';
import type { IoPageAllocator } from './page-allocator.ts';

/** Which part of a context's address space a domain serves (TTBCR split). */
export type TableHalf = 'whole' | 'low' | 'high';

/** A device attached to a domain. */
export interface Attachment {
  readonly domain: IommuDomain;
  readonly dev: IommuDevice;
  readonly half: TableHalf;
}

interface CtxState {
  whole: Attachment | null;
  low: Attachment | null;
  high: Attachment | null;
  hook: SmmuFaultHandler | null;
}

/** Where the driver gets memory, cache and time from. */
export interface SmmuDriverConfig {
  mem: PhysicalMemory;
  pages: IoPageAllocator;
  /** The CPU cache when table walks are not coherent with it. */
  cache?: CpuCache | null;
  /** Drives the lazy flush-queue timer; without it only a full queue or an explicit flush retires entries. */
  clock?: Clock | null;
  /** The system's fault points: IOVA space and VCM pools of its domains fail through them. */
  faults?: FaultInjection | null;
  /** Where the CPU time of map, unmap and TLB maintenance is charged; none when absent. */
  costs?: CostLedger | null;
  /** The CPU cost of the IOMMU API's page-table work (defaults: DEFAULT_IOMMU_CPU_COSTS). */
  cpuCosts?: Partial<IommuCpuCosts>;
  /**
   * Invalidations of more pages than this become one invalidate-all of the
   * context (the by-context flush of newer kernels); Infinity invalidates
   * page by page, as the kernels before that optimisation did.
   */
  tlbInvalidateAllOver?: number;
}

/** The CPU time of the IOMMU API's page-table updates, per call and per entry written or cleared. */
export interface IommuCpuCosts {
  mapCallNs: number;
  mapPteNs: number;
  unmapCallNs: number;
  unmapPteNs: number;
}

/**
 * Fitted to iommu_map_sg / iommu_unmap on a Qualcomm SM8150 SMMU (4 KiB:
 * 2.07 / 1.85 us; 1 MiB: 149 / 131 us; 32 MiB: 4747 / 1033 us), from the
 * measurements posted with "iommu/io-pgtable: Optimize partial walk flush
 * for large scatter-gather list" (Sai Prakash Ranjan, linux-arm-msm, 2021):
 * a map costs ~1.5 us plus ~0.58 us per 4 KiB entry; an unmap ~1.1 us plus
 * ~0.38 us per entry cleared, besides its TLB invalidations (the SMMU's
 * tlbiNs, ~0.126 us each there).
 */
export const DEFAULT_IOMMU_CPU_COSTS: IommuCpuCosts = { mapCallNs: 1494, mapPteNs: 576, unmapCallNs: 1140, unmapPteNs: 384 };

/** The split boundary with TTBCR.N = 1: addresses with bit 31 set use TTBR1. */
export const SPLIT_BOUNDARY = 0x8000_0000;

/**
 * The SMMU driver (the msm_iommu / smmu_driver of the VCMM document, with
 * the IOMMU API's domain model on top): it owns the SMMU instances, binds
 * context banks to the domains attached to their devices, programs their
 * TTBRs, performs the TLB maintenance that map/unmap demand between
 * update-start and update-done, and routes context faults to the handler a
 * user hooked (vcm_hook), else to the domain's handler, else to nobody (the
 * SMMU then warns and terminates).
 */
export class SmmuDriver {
  readonly mem: PhysicalMemory;
  readonly pages: IoPageAllocator;
  readonly cache: CpuCache | null;
  readonly clock: Clock | null;
  readonly faults: FaultInjection | null;
  readonly costs: CostLedger | null;
  readonly cpuCosts: IommuCpuCosts;
  readonly tlbInvalidateAllOver: number;
  readonly smmus: Smmu[] = [];
  private readonly ctxs = new Map<SmmuContext, CtxState>();
  private domainSeq = 0;

  constructor(cfg: SmmuDriverConfig) {
    this.mem = cfg.mem;
    this.pages = cfg.pages;
    this.cache = cfg.cache ?? null;
    this.clock = cfg.clock ?? null;
    this.faults = cfg.faults ?? null;
    this.costs = cfg.costs ?? null;
    this.cpuCosts = { ...DEFAULT_IOMMU_CPU_COSTS, ...cfg.cpuCosts };
    this.tlbInvalidateAllOver = cfg.tlbInvalidateAllOver ?? 256;
  }

  /** Takes charge of an SMMU instance and resets its TLB (smmu_drvdata_init). */
  addSmmu(smmu: Smmu): void {
    if (this.smmus.includes(smmu)) throw kerr('EEXIST', `smmu ${smmu.name} already added`);
    smmu.invalidateAll();
    this.smmus.push(smmu);
  }

  /**
   * Finds a context bank by name (smmu_get_ctx_instance): its own name
   * (`smmu0.ctx2`) or the name of a master connected to it. ENODEV if none.
   */
  ctxInstance(name: string): SmmuContext {
    for (const s of this.smmus) {
      for (const c of s.contexts) if (c.name === name || c.masters.includes(name)) return c;
    }
    throw kerr('ENODEV', `no SMMU context named ${name}`);
  }

  /** Returns a fresh domain name. */
  nextDomainName(): string {
    return `domain${this.domainSeq++}`;
  }

  /** Starts a page-table update of `domain` (smmu_update_start); updates do not nest. */
  updateStart(domain: IommuDomain): void {
    if (domain.updating) throw new KernelBug(`${domain.name}: smmu_update_start while an update is in progress`);
    domain.updating = true;
  }

  /**
   * Ends a page-table update (smmu_update_done): what the update unmapped is
   * invalidated in the TLB of every context the domain is attached to and
   * synced (strict), or queued for the flush queue (lazy); tables the update
   * removed are freed once no walker can see them.
   */
  updateDone(domain: IommuDomain): void {
    if (!domain.updating) throw new KernelBug(`${domain.name}: smmu_update_done without smmu_update_start`);
    domain.updating = false;
    const g = domain.gather;
    if (g.empty) return;
    const tables = g.freedTables.splice(0);
    const freeTables = tables.length > 0 ? () => tables.forEach((t) => domain.pgtable.freeTable(t)) : null;
    if (domain.fq) {
      domain.stats.lazyUnmaps++;
      domain.fq.push(freeTables);
    } else {
      if (g.end > g.start) this.invalidateRange(domain, g.start, g.end - g.start, g.pgsize || 4096);
      freeTables?.();
    }
    g.reset();
  }

  /** Invalidates [iova, iova+len) in every context the domain is attached to, then syncs. */
  invalidateRange(domain: IommuDomain, iova: number, len: number, granule: number): void {
    for (const a of domain.attachments) {
      const ctx = a.dev.ctx;
      // Past a few hundred pages one invalidate-all is cheaper than one TLBIVA per page.
      const ops = len / granule;
      const ns = (ops > this.tlbInvalidateAllOver ? ctx.tlbInvalidateAll() : ctx.tlbInvalidateRange(iova, len, granule)) + ctx.tlbSync();
      domain.stats.tlbMaintenanceNs += ns;
      this.costs?.charge('tlb-invalidate', ns, len);
    }
  }

  /** Invalidates everything the domain's contexts cache, then syncs (flush_iotlb_all). */
  invalidateAll(domain: IommuDomain): void {
    for (const a of domain.attachments) {
      const ns = a.dev.ctx.tlbInvalidateAll() + a.dev.ctx.tlbSync();
      domain.stats.tlbMaintenanceNs += ns;
      this.costs?.charge('tlb-invalidate', ns);
    }
  }

  /**
   * Binds the device's context to the domain and activates it
   * (smmu_ctx_bind + smmu_activate). `half` other than 'whole' splits the
   * context at 2 GiB between a low and a high domain. EBUSY when that part
   * of the context already serves a domain.
   */
  attach(domain: IommuDomain, dev: IommuDevice, half: TableHalf): Attachment {
    const ctx = dev.ctx;
    const st = this.state(ctx);
    if (half === 'whole' ? st.whole || st.low || st.high : st.whole || st[half]) {
      const other = (half === 'whole' ? (st.whole ?? st.low ?? st.high) : (st.whole ?? st[half]))!;
      throw kerr('EBUSY', `${dev.name}: context ${ctx.name} already serves ${other.domain.name} (${other.half})`);
    }
    if (!this.smmus.includes(ctx.smmu)) throw kerr('ENODEV', `${dev.name}: ${ctx.smmu.name} is not managed by this driver`);
    const a: Attachment = { domain, dev, half };
    st[half] = a;
    ctx.bind(`iommu:${dev.name}`);
    this.program(ctx, st);
    domain.attachments.push(a);
    this.refreshHandler(ctx);
    return a;
  }

  /** Unbinds the domain from the device's context; the context is deactivated when nothing else is attached. */
  detach(domain: IommuDomain, dev: IommuDevice): void {
    const ctx = dev.ctx;
    const st = this.state(ctx);
    const half = (['whole', 'low', 'high'] as const).find((h) => st[h]?.domain === domain);
    if (!half) throw kerr('EINVAL', `${dev.name} is not attached to ${domain.name}`);
    const a = st[half]!;
    st[half] = null;
    domain.attachments.splice(domain.attachments.indexOf(a), 1);
    if (st.whole || st.low || st.high) this.program(ctx, st);
    else {
      ctx.deactivate();
      ctx.unbind();
    }
    this.refreshHandler(ctx);
  }

  /** The domain serving `iova` for the device, or null (iommu_get_domain_for_dev when iova is omitted). */
  domainOf(dev: IommuDevice, iova?: number): IommuDomain | null {
    const st = this.ctxs.get(dev.ctx);
    if (!st) return null;
    if (st.whole) return st.whole.domain;
    if (iova === undefined) return (st.low ?? st.high)?.domain ?? null;
    return (iova >= SPLIT_BOUNDARY ? st.high : st.low)?.domain ?? null;
  }

  /**
   * Installs a fault handler for a context, ahead of any domain handler
   * (smmu_hook_interrupt); null removes it.
   */
  hookInterrupt(ctx: SmmuContext, handler: SmmuFaultHandler | null): void {
    this.state(ctx).hook = handler;
    this.refreshHandler(ctx);
  }

  /** Re-evaluates who handles the context's faults (after a domain's handler changed). */
  refreshHandler(ctx: SmmuContext): void {
    const st = this.state(ctx);
    if (st.hook) {
      ctx.handler = st.hook;
      return;
    }
    const any = [st.whole, st.low, st.high].some((a) => a?.domain.faultHandler);
    ctx.handler = any ? (f) => this.dispatch(st, f) : null;
  }

  /** Counters summed over every SMMU. */
  stats(): SmmuStats & { warnings: number } {
    const t = { tlbHits: 0, tlbMisses: 0, walks: 0, walkNs: 0, faults: 0, staleHits: 0, tlbMaintenanceOps: 0, tlbMaintenanceNs: 0, warnings: 0 };
    for (const s of this.smmus) {
      for (const k of Object.keys(s.stats) as (keyof SmmuStats)[]) t[k] += s.stats[k];
      t.warnings += s.warningCount;
    }
    return t;
  }

  private dispatch(st: CtxState, f: SmmuFault): 'retry' | 'terminate' {
    const a = st.whole ?? (f.iova >= SPLIT_BOUNDARY ? st.high : st.low);
    const h = a?.domain.faultHandler;
    if (!a || !h) {
      f.context.smmu.warn(`${f.message}: no handler for this part of the context; transaction terminated`);
      return 'terminate';
    }
    a.domain.stats.faults++;
    return h({ domain: a.domain, dev: a.dev, iova: f.iova, write: f.write, kind: f.kind });
  }

  private program(ctx: SmmuContext, st: CtxState): void {
    if (st.whole) {
      ctx.activate({ ttbr0: st.whole.domain.pgtable.ttbr });
      return;
    }
    const lo = st.low?.domain.pgtable.ttbr ?? -1;
    const hi = st.high?.domain.pgtable.ttbr ?? -1;
    if (lo < 0 && hi < 0) throw new KernelBug(`${ctx.name}: program with nothing attached (${hex(lo)})`);
    ctx.activate({ ttbr0: lo, ttbr1: hi, split: 1 });
  }

  private state(ctx: SmmuContext): CtxState {
    let st = this.ctxs.get(ctx);
    if (!st) {
      st = { whole: null, low: null, high: null, hook: null };
      this.ctxs.set(ctx, st);
    }
    return st;
  }
}
