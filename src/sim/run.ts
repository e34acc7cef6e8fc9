import { performance } from 'node:perf_hooks';
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, sgDmaSegments, type Device, type SgTable } from '../dma/index.ts';
import { dmaBufBeginCpuAccess, dmaBufEndCpuAccess, dmaBufVmap, dmaBufVunmap } from '../dmabuf/index.ts';
import { dmaBufAttach, dmaBufDetach, traceFences, dmaBufPut, exportNegotiatedBuffer, dmaBufMapAttachment, dmaBufUnmapAttachment, type DmaBuf, type DmaBufAttachment, type NegotiatedBacking } from '../dmabuf/index.ts';
import { frameEquals, frameFormat } from '../formats/index.ts';
import { applyFaultSettings, withFindingSite, type FaultSetting, type Tracer } from '../lib/index.ts';
import { CaptureEngine, DmaFault, ScanoutEngine } from '../hw/index.ts';
import { IOMMU_READ, IOMMU_WRITE, iommuMap, iommuSetFaultHandler } from '../iommu/index.ts';
import { bootSystem, type System } from './boot.ts';
import type { PlatformSpec } from './platform.ts';
import { cpuUsage, maintenanceNs, runCosts } from './run-costs.ts';
import { hardwareCounters, percentile, type RunObserver, type RunResult } from './run-result.ts';
import { checkScenarioOnPlatform, scenarioSite, stageSites, type LoadedScenario } from './scenario.ts';
import { runProcessScenario } from './run-processes.ts';
import { frameCounts, reportCapacity } from './capacity.ts';

/** Options of one run; each overrides the scenario's own value. */
export interface RunOptions {
  seed?: number;
  frames?: number;
  /** Called after each displayed frame, for progress bars, with the simulated time it was shown at. */
  onFrame?: (done: number, total: number, shownAtNs: number) => void;
  /** Records a Chrome trace of the run; it is returned in `trace`. */
  trace?: boolean;
  /** Watches the run (the HTML report's sampler and snapshots). */
  observer?: RunObserver;
  /** Fault-injection settings (`--fail`), applied once the system has booted. */
  faults?: readonly FaultSetting[];
}

/** One frame buffer: a dma-buf both devices attached to and mapped once, as V4L2 and KMS importers keep it. */
interface SharedBuffer {
  dmabuf: DmaBuf;
  backing: NegotiatedBacking;
  camAtt: DmaBufAttachment;
  /** The scanout device's attachment, null until it attaches. */
  dispAtt: DmaBufAttachment | null;
  /** The capture device's view of it; null while it maps per frame and is not capturing. */
  capture: SgTable | null;
  /** The scanout device's view of it, null until it maps. */
  scanout: SgTable | null;
  frame: number;
  capturedAt: number;
  /** The kernel's mapping of it, for CPU stages (dma_buf_vmap); 0 when none. */
  vaddr: number;
}

/**
 * Runs a scenario: boots the platform, shares frame buffers between the
 * pipeline's devices without copies, drives capture at the scenario's
 * frame rate and scanout at vsync, and checks every displayed frame byte
 * for byte against what the sensor produced.
 */
export async function runScenario(s: LoadedScenario, p: PlatformSpec, opts: RunOptions = {}, boot: (p: PlatformSpec, seed: number, pressure: number) => System = defaultBoot): Promise<RunResult & { trace?: Tracer }> {
  if (s.spec.processes) return runProcessScenario(s, p, opts);
  checkScenarioOnPlatform(s, p);
  // Findings are blamed on the scenario's lines: the stage whose work caused them, else the pipeline.
  const sites = stageSites(s);
  return withFindingSite(sites.list, () => runPipeline(s, p, opts, boot, sites.stages));
}

