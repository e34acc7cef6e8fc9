import { runWithTaskLocals, scopeOf, taskLocals } from './task-locals.ts';
import { currentCpuContext, newCpuContext, type CpuContext } from './cpu-context.ts';
import { currentWorkSite } from './findings.ts';
import { CostRecords } from './cost-records.ts';

/**
 * What a cost was spent on. Every kind but two is CPU work, which takes
 * time on a core: `tlb-miss-walk` is the SMMU's own time walking its page
 * tables, and `fence-wait` the time a thread was blocked on a fence.
 */
export type CostKind =
  | 'syscall'
  | 'cache-clean'
  | 'cache-invalidate'
  | 'cache-flush-all'
  | 'cpu-copy'
  | 'bounce'
  | 'page-zero'
  | 'iommu-map'
  | 'iommu-unmap'
  | 'tlb-invalidate'
  | 'tlb-miss-walk'
  | 'cma-migrate'
  | 'fence-signal'
  | 'fence-wait';

/** Every kind, in the order results list them. */
export const COST_KINDS: readonly CostKind[] = [
  'syscall',
  'cache-clean',
  'cache-invalidate',
  'cache-flush-all',
  'cpu-copy',
  'bounce',
  'page-zero',
  'iommu-map',
  'iommu-unmap',
  'tlb-invalidate',
  'tlb-miss-walk',
  'cma-migrate',
  'fence-signal',
  'fence-wait',
];

const KIND_INDEX = new Map(COST_KINDS.map((k, i) => [k, i]));
const NO_SCOPE: CostScope = Object.freeze({});

/** True for the kinds that keep a CPU core busy. */
export function isCpuCost(kind: CostKind): boolean {
  return kind !== 'tlb-miss-walk' && kind !== 'fence-wait';
}

function cpuKindIndex(kind: CostKind): number {
  return isCpuCost(kind) ? KIND_INDEX.get(kind)! : -1;
}

/** The device and dma-buf the work being done is for, as its caller knows them. */
export interface CostScope {
  device?: string;
  /** `inode N (name)`, the way dmabuf_dump names a buffer. */
  buffer?: string;
  /** The kernel function doing the work (`dma_map_sg`), for the call site. */
  fn?: string;
}

/** One recorded cost, as the result builder reads it back. */
export interface CostRecord {
  timeNs: number;
  kind: CostKind;
  ns: number;
  bytes: number;
  /** The thread it was charged to. */
  context: CpuContext;
  device: string;
  buffer: string;
  site: string;
  /** How many charges it sums: charges with the same kind, time and attribution, made one after another, share a record. */
  count: number;
}

/** A stretch of time a thread ran on a core (for CPU-over-time plots). */
export interface CoreRun {
  context: CpuContext;
  startNs: number;
  ns: number;
}

/**
 * Every cost the simulated system pays, with who paid it and why (the
 * accounting a profiler such as perf gives on a real system, here exact).
 * CPU work is charged where it is done, synchronously, to the current
 * thread (`currentCpuContext`); the thread pays it on a core at its next
 * scheduling point. Records are kept column by column in typed arrays
 * (CostRecords), not an object per cost, because a run charges hundreds of
 * thousands of them.
 */
export class CostLedger {
  private readonly now: () => number;
  private readonly records = new CostRecords();
  // the last record's time, kind and ids, so that a charge can be matched against it without reading the records back
  private lastT = -1;
  private lastK = -1;
  private lastSlot = -1;
  private lastSite = -1;
  private lastDev = -1;
  private lastBuf = -1;
  /** What the last record was charged with: a charge made with the same, at the same time, joins it without its look-ups. */
  private lastCtx: CpuContext | null = null;
  private lastName = '';
  private lastCall = '';
  private lastFn = '';
  private lastWork: string | undefined = undefined;
  private lastScope: CostScope | undefined = undefined;
  // note's last merged scope and the current scope it was made over
  private noteOuter: CostScope | undefined = undefined;
  private noteMerged: CostScope = {};
  private readonly strings: string[] = [''];
  private readonly stringIds = new Map<string, number>([['', 0]]);
  /** Site ids by thread name, call, kernel function and work site. */
  private readonly sites = new Map<string, Map<string, Map<string, Map<string, number>>>>();
  /** Every context ever charged, by slot. */
  readonly contexts: CpuContext[] = [];
  /** Interrupt context: work done with no thread current. */
  readonly irq: CpuContext = newCpuContext('irq', 0, () => 'irq');
  /** Core time taken by each thread, in order. */
  readonly runs: CoreRun[] = [];
  private readonly kthreads = new Map<string, CpuContext>();
  /** The kind a CPU access (a load, a store, a linefill) is charged as: a copy unless the caller says otherwise. */
  private accessKind: CostKind = 'cpu-copy';
  /** The index of accessKind when it is CPU work (the only kind chargeAccess's shortcut serves), else -1. */
  private accessKindIndex = cpuKindIndex('cpu-copy');
  /**
   * Runs interrupt-context work on a core at once (installed by the CPU
   * cores): an interrupt delays no thread of its own, only those that
   * want the core it takes.
   */
  runIrq: ((ns: number) => void) | null = null;

