import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ReportCapture, ReportInput } from './report-data.ts';
import { formatFindings, formatSummary } from './summary.ts';
import { bufferGraphSvg, Colors, esc, iovaSvg, memoryMapSvg } from './svg.ts';

/** One time-series chart: x values, named y series, and the axis titles with units. */
export interface PlotSpec {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  x: number[];
  series: { label: string; values: (number | null)[]; /** Plotted against the right-hand axis. */ right?: boolean }[];
  /** Title of the right-hand axis, when a series uses it. */
  y2Label?: string;
  /** Draw points only (one value per event), not lines. */
  points?: boolean;
  /** Each value is an average over the interval ending at its x: drawn as steps. */
  stepped?: boolean;
}

/**
 * The report's time-series plots from the captured samples: bus bandwidth
 * per master and cache maintenance per sampling interval, CMA use at each
 * sample, and each shown frame's capture-to-display latency.
 */
export function buildPlots(c: ReportCapture): PlotSpec[] {
  const s = c.samples;
  const xs: number[] = [];
  const dt: number[] = [];
  for (let i = 1; i < s.t.length; i++) {
    xs.push(s.t[i]! / 1e6);
    dt.push((s.t[i]! - s.t[i - 1]!) / 1e9);
  }
  // Stepped series: the value at x[i] covers (x[i-1], x[i]], so the first
  // interval's value is repeated at the first sample to draw its step.
  const stepped = (v: number[]) => (v.length > 0 ? [v[0]!, ...v] : v);
  if (xs.length > 0) xs.unshift(s.t[0]! / 1e6);
  const rate = (a: number[]) => stepped(dt.map((d, i) => (d > 0 ? (a[i + 1]! - a[i]!) / d / 1e6 : 0)));
  const delta = (a: number[]) => stepped(dt.map((_, i) => (a[i + 1]! - a[i]!) / 1024));
  const masters = s.masters.map((m, k) => ({ label: m, values: rate(s.masterBytes[k]!) })).filter((m) => m.values.some((v) => v > 0));
  const ms = (s.intervalNs / 1e6).toFixed(2);
  return [
    {
      id: 'plot-bandwidth',
      title: `Bus bandwidth per master (average over each ${ms} ms interval)`,
      xLabel: 'simulated time (ms)',
      yLabel: 'bandwidth (MB/s)',
      x: xs,
      series: masters.length > 0 ? masters : [{ label: 'no traffic', values: xs.map(() => 0) }],
      stepped: true,
    },
    {
      id: 'plot-cache',
      title: `CPU cache maintenance per ${ms} ms interval`,
      xLabel: 'simulated time (ms)',
      yLabel: 'bytes maintained (KiB)',
      x: xs,
      series: [
        { label: 'clean', values: delta(s.cacheCleanBytes) },
        { label: 'invalidate', values: delta(s.cacheInvalidateBytes) },
        { label: 'whole-cache flushes', values: stepped(dt.map((_, i) => s.cacheFullFlushes[i + 1]! - s.cacheFullFlushes[i]!)), right: true },
      ],
      y2Label: 'whole-cache flushes (count)',
      stepped: true,
    },
    {
      id: 'plot-cma',
      title: 'CMA use (bytes in CMA buffers) per area',
      xLabel: 'simulated time (ms)',
      yLabel: 'in use (MiB)',
      x: s.t.map((t) => t / 1e6),
      series: s.cmaAreas.length > 0 ? s.cmaAreas.map((a, k) => ({ label: a, values: s.cmaUsedBytes[k]!.map((b) => b / 2 ** 20) })) : [{ label: 'no CMA area', values: s.t.map(() => 0) }],
    },
    {
      id: 'plot-latency',
      title: 'Frame latency (capture start to display)',
      xLabel: 'frame shown at, simulated time (ms)',
      yLabel: 'latency (ms)',
      x: c.frames.map((f) => f.shownAtNs / 1e6),
      series: [{ label: 'latency', values: c.frames.map((f) => (f.shownAtNs - f.capturedAtNs) / 1e6) }],
      points: true,
    },
  ];
}

let uplot: { js: string; css: string } | null = null;