async function runPipeline(s: LoadedScenario, p: PlatformSpec, opts: RunOptions, boot: (p: PlatformSpec, seed: number, pressure: number) => System, sites: string[]): Promise<RunResult & { trace?: Tracer }> {
  const spec = s.spec;
  const pipeline = spec.pipeline!;
  const seed = opts.seed ?? spec.seed;
  const frames = opts.frames ?? spec.frames;
  const wall0 = performance.now();
  const sys = boot(p, seed, spec.memoryPressure);
  const framesSite = scenarioSite(s, ['frames']);
  applyFaultSettings(sys.soc.faults, opts.faults ?? []);
  const { soc, dma, devices } = sys;
  const tracer = opts.trace ? soc.startTrace() : null;
  if (tracer) traceFences(soc.clock, tracer);
  opts.observer?.booted(sys, Math.round(1e9 / spec.fps));
  const cam = devices.get(pipeline[0]!.device)!;
  const disp = devices.get(pipeline[pipeline.length - 1]!.device)!;
  const fmt = frameFormat(spec.format.width, spec.format.height, spec.format.fourcc);
  const cache0 = { ...soc.cache.stats };
  const capture = new CaptureEngine(cam.master, soc.clock, fmt, seed);
  capture.overrun = pipeline[0]!.overrun;
  const camDomain = sys.domains.get(cam.name);
  if (spec.faultHandler === 'map-scratch' && camDomain) {
    // A handler that papers over a stray DMA: a scratch page at the faulting
    // address, then retry (what drivers with a "dummy page" do).
    const scratch = sys.mm.pages.allocPages(0, { zero: true }) * 4096;
    iommuSetFaultHandler(camDomain, (f) => {
      iommuMap(camDomain, f.iova - (f.iova % 4096), scratch, 4096, IOMMU_READ | IOMMU_WRITE);
      return 'retry';
    });
  }
  let faultedFrames = 0;
  const scanout = new ScanoutEngine(disp.master, soc.clock, fmt);

  const pool: SharedBuffer[] = [];
  const late = spec.scanoutAttachAfter > 0;
  for (let i = 0; i < spec.buffers; i++) pool.push(await allocShared(sys, cam, late ? null : disp, !late, fmt.size, i));
  let scanoutAttached = !late;
  let unshown = 0;
  const overlays = pipeline.filter((st) => st.role === 'overlay');
  const overlaySites = pipeline.flatMap((st, i) => (st.role === 'overlay' ? [sites[i]!] : []));
  if (overlays.length > 0) for (const b of pool) b.vaddr = await dmaBufVmap(b.dmabuf);
  const overlayLine = new Uint8Array(fmt.stride);
  /** The byte the CPU overlay `k` draws on frame n. */
  const overlayValue = (n: number, k: number) => (n * 37 + k * 101 + 1) & 0xff;

  const period = Math.round(1e9 / spec.fps);
  const free = [...pool];
  let ready: SharedBuffer | null = null;
  let front: SharedBuffer | null = null;
  let camDone = false;
  let lastCaptured = -1;
  let mismatches = 0;
  let dropped = 0;
  const latencies: number[] = [];
  let firstFrameNs = Infinity;
  let lastFrameNs = 0;
  const expected = new Uint8Array(fmt.size);

  const camThread = withFindingSite(sites[0]!, () => soc.cores.spawn('kthread/capture', async () => {
    for (let n = 0; n < frames; n++) {
      await soc.clock.sleepUntil(n * period);
      if (!scanoutAttached && n >= spec.scanoutAttachAfter) {
        // The stricter device arrives: its first map makes the exporter move
        // each buffer where both can use it (the capture device holds no
        // mapping between frames, so nothing has to drain first).
        for (const b of pool) {
          b.dispAtt = await dmaBufAttach(b.dmabuf, disp);
          b.scanout = await dmaBufMapAttachment(b.dispAtt, DMA_TO_DEVICE);
        }
        scanoutAttached = true;
      }
      const b = free.shift();
      if (!b) {
        dropped++;
        continue;
      }
      b.capturedAt = soc.clock.now;
      if (late) b.capture = await dmaBufMapAttachment(b.camAtt, DMA_FROM_DEVICE);
      try {
        await capture.capture(sgDmaSegments(b.capture!), n);
      } catch (e) {
        if (!(e instanceof DmaFault)) throw e;
        // The transaction was terminated: this frame is lost, the buffer goes back.
        faultedFrames++;
        free.push(b);
        if (spec.onFault === 'stop') break;
        continue;
      } finally {
        if (late) {
          await dmaBufUnmapAttachment(b.camAtt, b.capture!, DMA_FROM_DEVICE);
          b.capture = null;
        }
      }
      if (!scanoutAttached) {
        // Nobody shows this frame yet.
        unshown++;
        free.push(b);
        continue;
      }
      for (let k = 0; k < overlays.length; k++) {
        const o = overlays[k]!;
        // A CPU stage draws over the top of the frame through the kernel's
        // cacheable mapping; a correct writer brackets it with
        // begin/end_cpu_access so the non-coherent display sees the lines.
        await withFindingSite(overlaySites[k]!, async () => {
          if (o.sync) await dmaBufBeginCpuAccess(b.dmabuf, DMA_TO_DEVICE);
          overlayLine.fill(overlayValue(n, k));
          for (let y = 0; y < o.rows; y++) sys.mm.kas.store(b.vaddr + y * fmt.stride, overlayLine, 0, fmt.stride);
          if (o.sync) await dmaBufEndCpuAccess(b.dmabuf, DMA_TO_DEVICE);
        });
      }
      // the frame's CPU work (maps, maintenance, drawing) runs on a core before the frame is handed on
      await soc.cores.runDebt();
      b.frame = n;
      lastCaptured = n;
      if (ready) {
        // The display had not taken the last frame yet: this one replaces it, unshown.
        free.push(ready);
        dropped++;
      }
      ready = b;
    }
    camDone = true;
  }));
  const dispThread = withFindingSite(sites[sites.length - 1]!, () => soc.cores.spawn('kthread/display', async () => {
    for (let vsync = 1; ; vsync++) {
      await soc.clock.sleepUntil(vsync * period);
      let fresh = false;
      if (ready) {
        if (front) free.push(front);
        front = ready;
        ready = null;
        fresh = true;
      }
      if (front) {
        const t = soc.clock.now;
        const bytes = await scanout.scanout(sgDmaSegments(front.scanout!));
        if (fresh) {
          if (overlays.length === 0) {
            // the bare pattern: compared line by line against it, with no expected frame built
            if (!capture.pattern.matches(front.frame, bytes)) mismatches++;
          } else {
            capture.pattern.render(front.frame, expected);
            for (let k = 0; k < overlays.length; k++) expected.fill(overlayValue(front.frame, k), 0, overlays[k]!.rows * fmt.stride);
            if (!frameEquals(bytes, expected)) mismatches++;
          }
          latencies.push(t - front.capturedAt);
          firstFrameNs = Math.min(firstFrameNs, front.capturedAt);
          lastFrameNs = t;
          if (tracer) tracer.span(tracer.lane('pipeline', 'frames'), 'frame', 'frame', front.frame, front.capturedAt, t - front.capturedAt, { frame: front.frame, mismatch: mismatches > 0 });
          opts.observer?.frameShown(front.frame, front.capturedAt, t);
          opts.onFrame?.(front.frame + 1, frames, t);
        }
      }
      if (camDone && !ready && (lastCaptured < 0 || front?.frame === lastCaptured)) break;
    }
  }));
  await soc.clock.runUntilSettled(Promise.all([camThread, dispThread]));
  const simTimeNs = soc.clock.now;
  const placement = pool[0]!.backing.explain();
  const hw = hardwareCounters(sys, cache0);
  const costs = runCosts(soc.costs, Number.isFinite(firstFrameNs) ? firstFrameNs : simTimeNs, lastFrameNs, period);
  hw.cache.maintenanceNs = maintenanceNs(costs);
  opts.observer?.finished(sys);
  for (const b of pool) if (b.vaddr) dmaBufVunmap(b.dmabuf, b.vaddr);
  for (const b of pool) await freeShared(b);
  const counts = frameCounts(frames, latencies.length, dropped + faultedFrames + unshown);
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  reportCapacity(sys, {
    frames: counts,
    // The capture engine writes each frame once; the scanout engine fetches the front buffer at every vsync, one a frame period here.
    devices: [
      { device: cam.name, driver: `the capture stage`, needs: { bytesPerSecond: fmt.size * spec.fps, because: `${mib(fmt.size)} out a frame at ${spec.fps} fps` } },
      { device: disp.name, driver: `the scanout stage`, needs: { bytesPerSecond: fmt.size * spec.fps, because: `${mib(fmt.size)} fetched at each of ${spec.fps} vsyncs a second` } },
    ],
    heapUsers: [],
    framesSite,
    simTimeNs,
  });

  const result: RunResult & { trace?: Tracer } = {
    scenario: spec.name,
    platform: p.name,
    seed,
    frames,
    integrity: { ok: mismatches === 0 && latencies.length > 0, mismatches, framesChecked: latencies.length },
    // An overlay draws, it does not copy.
    copies: { cpuBytes: 0, bounceBytes: dma.stats.bounceBytes },
    ...hw,
    frameLatencyNs: { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: percentile(latencies, 100) },
    droppedFrames: counts.dropped,
    lostFrames: counts.lost,
    sink: 'the display',
    zeroCopy: dma.stats.bounceBytes === 0,
    placement: placement.split('\n').slice(1).map((l) => l.trim()),
    findings: soc.findings.findings.map((f) => ({ kind: f.kind, message: f.message, call: f.call, timeNs: f.timeNs, site: f.site })),
    simTimeNs,
    wallMs: performance.now() - wall0,
    cpu: cpuUsage(soc.costs, soc.cores, simTimeNs),
    costs,
    ...(tracer ? { trace: tracer } : {}),
  };
  // A system this run booted and showed nobody is over: its memory's backing goes to the next run in this thread.
  if (boot === defaultBoot && !opts.observer) soc.mem.releaseBacking(true);
  return result;
}

