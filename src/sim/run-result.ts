import type { CostKind, Finding } from '../lib/index.ts';
import type { System } from './boot.ts';

/** What a run measured: the JSON contract of `unimem run --json` (DESIGN.md). */
export interface RunResult {
  scenario: string;
  platform: string;
  seed: number;
  frames: number;
  integrity: { ok: boolean; mismatches: number; framesChecked: number };
  copies: { cpuBytes: number; bounceBytes: number };
  cache: { cleanBytes: number; invalidateBytes: number; fullFlushes: number; maintenanceNs: number };
  iommu: { tlbMisses: number; tlbHits: number; faults: number };
  cma: { peakBytes: number; migrations: number };
  frameLatencyNs: { p50: number; p90: number; p99: number; max: number };
  /** Frames the pipeline let go knowingly: a sensor with no free buffer, a frame replaced before it was shown, a buffer a device flagged bad. */
  droppedFrames: number;
  /** Frames neither shown nor dropped: they vanished (a process died, a mapping failed); frames = shown + dropped + lost. */
  lostFrames: number;
  /** Where the pipeline ends, as the summary names it: `the display`, or a process and its stage, `saver (encode)`. */
  sink: string;
  zeroCopy: boolean;
  /** Why the frame buffers live where they do: each device's constraints and the exporter's choice. */
  placement: string[];
  findings: (Pick<Finding, 'kind' | 'message' | 'call'> & { timeNs: number; site?: string })[];
  simTimeNs: number;
  wallMs: number;
  /** What the CPU cores did: busy time, each process's user and system time, kernel threads. */
  cpu: CpuUsage;
  /** Where the time went: setup, steady state (per frame) and teardown, by kind of work. */
  costs: RunCosts;
}

export type { CostKind };

/** One kind of cost over a phase of the run, with who caused it. */
export interface CostEntry {
  kind: CostKind;
  ns: number;
  bytes: number;
  count: number;
  /** ns by the device the work was for (a DMA master), where there is one. */
  byDevice: Record<string, number>;
  /** ns by the process (or kernel thread) that did the work: `name (pid)`. */
  byProcess: Record<string, number>;
  /** ns by the dma-buf the work was on: `inode N (name)`. */
  byBuffer: Record<string, number>;
  /** The call sites that cost the most, largest first (at most 8). */
  sites: { site: string; ns: number }[];
}

/** A steady-state cost, also as a per-frame figure (each frame period of the steady state is one sample). */
export interface SteadyCostEntry extends CostEntry {
  perFrame: { meanNs: number; p99Ns: number };
}

/** The run's costs in three phases: before the first frame, while frames flow, and after the last. */
export interface RunCosts {
  setup: CostEntry[];
  steady: SteadyCostEntry[];
  teardown: CostEntry[];
  /** Where the phases change, in simulated ns. */
  steadyFromNs: number;
  steadyToNs: number;
  /** Frame periods in the steady state (the per-frame samples). */
  steadyFrames: number;
}

/** CPU time of one process (all its threads). */
export interface ProcessCpu {
  name: string;
  pid: number;
  userNs: number;
  sysNs: number;
  /** (user + sys) / simulated time, in % of one core (as top shows it). */
  percent: number;
}

/** What the CPU cores did over the run. */
export interface CpuUsage {
  cores: number;
  clockHz: number;
  /** Busy ns summed over all cores. */
  busyNs: number;
  /** busyNs / (cores x simulated time), in %. */
  percent: number;
  processes: ProcessCpu[];
  /** Kernel threads and interrupt handlers, by name. */
  kernel: { thread: string; ns: number }[];
  /** CPU busy ns per process over time, for the report: one sample per interval. */
  timeline: { intervalNs: number; series: { name: string; busyNs: number[] }[] };
}

/** The cache counters at the start of a run, to measure it against. */
export type CacheBaseline = Pick<System['soc']['cache']['stats'], 'cleanBytes' | 'invalidateBytes' | 'fullFlushes'>;

/** What the hardware counters say about a run since `cache0`: cache maintenance, IOMMU TLB, CMA. */
export function hardwareCounters(sys: System, cache0: CacheBaseline): Pick<RunResult, 'cache' | 'iommu' | 'cma'> {
  const cmaStats = [...sys.mm.cma.values()].map((a) => a.stats());
  const smmuStats = [...sys.smmus.values()].map((m) => m.stats);
  const c = sys.soc.cache.stats;
  return {
    cache: {
      cleanBytes: c.cleanBytes - cache0.cleanBytes,
      invalidateBytes: c.invalidateBytes - cache0.invalidateBytes,
      fullFlushes: c.fullFlushes - cache0.fullFlushes,
      maintenanceNs: 0,
    },
    iommu: {
      tlbMisses: smmuStats.reduce((a, x) => a + x.tlbMisses, 0),
      tlbHits: smmuStats.reduce((a, x) => a + x.tlbHits, 0),
      faults: smmuStats.reduce((a, x) => a + x.faults, 0),
    },
    cma: { peakBytes: cmaStats.reduce((n, a) => n + a.peakUsedPages * 4096, 0), migrations: cmaStats.reduce((n, a) => n + a.pagesMigrated, 0) },
  };
}

/** The p-th percentile (nearest rank) of a list of numbers; 0 for an empty list. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/**
 * Watches a run from inside, for the HTML report's time series and
 * snapshots. The run calls it but never depends on what it does; it must
 * only read state (and may set timers on the clock that only read).
 */
export interface RunObserver {
  /** The system booted (frame buffers not yet allocated); `periodNs` is the frame period. */
  booted(sys: System, periodNs: number): void;
  /** Frame `frame`, captured at `capturedAtNs`, was shown at `shownAtNs` (simulated ns). */
  frameShown(frame: number, capturedAtNs: number, shownAtNs: number): void;
  /**
   * The pipeline is in full flow (a process pipeline, halfway through): a
   * moment to snapshot memory, IOVA spaces and buffers. Optional; without
   * it, `finished` is the moment.
   */
  snapshot?(sys: System): void;
  /** The pipeline finished (a kernel-level one with its frame buffers still allocated, attached and mapped). */
  finished(sys: System): void;
}
