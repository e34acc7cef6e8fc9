import { COST_KINDS, type CostKind, type CostLedger, type CpuContext } from '../lib/index.ts';
import type { CpuCores } from '../hw/index.ts';
import { percentile, type CostEntry, type CpuUsage, type RunCosts, type SteadyCostEntry } from './run-result.ts';

/** How a context is named in attributions: `name (pid)` for a process, its name for a kernel thread. */
function whoOf(ctx: CpuContext): string {
  return ctx.kind === 'process' ? `${ctx.name()} (${ctx.pid})` : ctx.name();
}

/**
 * What the cores did over a run of `simTimeNs` (the figures `top` and
 * /proc/PID/stat's utime and stime give): each process's user and system
 * time summed over its threads, the kernel threads' time, and busy time
 * per process over `intervals` equal stretches of the run.
 */
export function cpuUsage(costs: CostLedger, cores: CpuCores, simTimeNs: number, intervals = 100): CpuUsage {
  const span = Math.max(1, simTimeNs);
  const procs = new Map<number, { name: string; pid: number; userNs: number; sysNs: number }>();
  const kernel = new Map<string, number>();
  for (const ctx of costs.contexts) {
    const user = ctx.userNs + ctx.userDebtNs;
    const sys = ctx.sysNs + ctx.sysDebtNs;
    if (ctx.kind === 'process') {
      const p = procs.get(ctx.pid) ?? { name: ctx.name(), pid: ctx.pid, userNs: 0, sysNs: 0 };
      p.userNs += user;
      p.sysNs += sys;
      procs.set(ctx.pid, p);
    } else kernel.set(ctx.name(), (kernel.get(ctx.name()) ?? 0) + user + sys);
  }
  const intervalNs = Math.max(1, Math.ceil(span / intervals));
  const n = Math.ceil(span / intervalNs);
  const series = new Map<string, number[]>();
  for (const r of costs.runs) {
    const key = r.context.kind === 'process' ? whoOf(r.context) : 'kernel';
    let s = series.get(key);
    if (!s) series.set(key, (s = new Array<number>(n).fill(0)));
    spread(s, r.startNs, r.ns, intervalNs);
  }
  const busyNs = cores.totalBusyNs;
  return {
    cores: cores.cfg.count,
    clockHz: cores.cfg.clockHz,
    busyNs,
    percent: round2((100 * busyNs) / (cores.cfg.count * span)),
    processes: [...procs.values()].sort((a, b) => a.pid - b.pid).map((p) => ({ ...p, percent: round2((100 * (p.userNs + p.sysNs)) / span) })),
    kernel: [...kernel]
      .filter(([, ns]) => ns > 0)
      .map(([thread, ns]) => ({ thread, ns }))
      .sort((a, b) => b.ns - a.ns),
    timeline: { intervalNs, series: [...series].map(([name, busy]) => ({ name, busyNs: busy })) },
  };
}

/** Adds a stretch [start, start+ns) to the intervals it overlaps, each in proportion to the overlap. */
function spread(into: number[], start: number, ns: number, intervalNs: number): void {
  let t = start;
  const end = start + ns;
  while (t < end) {
    const i = Math.floor(t / intervalNs);
    const stop = Math.min(end, (i + 1) * intervalNs);
    if (i < into.length) into[i]! += stop - t;
    t = stop;
  }
}

interface Agg {
  ns: number;
  bytes: number;
  count: number;
  byDevice: Map<string, number>;
  byProcess: Map<string, number>;
  byBuffer: Map<string, number>;
  sites: Map<string, number>;
}

function newAgg(): Agg {
  return { ns: 0, bytes: 0, count: 0, byDevice: new Map(), byProcess: new Map(), byBuffer: new Map(), sites: new Map() };
}

function add(m: Map<string, number>, k: string, ns: number): void {
  if (k) m.set(k, (m.get(k) ?? 0) + ns);
}

function entryOf(kind: CostKind, a: Agg): CostEntry {
  const obj = (m: Map<string, number>) => Object.fromEntries([...m].sort((x, y) => y[1] - x[1]));
  return {
    kind,
    ns: a.ns,
    bytes: a.bytes,
    count: a.count,
    byDevice: obj(a.byDevice),
    byProcess: obj(a.byProcess),
    byBuffer: obj(a.byBuffer),
    sites: [...a.sites]
      .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))
      .slice(0, 8)
      .map(([site, ns]) => ({ site, ns })),
  };
}

/**
 * The run's costs in three phases: setup before `steadyFromNs` (the first
 * frame), the steady state up to `steadyToNs` (the last frame), and
 * teardown after it. Each steady frame period is one sample of the
 * per-frame figures. Kinds with nothing in a phase are left out.
 */
export function runCosts(costs: CostLedger, steadyFromNs: number, steadyToNs: number, periodNs: number): RunCosts {
  const to = Math.max(steadyFromNs, steadyToNs);
  const frames = to > steadyFromNs && periodNs > 0 ? Math.ceil((to - steadyFromNs) / periodNs) : 0;
  const phases = [new Map<CostKind, Agg>(), new Map<CostKind, Agg>(), new Map<CostKind, Agg>()];
  const perFrame = new Map<CostKind, Float64Array>();
  for (let i = 0; i < costs.length; i++) {
    const r = costs.at(i);
    const phase = r.timeNs < steadyFromNs ? 0 : r.timeNs <= to && frames > 0 ? 1 : 2;
    const m = phases[phase]!;
    let a = m.get(r.kind);
    if (!a) m.set(r.kind, (a = newAgg()));
    a.ns += r.ns;
    a.bytes += r.bytes;
    a.count += r.count;
    add(a.byDevice, r.device, r.ns);
    add(a.byProcess, whoOf(r.context), r.ns);
    add(a.byBuffer, r.buffer, r.ns);
    add(a.sites, r.site, r.ns);
    if (phase === 1) {
      let f = perFrame.get(r.kind);
      if (!f) perFrame.set(r.kind, (f = new Float64Array(frames)));
      f[Math.min(frames - 1, Math.floor((r.timeNs - steadyFromNs) / periodNs))]! += r.ns;
    }
  }
  const list = (m: Map<CostKind, Agg>) => COST_KINDS.filter((k) => m.has(k)).map((k) => entryOf(k, m.get(k)!));
  const steady: SteadyCostEntry[] = list(phases[1]!).map((e) => {
    const samples = [...(perFrame.get(e.kind) ?? [])];
    return { ...e, perFrame: { meanNs: Math.round(e.ns / Math.max(1, frames)), p99Ns: percentile(samples, 99) } };
  });
  return { setup: list(phases[0]!), steady, teardown: list(phases[2]!), steadyFromNs, steadyToNs: to, steadyFrames: frames };
}

/** The CPU ns spent on cache maintenance of every kind over a run. */
export function maintenanceNs(c: RunCosts): number {
  const kinds = new Set<CostKind>(['cache-clean', 'cache-invalidate', 'cache-flush-all']);
  return [...c.setup, ...c.steady, ...c.teardown].filter((e) => kinds.has(e.kind)).reduce((n, e) => n + e.ns, 0);
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