/** uPlot's browser build and stylesheet, read once from the installed package, to inline. */
export function uplotAssets(): { js: string; css: string } {
  if (!uplot) {
    const req = createRequire(import.meta.url);
    uplot = {
      js: readFileSync(req.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
      css: readFileSync(req.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    };
  }
  return uplot;
}

/** JSON safe inside a <script> element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c');
}

const CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #111827; background: #fff; max-width: 1000px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; }
pre { white-space: pre-wrap; background: #f9fafb; border: 1px solid #e5e7eb; padding: 10px; overflow-x: auto; font-size: 12px; }
.note { color: #6b7280; } .bar, .graph { display: block; margin: 6px 0 10px; }
.bar-title { font-size: 13px; font-weight: 600; fill: #111827; } .free { fill: #f3f4f6; stroke: #d1d5db; }
.outline { fill: none; stroke: #111827; stroke-width: 1.5; stroke-dasharray: 4 2; } .outline-label { font-size: 11px; fill: #111827; }
.tick { stroke: #6b7280; } .tick-label { font-size: 10px; fill: #4b5563; font-family: ui-monospace, monospace; }
table.legend { border-collapse: collapse; font-size: 12px; margin: 4px 0 12px; } table.legend td, table.legend th { padding: 2px 10px 2px 0; text-align: left; }
.swatch { display: inline-block; width: 14px; height: 10px; border: 1px solid #0003; }
.col-title { font-size: 13px; font-weight: 600; fill: #374151; } .node { fill: #fff; stroke-width: 2; }
.proc { stroke: #2563eb; } .buf { stroke: #e11d48; } .dev { stroke: #16a34a; }
.node-title { font-size: 12px; font-weight: 600; fill: #111827; } .node-sub { font-size: 11px; fill: #4b5563; } .note-svg { font-size: 12px; fill: #6b7280; }
.edge { fill: none; stroke: #6b7280; stroke-width: 1.5; } .edge.unmapped { stroke-dasharray: 5 3; }
.plot { margin: 10px 0 24px; }
`;

const PLOT_JS = `
(function () {
  var colors = ['#2563eb', '#e11d48', '#16a34a', '#d97706', '#9333ea', '#0891b2', '#65a30d', '#db2777'];
  var plots = JSON.parse(document.getElementById('plot-data').textContent);
  plots.forEach(function (p) {
    var el = document.getElementById(p.id);
    var series = [{ label: p.xLabel }];
    p.series.forEach(function (s, i) {
      var c = colors[i % colors.length];
      series.push(p.points
        ? { label: s.label, stroke: c, width: 0, points: { show: true, size: 6, fill: c, stroke: c } }
        : { label: s.label, stroke: c, width: 1.5, paths: p.stepped ? uPlot.paths.stepped({ align: -1 }) : undefined, scale: s.right ? 'n' : 'y', dash: s.right ? [6, 4] : undefined, points: { show: false } });
    });
    var opts = {
      title: p.title, width: 940, height: 280, series: series,
      scales: { x: { time: false }, y: { range: function (u, lo, hi) { return [Math.min(0, lo), hi > 0 ? hi * 1.1 : 1]; } }, n: { range: function (u, lo, hi) { return [0, hi > 0 ? hi * 1.1 : 1]; } } },
      axes: [
        { label: p.xLabel, stroke: '#374151', grid: { stroke: '#e5e7eb' } },
        { label: p.yLabel, scale: 'y', stroke: '#374151', grid: { stroke: '#e5e7eb' }, size: 70 }
      ].concat(p.y2Label ? [{ label: p.y2Label, scale: 'n', side: 1, stroke: '#374151', grid: { show: false }, size: 60 }] : []),
      legend: { show: true }
    };
    var data = [p.x].concat(p.series.map(function (s) { return s.values; }));
    new uPlot(opts, data, el);
    var n = 0;
    p.series.forEach(function (s) { s.values.forEach(function (v) { if (v !== null) n++; }); });
    el.setAttribute('data-points', String(n));
    el.setAttribute('data-rendered', '1');
  });
})();
`;

/**
 * The self-contained HTML report of a run (no network at view time: the
 * charting library, its styles and the data are inlined; maps and the
 * buffer graph are SVG drawn here): summary, findings, the physical memory
 * map, each device's IOVA space, the dma-buf graph and the time-series
 * plots.
 */
export function renderReportHtml(input: ReportInput): string {
  const { result: r, capture: c } = input;
  const colors = new Colors();
  // Buffers first, so that each buffer keeps one colour across every map.
  for (const b of c.buffers) colors.of(`dma-buf ${b.ino} (${b.name || b.creator})`);
  const plots = buildPlots(c);
  const { js, css } = uplotAssets();
  const findings = r.findings.length === 0 ? '<p class="note">No findings.</p>' : `<pre>${esc(formatFindings(r))}</pre>`;
  const title = `unimem report: ${r.scenario} on ${r.platform}`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>${css}</style><style>${CSS}</style></head>
<body>
<h1>${esc(title)}</h1>
<p class="note">seed ${r.seed}, ${r.frames} frames, ${(r.simTimeNs / 1e6).toFixed(2)} ms of simulated time. Hover a bar or node for details.</p>
<h2>Summary</h2>
<pre>${esc(formatSummary(r))}</pre>
<h2>Findings</h2>
${findings}
<h2>Physical memory map</h2>
<p class="note">Allocated pages by owner while the pipeline ran (halfway through a process pipeline, at the end of a kernel-level one; frame buffers live); grey background is free memory, dashed outlines are CMA areas.</p>
${memoryMapSvg(c.memory, colors)}
<h2>IOVA space per device</h2>
<p class="note">Each IOMMU-backed device's allocated I/O virtual address ranges, zoomed to the span in use.</p>
${iovaSvg(c.iova, colors)}
<h2>Buffer graph</h2>
<p class="note">Solid edges: attached and mapped for DMA; dashed: attached only.</p>
${bufferGraphSvg(c.buffers, colors)}
<h2>Over time</h2>
${plots.map((p) => `<div class="plot" id="${p.id}"></div>`).join('\n')}
<script id="plot-data" type="application/json">${scriptJson(plots)}</script>
<script>${js}</script>
<script>${PLOT_JS}</script>
</body></html>
`;
}
