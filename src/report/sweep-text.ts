import type { PointRow } from '../sim/index.ts';

/** A byte count for people: 68.7 MiB, 4 KiB, 512 B. */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const s = u === 0 || Number.isInteger(v) ? String(v) : v.toFixed(1).replace(/\.0$/, '');
  return `${n < 0 ? '-' : ''}${s} ${units[u]}`;
}

/** A metric's value as a table shows it: bytes in binary units, booleans' 0/1 as they are, other numbers to 4 significant digits. */
export function metricText(name: string, v: number | undefined): string {
  if (v === undefined) return '-';
  if (/Bytes$/.test(name)) return humanBytes(v);
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}

/** The axes of a sweep's rows, in order: each parameter's path and its values in the order the sweep gave them. */
export function axesOf(rows: readonly PointRow[]): { path: string; values: string[] }[] {
  const first = [...rows].sort((a, b) => a.index - b.index);
  const paths = first[0]?.params.map(([p]) => p) ?? [];
  return paths.map((path, i) => ({ path, values: [...new Set(first.map((r) => r.params[i]![1]))] }));
}

/** The root of a parameter's path in the result's terms: `platform.cma.default` and `cma.areas.x.size` are both about `cma`. */
function rootOf(path: string): string {
  return path.replace(/^(platform|scenario)\./, '').split(/[.[]/)[0]!;
}

/**
 * The metrics a sweep's table shows by default: those that differ between
 * its rows, the ones about a swept parameter first (`cma.*` when `cma.default`
 * is swept), then the result's other top-level figures, at most `max`.
 */
export function defaultColumns(rows: readonly PointRow[], max = 5): string[] {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))].filter((m) => m.split('.').length <= 2);
  const varies = names.filter((m) => new Set(rows.map((r) => r.metrics[m])).size > 1);
  const roots = new Set(axesOf(rows).map((a) => rootOf(a.path)));
  const about = varies.filter((m) => roots.has(m.split('.')[0]!));
  return [...about, ...varies.filter((m) => !about.includes(m))].slice(0, max);
}

/** The rows as a table: each parameter, the outcome, the chosen metrics, the number of findings and why a point failed. */
export function formatSweepTable(rows: readonly PointRow[], metrics: readonly string[] = defaultColumns(rows)): string {
  const axes = axesOf(rows);
  const head = [...axes.map((a) => a.path), 'status', ...metrics, 'findings', 'reason'];
  const body = rows.map((r) => [
    ...r.params.map(([, text]) => text),
    r.status,
    ...metrics.map((m) => metricText(m, r.metrics[m])),
    String(r.findings.length),
    r.reason.length > 90 ? `${r.reason.slice(0, 87)}...` : r.reason,
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(width[i]!))).join('  ').trimEnd();
  return [line(head), ...body.map(line)].join('\n');
}

/** What a point came to, for telling where it changes: its status, and for a run that worked, the kinds of its findings. */
function outcome(r: PointRow): string {
  if (r.status !== 'ok') return r.status;
  const kinds = [...new Set(r.findings.map((f) => f.kind))].sort();
  return kinds.length > 0 ? `ok with findings (${kinds.join(', ')})` : 'ok';
}

const VERB: Record<string, string> = { failed: 'fails', invalid: 'is invalid', error: 'errors (a simulator bug)' };

/** What happened at a point, for the boundary text: why it failed, what it was refused for, or what it found. */
function detail(r: PointRow, axis: string): string {
  if (r.status !== 'ok') return r.reason;
  const related = Object.keys(r.metrics)
    .filter((m) => m.split('.')[0] === rootOf(axis) && m.split('.').length <= 2)
    .slice(0, 3)
    .map((m) => `${m} ${metricText(m, r.metrics[m])}`);
  const kinds = [...new Set(r.findings.map((f) => f.kind))];
  const parts = [...related, ...(kinds.length > 0 ? [`findings: ${r.findings[0]!.message}`] : [])];
  return parts.length > 0 ? `it runs, with ${parts.join(', ')}` : 'it runs';
}

/**
 * Where the outcome changes along each axis, the other parameters held
 * fixed: "cma.default: fails below 72MiB: at 68MiB <why>; at 72MiB it
 * runs, with cma.peakBytes 68.7 MiB". The same change at every value of
 * the other parameters is told once.
 */
export function sweepBoundaries(rows: readonly PointRow[]): string[] {
  const axes = axesOf(rows);
  const out: string[] = [];
  axes.forEach((axis, k) => {
    // Lines along this axis: the rows that agree on every other parameter.
    const lines = new Map<string, PointRow[]>();
    for (const r of rows) {
      const ctx = r.params.filter((_, i) => i !== k).map(([p, t]) => `${p}=${t}`).join(', ');
      lines.set(ctx, [...(lines.get(ctx) ?? []), r]);
    }
    const ordered = rows.every((r) => typeof r.params[k]![2] === 'number');
    const changes = new Map<string, { what: string; details: string; contexts: string[] }>();
    for (const [ctx, line] of lines) {
      const sorted = [...line].sort((a, b) => axis.values.indexOf(a.params[k]![1]) - axis.values.indexOf(b.params[k]![1]));
      for (let i = 1; i < sorted.length; i++) {
        const lo = sorted[i - 1]!;
        const hi = sorted[i]!;
        const [ol, oh] = [outcome(lo), outcome(hi)];
        if (ol === oh) continue;
        const [tl, th] = [lo.params[k]![1], hi.params[k]![1]];
        // Below and above only where the values have an order (numbers, sizes); a name is just another value.
        let what: string;
        if (oh === 'ok' && VERB[lo.status]) what = ordered ? `${VERB[lo.status]} below ${th}` : `${VERB[lo.status]} at ${tl}`;
        else if (ol === 'ok' && VERB[hi.status]) what = ordered ? `${VERB[hi.status]} above ${tl}` : `${VERB[hi.status]} at ${th}`;
        else what = `changes between ${tl} and ${th} (${ol} -> ${oh})`;
        const id = `${tl}|${th}|${ol}|${oh}`;
        const c = changes.get(id) ?? { what, details: `at ${tl} ${detail(lo, axis.path)}; at ${th} ${detail(hi, axis.path)}`, contexts: [] };
        c.contexts.push(ctx);
        changes.set(id, c);
      }
    }
    if (changes.size === 0) {
      const all = [...new Set(rows.map(outcome))];
      out.push(`${axis.path}: the outcome does not change along it (${all.length === 1 ? `all ${all[0]}` : `the other parameters decide: ${all.join('; ')}`})`);
      return;
    }
    for (const c of changes.values()) {
      const where = axes.length === 1 ? '' : c.contexts.length === lines.size ? ' (at every value of the other parameters)' : ` (where ${c.contexts.join('; ')})`;
      out.push(`${axis.path}: ${rows[0]!.scenario} ${c.what}${where}: ${c.details}`);
    }
  });
  return out;
}
