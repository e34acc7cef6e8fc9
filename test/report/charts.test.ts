import { beforeAll, describe, expect, it } from 'vitest';
import { renderReportHtml, ReportCollector } from '../../src/report/index.ts';
import { costBreakdownHtml } from '../../src/report/costs-svg.ts';
import { bufferGraphSvg } from '../../src/report/graph-svg.ts';
import { buildPlots, type PlotSpec } from '../../src/report/plots.ts';
import type { ReportCapture } from '../../src/report/report-data.ts';
import { Colors } from '../../src/report/svg.ts';
import { loadPlatform, loadScenario, runScenario, type CostEntry, type CpuUsage, type RunCosts, type RunResult } from '../../src/sim/index.ts';

let result: RunResult;
let cap: ReportCapture;

beforeAll(async () => {
  const s = loadScenario('camera-preview');
  const c = new ReportCollector();
  result = { ...(await runScenario(s, loadPlatform(s.spec.platform), { frames: 6, observer: c })), wallMs: 0 };
  cap = c.capture();
});

/** The plot data the page embeds. */
function plotData(html: string): PlotSpec[] {
  return JSON.parse(/<script id="plot-data" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!);
}

/** The series names in the legend of chart `id`, as the HTML spells them. */
function legendOf(html: string, id: string): string[] {
  const m = new RegExp(`<div class="legend" data-chart="${id}">(.*?)</div>`, 's').exec(html);
  return m ? [...m[1]!.matchAll(/data-series="([^"]*)"/g)].map((x) => x[1]!) : [];
}

/** A cost entry of `kind` with `ns` spent over `count` operations, on the camera for process camera (2). */
function entry(kind: CostEntry['kind'], ns: number, count: number, site: string): CostEntry {
  return { kind, ns, bytes: count * 4096, count, byDevice: { camera: ns * 0.75, display: ns * 0.25 }, byProcess: { 'camera (2)': ns }, byBuffer: { 'inode 3 (frame 0)': ns }, sites: [{ site, ns }] };
}

/** CPU use as the lead's model reports it: two processes and a kernel thread over four 16.67 ms intervals. */
const CPU: CpuUsage = {
  cores: 4,
  clockHz: 1.8e9,
  busyNs: 9e6,
  percent: 3.4,
  processes: [
    { name: 'camera', pid: 2, userNs: 1e6, sysNs: 4e6, percent: 7.5 },
    { name: 'display', pid: 3, userNs: 5e5, sysNs: 2.5e6, percent: 4.5 },
  ],
  kernel: [{ thread: 'irq/camera', ns: 1e6 }],
  timeline: {
    intervalNs: 16_666_667,
    series: [
      { name: 'camera (2)', busyNs: [3e6, 1e6, 5e5, 5e5] },
      { name: 'display (3)', busyNs: [1e6, 1e6, 5e5, 5e5] },
      { name: 'irq/camera', busyNs: [0, 0, 0, 0] },
    ],
  },
};

const COSTS: RunCosts = {
  setup: [entry('cache-flush-all', 2.4e6, 16, 'vb2_dc_alloc (videobuf2-dma-contig.c)'), entry('page-zero', 1.1e6, 3600, 'cma_alloc'), entry('iommu-map', 3e5, 4, 'iommu_map_sg')],
  steady: [
    { ...entry('cache-clean', 6e5, 60, 'dma_buf_end_cpu_access'), perFrame: { meanNs: 1e5, p99Ns: 1.4e5 } },
    { ...entry('syscall', 1.2e5, 600, 'ioctl VIDIOC_DQBUF'), perFrame: { meanNs: 2e4, p99Ns: 3e4 } },
  ],
  teardown: [entry('iommu-unmap', 2e5, 4, 'iommu_unmap')],
  steadyFromNs: 20e6,
  steadyToNs: 120e6,
  steadyFrames: 6,
};

