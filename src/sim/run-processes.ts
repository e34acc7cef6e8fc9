import { performance } from 'node:perf_hooks';
import { fenceWaitSnapshot, reportHungFenceWaits, traceFences } from '../dmabuf/index.ts';
import { Deadlock } from '../hw/index.ts';
import { boundNode, CameraDevice, usbDisplayPlatformDriver, type BoundDevice, type UsbDisplay } from '../drivers/index.ts';
import { applyFaultSettings, formatBytes, hex, withFindingSite, type Tracer } from '../lib/index.ts';
import { DEFAULT_CMA_NAME } from '../mm/index.ts';
import { describeBlockedTasks, dmaBufSnapshot, spawnProcess, type DmaBufReference, type DmaBufSnapshot, type Sys } from '../proc/index.ts';
import { SIGKILL } from '../uapi/index.ts';
import { bootSystem, type System } from './boot.ts';
import type { StageDescriptor, StageFormats, WatchContext } from './pipeline/descriptor.ts';
import { ExpectedFrames } from './pipeline/expected.ts';
import { planFormats, stageNamed } from './pipeline/plan.ts';
import { STAGES } from './pipeline/stage-table.ts';
import type { PlatformSpec } from './platform.ts';
import { cpuUsage, maintenanceNs, runCosts } from './run-costs.ts';
import { hardwareCounters, percentile, type RunResult } from './run-result.ts';
import type { RunOptions } from './run.ts';
import type { ProcessStageSpec, ScenarioSpec } from './scenario-schema.ts';
import { checkScenarioOnPlatform, scenarioSite, stageSites, type LoadedScenario } from './scenario.ts';
import { frameCounts, reportCapacity, type DrivenDevice, type HeapUser } from './capacity.ts';
import type { PipelineProbe, StageContext } from './stages/stage.ts';

/** How one process of the pipeline ended. */
export interface ProcessExit {
  name: string;
  pid: number;
  /** The exit code, or 128 + the signal that killed it. */
  status: number;
  /** The error that ended it, when its program failed. */
  error?: string;
}

/** What a process pipeline leaves behind once every process has exited: all zero when nothing leaked. */
export interface LeakCheck {
  dmabufs: number;
  openFiles: number;
  dmaMappings: number;
  cmaPages: number;
  /** Pages not back in the page allocator (only counted without a background load, which holds pages of its own). */
  pages: number;
}

/** A process pipeline's run result: the common contract plus how each process ended and what leaked. */
export interface ProcessRunResult extends RunResult {
  processes: ProcessExit[];
  leaks: LeakCheck;
  /**
   * Every dma-buf at the snapshot (the pipeline in full flow halfway
   * through, or just before the scenario's kill, whichever comes first;
   * the end when neither came) with every reference held on it and the
   * call that took it, and dmabuf_dump's buffer x process shares.
   */
  buffers: DmaBufSnapshot;
  trace?: Tracer;
}

/** The platform device a process drives: the one it names, else the first of its stage's kind. */
function platformDeviceOf(p: PlatformSpec, d: StageDescriptor, st: ProcessStageSpec) {
  if (!d.device) return null;
  return p.devices.find((x) => (st.device !== undefined ? x.name === st.device : x.kind === d.device!.kind)) ?? null;
}

/** The bound device a process drives (checkScenarioOnPlatform made sure there is one). */
function boundDeviceOf(sys: System, d: StageDescriptor, st: ProcessStageSpec): BoundDevice | null {
  const spec = platformDeviceOf(sys.platform, d, st);
  return spec ? (sys.bound.find((b) => b.name === spec.name) ?? null) : null;
}

/** The heap a stage's output buffers come from: the one the consumer's device needs, unless the scenario names one. */
function outputHeap(p: PlatformSpec, stages: readonly ProcessStageSpec[], descs: readonly StageDescriptor[], i: number): string {
  const st = stages[i]!;
  if (st.heap !== 'auto') return st.heap;
  // The device that will read these buffers: the next stage with a device (a CPU stage passes them on).
  for (let j = i + 1; j < stages.length; j++) {
    const dev = platformDeviceOf(p, descs[j]!, stages[j]!);
    if (!dev) continue;
    if (!dev.needsContiguous || dev.iommu !== undefined) return 'system';
    return p.cma.areas.find((a) => a.devices.includes(dev.name))?.name ?? DEFAULT_CMA_NAME;
  }
  return 'system';
}