function defaultBoot(p: PlatformSpec, seed: number, pressure: number): System {
  return bootSystem(p, { seed, background: pressure > 0 ? { fill: pressure } : false });
}

/**
 * Exports a frame buffer whose backing is chosen at the first map, once the
 * devices present have attached (late allocation after collating their
 * constraints: a display without an IOMMU gets contiguous memory, a camera
 * behind one accepts it), then maps it for each device once. Without a
 * scanout device yet, the capture device alone attaches and maps per frame.
 */
async function allocShared(sys: System, cam: Device, disp: Device | null, mapCamera: boolean, size: number, index: number): Promise<SharedBuffer> {
  const { dmabuf, backing } = exportNegotiatedBuffer(sys.dmabuf, { size, mm: sys.mm, expName: 'scenario', creator: `frame buffer ${index}` });
  const camAtt = await dmaBufAttach(dmabuf, cam);
  const dispAtt = disp ? await dmaBufAttach(dmabuf, disp) : null;
  const capture = mapCamera ? await dmaBufMapAttachment(camAtt, DMA_FROM_DEVICE) : null;
  const scanout = dispAtt ? await dmaBufMapAttachment(dispAtt, DMA_TO_DEVICE) : null;
  return { dmabuf, backing, camAtt, dispAtt, capture, scanout, frame: -1, capturedAt: 0, vaddr: 0 };
}

async function freeShared(b: SharedBuffer): Promise<void> {
  if (b.capture) await dmaBufUnmapAttachment(b.camAtt, b.capture, DMA_FROM_DEVICE);
  if (b.dispAtt && b.scanout) await dmaBufUnmapAttachment(b.dispAtt, b.scanout, DMA_TO_DEVICE);
  await dmaBufDetach(b.dmabuf, b.camAtt);
  if (b.dispAtt) await dmaBufDetach(b.dmabuf, b.dispAtt);
  await dmaBufPut(b.dmabuf);
}