describe('charts', () => {
  it('name every series in a legend written into the page, which needs no cursor to read', () => {
    const html = renderReportHtml({ result, capture: cap });
    const plots = plotData(html);
    for (const p of plots.filter((q) => !q.empty)) expect(legendOf(html, p.id)).toEqual(p.series.map((s) => s.label));
    expect(legendOf(html, 'plot-bandwidth')).toEqual(expect.arrayContaining(['camera', 'display']));
    expect(legendOf(html, 'plot-cache')).toEqual(['clean', 'invalidate', 'whole-cache flushes']);
    expect(legendOf(html, 'plot-cma')).toContain('display');
  });

  it('give each series of a chart its own colour, and a master the same colour in every chart', () => {
    const plots = buildPlots(cap, { ...result, cpu: CPU });
    for (const p of plots) {
      const looks = p.series.map((s) => `${s.color}${s.dash ? ' dashed' : ''}`);
      expect(new Set(looks).size).toBe(looks.length);
    }
    const colourOf = (id: string, label: string) => plots.find((p) => p.id === id)!.series.find((s) => s.label === label)!.color;
    expect(colourOf('plot-bandwidth', 'display')).toBe(colourOf('plot-cma', 'display'));
  });

  it('step where the data steps: counts and rates over the interval before each sample, occupancy held until the next', () => {
    const steps = Object.fromEntries(buildPlots(cap, { ...result, cpu: CPU }).map((p) => [p.id, p.steps ?? (p.points ? 'points' : 'line')]));
    expect(steps).toEqual({ 'plot-bandwidth': 'interval', 'plot-cache': 'interval', 'plot-smmu': 'interval', 'plot-cma': 'held', 'plot-latency': 'points', 'plot-cpu': 'interval' });
  });

  it('say why a chart is empty, in the page where the chart would be', () => {
    const none = { ...cap, samples: { ...cap.samples, smmus: [], smmuTlbMisses: [], cmaUsedBytes: cap.samples.cmaUsedBytes.map((a) => a.map(() => 0)) }, frames: [] };
    const html = renderReportHtml({ result, capture: none });
    const why = (id: string) => new RegExp(`<p class="note empty-reason" data-chart="${id}">([^<]*)</p>`).exec(html)?.[1];
    expect(why('plot-smmu')).toBe('No SMMU on this platform: every device reaches memory by physical address.');
    expect(why('plot-cma')).toBe('No CMA allocations in this run: no buffer came from a CMA area.');
    expect(why('plot-latency')).toBe('No frame was shown (6 asked): there is no latency to plot.');
    // a result has CPU figures (this run's); one read from an older JSON file may not, and says so
    expect(why('plot-cpu')).toBeUndefined();
    const old = renderReportHtml({ result: { ...result, cpu: undefined, costs: undefined } as unknown as typeof result, capture: none });
    const whyOld = (id: string) => new RegExp(`<p class="note empty-reason" data-chart="${id}">([^<]*)</p>`).exec(old)?.[1];
    expect(whyOld('plot-cpu')).toMatch(/CPU use was not measured/);
    expect(whyOld('costs')).toMatch(/Costs were not measured/);
    // An empty chart has no canvas for the script to draw in, and a drawn one never says it is empty.
    expect(html).not.toContain('<div class="chart plot" id="plot-smmu">');
    expect(why('plot-bandwidth')).toBeUndefined();
    const noCma = buildPlots({ ...cap, samples: { ...cap.samples, cmaAreas: [], cmaUsedBytes: [] } }).find((p) => p.id === 'plot-cma')!;
    expect(noCma.empty).toBe('No CMA area on this platform.');
    const quiet = { ...cap, samples: { ...cap.samples, masterBytes: cap.samples.masterBytes.map((a) => a.map(() => 0)) } };
    expect(buildPlots(quiet).find((p) => p.id === 'plot-bandwidth')!.empty).toBe('No bus master moved a byte in this run.');
  });
});

