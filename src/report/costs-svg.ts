import type { CostEntry, CostKind, RunCosts } from '../sim/index.ts';
import { esc } from './svg.ts';

/** Each cost kind's colour, fixed so that a kind looks the same in every report. */
const KIND_COLORS: Record<CostKind, string> = {
  syscall: '#4477aa',
  'cache-clean': '#ee6677',
  'cache-invalidate': '#ccbb44',
  'cache-flush-all': '#aa3377',
  'cpu-copy': '#228833',
  bounce: '#66ccee',
  'page-zero': '#bbbbbb',
  'iommu-map': '#332288',
  'iommu-unmap': '#88ccee',
  'tlb-invalidate': '#44aa99',
  'tlb-miss-walk': '#999933',
  'cma-migrate': '#882255',
  'fence-signal': '#ddcc77',
  'fence-wait': '#117733',
};

/** A duration as the unit that reads best: ns, µs or ms. */
export function formatNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(1)} µs`;
  return `${Math.round(ns)} ns`;
}

/** One phase as a bar: its kinds by ns, largest first. */
interface PhaseBar {
  title: string;
  parts: { kind: CostKind; ns: number; note: string }[];
}

const W = 960;
const BAR_X = 10;
const BAR_W = 760;

/** The bars of the chart, each scaled to its own total (a phase's total and a frame's are different magnitudes). */
function barsSvg(bars: readonly PhaseBar[]): string {
  const parts: string[] = [];
  const rowH = 52;
  bars.forEach((b, row) => {
    const y = 8 + row * rowH;
    const total = b.parts.reduce((a, p) => a + p.ns, 0);
    parts.push(`<text x="${BAR_X}" y="${y + 12}" class="bar-title">${esc(b.title)}</text>`);
    if (total <= 0) {
      parts.push(`<text x="${BAR_X}" y="${y + 34}" class="note-svg">no cost recorded in this phase</text>`);
      return;
    }
    let x = BAR_X;
    for (const p of b.parts) {
      const w = (p.ns / total) * BAR_W;
      const share = ((p.ns / total) * 100).toFixed(1);
      parts.push(`<rect x="${x.toFixed(2)}" y="${y + 20}" width="${Math.max(0.5, w).toFixed(2)}" height="20" fill="${KIND_COLORS[p.kind]}" class="cost" data-kind="${p.kind}"><title>${esc(`${p.kind}: ${formatNs(p.ns)} (${share}%)${p.note ? `; ${p.note}` : ''}`)}</title></rect>`);
      if (w > 70) parts.push(`<text x="${(x + 4).toFixed(2)}" y="${y + 34}" class="seg-label">${esc(p.kind)}</text>`);
      x += w;
    }
    parts.push(`<text x="${BAR_X + BAR_W + 8}" y="${y + 34}" class="node-sub">${esc(formatNs(total))}</text>`);
  });
  const h = 8 + bars.length * rowH;
  return `<svg class="costs" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="cost breakdown">${parts.join('')}</svg>`;
}

/** The entries of a phase as bar parts, largest first, ns taken by `ns`. */
function partsOf<T extends CostEntry>(entries: readonly T[], ns: (e: T) => number): PhaseBar['parts'] {
  return entries
    .map((e) => ({ kind: e.kind, ns: ns(e), note: e.sites[0] ? `mostly at ${e.sites[0].site}` : '' }))
    .filter((p) => p.ns > 0)
    .sort((a, b) => b.ns - a.ns || a.kind.localeCompare(b.kind));
}

/** The largest key of a record of ns, as `key (share%)`, or ''. */
function topOf(rec: Record<string, number>): string {
  const e = Object.entries(rec).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0];
  if (!e) return '';
  const total = Object.values(rec).reduce((a, v) => a + v, 0);
  return `${e[0]} (${total > 0 ? Math.round((e[1] / total) * 100) : 0}%)`;
}

/**
 * Where the run's time went, by kind of work: setup (before the first
 * frame) and teardown as totals, the steady state per frame (mean, with
 * the p99 in the table), each as a bar stacked by kind with a legend,
 * then a table naming for each kind the device, process, buffer and call
 * site that cost the most. Without costs in the result, says so.
 */
export function costBreakdownHtml(costs: RunCosts | undefined): string {
  if (!costs) return '<p class="note empty-reason" data-chart="costs">Costs were not measured in this run (its result has no cost figures).</p>';
  const steadyMs = `${(costs.steadyFromNs / 1e6).toFixed(2)}-${(costs.steadyToNs / 1e6).toFixed(2)} ms`;
  const bars: PhaseBar[] = [
    { title: `setup, before the first frame (0-${(costs.steadyFromNs / 1e6).toFixed(2)} ms): total`, parts: partsOf(costs.setup, (e) => e.ns) },
    { title: `steady state, per frame (mean over ${costs.steadyFrames} frame period(s), ${steadyMs})`, parts: partsOf(costs.steady, (e) => e.perFrame.meanNs) },
    { title: `teardown, after the last frame (from ${(costs.steadyToNs / 1e6).toFixed(2)} ms): total`, parts: partsOf(costs.teardown, (e) => e.ns) },
  ];
  const kinds = [...new Set(bars.flatMap((b) => b.parts.map((p) => p.kind)))];
  if (kinds.length === 0) return '<p class="note empty-reason" data-chart="costs">No cost was recorded in any phase of this run.</p>';
  const legend = `<div class="legend" data-chart="costs">${kinds.map((k) => `<span class="legend-item"><span class="swatch" style="background:${KIND_COLORS[k]}"></span>${esc(k)}</span>`).join('')}</div>`;
  const find = <T extends CostEntry>(l: readonly T[], k: CostKind) => l.find((e) => e.kind === k);
  const rows = kinds.map((k) => {
    const st = find(costs.steady, k);
    const su = find(costs.setup, k);
    const td = find(costs.teardown, k);
    const main = st ?? su ?? td!;
    const who = [topOf(main.byDevice), topOf(main.byProcess), topOf(main.byBuffer)].filter((x) => x).join('; ');
    const cells = [
      `<span class="swatch" style="background:${KIND_COLORS[k]}"></span>${esc(k)}`,
      su ? `${formatNs(su.ns)} (${su.count}&times;)` : '',
      st ? `${formatNs(st.perFrame.meanNs)} / ${formatNs(st.perFrame.p99Ns)}` : '',
      td ? `${formatNs(td.ns)} (${td.count}&times;)` : '',
      esc(who),
      esc(main.sites[0]?.site ?? ''),
    ];
    return `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  });
  const table = `<table class="legend costs-table"><thead><tr><th>kind</th><th>setup</th><th>per frame, mean / p99</th><th>teardown</th><th>mostly for (device; process; buffer)</th><th>top call site</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  return `${legend}\n${barsSvg(bars)}\n${table}`;
}