/** Where a stage's output buffers live and why, for the run summary. */
function describePlacement(p: PlatformSpec, stages: readonly ProcessStageSpec[], descs: readonly StageDescriptor[], i: number, f: StageFormats): string {
  const st = stages[i]!;
  const own = descs[i]!.placement;
  if (own) return own(st);
  if (!f.outFmt) return `${st.name}: ${st.stage}, no buffers of its own to share`;
  const heap = outputHeap(p, stages, descs, i);
  if (heap === 'driver') return `${st.name}: ${st.stage} buffers are the driver's own (MMAP, exported with EXPBUF)`;
  const where = heap === 'system' ? 'scattered pages of the system heap' : `placed in cma:${heap}`;
  const why = st.heap !== 'auto' ? 'as the scenario asks' : heap === 'system' ? 'every device that reads them has an IOMMU' : 'the next device needs contiguous memory and has no IOMMU';
  return `${st.name}: ${st.stage} buffers from /dev/dma_heap/${heap}, ${where} (${why})`;
}

/** A line for each device that bounced: what it cannot reach, and the pool it bounced through. */
function bounceLines(sys: System): string[] {
  return [...sys.devices.values()].flatMap((d) => {
    const pages = d.bounce?.pages ?? 0;
    if (pages === 0) return [];
    return [`${d.name}: reaches only below ${hex(2 ** d.dmaMaskBits)} (${d.dmaMaskBits}-bit DMA mask, no IOMMU): what it reads or writes above that bounces through a ${formatBytes(pages * 4096)} dmabounce pool`];
  });
}

/**
 * Lines for each camera whose MMAP buffers were movable: for each buffer,
 * where it was placed first, who attached later and what that did (a move
 * into memory both reach, or a refusal with EBUSY), and why.
 */
function movableBufferLines(sys: System): string[] {
  return sys.bound.flatMap((b) => {
    if (!(b.data instanceof CameraDevice)) return [];
    return b.data.debug.movable.map((m, i) => {
      const events = m.history.map((h) => h.replace(/^t=\d+ ns: /, '')).filter((h) => !/ (detached|unpinned the storage|pinned the storage|storage not allocated yet)$/.test(h) && !/^old storage .* freed/.test(h) && !/^the pending move is dropped/.test(h) && !/the storage must move before the next map/.test(h));
      return `${b.name} buffer ${i}: a movable dma-buf, ${m.migrations} move(s): ${events.join('; ')}`;
    });
  });
}

/** A line for each camera whose IOMMU fault handler saw faults: how many, and what became of the frames. */
function cameraFaultLines(sys: System): string[] {
  return sys.bound.flatMap((b) => {
    if (!(b.data instanceof CameraDevice)) return [];
    const { faults, terminated, retried } = b.data.debug.stats;
    if (faults === 0) return [];
    const what = [
      terminated > 0 ? `${terminated} terminated (${b.data.framesFailed} frame(s) failed and came back with V4L2_BUF_FLAG_ERROR)` : '',
      retried > 0 ? `${retried} retried over a scratch page (the stray bytes landed there; the frames survived)` : '',
    ].filter(Boolean);
    return [`${b.name} faults: ${faults} IOMMU fault(s) reached the driver's fault handler: ${what.join(', ')}${b.data.debug.dmaOverrun ? `; its DMA ran ${b.data.debug.dmaOverrun} bytes past each buffer (debugfs dma_overrun)` : ''}`];
  });
}

/** Bytes the CPU copied for the USB displays (each frame read to compress it): the copies a process pipeline may make. */
function usbCpuReadBytes(sys: System): number {
  return sys.bound.filter((b) => b.driver === usbDisplayPlatformDriver).reduce((n, b) => n + (b.data as { usb: UsbDisplay }).usb.stats.cpuReadBytes, 0);
}