describe('CPU and costs', () => {
  it('plot CPU use per process over time, in % of one core per interval, from the result\'s timeline', () => {
    const html = renderReportHtml({ result: { ...result, cpu: CPU, costs: COSTS }, capture: cap });
    const cpu = plotData(html).find((p) => p.id === 'plot-cpu')!;
    expect(cpu.empty).toBeUndefined();
    // The kernel thread that never ran is left out; the others are named in the legend.
    expect(legendOf(html, 'plot-cpu')).toEqual(['camera (2)', 'display (3)']);
    expect(cpu.x).toHaveLength(5);
    expect(cpu.x[4]).toBeCloseTo(66.67, 2);
    // 3 ms busy in a 16.67 ms interval: 18% of one core, the first step drawn from 0.
    expect(cpu.series[0]!.values[0]).toBeCloseTo(18, 3);
    expect(cpu.series[0]!.values.slice(1)).toEqual([3e6, 1e6, 5e5, 5e5].map((v) => (v / 16_666_667) * 100));
    expect(cpu.title).toContain('4 core(s), 3.4% of all cores');
  });

  it('break the costs down by kind: setup and teardown in total, the steady state per frame, each stacked by kind with where it came from', () => {
    const html = costBreakdownHtml(COSTS);
    const bars = [...html.matchAll(/<text x="\d+" y="\d+" class="bar-title">([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(bars).toEqual(['setup, before the first frame (0-20.00 ms): total', 'steady state, per frame (mean over 6 frame period(s), 20.00-120.00 ms)', 'teardown, after the last frame (from 120.00 ms): total']);
    // Each bar stacks its kinds, largest first: setup = flush-all, page-zero, iommu-map; per frame = clean, syscall.
    const kinds = [...html.matchAll(/data-kind="([^"]*)"/g)].map((m) => m[1]);
    expect(kinds).toEqual(['cache-flush-all', 'page-zero', 'iommu-map', 'cache-clean', 'syscall', 'iommu-unmap']);
    // Segments of a bar are in proportion: flush-all is 2.4 of 3.8 ms of setup.
    const widths = [...html.matchAll(/<rect x="[\d.]+" y="\d+" width="([\d.]+)"[^>]*data-kind="(cache-flush-all|page-zero|iommu-map)"/g)].map((m) => Number(m[1]));
    expect(widths[0]! / widths.reduce((a, b) => a + b, 0)).toBeCloseTo(2.4 / 3.8, 3);
    // The legend names every kind; the table says the per-frame mean and p99, and who and where.
    expect([...html.matchAll(/<span class="legend-item">.*?<\/span>([^<]+)<\/span>/g)].map((m) => m[1])).toEqual(kinds);
    expect(html).toContain('<td>100.0 µs / 140.0 µs</td>');
    expect(html).toContain('camera (75%); camera (2) (100%); inode 3 (frame 0) (100%)');
    expect(html).toContain('<td>dma_buf_end_cpu_access</td>');
    expect(html).toContain('<td>2.40 ms (16&times;)</td>');
  });

  it('say so when a phase has no cost', () => {
    const html = costBreakdownHtml({ ...COSTS, teardown: [] });
    expect(html).toContain('no cost recorded in this phase');
    expect(costBreakdownHtml({ ...COSTS, setup: [], steady: [], teardown: [] })).toContain('No cost was recorded in any phase of this run.');
  });
});

describe('buffer graph', () => {
  it('has a node for every process, a handle for each process on each buffer it holds or maps, a node per buffer and per device', () => {
    const svg = bufferGraphSvg(cap.buffers, cap.processes, new Colors());
    const pids = [...svg.matchAll(/<g class="node-proc" data-pid="(\d+)"/g)].map((m) => Number(m[1]));
    expect(pids).toEqual(cap.processes.map((p) => p.pid));
    expect(pids.length).toBeGreaterThanOrEqual(2);
    const inos = [...svg.matchAll(/<g class="node-buf" data-ino="(\d+)"/g)].map((m) => Number(m[1]));
    expect(inos).toEqual(cap.buffers.map((b) => b.ino));
    const handles = new Set(cap.buffers.flatMap((b) => [...b.holders, ...b.mappings].map((h) => `${h.pid}:${b.ino}`)));
    expect(svg.match(/<g class="node-handle"/g)).toHaveLength(handles.size);
    expect(svg.match(/<g class="node-dev"/g)).toHaveLength(new Set(cap.buffers.flatMap((b) => b.attachments.map((a) => a.device))).size);
    // Every node sits inside the drawing, and no two nodes overlap (the layout placed them).
    const size = /<svg class="graph" width="(\d+)" height="(\d+)"/.exec(svg)!.slice(1).map(Number);
    const rects = [...svg.matchAll(/<rect x="([\d.-]+)" y="([\d.-]+)" width="([\d.]+)" height="([\d.]+)" rx="6" class="node/g)].map((m) => m.slice(1).map(Number));
    for (const [x, y, w, h] of rects) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(y).toBeGreaterThanOrEqual(0);
      expect(x! + w!).toBeLessThanOrEqual(size[0]!);
      expect(y! + h!).toBeLessThanOrEqual(size[1]!);
    }
    for (let i = 0; i < rects.length; i++) {
      for (let j = i + 1; j < rects.length; j++) {
        const [a, b] = [rects[i]!, rects[j]!];
        const apart = a[0]! + a[2]! <= b[0]! || b[0]! + b[2]! <= a[0]! || a[1]! + a[3]! <= b[1]! || b[1]! + b[3]! <= a[1]!;
        expect(apart).toBe(true);
      }
    }
  });

  it('shows a process that holds no buffer, and says so when nothing is live', () => {
    const svg = bufferGraphSvg([], [{ pid: 7, comm: 'idle' }], new Colors());
    expect(svg).toContain('No dma-buf was live at the snapshot');
    expect(svg).toMatch(/<g class="node-proc" data-pid="7">.*idle \(pid 7\).*holds no dma-buf/s);
    expect(bufferGraphSvg([], [], new Colors())).toContain('No process and no dma-buf was live at the snapshot.');
    // A kernel-level pipeline: buffers and devices, no process, and the page says why.
    const kernelOnly = cap.buffers.map((b) => ({ ...b, holders: [], mappings: [] }));
    const k = bufferGraphSvg(kernelOnly, [], new Colors());
    expect(k).toContain('No process holds a buffer: this pipeline shares its buffers inside the kernel.');
    expect(k.match(/<g class="node-buf"/g)).toHaveLength(cap.buffers.length);
    expect(k).not.toContain('node-proc');
  });
});
