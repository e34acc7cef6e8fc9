import { formatBytes } from '../lib/index.ts';
import type { RunResult } from '../sim/index.ts';

function ms(ns: number): string {
  return `${(ns / 1e6).toFixed(2)} ms`;
}

function bytes(n: number): string {
  if (n === 0) return '0 B';
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return formatBytes(n);
}

/** Why a run's integrity check failed, in one phrase. */
export function integrityText(r: RunResult): string {
  if (r.integrity.framesChecked === 0) return `no frame reached ${r.sink}`;
  return `${r.integrity.mismatches} of ${r.integrity.framesChecked} shown frame(s) differ from the source`;
}

/** The human summary of a run: one table a platform engineer reads first. */
export function formatSummary(r: RunResult): string {
  const rows: [string, string][] = [
    ['scenario', `${r.scenario} on ${r.platform} (seed ${r.seed})`],
    // Shown + dropped + lost = asked: a frame shown twice (a sink that saw it again) counts once.
    ['frames', `${r.frames} (${Math.min(r.integrity.framesChecked, r.frames)} shown, ${r.droppedFrames} dropped, ${r.lostFrames} lost)`],
    ['integrity', r.integrity.ok ? 'ok: every shown frame matches the source byte for byte' : `FAILED: ${integrityText(r)}`],
    ['zero copy', r.zeroCopy && r.copies.cpuBytes === 0 ? 'yes' : 'no'],
    ['CPU copies', bytes(r.copies.cpuBytes)],
    ['bounce buffers', bytes(r.copies.bounceBytes)],
    ['cache clean', bytes(r.cache.cleanBytes)],
    ['cache invalidate', bytes(r.cache.invalidateBytes)],
    ['whole-cache flushes', flushesText(r)],
    ['IOMMU TLB misses', `${r.iommu.tlbMisses} (hits ${r.iommu.tlbHits})`],
    ['IOMMU faults', String(r.iommu.faults)],
    ['CMA peak', bytes(r.cma.peakBytes)],
    ['CMA migrations', `${r.cma.migrations} pages`],
    ['frame latency', `p50 ${ms(r.frameLatencyNs.p50)}, p90 ${ms(r.frameLatencyNs.p90)}, p99 ${ms(r.frameLatencyNs.p99)}, max ${ms(r.frameLatencyNs.max)}`],
    // results saved before CPU time was modelled have neither line
    ...(r.cpu ? ([['CPU', cpuText(r)]] as [string, string][]) : []),
    ...(r.costs ? ([['cache maintenance', `${ms(r.cache.maintenanceNs)} of CPU time`]] as [string, string][]) : []),
    ['findings', r.findings.length === 0 ? 'none' : String(r.findings.length)],
    ['simulated time', ms(r.simTimeNs)],
    ['wall time', `${r.wallMs.toFixed(0)} ms`],
  ];
  // A process pipeline also says how each process ended and what outlived them.
  const proc = r as RunResult & { processes?: { name: string; status: number }[]; leaks?: Record<string, number> };
  if (proc.processes) {
    const signal = (s: number) => (s > 128 ? ` (signal ${s - 128})` : '');
    rows.splice(rows.length - 2, 0, ['processes', proc.processes.map((p) => `${p.name} ${p.status}${signal(p.status)}`).join(', ')]);
  }
  if (proc.leaks) {
    const left = Object.entries(proc.leaks).filter(([, n]) => n !== 0);
    rows.splice(rows.length - 2, 0, ['leaks', left.length === 0 ? 'none' : left.map(([k, n]) => `${k} ${n}`).join(', ')]);
  }
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`);
  if (r.placement.length > 0) lines.push('', '  frame buffers:', ...r.placement.map((l) => `    ${l}`));
  const top = steadyCosts(r);
  if (top.length > 0) lines.push('', `  largest costs per frame (steady state, ${r.costs.steadyFrames} frame periods; setup and teardown apart):`, ...top.map((l) => `    ${l}`));
  if (r.findings.length > 0) lines.push('', '  findings (each in full: unimem check):', ...findingSites(r).map((l) => `    ${l}`));
  return lines.join('\n');
}

/** The whole-cache flushes, with how many were setup or teardown rather than per-frame work. */
function flushesText(r: RunResult): string {
  const n = r.cache.fullFlushes;
  if (!r.costs || n === 0) return String(n);
  const count = (list: { kind: string; count: number }[]) => list.find((e) => e.kind === 'cache-flush-all')?.count ?? 0;
  const setup = count(r.costs.setup);
  const teardown = count(r.costs.teardown);
  const steady = count(r.costs.steady);
  return `${n} (${setup} at setup, ${steady} while frames flowed, ${teardown} at teardown)`;
}

/** CPU use in one line: the machine's busy share, then each process's share of one core. */
function cpuText(r: RunResult): string {
  const c = r.cpu;
  const procs = c.processes.filter((p) => p.userNs + p.sysNs > 0).map((p) => `${p.name} ${p.percent.toFixed(1)}%`);
  return `${c.percent.toFixed(1)}% of ${c.cores} core(s)${procs.length > 0 ? `: ${procs.join(', ')}` : ''}`;
}

/** The three largest CPU costs per steady-state frame, each with where most of it comes from. */
function steadyCosts(r: RunResult): string[] {
  if (!r.costs) return [];
  return r.costs.steady
    .filter((e) => e.kind !== 'fence-wait' && e.perFrame.meanNs > 0)
    .sort((a, b) => b.perFrame.meanNs - a.perFrame.meanNs)
    .slice(0, 3)
    .map((e) => {
      const site = e.sites[0];
      const share = site && e.ns > 0 ? ` (${Math.round((100 * site.ns) / e.ns)}% at ${site.site})` : '';
      const note = e.kind === 'tlb-miss-walk' ? ', SMMU time' : '';
      return `${e.kind}: ${(e.perFrame.meanNs / 1e3).toFixed(1)} us per frame${note}${share}`;
    });
}

/** The findings counted by kind and the user's line that caused them, in the order first found: `3 iommu-fault at file:17:5`. */
function findingSites(r: RunResult): string[] {
  const counts = new Map<string, number>();
  for (const f of r.findings) {
    const key = `${f.kind} at ${f.site ?? 'an unknown place'}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, n]) => `${n} ${key}`);
}

/** Every finding of a run, with its simulated time and call site (what `unimem check` prints). */
export function formatFindings(r: RunResult): string {
  return r.findings.map(formatFinding).join('\n');
}

/** One finding on one line: its simulated time, kind, call, the user's file and line that caused it, and what happened. */
export function formatFinding(f: RunResult['findings'][number]): string {
  return `[${(f.timeNs / 1e6).toFixed(3)} ms] ${f.kind} in ${f.call}${f.site ? ` (${f.site})` : ''}: ${f.message}`;
}
