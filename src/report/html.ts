import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dmabufDumpTable, type DmaBufSnapshot } from '../proc/index.ts';
import { costBreakdownHtml } from './costs-svg.ts';
import { bufferGraphSvg, bufferLabel } from './graph-svg.ts';
import { buildPlots, type PlotSpec } from './plots.ts';
import type { ReportInput } from './report-data.ts';
import { formatFindings, formatSummary } from './summary.ts';
import { Colors, esc, iovaSvg, memoryMapSvg } from './svg.ts';

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
.proc { stroke: #2563eb; } .handle { stroke: #6b7280; } .kref { stroke: #9333ea; stroke-dasharray: 4 2; } .buf { stroke: #e11d48; } .dev { stroke: #16a34a; }
.node-title { font-size: 12px; font-weight: 600; fill: #111827; } .node-sub { font-size: 11px; fill: #4b5563; } .note-svg { font-size: 12px; fill: #6b7280; }
.edge { fill: none; stroke: #6b7280; stroke-width: 1.5; } .edge.unmapped { stroke-dasharray: 5 3; }
.plot { margin: 10px 0 24px; } .graph { max-width: 100%; height: auto; }
.chart { margin: 10px 0 24px; } .chart-title { font-weight: 600; margin: 0 0 4px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12px; margin: 2px 0 6px; } .legend-item { display: inline-flex; align-items: center; gap: 5px; }
.legend-line { display: inline-block; width: 22px; height: 0; border-top: 3px solid; } .legend-line.dash { border-top-style: dashed; }
.empty-reason { border: 1px dashed #d1d5db; padding: 18px; text-align: center; background: #f9fafb; }
.seg-label { font-size: 11px; fill: #fff; pointer-events: none; } .costs { display: block; margin: 6px 0; }
.costs-table .swatch { margin-right: 6px; vertical-align: middle; }
.plot .u-legend { visibility: hidden; } .plot:hover .u-legend { visibility: visible; }
`;

const PLOT_JS = `
(function () {
  var plots = JSON.parse(document.getElementById('plot-data').textContent);
  plots.forEach(function (p) {
    if (p.empty) return;
    var el = document.getElementById(p.id);
    var series = [{ label: p.xLabel }];
    var path = p.steps === 'interval' ? uPlot.paths.stepped({ align: -1 }) : p.steps === 'held' ? uPlot.paths.stepped({ align: 1 }) : undefined;
    p.series.forEach(function (s) {
      series.push(p.points
        ? { label: s.label, stroke: s.color, width: 0, points: { show: true, size: 6, fill: s.color, stroke: s.color } }
        : { label: s.label, stroke: s.color, width: 1.5, paths: path, scale: s.right ? 'n' : 'y', dash: s.dash ? [6, 4] : undefined, points: { show: false } });
    });
    var opts = {
      width: 940, height: 280, series: series,
      scales: { x: { time: false }, y: { range: function (u, lo, hi) { return [Math.min(0, lo), hi > 0 ? hi * 1.1 : 1]; } }, n: { range: function (u, lo, hi) { return [0, hi > 0 ? hi * 1.1 : 1]; } } },
      axes: [
        { label: p.xLabel, stroke: '#374151', grid: { stroke: '#e5e7eb' } },
        { label: p.yLabel, scale: 'y', stroke: '#374151', grid: { stroke: '#e5e7eb' }, size: 70 }
      ].concat(p.y2Label ? [{ label: p.y2Label, scale: 'n', side: 1, stroke: '#374151', grid: { show: false }, size: 60 }] : []),
      // The page's own legend names the series; uPlot's, shown while the pointer is over the chart, reads out the values under it.
      legend: { show: true, live: true }
    };
    var data = [p.x].concat(p.series.map(function (s) { return s.values; }));
    new uPlot(opts, data, el.querySelector('.canvas'));
    var n = 0;
    p.series.forEach(function (s) { s.values.forEach(function (v) { if (v !== null) n++; }); });
    el.setAttribute('data-points', String(n));
    el.setAttribute('data-rendered', '1');
  });
})();
`;

/**
 * A chart's place in the page: its title, a legend that names every
 * series in its colour (readable without a cursor), and the element uPlot
 * draws in; or, for an empty chart, the title and why it is empty.
 */
export function chartHtml(p: PlotSpec): string {
  const head = `<p class="chart-title">${esc(p.title)}</p>`;
  if (p.empty) return `<div class="chart plot-empty" id="${p.id}">${head}<p class="note empty-reason" data-chart="${p.id}">${esc(p.empty)}</p></div>`;
  const items = p.series.map((s) => `<span class="legend-item" data-series="${esc(s.label)}"><span class="legend-line${s.dash ? ' dash' : ''}" style="border-color:${s.color}"></span>${esc(s.label)}${s.right ? ' (right axis)' : ''}</span>`);
  return `<div class="chart plot" id="${p.id}">${head}<div class="legend" data-chart="${p.id}">${items.join('')}</div><div class="canvas"></div></div>`;
}


/**
 * The self-contained HTML report of a run (no network at view time: the
 * charting library, its styles and the data are inlined; maps and the
 * buffer graph are SVG drawn here): summary, findings, the physical memory
 * map, each device's IOVA space, the buffer graph, CPU use and the cost
 * breakdown, and the time-series charts.
 */
export function renderReportHtml(input: ReportInput): string {
  const { result: r, capture: c } = input;
  const colors = new Colors();
  // Buffers first, so that each buffer keeps one colour across every map.
  for (const b of c.buffers) colors.of(bufferLabel(b));
  const plots = buildPlots(c, r);
  const [cpu, ...time] = [plots.find((p) => p.id === 'plot-cpu')!, ...plots.filter((p) => p.id !== 'plot-cpu')];
  const { js, css } = uplotAssets();
  const findings = r.findings.length === 0 ? '<p class="note">No findings.</p>' : `<pre>${esc(formatFindings(r))}</pre>`;
  const title = `unimem report: ${r.scenario} on ${r.platform}`;
  // A process pipeline's result carries every buffer's references: dmabuf_dump -a's table of them
  const snap = (r as { buffers?: DmaBufSnapshot }).buffers;
  const dump =
    snap && snap.buffers.length > 0
      ? `<p class="chart-title">The buffers each process holds by fd and by mapping (dmabuf_dump -a): a cell is "fds(maps) refs"; TOTALS is the size of what each process holds, in kB</p>\n<pre data-table="dmabuf-dump">${esc(dmabufDumpTable(snap))}</pre>\n`
      : '';
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
<p class="note">Allocated pages by owner while the pipeline ran (halfway through a process pipeline, or just before the process it kills is killed; at the end of a kernel-level one; frame buffers live); grey background is free memory, dashed outlines are CMA areas.</p>
${memoryMapSvg(c.memory, colors)}
<h2>IOVA space per device</h2>
<p class="note">Each IOMMU-backed device's allocated I/O virtual address ranges, zoomed to the span in use.</p>
${iovaSvg(c.iova, colors)}
<h2>Buffer graph</h2>
<p class="note">Every process, its handles on each dma-buf (fds and CPU mappings), the kernel's own references on each buffer (queue slots, GEM imports and handles, framebuffers, flips, scanout, device jobs, poll callbacks: hover for the call that took each), the buffers and the devices attached to them. Solid edges: attached and mapped for DMA; dashed: attached only.</p>
${bufferGraphSvg(c.buffers, c.processes, colors)}
${dump}<h2>CPU and costs</h2>
${chartHtml(cpu)}
<p class="chart-title">Where the time went, by kind of work: setup and teardown in total, the steady state per frame</p>
${costBreakdownHtml(r.costs)}
<h2>Over time</h2>
${time.map(chartHtml).join('\n')}
<script id="plot-data" type="application/json">${scriptJson(plots)}</script>
<script>${js}</script>
<script>${PLOT_JS}</script>
</body></html>
`;
}
