import { flattenMetrics, type RunResult } from '../sim/index.ts';
import { metricText } from './sweep-text.ts';

/** Two runs of the same work side by side: every metric with its difference, the findings only one side has, the placements that changed. */
export interface Comparison {
  left: string;
  right: string;
  metrics: { name: string; left?: number; right?: number }[];
  onlyLeft: RunResult['findings'];
  onlyRight: RunResult['findings'];
  placement: { what: string; left?: string; right?: string }[];
}

/** A finding as compared: its kind and message, not where or when (those move when anything changes). */
function findingId(f: RunResult['findings'][number]): string {
  return `${f.kind}: ${f.message}`;
}

/** The device or process a placement line is about (`camera: capture buffers from ...`). */
function placementOf(line: string): string {
  const m = /^([^:]+):/.exec(line);
  return m ? m[1]! : line;
}

/** Compares two runs: every numeric leaf of each result (flattenMetrics), findings by kind and message, placement by device. */
export function compareResults(left: RunResult, right: RunResult, labels: [string, string]): Comparison {
  const a = flattenMetrics(left);
  const b = flattenMetrics(right);
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  const ids = (r: RunResult) => new Set(r.findings.map(findingId));
  const [ia, ib] = [ids(left), ids(right)];
  const pa = new Map(left.placement.map((l) => [placementOf(l), l]));
  const pb = new Map(right.placement.map((l) => [placementOf(l), l]));
  const placement = [...new Set([...pa.keys(), ...pb.keys()])].filter((k) => pa.get(k) !== pb.get(k)).map((k) => ({ what: k, left: pa.get(k), right: pb.get(k) }));
  return {
    left: labels[0],
    right: labels[1],
    metrics: names.map((name) => ({ name, left: a[name], right: b[name] })),
    onlyLeft: left.findings.filter((f) => !ib.has(findingId(f))),
    onlyRight: right.findings.filter((f) => !ia.has(findingId(f))),
    placement,
  };
}

/** The difference as a table shows it: right - left, and the change in % of left when left is not 0; blank when equal. */
function diffText(name: string, l: number | undefined, r: number | undefined): [string, string] {
  if (l === undefined || r === undefined || l === r) return ['', ''];
  const d = r - l;
  const sign = d > 0 ? '+' : '';
  return [`${sign}${metricText(name, d)}`, l !== 0 ? `${sign}${((d / Math.abs(l)) * 100).toFixed(1)}%` : ''];
}

/**
 * The comparison as text: the metric table (`--changed` keeps only the
 * rows that differ), then the findings only one side has and the
 * placement choices that changed.
 */
export function formatComparison(c: Comparison, opts: { changedOnly?: boolean } = {}): string {
  const rows = c.metrics
    .filter((m) => !opts.changedOnly || m.left !== m.right)
    .map((m) => [m.name, metricText(m.name, m.left), metricText(m.name, m.right), ...diffText(m.name, m.left, m.right)]);
  const head = ['metric', c.left, c.right, 'diff', '%'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((x, i) => (i === 0 ? x.padEnd(width[i]!) : x.padStart(width[i]!))).join('  ').trimEnd();
  const out = [line(head), ...rows.map(line)];
  const changed = c.metrics.filter((m) => m.left !== m.right).length;
  out.push('', `${changed} of ${c.metrics.length} metrics differ.`);
  const findings = (title: string, list: Comparison['onlyLeft']) => {
    out.push('', `findings only ${title} has: ${list.length === 0 ? 'none' : ''}`);
    for (const f of list) out.push(`  ${f.kind}: ${f.message}${f.site ? ` (${f.site})` : ''}`);
  };
  findings(c.left, c.onlyLeft);
  findings(c.right, c.onlyRight);
  out.push('', `placement choices that changed: ${c.placement.length === 0 ? 'none' : ''}`);
  for (const p of c.placement) out.push(`  ${p.what}`, `    ${c.left}: ${p.left ?? '(none)'}`, `    ${c.right}: ${p.right ?? '(none)'}`);
  return out.join('\n');
}