  // while a batch runs: its thread and scope, and the record its accesses last went to
  private batchCtx: CpuContext | null = null;
  private batchScope: CostScope | undefined;
  private batchRec = -1;

  constructor(now: () => number) {
    this.now = now;
  }

  /**
   * Runs synchronous `fn`, a program's own code between two calls (a
   * WebAssembly program's millions of loads and stores), with the current
   * thread and scope looked up once instead of at every access; its
   * accesses add up in one record per kind, as they would one by one.
   */
  batch<T>(fn: () => T): T {
    const saved = [this.batchCtx, this.batchScope, this.batchRec] as const;
    this.batchCtx = currentCpuContext() ?? this.irq;
    this.batchScope = this.scope();
    this.batchRec = -1;
    try {
      return fn();
    } finally {
      [this.batchCtx, this.batchScope, this.batchRec] = saved;
    }
  }

  /**
   * Charges CPU work of `kind` to the current thread: `ns` of core time
   * spent on `bytes` bytes, in kernel function `fn` when the caller names
   * one. A kind that keeps no core busy is only recorded.
   */
  charge(kind: CostKind, ns: number, bytes = 0, fn = ''): void {
    if (ns <= 0 && bytes <= 0) return;
    const ctx = this.batchCtx ?? currentCpuContext() ?? this.irq;
    this.record(kind, ns, bytes, ctx, fn, this.batchCtx ? this.batchScope : this.scope());
    if (!isCpuCost(kind) || ns <= 0) return;
    if (ctx.kind === 'irq') {
      ctx.sysNs += ns;
      this.runIrq?.(ns);
    } else if (ctx.mode === 'user') ctx.userDebtNs += ns;
    else ctx.sysDebtNs += ns;
  }

  /**
   * Charges a CPU access (load, store, linefill, writeback) as the kind the
   * current scope says. In a batch, an access that joins the batch's last
   * record (same kind, same time) only adds to it and to its thread's debt,
   * which is what charge and record would do, without their look-ups: a
   * program makes millions of these between two calls.
   */
  chargeAccess(ns: number, bytes: number): void {
    const ctx = this.batchCtx;
    const b = this.batchRec;
    if (ctx !== null && ns > 0 && ctx.kind !== 'irq' && b >= 0 && b === this.records.length - 1 && this.lastK === this.accessKindIndex && this.lastT === this.now()) {
      this.records.add(b, ns, bytes);
      if (ctx.mode === 'user') ctx.userDebtNs += ns;
      else ctx.sysDebtNs += ns;
      return;
    }
    this.charge(this.accessKind, ns, bytes);
  }

  /** Records a cost that keeps no core busy (an SMMU walk, a fence wait) for `ctx`, or the current thread. */
  note(kind: CostKind, ns: number, bytes: number, scope: CostScope = NO_SCOPE, ctx?: CpuContext): void {
    this.record(kind, ns, bytes, ctx ?? currentCpuContext() ?? this.irq, '', this.noteScope(scope));
  }

