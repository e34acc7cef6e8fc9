import type { CpuUsage, RunResult } from '../sim/index.ts';
import type { ReportCapture } from './report-data.ts';

/** One named series of a chart, with the colour its line and its legend entry share. */
export interface PlotSeries {
  label: string;
  values: (number | null)[];
  color: string;
  /** Drawn dashed: a second series of the same colour, or one on the right-hand axis. */
  dash?: boolean;
  /** Plotted against the right-hand axis. */
  right?: boolean;
}

/**
 * How values join up: `interval` -- each value is what happened over the
 * interval ending at its x (a rate, a count per interval); `held` -- each
 * value holds from its x until the next one (an occupancy); none -- a
 * line between samples.
 */
export type PlotSteps = 'interval' | 'held';

/** One time-series chart: x values, named y series, and the axis titles with units. */
export interface PlotSpec {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  x: number[];
  series: PlotSeries[];
  /** Title of the right-hand axis, when a series uses it. */
  y2Label?: string;
  /** Draw points only (one value per event), not lines. */
  points?: boolean;
  steps?: PlotSteps;
  /** Set when there is nothing to draw: why the chart is empty, said where the chart would be. */
  empty?: string;
}

/**
 * Colours that tell series apart: a categorical palette (Paul Tol's
 * "muted" and "bright" schemes, chosen to stay distinct for colour-blind
 * readers), assigned to labels in order of first use across the report,
 * so that a master keeps its colour from chart to chart. Past the palette
 * colours repeat, dashed.
 */
export class SeriesColors {
  private static readonly PALETTE = ['#4477aa', '#ee6677', '#228833', '#ccbb44', '#66ccee', '#aa3377', '#332288', '#117733', '#882255', '#44aa99', '#999933', '#cc6677', '#88ccee', '#bbbbbb', '#ddcc77', '#000000'];
  private readonly index = new Map<string, number>();

  /** The colour of `label` and whether it is drawn dashed (the palette came round). */
  of(label: string): { color: string; dash: boolean } {
    let i = this.index.get(label);
    if (i === undefined) this.index.set(label, (i = this.index.size));
    const n = SeriesColors.PALETTE.length;
    return { color: SeriesColors.PALETTE[i % n]!, dash: i >= n };
  }

  /** A series of `label` with its colour. */
  series(label: string, values: (number | null)[], extra: { right?: boolean } = {}): PlotSeries {
    const { color, dash } = this.of(label);
    return { label, values, color, ...(dash || extra.right ? { dash: true } : {}), ...(extra.right ? { right: true } : {}) };
  }
}

/** Whether any value is a number other than 0. */
function anyNonZero(v: readonly (number | null)[]): boolean {
  return v.some((x) => x !== null && x !== 0);
}

/**
 * The report's time-series charts: bus bandwidth per master, cache
 * maintenance, IOTLB misses per SMMU and CPU use per process per sampling
 * interval; CMA use at each sample; each shown frame's capture-to-display
 * latency. A chart with nothing to show says why.
 */
