import { dmaBufKernelRefs, dmaBufOfFile, isDmaBufFile, type DmaBuf } from '../dmabuf/index.ts';
import type { Timer } from '../hw/index.ts';
import { PAGE_SIZE } from '../lib/index.ts';
import { pageOwnerOps, PG_ALLOC, PG_CONTIG, PG_HEAD, PG_RESERVED } from '../mm/index.ts';
import type { RunObserver, System } from '../sim/index.ts';
import { BusRecorder } from './bus-spread.ts';
import type { BufferNode, FrameSample, IovaSpace, MemoryMap, MemRegion, ProcessNode, ReportCapture, RunSamples } from './report-data.ts';

/** Samples kept before the series is thinned (every other sample dropped, interval doubled). */
const MAX_SAMPLES = 4096;

/**
 * Collects what the HTML report shows while a scenario runs: a sampler on
 * the simulated clock reads the CPU cache's maintenance counters and each CMA area's use once per
 * frame period; a BusRecorder keeps when each master's bytes moved, so
 * that each transfer counts in every interval it spans; each shown frame's capture and display times are kept;
 * and when the pipeline finishes (buffers still live) it snapshots the
 * physical memory map, every DMA domain's IOVA ranges and the dma-buf
 * graph. It only reads state, so a run with it gives the same result as
 * one without.
 */
export class ReportCollector implements RunObserver {
  private readonly samples: RunSamples = { intervalNs: 0, t: [], masters: [], masterBytes: [], cacheCleanBytes: [], cacheInvalidateBytes: [], cacheFullFlushes: [], cmaAreas: [], cmaUsedBytes: [], smmus: [], smmuTlbMisses: [] };
  private readonly frames: FrameSample[] = [];
  private snap: Omit<ReportCapture, 'samples' | 'frames'> | null = null;
  private sys: System | null = null;
  private timer: Timer | null = null;
  private bus: BusRecorder | null = null;
  private stopped = false;
  /** Overrides the sampling interval (default: the frame period). */
  private readonly intervalNs: number | undefined;

  /** A collector sampling every `intervalNs` of simulated time, or once per frame period when not given. */
  constructor(opts: { intervalNs?: number } = {}) {
    this.intervalNs = opts.intervalNs;
  }

  /** Starts sampling on the booted system's clock. */
  booted(sys: System, periodNs: number): void {
    this.sys = sys;
    const s = this.samples;
    s.intervalNs = Math.max(1, Math.round(this.intervalNs ?? periodNs));
    s.masters = [...sys.soc.bus.ports.keys()];
    this.bus = new BusRecorder(sys.soc.bus, sys.soc.masters.values(), () => sys.soc.clock.now);
    s.cmaAreas = [...sys.mm.cma.keys()];
    s.cmaUsedBytes = s.cmaAreas.map(() => []);
    s.smmus = [...sys.smmus.keys()];
    s.smmuTlbMisses = s.smmus.map(() => []);
    this.sample();
    // Later samples fall half an interval off the frame grid, so that a
    // frame's transfers never straddle a sample taken at the same instant.
    this.schedule(Math.round(s.intervalNs / 2));
  }

  /** Keeps a shown frame's capture and display times. */
  frameShown(frame: number, capturedAtNs: number, shownAtNs: number): void {
    this.frames.push({ frame, capturedAtNs, shownAtNs });
  }

  /** Snapshots memory, IOVA spaces and buffers while the pipeline runs; sampling goes on. */
  snapshot(sys: System): void {
    this.snap = { memory: memoryMap(sys), iova: iovaSpaces(sys), buffers: bufferGraph(sys), processes: processList(sys) };
  }

