import type { PointRow } from '../sim/index.ts';
import { uplotAssets } from './html.ts';
import { esc } from './svg.ts';
import { axesOf, defaultColumns, formatSweepTable, sweepBoundaries } from './sweep-text.ts';

/** JSON safe inside a <script> element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c');
}

// Draws the chosen metric against the chosen parameter, one series per
// combination of the other parameters; a point with no value (a failed or
// invalid one) is a gap. Parameters whose values are not all numbers are
// placed at their index and labelled with their text.
const SWEEP_JS = `
(function () {
  var d = JSON.parse(document.getElementById('sweep-data').textContent);
  var colors = ['#2563eb', '#e11d48', '#16a34a', '#d97706', '#9333ea', '#0891b2', '#65a30d', '#db2777'];
  var metricSel = document.getElementById('metric'), axisSel = document.getElementById('axis'), el = document.getElementById('sweep-plot');
  var plot = null;
  function bytes(n) { var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0; while (Math.abs(n) >= 1024 && i < u.length - 1) { n /= 1024; i++; } return (Math.round(n * 10) / 10) + ' ' + u[i]; }
  function byteTicks(u, ticks) { return ticks.map(bytes); }
  function draw() {
    var m = metricSel.value, k = Number(axisSel.value), axis = d.axes[k];
    var numeric = axis.keys.every(function (x) { return typeof x === 'number'; });
    var xs = numeric ? axis.keys.slice().sort(function (a, b) { return a - b; }) : axis.values.map(function (_, i) { return i; });
    var groups = {};
    d.rows.forEach(function (r) {
      var ctx = r.params.filter(function (_, i) { return i !== k; }).map(function (p) { return p[0] + '=' + p[1]; }).join(', ') || m;
      var g = groups[ctx] || (groups[ctx] = xs.map(function () { return null; }));
      var x = numeric ? r.params[k][2] : axis.values.indexOf(r.params[k][1]);
      var v = r.metrics[m];
      g[xs.indexOf(x)] = v === undefined ? null : v;
    });
    var names = Object.keys(groups);
    var series = [{ label: axis.path }].concat(names.map(function (n, i) { return { label: n, stroke: colors[i % colors.length], width: 1.5, points: { show: true, size: 6 } }; }));
    var opts = { title: m + ' against ' + axis.path, width: 940, height: 360, series: series, scales: { x: { time: false } },
      axes: [{ label: axis.path, values: !numeric ? function (u, ticks) { return ticks.map(function (t) { return axis.values[t] || ''; }); } : axis.values.every(function (v) { return /iB$/.test(v); }) ? byteTicks : undefined },
        { label: m, size: 80, values: /Bytes$/.test(m) ? byteTicks : undefined }] };
    if (plot) plot.destroy();
    plot = new uPlot(opts, [xs].concat(names.map(function (n) { return groups[n]; })), el);
    el.setAttribute('data-series', String(names.length));
    el.setAttribute('data-rendered', '1');
  }
  metricSel.onchange = draw; axisSel.onchange = draw; draw();
})();
`;

/**
 * The sweep's HTML report, self-contained: the boundaries, the table, and a
 * plot of any metric (every numeric leaf a row has) against any parameter,
 * chosen in the page.
 */
export function renderSweepHtml(rows: readonly PointRow[]): string {
  const { js, css } = uplotAssets();
  const axes = axesOf(rows).map((a, k) => ({ ...a, keys: [...new Set(rows.map((r) => r.params[k]![2]))] }));
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))].sort();
  const first = defaultColumns(rows, 1)[0] ?? metrics[0] ?? '';
  const title = `unimem sweep: ${rows[0]?.scenario ?? 'no points'} over ${axes.map((a) => a.path).join(' x ')}`;
  const data = { axes, rows: rows.map((r) => ({ params: r.params, metrics: r.metrics, status: r.status })) };
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>${css}</style><style>body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; max-width: 1000px; } pre { white-space: pre-wrap; background: #f9fafb; border: 1px solid #e5e7eb; padding: 10px; font-size: 12px; overflow-x: auto; } select { margin: 0 12px 12px 4px; }</style></head>
<body>
<h1>${esc(title)}</h1>
<p>${rows.length} points: ${['ok', 'failed', 'invalid', 'error'].map((s) => `${rows.filter((r) => r.status === s).length} ${s}`).join(', ')}.</p>
<h2>Where the outcome changes</h2>
<pre>${esc(sweepBoundaries(rows).join('\n'))}</pre>
<h2>Plot</h2>
<label>metric <select id="metric">${metrics.map((m) => `<option${m === first ? ' selected' : ''}>${esc(m)}</option>`).join('')}</select></label>
<label>against <select id="axis">${axes.map((a, i) => `<option value="${i}">${esc(a.path)}</option>`).join('')}</select></label>
<div id="sweep-plot"></div>
<h2>Points</h2>
<pre>${esc(formatSweepTable(rows))}</pre>
<script id="sweep-data" type="application/json">${scriptJson(data)}</script>
<script>${js}</script>
<script>${SWEEP_JS}</script>
</body></html>
`;
}