/**
 * Runs a process pipeline: boots the platform, starts a session process
 * that writes the input files, connects each pair of neighbouring stages
 * with a Unix socket pair and forks one process per stage (each execs its
 * stage program under its own name), then waits for them. Every frame a
 * sink consumed -- the display's scanout, the encoder's bitstream, the
 * CPU's read -- is checked byte for byte against the expected transform of
 * what the source made. Afterwards it checks that nothing leaked: no
 * dma-buf, open file, DMA mapping or CMA page outlives the processes.
 */
export async function runProcessScenario(s: LoadedScenario, p: PlatformSpec, opts: RunOptions = {}, boot?: (p: PlatformSpec, seed: number, spec: ScenarioSpec) => System): Promise<ProcessRunResult> {
  checkScenarioOnPlatform(s, p);
  // A finding no program line explains is blamed on the scenario: the process it happened for, else the list.
  const sites = stageSites(s);
  return withFindingSite(sites.list, () => runProcesses(s, p, opts, boot, sites));
}

async function runProcesses(s: LoadedScenario, p: PlatformSpec, opts: RunOptions, boot: ((p: PlatformSpec, seed: number, spec: ScenarioSpec) => System) | undefined, sites: { list: string; stages: string[] }): Promise<ProcessRunResult> {
  const spec = s.spec;
  const stages = spec.processes!;
  const seed = opts.seed ?? spec.seed;
  const frames = opts.frames ?? spec.frames;
  const table = s.stages ?? STAGES;
  const descs = stages.map((st) => stageNamed(table, st.stage));
  const formats = planFormats(spec, table);
  const wall0 = performance.now();
  const sys = (boot ?? defaultBoot(descs, formats))(p, seed, spec);
  applyFaultSettings(sys.soc.faults, opts.faults ?? []);
  const { soc } = sys;
  const tracer = opts.trace ? soc.startTrace() : null;
  if (tracer) traceFences(soc.clock, tracer);
  const periodNs = Math.round(1e9 / spec.fps);
  opts.observer?.booted(sys, periodNs);
  const cache0 = { ...soc.cache.stats };
  // Page tables the IOMMU drivers grow stay allocated after the unmaps (as io-pgtable-arm-v7s keeps them), and a
  // bounce pool keeps the pages it grew by for as long as its device lives (dmabounce's dma_pools): not leaks.
  const pgtablePages = () =>
    [...sys.domains.values()].reduce((n, d) => n + d.pgtable.tableBytes / 4096, 0) + [...sys.devices.values()].reduce((n, d) => n + (d.bounce?.pages ?? 0), 0);
  const free0 = sys.mm.pages.freeCount() + pgtablePages();

  const expected = new ExpectedFrames(stages, descs, formats, seed);
  const producedAt = new Map<number, number>();
  const latencies: number[] = [];
  // the steady state: from the first frame a sink took (when it was made) to the last
  let firstFrameNs = Infinity;
  let lastFrameNs = 0;
  let framesChecked = 0;
  let mismatches = 0;
  let failures = 0;
  let sourceDrops = 0;
  let lastProduced = -1;
  let sunk = 0;
  const lastStage = stages.length - 1;
  const fbFrame = new Map<number, number>();
  let kill: (() => void) | null = null;
  let buffers: DmaBufSnapshot | null = null;
  // The snapshot: the run result's buffers and the report's memory, IOVA and buffer views, taken once.
  const snapshot = () => {
    if (buffers) return;
    buffers = dmaBufSnapshot(sys.proc, sys.dmabuf);
    opts.observer?.snapshot?.(sys);
  };
  const sinkConsumed = (i: number, frame: number, ok: boolean) => {
    if (!ok) mismatches++;
    // A CPU stage in the middle checks what it read too; the frame counts once, where the pipeline ends.
    if (i !== lastStage) return;
    framesChecked++;
    const t0 = producedAt.get(frame);
    if (t0 !== undefined) {
      firstFrameNs = Math.min(firstFrameNs, t0);
      lastFrameNs = soc.clock.now;
      latencies.push(soc.clock.now - t0);
      opts.observer?.frameShown(frame, t0, soc.clock.now);
      if (tracer) tracer.span(tracer.lane('pipeline', 'frames'), 'frame', 'frame', frame, t0, soc.clock.now - t0, { frame, mismatch: !ok });
    }
    sunk++;
    opts.onFrame?.(Math.min(sunk, frames), frames, soc.clock.now);
    // The snapshot: the pipeline in full flow halfway through, every process alive with its buffers --
    // or just before the kill, when that comes first, with the victim's jobs still in flight.
    if (sunk === Math.ceil(frames / 2)) snapshot();
    if (spec.kill && sunk === spec.kill.afterFrames) {
      snapshot();
      kill?.();
    }
  };
  const probe: PipelineProbe = {
    produced: (frame) => {
      if (producedAt.has(frame)) return;
      // A gap in a source's sequence is frames it lost (a sensor with no free buffer).
      if (frame > lastProduced + 1) sourceDrops += frame - lastProduced - 1;
      lastProduced = Math.max(lastProduced, frame);
      producedAt.set(frame, soc.clock.now);
    },
    consumed: (stage, frame, bytes) => {
      const i = stages.findIndex((st) => st.name === stage);
      sinkConsumed(i, frame, expected.matches(i, frame, bytes));
    },
    presenting: (fbId, frame) => {
      fbFrame.set(fbId, frame);
    },
    failed: () => {
      failures++;
    },
    ended: (_stage, frame) => {
      // The frames a source skipped at the end of its stream, up to those asked for.
      const end = Math.min(frame, frames);
      if (end > lastProduced + 1) sourceDrops += end - lastProduced - 1;
      lastProduced = Math.max(lastProduced, end - 1);
    },
  };
  // What a device consumed, watched from outside (a display's scanout, a DAC): a stage's descriptor says how.
  stages.forEach((st, at) => {
    const d = descs[at]!;
    const device = boundDeviceOf(sys, d, st);
    if (!d.watch || !device) return;
    const checkedFb = new Map<number, number>();
    const x: WatchContext = {
      st,
      device,
      seed,
      frames,
      now: () => soc.clock.now,
      // The first fetch of each frame a framebuffer holds is what the display showed of it.
      firstFetch: (shot) => {
        const frame = fbFrame.get(shot.fbId);
        if (frame === undefined || checkedFb.get(shot.fbId) === frame) return;
        checkedFb.set(shot.fbId, frame);
        sinkConsumed(at, frame, expected.matches(at, frame, shot.frame));
      },
      consumed: (frame, ok, producedAtNs) => {
        if (producedAtNs !== undefined) producedAt.set(frame, producedAtNs);
        sinkConsumed(at, frame, ok);
      },
    };
    d.watch(x);
  });
  const exits = new Map<number, ProcessExit>();
  const pidOf = new Map<string, number>();
  const failedWith = new Map<string, string>();
  const sessionMain = async function session(ss: Sys): Promise<number> {
    // The files the processes read (a video stream, the gallery's photos), written before any starts.
    const inputs = new Map<number, string>();
    for (const [i, st] of stages.entries()) {
      const write = descs[i]!.writeInput;
      if (write) inputs.set(i, await write(ss, { st, outFmt: formats[i]!.outFmt, seed, frames }));
    }
    const links: [number, number][] = [];
    for (let i = 0; i + 1 < stages.length; i++) links.push(await ss.socketpair());
    for (let i = 0; i < stages.length; i++) {
      const st = stages[i]!;
      const ctx: StageContext = {
        spec: st,
        devicePath: nodeOf(sys, descs[i]!, st),
        upFd: i > 0 ? links[i - 1]![1] : -1,
        upSlots: i > 0 ? (stages[i - 1]!.buffers ?? spec.buffers) : 0,
        downFd: i < links.length ? links[i]![0] : -1,
        slots: st.buffers ?? spec.buffers,
        inFmt: formats[i]!.inFmt,
        outFmt: formats[i]!.outFmt,
        heap: outputHeap(p, stages, descs, i),
        frames,
        fps: spec.fps,
        seed,
        input: inputs.get(i) ?? '',
        probe,
      };
      const program = descs[i]!.program;
      const named = {
        [st.name]: (cs: Sys) =>
          withFindingSite(sites.stages[i]!, () => program(cs, ctx)).catch((e: unknown) => {
            // A process being killed unwinds its program; that is not the program failing.
            if (!(e instanceof Error && e.name === 'ProcessUnwind')) failedWith.set(st.name, e instanceof Error ? e.message : String(e));
            throw e;
          }),
      }[st.name]!;
      const pid = await ss.fork(async (cs: Sys) => {
        // The child keeps only its own ends of its own links.
        for (const [j, [a, b]] of links.entries()) {
          if (j !== i) await cs.close(a);
          if (j !== i - 1) await cs.close(b);
        }
        return cs.exec(named, [st.name]);
      });
      pidOf.set(st.name, pid);
      exits.set(pid, { name: st.name, pid, status: -1 });
    }
    for (const [a, b] of links) {
      await ss.close(a);
      await ss.close(b);
    }
    for (let left = stages.length; left > 0; left--) {
      const w = await ss.wait();
      const e = exits.get(w.pid);
      if (!e) continue;
      e.status = w.status;
      const why = failedWith.get(e.name);
      if (why !== undefined) e.error = why;
    }
    return 0;
  };
  const session = spawnProcess(sys.proc, sessionMain, [], undefined, { comm: 'session' });
  if (spec.kill) {
    const victim = spec.kill.process;
    kill = () => {
      const pid = pidOf.get(victim);
      // kill(1) of a process that has already exited finds nothing (ESRCH): the stream simply ended first.
      if (pid !== undefined)
        sys.proc.kill(session.process, pid, SIGKILL).catch((e: unknown) => {
          if ((e as { code?: string }).code !== 'ESRCH') throw e;
        });
    };
  }
  try {
    await soc.clock.runUntilSettled(session.exitCode);
  } catch (e) {
    if (!(e instanceof Deadlock)) throw e;
    // Every process sleeps and nothing is scheduled: on Linux they would sleep for ever. The harness reports what
    // they wait for, then kills them as a test runner's timeout would, so the run ends and their files are released.
    reportHungFenceWaits(soc.clock);
    const blocked = describeBlockedTasks(sys.proc);
    const fenceWaits = fenceWaitSnapshot(soc.clock);
    for (const p of [...sys.proc.processes.values()]) {
      if (p === session.process || p.group.state !== 'running' || p.group.exiting) continue;
      const name = [...pidOf].find(([, pid]) => pid === p.pid)?.[0];
      const line = blocked.find((l) => l.startsWith(`pid ${p.pid} `));
      // and the fences it waits for, with who would signal them (the wait-for graph at that moment)
      const fences = fenceWaits.filter((l) => l.startsWith(`${p.comm} (pid ${p.pid}) in `));
      if (name !== undefined) failedWith.set(name, `the run hung (${[line ?? 'asleep', ...fences].join('; ')}); killed when nothing could happen any more`);
      await sys.proc.kill(session.process, p.pid, SIGKILL);
    }
    await soc.clock.runUntilSettled(session.exitCode);
  }
  await settleDevices(sys);
  const simTimeNs = soc.clock.now;
  const snap: DmaBufSnapshot = buffers ?? dmaBufSnapshot(sys.proc, sys.dmabuf);
  opts.observer?.finished(sys);

  const cmaStats = [...sys.mm.cma.values()].map((a) => a.stats());
  const leaks: LeakCheck = {
    dmabufs: sys.dmabuf.buffers.length,
    openFiles: sys.proc.vfs.openFileCount,
    dmaMappings: sys.dma.debug.liveMappings(),
    cmaPages: cmaStats.reduce((n, a) => n + a.usedPages, 0),
    pages: spec.memoryPressure > 0 ? 0 : Math.round(free0 - sys.mm.pages.freeCount() - pgtablePages()),
  };
  reportEnding(sys, [...exits.values()], leaks, spec.kill?.process ?? null, sites);
  const counts = frameCounts(frames, framesChecked, sourceDrops + failures);
  reportCapacity(sys, {
    frames: counts,
    devices: drivenDevices(p, stages, descs, formats, spec.fps),
    heapUsers: heapUsers(p, stages, descs, formats, spec.buffers),
    framesSite: scenarioSite(s, ['frames']),
    ...(spec.kill ? { killed: spec.kill.process } : {}),
    simTimeNs,
  });
  const placement = [...stages.map((_st, i) => describePlacement(p, stages, descs, i, formats[i]!)), ...bounceLines(sys), ...movableBufferLines(sys), ...cameraFaultLines(sys)];
  const hw = hardwareCounters(sys, cache0);
  const costs = runCosts(soc.costs, Number.isFinite(firstFrameNs) ? firstFrameNs : simTimeNs, lastFrameNs, periodNs);
  hw.cache.maintenanceNs = maintenanceNs(costs);
  const result: ProcessRunResult = {
    scenario: spec.name,
    platform: p.name,
    seed,
    frames,
    integrity: { ok: mismatches === 0 && framesChecked > 0, mismatches, framesChecked },
    // The one copy a process pipeline may make: a USB display's CPU read of each frame.
    copies: { cpuBytes: usbCpuReadBytes(sys), bounceBytes: sys.dma.stats.bounceBytes },
    ...hw,
    frameLatencyNs: { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: percentile(latencies, 100) },
    droppedFrames: counts.dropped,
    lostFrames: counts.lost,
    // A display server ends at a screen; any other last stage (an encoder, a CPU reader) is named.
    sink: descs[lastStage]!.setsDisplayMode ? 'the display' : `${stages[lastStage]!.name} (${stages[lastStage]!.stage})`,
    zeroCopy: sys.dma.stats.bounceBytes === 0 && usbCpuReadBytes(sys) === 0,
    placement,
    findings: soc.findings.findings.map((f) => ({ kind: f.kind, message: f.message, call: f.call, timeNs: f.timeNs, site: f.site })),
    simTimeNs,
    wallMs: performance.now() - wall0,
    cpu: cpuUsage(soc.costs, soc.cores, simTimeNs),
    costs,
    processes: [...exits.values()],
    leaks,
    buffers: snap,
    ...(tracer ? { trace: tracer } : {}),
  };
  // A system this run booted and showed nobody is over: its memory's backing goes to the next run in this thread.
  if (!boot && !opts.observer) soc.mem.releaseBacking(true);
  return result;
}