  /**
   * The current scope with the names `scope` gives over it: the same object
   * while the current scope and those names stay the same, so that notes in
   * a row (an SMMU's walks, page after page of one transfer) join one record
   * as charges do.
   */
  private noteScope(scope: CostScope): CostScope {
    const outer = this.scope();
    const m = this.noteMerged;
    const device = scope.device ?? outer?.device;
    const buffer = scope.buffer ?? outer?.buffer;
    const fn = scope.fn ?? outer?.fn;
    if (outer !== this.noteOuter || device !== m.device || buffer !== m.buffer || fn !== m.fn) {
      this.noteOuter = outer;
      this.noteMerged = { device, buffer, fn };
    }
    return this.noteMerged;
  }

  /**
   * Runs `fn` on behalf of a device and/or buffer: what it charges,
   * directly or after any await, is attributed to them. Scopes nest; the
   * inner names win.
   */
  withScope<T>(scope: CostScope, fn: () => T): T {
    const outer = this.scope();
    return runWithTaskLocals({ scope: { owner: this, scope: outer ? { ...outer, ...scope } : scope, next: taskLocals()?.scope } }, fn);
  }

  /** The device, buffer and kernel function of the work running now in this ledger (withScope); it follows async work, as `current` does. */
  private scope(): CostScope | undefined {
    return scopeOf<CostScope>(this);
  }

  /** Runs synchronous `fn` with its CPU accesses charged as `kind` (a bounce copy, page zeroing). */
  withAccessKind<T>(kind: CostKind, fn: () => T): T {
    const saved = this.accessKind;
    this.accessKind = kind;
    this.accessKindIndex = cpuKindIndex(kind);
    try {
      return fn();
    } finally {
      this.accessKind = saved;
      this.accessKindIndex = cpuKindIndex(saved);
    }
  }

  /** The kernel thread named `name` (one per name, as a driver's worker is one thread for all its jobs). */
  kthread(name: string): CpuContext {
    let ctx = this.kthreads.get(name);
    if (!ctx) {
      ctx = newCpuContext('kthread', 0, () => name);
      this.kthreads.set(name, ctx);
    }
    return ctx;
  }

  /**
   * Records that `ctx` ran `ns` on a core from `startNs` (the scheduler's
   * accounting). A run that starts where the same thread's last one ended
   * extends it: one stretch of work, whichever core each piece took, as a
   * thread making calls back to back keeps a core busy without a gap.
   */
  ran(ctx: CpuContext, startNs: number, ns: number): void {
    this.slotOf(ctx);
    const last = this.runs[this.runs.length - 1];
    if (last !== undefined && last.context === ctx && last.startNs + last.ns === startNs) last.ns += ns;
    else this.runs.push({ context: ctx, startNs, ns });
  }

  /**
   * The interned id of the call site of work the current thread does now
   * in kernel function `fn` (the id a cost charged here would carry), for
   * records that keep where something was taken without building a string
   * each time (the stack depot handle a ref_tracker keeps); read it back
   * with siteText.
   */
  siteHere(fn = ''): number {
    return this.siteId(currentCpuContext() ?? this.irq, fn || this.scope()?.fn || '');
  }

  /** The site a siteHere id names: `display: ioctl DRM_IOCTL_MODE_ADDFB2 › drm_framebuffer_init @ x.yaml:21:5`. */
  siteText(id: number): string {
    return this.strings[id] ?? '';
  }

  /** Simulated now, in ns: the time a record taken with siteHere was taken. */
  nowNs(): number {
    return this.now();
  }

  /** Number of costs recorded. */
  get length(): number {
    return this.records.length;
  }

  /** Reads back cost `i`. */
  at(i: number): CostRecord {
    const r = this.records;
    return {
      timeNs: r.timeNs(i),
      kind: COST_KINDS[r.kind(i)]!,
      ns: r.ns(i),
      bytes: r.bytes(i),
      context: this.contexts[r.slot(i)]!,
      device: this.strings[r.device(i)]!,
      buffer: this.strings[r.buffer(i)]!,
      site: this.strings[r.site(i)]!,
      count: r.count(i),
    };
  }