export function buildPlots(c: ReportCapture, r?: Pick<RunResult, 'cpu' | 'frames'>, colors = new SeriesColors()): PlotSpec[] {
  const s = c.samples;
  const xs: number[] = [];
  const dt: number[] = [];
  for (let i = 1; i < s.t.length; i++) {
    xs.push(s.t[i]! / 1e6);
    dt.push((s.t[i]! - s.t[i - 1]!) / 1e9);
  }
  // Interval series: the value at x[i] covers (x[i-1], x[i]], so the first
  // interval's value is repeated at the first sample to draw its step.
  const stepped = (v: number[]) => (v.length > 0 ? [v[0]!, ...v] : v);
  if (xs.length > 0) xs.unshift(s.t[0]! / 1e6);
  const rate = (a: number[]) => stepped(dt.map((d, i) => (d > 0 ? (a[i + 1]! - a[i]!) / d / 1e6 : 0)));
  const delta = (a: number[], scale = 1) => stepped(dt.map((_, i) => (a[i + 1]! - a[i]!) / scale));
  const ms = (s.intervalNs / 1e6).toFixed(2);
  const time = 'simulated time (ms)';

  const masters = s.masters.map((m, k) => ({ m, values: rate(s.masterBytes[k] ?? []) })).filter((m) => anyNonZero(m.values));
  const bandwidth: PlotSpec = {
    id: 'plot-bandwidth',
    title: `Bus bandwidth per master (average over each ${ms} ms interval, each transfer spread over the time it took)`,
    xLabel: time,
    yLabel: 'bandwidth (MB/s)',
    x: xs,
    series: masters.map((m) => colors.series(m.m, m.values)),
    steps: 'interval',
    ...(masters.length === 0 ? { empty: 'No bus master moved a byte in this run.' } : {}),
  };

  const clean = delta(s.cacheCleanBytes, 1024);
  const inval = delta(s.cacheInvalidateBytes, 1024);
  const flushes = delta(s.cacheFullFlushes);
  const cache: PlotSpec = {
    id: 'plot-cache',
    title: `CPU cache maintenance per ${ms} ms interval`,
    xLabel: time,
    yLabel: 'bytes maintained (KiB)',
    x: xs,
    series: [colors.series('clean', clean), colors.series('invalidate', inval), colors.series('whole-cache flushes', flushes, { right: true })],
    y2Label: 'whole-cache flushes (count)',
    steps: 'interval',
    ...(!anyNonZero(clean) && !anyNonZero(inval) && !anyNonZero(flushes) ? { empty: 'No cache maintenance in this run: every device is IO-coherent or no buffer needed it.' } : {}),
  };

  const smmuSeries = s.smmus.map((m, k) => colors.series(m, delta(s.smmuTlbMisses[k] ?? [])));
  const smmu: PlotSpec = {
    id: 'plot-smmu',
    title: `IOTLB misses (page-table walks) per SMMU per ${ms} ms interval`,
    xLabel: time,
    yLabel: 'misses (count)',
    x: xs,
    series: smmuSeries,
    steps: 'interval',
    ...(s.smmus.length === 0 ? { empty: 'No SMMU on this platform: every device reaches memory by physical address.' } : !smmuSeries.some((x) => anyNonZero(x.values)) ? { empty: 'No IOTLB miss in this run: no device behind an SMMU did DMA.' } : {}),
  };

  const cmaSeries = s.cmaAreas.map((a, k) => colors.series(a, (s.cmaUsedBytes[k] ?? []).map((b) => b / 2 ** 20)));
  const cma: PlotSpec = {
    id: 'plot-cma',
    title: 'CMA use (bytes in CMA buffers) per area',
    xLabel: time,
    yLabel: 'in use (MiB)',
    x: s.t.map((t) => t / 1e6),
    series: cmaSeries,
    steps: 'held',
    ...(s.cmaAreas.length === 0 ? { empty: 'No CMA area on this platform.' } : !cmaSeries.some((x) => anyNonZero(x.values)) ? { empty: 'No CMA allocations in this run: no buffer came from a CMA area.' } : {}),
  };

  const latency: PlotSpec = {
    id: 'plot-latency',
    title: 'Frame latency (capture start to display)',
    xLabel: 'frame shown at, simulated time (ms)',
    yLabel: 'latency (ms)',
    x: c.frames.map((f) => f.shownAtNs / 1e6),
    series: [colors.series('latency', c.frames.map((f) => (f.shownAtNs - f.capturedAtNs) / 1e6))],
    points: true,
    ...(c.frames.length === 0 ? { empty: `No frame was shown${r ? ` (${r.frames} asked)` : ''}: there is no latency to plot.` } : {}),
  };

  return [bandwidth, cache, smmu, cma, latency, cpuPlot(r?.cpu, colors)];
}

/** CPU use per process (and kernel thread) over time, in % of one core per interval, from the run's CPU timeline. */
export function cpuPlot(cpu: CpuUsage | undefined, colors = new SeriesColors()): PlotSpec {
  const base = { id: 'plot-cpu', xLabel: 'simulated time (ms)', yLabel: 'CPU use (% of one core)', steps: 'interval' as const };
  if (!cpu) return { ...base, title: 'CPU use per process', x: [], series: [], empty: 'CPU use was not measured in this run (its result has no CPU figures).' };
  const { intervalNs, series } = cpu.timeline;
  const n = Math.max(0, ...series.map((x) => x.busyNs.length));
  const title = `CPU use per process (% of one core over each ${(intervalNs / 1e6).toFixed(2)} ms interval; ${cpu.cores} core(s), ${cpu.percent.toFixed(1)}% of all cores over the run)`;
  const busy = series.filter((x) => x.busyNs.some((v) => v > 0));
  if (n === 0 || busy.length === 0) return { ...base, title, x: [], series: [], empty: 'No CPU time was recorded over the run.' };
  // Interval k covers (k, k+1] intervals; its value is repeated at 0 to draw the first step.
  const x = [0, ...Array.from({ length: n }, (_, k) => ((k + 1) * intervalNs) / 1e6)];
  const pct = (v: number[]) => {
    const p = Array.from({ length: n }, (_, k) => ((v[k] ?? 0) / intervalNs) * 100);
    return [p[0]!, ...p];
  };
  return { ...base, title, x, series: busy.map((b) => colors.series(b.name, pct(b.busyNs))) };
}