/** The platform devices the pipeline's processes drive, and the bandwidth each needs at the stream's rate. */
function drivenDevices(p: PlatformSpec, stages: readonly ProcessStageSpec[], descs: readonly StageDescriptor[], formats: readonly StageFormats[], fps: number): DrivenDevice[] {
  const out: DrivenDevice[] = [];
  stages.forEach((st, i) => {
    const dev = platformDeviceOf(p, descs[i]!, st);
    if (!dev) return;
    const f = formats[i]!;
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
    const perFrame = (f.inFmt?.size ?? 0) + (f.outFmt?.size ?? 0);
    const parts = [f.inFmt ? `${mib(f.inFmt.size)} in` : '', f.outFmt ? `${mib(f.outFmt.size)} out` : ''].filter(Boolean).join(' and ');
    const needs = descs[i]!.deviceRate ? descs[i]!.deviceRate!(f, fps) : perFrame > 0 ? { bytesPerSecond: perFrame * fps, because: `${parts} a frame at ${fps} fps` } : null;
    out.push({ device: dev.name, driver: `${st.name} (${st.stage})`, needs });
  });
  return out;
}

/** The processes that allocate their output buffers from a CMA area's heap, and how many each asks for. */
function heapUsers(p: PlatformSpec, stages: readonly ProcessStageSpec[], descs: readonly StageDescriptor[], formats: readonly StageFormats[], buffers: number): HeapUser[] {
  return stages.flatMap((st, i) => {
    if (!formats[i]!.outFmt || descs[i]!.placement) return [];
    const area = outputHeap(p, stages, descs, i);
    if (area === 'system' || area === 'driver') return [];
    return [{ area, who: `${st.name} (${st.stage})`, buffers: st.buffers ?? buffers }];
  });
}

