import { formatBytes, hex, PAGE_SIZE, type Finding, type FindingKind } from '../lib/index.ts';
import { DEFAULT_CMA_NAME } from '../mm/index.ts';
import type { System } from './boot.ts';
import { platformSite } from './platform.ts';

/** How a run's frames ended: `asked` = `shown` + `dropped` + `lost`. */
export interface FrameCounts {
  asked: number;
  /** Frames that reached the pipeline's end. */
  shown: number;
  /** Frames the pipeline let go knowingly: lost at a sensor with no free buffer, replaced before shown, flagged bad by a device. */
  dropped: number;
  /** Frames that vanished: neither shown nor dropped. */
  lost: number;
}

/** How the frames asked for ended; drops are capped so that shown + dropped + lost = asked. */
export function frameCounts(asked: number, shown: number, dropped: number): FrameCounts {
  const s = Math.min(shown, asked);
  const d = Math.min(dropped, asked - s);
  return { asked, shown: s, dropped: d, lost: asked - s - d };
}

/** A device the pipeline drove, and what it must move to keep up. */
export interface DrivenDevice {
  /** The platform device's name. */
  device: string;
  /** Who drives it: `camera (capture)`. */
  driver: string;
  /** Bytes per second it must move, and how that follows from the frames; null when only a measurement can tell. */
  needs: { bytesPerSecond: number; because: string } | null;
}

/** Who allocates buffers from a CMA area's heap, and how many. */
export interface HeapUser {
  /** The CMA area (its heap's name). */
  area: string;
  /** `camera (capture)`. */
  who: string;
  buffers: number;
}

/** What the capacity checks need to know about a run besides the system it ran on. */
export interface CapacityRun {
  frames: FrameCounts;
  devices: DrivenDevice[];
  heapUsers: HeapUser[];
  /** The scenario's `frames` line (`file:line:col`): where frames lost with no other explanation are blamed. */
  framesSite: string;
  /** The process the scenario itself kills mid-stream, if any: the frames after the kill are lost by design. */
  killed?: string;
  simTimeNs: number;
}

/** Finding kinds that say why frames went missing; anything else (a leak, a missing sync) does not. */
const EXPLAINS_LOSS: readonly FindingKind[] = ['process-failed', 'iommu-fault', 'bus-error', 'fault-injection', 'oom', 'capacity', 'fence-deadlock', 'fence-orphaned'];

/** Share of its time a device's port must be busy before a measurement alone calls it saturated. */
const SATURATED = 0.95;

/**
 * Turns what the platform could not carry into `capacity` findings, each
 * at the platform or scenario line that sets the limit: a buffer beyond a
 * device's DMA reach with nothing to bounce through, a CMA area too small
 * for what was asked of it, a device over its bandwidth when frames were
 * dropped, a CMA area reserved for a device that took none of it, and --
 * last, only when nothing else explains them -- frames that were lost.
 */
export function reportCapacity(sys: System, run: CapacityRun): void {
  reportReach(sys);
  reportCmaFailures(sys, run);
  if (run.frames.dropped + run.frames.lost > 0) reportBandwidth(sys, run);
  reportUnusedCma(sys, run);
  reportLoss(sys, run);
  // Findings dated back to when the trouble began take their place in time (a stable sort moves only those).
  sys.soc.findings.findings.sort((a, b) => a.timeNs - b.timeNs);
}

/** Records a finding at the time the trouble began, not when the run ended. */
function report(sys: System, call: string, message: string, site: string, timeNs?: number): Finding {
  const f = sys.soc.findings.report('capacity', call, message, site);
  if (timeNs !== undefined) f.timeNs = timeNs;
  return f;
}

function deviceIndex(sys: System, name: string): number {
  return sys.platform.devices.findIndex((d) => d.name === name);
}

/** Bytes as a user sizes them: 22.9 MiB. */
function size(bytes: number): string {
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(1)} KiB`;
  return formatBytes(bytes);
}

/** A rate as the platform file writes bandwidths: 1.6 GB/s, 60 MB/s. */
function rate(bytesPerSecond: number): string {
  return bytesPerSecond >= 1e9 ? `${(bytesPerSecond / 1e9).toFixed(2)} GB/s` : `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
}

/** A device that was refused a mapping beyond its mask: which buffer, which mask, and that nothing could carry it. */
function reportReach(sys: System): void {
  for (const dev of sys.devices.values()) {
    const o = dev.overflow;
    if (!o) continue;
    const i = deviceIndex(sys, dev.name);
    const mask = 2 ** dev.dmaMaskBits - 1;
    report(
      sys,
      'dma_direct_map_page',
      `${dev.name} cannot reach the buffer at ${hex(o.pa)} (${size(o.size)}): its ${dev.dmaMaskBits}-bit DMA mask ${hex(mask)} ends below it, ` +
        `and it has no IOMMU and bouncing is off; ${o.count} mapping(s) refused. An IOMMU, \`bounce: true\` or memory below ${hex(mask + 1)} would carry it`,
      i >= 0 ? platformSite(sys.platform, ['devices', i, 'dmaMaskBits']) : `device ${dev.name}`,
      o.timeNs,
    );
  }
}