  /** Takes the last sample, stops the sampler and, unless a snapshot was taken while running, snapshots memory, IOVA spaces and buffers. */
  finished(sys: System): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    const s = this.samples;
    const last = s.t[s.t.length - 1];
    // A last interval much shorter than the others would show its bursts as
    // a spike of bandwidth: fold it into the one before.
    if (s.t.length > 1 && last !== undefined && sys.soc.clock.now - last < s.intervalNs / 2) dropLast(s);
    if (s.t[s.t.length - 1] !== sys.soc.clock.now) this.sample();
    if (this.bus) {
      this.bus.stop();
      s.masterBytes = this.bus.cumulative(s.t);
      this.bus = null;
    }
    if (!this.snap) this.snapshot(sys);
  }

  /** What was collected; throws if the run has not finished. */
  capture(): ReportCapture {
    if (!this.snap) throw new Error('report: the run has not finished');
    return { samples: this.samples, frames: this.frames, ...this.snap };
  }

  private schedule(delayNs: number): void {
    const clock = this.sys!.soc.clock;
    this.timer = clock.after(delayNs, () => {
      this.timer = null;
      if (this.stopped) return;
      this.sample();
      // Nothing else pending: the run can never go on, so neither may the
      // sampler (it must not turn the clock's deadlock error into a hang).
      if (clock.pending > 0) this.schedule(this.samples.intervalNs);
    });
  }

  private sample(): void {
    const sys = this.sys!;
    const s = this.samples;
    s.t.push(sys.soc.clock.now);
    s.cacheCleanBytes.push(sys.soc.cache.stats.cleanBytes);
    s.cacheInvalidateBytes.push(sys.soc.cache.stats.invalidateBytes);
    s.cacheFullFlushes.push(sys.soc.cache.stats.fullFlushes);
    let i = 0;
    for (const a of sys.mm.cma.values()) s.cmaUsedBytes[i++]!.push((a.count - a.stats().freePages) * PAGE_SIZE);
    i = 0;
    for (const m of sys.smmus.values()) s.smmuTlbMisses[i++]!.push(m.stats.tlbMisses);
    if (s.t.length >= MAX_SAMPLES) thin(s);
  }
}

/** Forgets the newest sample. */
function dropLast(s: RunSamples): void {
  s.t.pop();
  s.cacheCleanBytes.pop();
  s.cacheInvalidateBytes.pop();
  s.cacheFullFlushes.pop();
  for (const a of s.cmaUsedBytes) a.pop();
  for (const a of s.smmuTlbMisses) a.pop();
}

/** Halves the sample count (keeps every other sample) and doubles the interval. */
function thin(s: RunSamples): void {
  const keep = <T>(a: T[]): T[] => a.filter((_, k) => k % 2 === 0);
  s.t = keep(s.t);
  s.cacheCleanBytes = keep(s.cacheCleanBytes);
  s.cacheInvalidateBytes = keep(s.cacheInvalidateBytes);
  s.cacheFullFlushes = keep(s.cacheFullFlushes);
  s.cmaUsedBytes = s.cmaUsedBytes.map(keep);
  s.smmuTlbMisses = s.smmuTlbMisses.map(keep);
  s.intervalNs *= 2;
}

/** A short name for a buffer: its ino and its name or creator. */
function bufferLabel(d: DmaBuf): string {
  return `dma-buf ${d.ino} (${d.name ?? d.creator})`;
}

/** The pages of each live dma-buf, as its device mappings' scatterlists list them (pfn -> label). */
function bufferPages(sys: System): Map<number, string> {
  const m = new Map<number, string>();
  for (const d of sys.dmabuf.buffers) {
    const label = bufferLabel(d);
    for (const a of d.attachments) {
      for (const mp of a.mappings) {
        const t = mp.sgt;
        for (let i = 0; i < t.origNents; i++) {
          const sg = t.sgl[i]!;
          const n = Math.ceil((sg.offset + sg.length) / PAGE_SIZE);
          for (let k = 0; k < n; k++) m.set(sg.pfn + k, label);
        }
      }
    }
  }
  return m;
}

/**
 * The physical memory map: banks, CMA areas and every allocated run of
 * pages labelled with its holder (a dma-buf, a CMA buffer, a page owner
 * such as the page cache, the kernel, or a boot reservation).
 */
export function memoryMap(sys: System): MemoryMap {
  const { frames, pages } = sys.mm;
  const bufs = bufferPages(sys);
  const regions: MemRegion[] = [];
  let cur: MemRegion | null = null;
  for (const sec of frames.sections) {
    let owner = 'kernel';
    cur = null;
    for (let pfn = sec.startPfn; pfn < sec.endPfn; pfn++) {
      const idx = frames.index(pfn);
      const f = frames.flags[idx]!;
      let label: string | null = null;
      if (f & PG_HEAD) {
        const id = frames.owner[idx]!;
        owner = id === 0 ? 'kernel' : (pageOwnerOps(pages, id)?.name ?? `owner ${id}`);
      }
      if (f & PG_RESERVED) label = 'reserved';
      else if (f & PG_ALLOC) label = bufs.get(pfn) ?? (f & PG_CONTIG ? 'CMA buffer' : owner);
      if (label === null) {
        cur = null;
        continue;
      }
      const pa = pfn * PAGE_SIZE;
      if (cur && cur.owner === label && cur.base + cur.size === pa) cur.size += PAGE_SIZE;
      else {
        cur = { base: pa, size: PAGE_SIZE, owner: label };
        regions.push(cur);
      }
    }
  }
  const cma = [...sys.mm.cma.values()].map((a) => {
    const st = a.stats();
    const spec = sys.platform.cma.areas.find((x) => x.name === a.name);
    return { name: a.name, base: a.base, size: a.size, usedBytes: st.usedPages * PAGE_SIZE, borrowedBytes: st.borrowedPages * PAGE_SIZE, devices: spec ? [...spec.devices] : [] };
  });
  const banks = sys.soc.mem.banks.map((b) => ({ name: b.name, base: b.base, size: b.size, kind: b.kind }));
  return { banks, cma, regions };
}