/**
 * Turns what the run left behind into findings, so `unimem check` fails on
 * them: a process that failed (other than the one the scenario kills) and
 * anything that outlived every process.
 */
function reportEnding(sys: System, exits: ProcessExit[], leaks: LeakCheck, victim: string | null, sites: { list: string; stages: string[] }): void {
  const log = sys.soc.findings;
  for (const [i, e] of exits.entries()) {
    if (e.status === 0 || (e.name === victim && e.status === 128 + 9)) continue;
    // Its scenario line: the runner, not a line of its program, saw it end.
    log.report('process-failed', 'exit', `process ${e.name} (pid ${e.pid}) exited with status ${e.status}${e.error ? `: ${e.error}` : ''}`, sites.stages[i]);
  }
  const what: [number, string][] = [
    [leaks.dmabufs, 'dma-buf(s)'],
    [leaks.openFiles, 'open file(s)'],
    [leaks.dmaMappings, 'DMA mapping(s)'],
    [leaks.cmaPages, 'CMA page(s)'],
    [leaks.pages, 'page(s)'],
  ];
  const left = what.filter(([n]) => n !== 0).map(([n, w]) => `${n} ${w}`);
  // No one process owns what is left once all have exited: the leak is the pipeline's, blamed on its list.
  if (left.length > 0) log.report('leak', 'exit', `after every process exited, still allocated: ${left.join(', ')}`, sites.list);
  // Each buffer left is named with the references never dropped, blamed on the call that took the oldest kernel one.
  if (leaks.dmabufs > 0) {
    for (const b of dmaBufSnapshot(sys.proc, sys.dmabuf).buffers) {
      const culprit = b.refs.find((r) => r.kind !== 'attachment') ?? b.refs[0];
      const at = culprit ? splitSite(culprit.site) : { fn: '', work: '' };
      const held = b.refs.length > 0 ? b.refs.map(describeRef).join('; ') : `${b.fileRefs} reference(s) nobody tracked`;
      log.report(
        'leak',
        at.fn || 'dma_buf_put',
        `dma-buf ino ${b.ino} (${b.exporter}, ${b.size} bytes${b.name ? `, "${b.name}"` : ''}) outlived every process: never dropped: ${held}`,
        at.work || sites.list,
      );
    }
  }
}