  private record(kind: CostKind, ns: number, bytes: number, ctx: CpuContext, fn: string, scope: CostScope | undefined): void {
    const t = this.now();
    const k = KIND_INDEX.get(kind)!;
    const recs = this.records;
    const last = recs.length - 1;
    // in a batch, an access like the last one (same kind, same time) joins its record without looking its attribution up again
    const inBatch = ctx === this.batchCtx && fn === '' && scope === this.batchScope;
    const b = this.batchRec;
    if (inBatch && b >= 0 && b === last && this.lastK === k && this.lastT === t) {
      recs.add(b, ns, bytes);
      return;
    }
    if (inBatch) this.batchRec = last + 1;
    const name = ctx.name();
    const work = currentWorkSite();
    // A charge like the last record's (same kind and time, the same thread in the same call, function, work site and
    // scope: one kernel operation over many pages) adds to it: the same sums as a record each, with none of the look-ups.
    const sameAttribution = last >= 0 && ctx === this.lastCtx && name === this.lastName && ctx.call === this.lastCall && fn === this.lastFn && work === this.lastWork && scope === this.lastScope;
    if (sameAttribution && this.lastT === t && this.lastK === k) {
      recs.add(last, ns, bytes);
      if (inBatch) this.batchRec = last;
      return;
    }
    // the same attribution at another time or of another kind (a thread's next call of the same name): a new record with the last one's ids
    if (sameAttribution) {
      this.pushRecord(t, k, ns, bytes, this.lastSlot, this.lastDev, this.lastBuf, this.lastSite);
      return;
    }
    const slot = this.slotOf(ctx);
    const dev = this.intern(scope?.device ?? '');
    const buf = this.intern(scope?.buffer ?? '');
    const site = this.siteId(ctx, fn || scope?.fn || '', name, work ?? '');
    this.lastCtx = ctx;
    this.lastName = name;
    this.lastCall = ctx.call;
    this.lastFn = fn;
    this.lastWork = work;
    this.lastScope = scope;
    // a program's own accesses between two calls (compiled code runs millions) add up in one record: same time, same attribution
    if (ctx.mode === 'user' && last >= 0 && this.lastT === t && this.lastK === k && this.lastSlot === slot && this.lastSite === site && this.lastDev === dev && this.lastBuf === buf) {
      recs.add(last, ns, bytes);
      if (inBatch) this.batchRec = last;
      return;
    }
    this.pushRecord(t, k, ns, bytes, slot, dev, buf, site);
  }

  private pushRecord(t: number, k: number, ns: number, bytes: number, slot: number, dev: number, buf: number, site: number): void {
    this.records.push(t, k, ns, bytes, slot, dev, buf, site);
    this.lastT = t;
    this.lastK = k;
    this.lastSlot = slot;
    this.lastSite = site;
    this.lastDev = dev;
    this.lastBuf = buf;
  }

  /** Interned site of a cost, found through nested maps so that a repeated site builds no string. */
  private siteId(ctx: CpuContext, fn: string, name = ctx.name(), work = currentWorkSite() ?? ''): number {
    let byCall = this.sites.get(name);
    if (!byCall) this.sites.set(name, (byCall = new Map()));
    let byFn = byCall.get(ctx.call);
    if (!byFn) byCall.set(ctx.call, (byFn = new Map()));
    let byWork = byFn.get(fn);
    if (!byWork) byFn.set(fn, (byWork = new Map()));
    let id = byWork.get(work);
    if (id === undefined) byWork.set(work, (id = this.intern(siteOf(ctx, fn, work))));
    return id;
  }

  private slotOf(ctx: CpuContext): number {
    if (ctx.slot < 0) {
      ctx.slot = this.contexts.length;
      this.contexts.push(ctx);
    }
    return ctx.slot;
  }

  private intern(s: string): number {
    let id = this.stringIds.get(s);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(s);
      this.stringIds.set(s, id);
    }
    return id;
  }
}

/**
 * Where a cost came from, as a person reads it: the thread, the call it
 * was in, the kernel function, and the scenario line of the work
 * (`display: ioctl DMA_BUF_IOCTL_SYNC › dma_buf_begin_cpu_access @ x.yaml:14:5`).
 */
function siteOf(ctx: CpuContext, fn: string, work: string): string {
  let s = ctx.name();
  if (ctx.call) s += `: ${ctx.call}`;
  if (fn) s += ` › ${fn}`;
  if (work) s += ` @ ${work}`;
  return s;
}