/** Every IOMMU-backed device's IOVA ranges (the DMA domain's iova tree), labelled with the buffers mapped there. */
export function iovaSpaces(sys: System): IovaSpace[] {
  const out: IovaSpace[] = [];
  for (const [device, dom] of sys.domains) {
    const dev = sys.devices.get(device);
    const mapped: { start: number; end: number; label: string }[] = [];
    for (const d of sys.dmabuf.buffers) {
      for (const a of d.attachments) {
        if (a.dev !== dev) continue;
        for (const mp of a.mappings) {
          for (let i = 0; i < mp.sgt.nents; i++) {
            const sg = mp.sgt.sgl[i]!;
            mapped.push({ start: sg.dmaAddress, end: sg.dmaAddress + sg.dmaLength, label: bufferLabel(d) });
          }
        }
      }
    }
    const g = dom.iovad.granule;
    const ranges: IovaSpace['ranges'] = [];
    dom.iovad.forEachRange((lo, hi) => {
      const start = lo * g;
      const end = (hi + 1) * g;
      const hit = mapped.find((m) => m.start < end && m.end > start);
      ranges.push({ start, size: end - start, owner: hit ? hit.label : 'other mapping' });
    });
    ranges.sort((a, b) => a.start - b.start);
    out.push({ device, domain: dom.name, apertureStart: dom.geometry.apertureStart, apertureEnd: dom.geometry.apertureEnd, ranges });
  }
  return out;
}

/** Every process (each thread group's leader, zombies included), by pid. */
export function processList(sys: System): ProcessNode[] {
  return [...sys.proc.processes.values()].map((p) => ({ pid: p.pid, comm: p.comm })).sort((a, b) => a.pid - b.pid);
}

/**
 * The dma-buf graph: each live buffer, its exporter, its attached devices
 * and their DMA mappings, the processes holding an fd to it, the
 * processes that mapped it into their address space, and the kernel's own
 * references on it with the calls that took them.
 */
export function bufferGraph(sys: System): BufferNode[] {
  const holders = new Map<DmaBuf, BufferNode['holders']>();
  const mappings = new Map<DmaBuf, BufferNode['mappings']>();
  const add = <T>(m: Map<DmaBuf, T[]>, d: DmaBuf, v: T) => {
    let l = m.get(d);
    if (!l) m.set(d, (l = []));
    l.push(v);
  };
  for (const p of sys.proc.processes.values()) {
    for (const fd of p.files.fds()) {
      const f = p.files.peek(fd);
      if (f && isDmaBufFile(f)) add(holders, dmaBufOfFile(f), { pid: p.pid, comm: p.comm, fd });
    }
    for (const v of p.mm.areas) {
      if (v.file && isDmaBufFile(v.file)) add(mappings, dmaBufOfFile(v.file), { pid: p.pid, comm: p.comm, start: v.start, length: v.end - v.start });
    }
  }
  return sys.dmabuf.buffers.map((d) => {
    const st = d.ops.describe?.(d);
    const storage = st ? `${st.contiguous ? 'contiguous' : `${st.runs} runs`}, ${st.source}, ${st.memType}` : 'not described by its exporter';
    return {
      ino: d.ino,
      name: d.name ?? '',
      size: d.size,
      exporter: d.expName,
      creator: d.creator,
      storage,
      attachments: d.attachments.map((a) => ({ device: a.dev.name, mapped: a.mappings.map((m) => `${m.sgt.nents} segment(s) at 0x${(m.sgt.sgl[0]?.dmaAddress ?? 0).toString(16)}`) })),
      holders: holders.get(d) ?? [],
      mappings: mappings.get(d) ?? [],
      kernelRefs: dmaBufKernelRefs(d),
    };
  });
}