/** A reference as a leak finding names it: kind, holder, the call that took it and when. */
function describeRef(r: DmaBufReference): string {
  return `${r.kind} ${r.holder}, taken by ${r.site || 'an unrecorded call'} at ${(r.timeNs / 1e6).toFixed(3)} ms`;
}

/** The kernel function and the scenario line of a call site (`thread: call › fn @ file:line:col`). */
function splitSite(site: string): { fn: string; work: string } {
  const at = site.lastIndexOf(' @ ');
  const head = at >= 0 ? site.slice(0, at) : site;
  const arrow = head.lastIndexOf(' › ');
  return { fn: arrow >= 0 ? head.slice(arrow + 3) : '', work: at >= 0 ? site.slice(at + 3) : '' };
}

/** The device node a process opens: its device's node of the role its stage asks for ('' for a CPU stage). */
function nodeOf(sys: System, d: StageDescriptor, st: ProcessStageSpec): string {
  if (!d.device) return '';
  const dev = boundDeviceOf(sys, d, st);
  const path = dev ? boundNode(dev, d.device.node) : undefined;
  if (path === undefined) throw new Error(`no ${d.device.kind} device with a '${d.device.node}' node for process ${st.name}`);
  return path;
}

/** Lets deferred device work finish (GEM objects freed after their fences, the display's last scanout). */
async function settleDevices(sys: System): Promise<void> {
  const work = sys.bound.flatMap((b) => (b.driver.settle ? [b.driver.settle(b.data)] : []));
  await sys.soc.clock.runUntilSettled(Promise.all(work));
}

/** Boots the platform for a process pipeline: a display's mode is the size of the frames its stage shows. */
function defaultBoot(descs: readonly StageDescriptor[], formats: readonly StageFormats[]) {
  return (p: PlatformSpec, seed: number, spec: ScenarioSpec): System => {
    const d = descs.findIndex((x) => x.setsDisplayMode);
    const shown = d >= 0 ? formats[d]!.inFmt! : null;
    return bootSystem(p, {
      seed,
      background: spec.memoryPressure > 0 ? { fill: spec.memoryPressure } : false,
      ...(shown ? { kmsMode: { width: shown.width, height: shown.height } } : {}),
    });
  };
}