/** The platform line that sizes a CMA area: `cma.default` for the default area, else the area's `size`. */
function cmaSite(sys: System, area: string): string {
  if (area === DEFAULT_CMA_NAME && sys.platform.cma.default !== undefined) return platformSite(sys.platform, ['cma', 'default']);
  const i = sys.platform.cma.areas.findIndex((a) => a.name === area);
  return platformSite(sys.platform, i >= 0 ? ['cma', 'areas', i, 'size'] : ['cma']);
}

/** A CMA area that could not give a buffer: the arithmetic of what was asked against what it had. */
function reportCmaFailures(sys: System, run: CapacityRun): void {
  for (const area of sys.mm.cma.values()) {
    const f = area.lastFailure;
    // An injected failure is the fault-injection finding's to explain.
    if (!f || f.why !== 'no-range') continue;
    const users = run.heapUsers.filter((u) => u.area === area.name);
    const asked = users.reduce((n, u) => n + u.buffers, 0);
    const align = 2 ** f.alignOrder;
    const which = asked > 0 ? `buffer ${f.buffers + 1} of the ${asked} ${users.map((u) => u.who).join(' and ')} asked for` : `a buffer`;
    const parts = [
      `cma area '${area.name}' (${size(area.size)}, ${area.count} pages) could not give ${which}: it needs ${f.count} pages (${size(f.count * PAGE_SIZE)}) aligned to ${align} pages`,
      `${f.usedPages} pages were used by ${f.buffers} buffer(s), the largest free run was ${f.largestFreeRun} pages`,
    ];
    if (asked > 0) {
      // Each buffer but the last starts on an aligned boundary: what `asked` of them take at the least.
      const need = (asked - 1) * Math.ceil(f.count / align) * align + f.count;
      parts.push(
        need > area.count
          ? `${asked} such buffers need at least ${need} pages (${size(need * PAGE_SIZE)}): the area is too small`
          : `${asked} such buffers need ${need} pages, which the area has, but no free run long enough could be vacated`,
      );
    }
    report(sys, 'cma_alloc', parts.join('; '), cmaSite(sys, area.name), f.timeNs);
  }
}

/** A device whose work needs more than its bandwidth, in a run that dropped or lost frames. */
function reportBandwidth(sys: System, run: CapacityRun): void {
  const { asked, dropped, lost } = run.frames;
  for (const d of run.devices) {
    const i = deviceIndex(sys, d.device);
    const port = sys.soc.bus.ports.get(d.device);
    if (i < 0 || !port) continue;
    const bandwidth = sys.platform.devices[i]!.bandwidth;
    const busy = run.simTimeNs > 0 ? port.busyNs / run.simTimeNs : 0;
    const over = d.needs ? d.needs.bytesPerSecond > bandwidth : busy >= SATURATED;
    if (!over) continue;
    const need = d.needs ? `needs ${rate(d.needs.bytesPerSecond)} (${d.needs.because})` : `kept its port busy`;
    report(
      sys,
      `${d.device} DMA`,
      `${d.device} cannot keep up: for ${d.driver} it ${need}, over its bandwidth of ${rate(bandwidth)}; ` +
        `its port was busy ${(Math.min(busy, 1) * 100).toFixed(0)}% of the run, and ${dropped} of ${asked} frames were dropped${lost > 0 ? `, ${lost} lost` : ''}`,
      platformSite(sys.platform, ['devices', i, 'bandwidth']),
    );
  }
}

/** A CMA area reserved for devices the pipeline drove, none of which took a buffer from it. */
function reportUnusedCma(sys: System, run: CapacityRun): void {
  const driven = new Set(run.devices.map((d) => d.device));
  sys.platform.cma.areas.forEach((a, i) => {
    const area = sys.mm.cma.get(a.name);
    const users = a.devices.filter((d) => driven.has(d));
    if (!area || users.length === 0 || area.stats().allocations > 0) return;
    report(
      sys,
      'cma_declare_contiguous',
      `cma area '${a.name}' (${size(area.size)}) is reserved for ${a.devices.join(', ')}, but ${users.join(' and ')} took no buffer from it in this run: ` +
        `its memory served only movable pages, which must migrate out before any buffer could use it`,
      platformSite(sys.platform, ['cma', 'areas', i]),
    );
  });
}

/** Frames that went missing with no finding that says why: the runner at least says how many, and where they went. */
function reportLoss(sys: System, run: CapacityRun): void {
  const { asked, shown, dropped, lost } = run.frames;
  if ((lost === 0 && shown > 0) || run.killed !== undefined) return;
  if (sys.soc.findings.findings.some((f) => EXPLAINS_LOSS.includes(f.kind))) return;
  const what = lost > 0 ? `${lost} of ${asked} frames were lost` : `none of ${asked} frames was shown`;
  report(sys, 'frames', `${what} and nothing explains it: ${shown} shown, ${dropped} dropped, ${lost} lost; no device, process or limit reported a failure`, run.framesSite);
}
