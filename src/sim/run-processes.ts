import { performance } from 'node:perf_hooks';
import { traceFences } from '../dmabuf/index.ts';
import { TestPattern, ujpgEncode, ujpgMaxSize, UvdEncoder, v4l2PixelFormat } from '../formats/index.ts';
import type { Tracer } from '../lib/index.ts';
import { DEFAULT_CMA_NAME } from '../mm/index.ts';
import { spawnProcess, type Sys } from '../proc/index.ts';
import { O_CREAT, O_WRONLY, SIGKILL } from '../uapi/index.ts';
import { bootSystem, type System } from './boot.ts';
import type { PlatformSpec } from './platform.ts';
import { hardwareCounters, percentile, type RunResult } from './run-result.ts';
import type { RunOptions } from './run.ts';
import type { ProcessStageSpec, ScenarioSpec, StageKind } from './scenario-schema.ts';
import { checkScenarioOnPlatform, type LoadedScenario } from './scenario.ts';
import { audioStage } from './stages/audio.ts';
import { audioSignal } from './stages/audio-signal.ts';
import { captureStage } from './stages/capture.ts';
import { composeStage } from './stages/compose.ts';
import { convertStage } from './stages/convert.ts';
import { cpuStage } from './stages/cpu.ts';
import { decodeStage } from './stages/decode.ts';
import { displayStage } from './stages/display.ts';
import { encodeStage } from './stages/encode.ts';
import { ExpectedFrames } from './stages/expected.ts';
import { jpegDecodeStage } from './stages/jpeg-decode.ts';
import { renderStage } from './stages/render.ts';
import { planFormats, STAGE_NODE, type StageFormats } from './stages/plan.ts';
import type { PipelineProbe, StageContext, StageProgram } from './stages/stage.ts';

const PROGRAMS: Record<StageKind, StageProgram> = {
  capture: captureStage,
  decode: decodeStage,
  render: renderStage,
  convert: convertStage,
  compose: composeStage,
  cpu: cpuStage,
  display: displayStage,
  // The same display server, on the USB display's card: KMS is KMS.
  'usb-display': displayStage,
  encode: encodeStage,
  'jpeg-decode': jpegDecodeStage,
  audio: audioStage,
};

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
  trace?: Tracer;
}

/** The heap a stage's output buffers come from: the one the consumer's device needs, unless the scenario names one. */
function outputHeap(p: PlatformSpec, stages: readonly ProcessStageSpec[], i: number): string {
  const st = stages[i]!;
  if (st.heap !== 'auto') return st.heap;
  // The device that will read these buffers: the next stage with a device (a CPU stage passes them on).
  const kinds: Partial<Record<StageKind, string>> = { convert: 'isp', compose: 'gpu', display: 'display', 'usb-display': 'usb', encode: 'jpeg' };
  for (let j = i + 1; j < stages.length; j++) {
    const kind = kinds[stages[j]!.stage];
    if (!kind) continue;
    const dev = p.devices.find((d) => d.kind === kind)!;
    if (!dev.needsContiguous || dev.iommu !== undefined) return 'system';
    return p.cma.areas.find((a) => a.devices.includes(dev.name))?.name ?? DEFAULT_CMA_NAME;
  }
  return 'system';
}

/** Where a stage's output buffers live and why, for the run summary. */
function describePlacement(p: PlatformSpec, stages: readonly ProcessStageSpec[], i: number, f: StageFormats): string {
  const st = stages[i]!;
  if (st.stage === 'audio') return `${st.name}: audio ring buffer from dma_alloc_attrs(NO_KERNEL_MAPPING | WRITE_COMBINE), mapped only into this process`;
  if (!f.outFmt || st.stage === 'cpu' || st.stage === 'jpeg-decode') return `${st.name}: ${st.stage}, no buffers of its own to share`;
  const heap = outputHeap(p, stages, i);
  if (heap === 'driver') return `${st.name}: ${st.stage} buffers are the driver's own (MMAP, exported with EXPBUF)`;
  const where = heap === 'system' ? 'scattered pages of the system heap' : `placed in cma:${heap}`;
  const why = st.heap !== 'auto' ? 'as the scenario asks' : heap === 'system' ? 'every device that reads them has an IOMMU' : 'the next device needs contiguous memory and has no IOMMU';
  return `${st.name}: ${st.stage} buffers from /dev/dma_heap/${heap}, ${where} (${why})`;
}

/** Writes the files the processes read: the video stream, the gallery's photos. */
async function writeInputs(sys: Sys, spec: ScenarioSpec, formats: readonly StageFormats[], seed: number, frames: number): Promise<Map<number, string>> {
  const inputs = new Map<number, string>();
  const stages = spec.processes!;
  for (let i = 0; i < stages.length; i++) {
    const st = stages[i]!;
    if (st.stage === 'decode') {
      // The media file: length-prefixed packets of the synthetic codec, made by its encoder from the source pattern.
      const fmt = formats[i]!.outFmt!;
      const enc = new UvdEncoder(fmt, { gop: st.gop });
      const pattern = new TestPattern(fmt, seed);
      const path = `/tmp/${st.name}.uvd`;
      const fd = await sys.open(path, O_WRONLY | O_CREAT, 0o644);
      const head = new Uint8Array(4);
      for (let n = 0; n < frames; n++) {
        const packet = enc.encode(pattern.frame(n));
        new DataView(head.buffer).setUint32(0, packet.length, true);
        await sys.write(fd, head);
        await sys.write(fd, packet);
      }
      await sys.close(fd);
      inputs.set(i, path);
    } else if (st.stage === 'jpeg-decode') {
      // The gallery: photos taken earlier, encoded as the JPEG block encodes them.
      const fmt = formats[i]!.outFmt!;
      const pattern = new TestPattern(fmt, seed);
      const bits = new Uint8Array(ujpgMaxSize(fmt.size));
      for (let n = 0; n < frames; n++) {
        const len = ujpgEncode(pattern.frame(n), fmt, v4l2PixelFormat(fmt.fourcc), bits);
        const fd = await sys.open(`/tmp/IMG_${String(n).padStart(4, '0')}.jpg`, O_WRONLY | O_CREAT, 0o644);
        await sys.write(fd, bits.subarray(0, len));
        await sys.close(fd);
      }
      inputs.set(i, '/tmp');
    } else if (st.stage === 'encode') {
      inputs.set(i, '/tmp');
    }
  }
  return inputs;
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
  const spec = s.spec;
  const stages = spec.processes!;
  const seed = opts.seed ?? spec.seed;
  const frames = opts.frames ?? spec.frames;
  const formats = planFormats(spec);
  const wall0 = performance.now();
  const displayAt = stages.findIndex((st) => st.stage === 'display');
  const sys = (boot ?? defaultBoot)(p, seed, spec);
  const { soc } = sys;
  const tracer = opts.trace ? soc.startTrace() : null;
  if (tracer) traceFences(soc.clock, tracer);
  const periodNs = Math.round(1e9 / spec.fps);
  opts.observer?.booted(sys, periodNs);
  const cache0 = { ...soc.cache.stats };
  // Page tables the IOMMU drivers grow stay allocated after the unmaps (as io-pgtable-arm-v7s keeps them): not a leak.
  const pgtablePages = () => [...sys.domains.values()].reduce((n, d) => n + d.pgtable.tableBytes / 4096, 0);
  const free0 = sys.mm.pages.freeCount() + pgtablePages();

  const expected = new ExpectedFrames(stages, formats, seed);
  const producedAt = new Map<number, number>();
  const latencies: number[] = [];
  let framesChecked = 0;
  let mismatches = 0;
  let failures = 0;
  let sourceDrops = 0;
  let lastProduced = -1;
  let sunk = 0;
  const lastStage = stages.length - 1;
  const fbFrame = new Map<number, number>();
  let kill: (() => void) | null = null;
  const sinkConsumed = (i: number, frame: number, ok: boolean) => {
    if (!ok) mismatches++;
    // A CPU stage in the middle checks what it read too; the frame counts once, where the pipeline ends.
    if (i !== lastStage) return;
    framesChecked++;
    const t0 = producedAt.get(frame);
    if (t0 !== undefined) {
      latencies.push(soc.clock.now - t0);
      opts.observer?.frameShown(frame, t0, soc.clock.now);
      if (tracer) tracer.complete(tracer.lane('pipeline', 'frames'), `frame ${frame}`, 'frame', t0, soc.clock.now - t0, { mismatch: !ok });
    }
    sunk++;
    opts.onFrame?.(Math.min(sunk, frames), frames);
    // The report's snapshot: the pipeline in full flow halfway through, every process alive with its buffers.
    if (sunk === Math.ceil(frames / 2)) opts.observer?.snapshot?.(sys);
    if (spec.kill && sunk === spec.kill.afterFrames) kill?.();
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
  };
  // A display's consumption is what it fetched (the CRTC's scanout, the USB panel's update): check the first fetch of each frame.
  const checkFirstFetch = (at: number) => {
    const checkedFb = new Map<number, number>();
    return (shot: { fbId: number; bytes: Uint8Array }) => {
      const frame = fbFrame.get(shot.fbId);
      if (frame === undefined || checkedFb.get(shot.fbId) === frame) return;
      checkedFb.set(shot.fbId, frame);
      sinkConsumed(at, frame, expected.matches(at, frame, shot.bytes));
    };
  };
  if (displayAt >= 0 && sys.kms) sys.kms.kms.onScanout = checkFirstFetch(displayAt);
  const usbAt = stages.findIndex((st) => st.stage === 'usb-display');
  if (usbAt >= 0 && sys.usbDisplay) sys.usbDisplay.usb.onFrame = checkFirstFetch(usbAt);
  const audioAt = stages.findIndex((st) => st.stage === 'audio');
  if (audioAt >= 0 && sys.pcm) {
    // What the DAC played, period by period, against the music the player wrote.
    const st = stages[audioAt]!;
    let period = 0;
    sys.pcm.onPeriod = (bytes: Uint8Array) => {
      const want = audioSignal(period * st.periodFrames, st.periodFrames, st.channels, st.rate, seed);
      const ok = bytes.length === want.length && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).equals(Buffer.from(want.buffer));
      if (period < frames) {
        producedAt.set(period, soc.clock.now - Math.round((st.periodFrames / st.rate) * 1e9));
        sinkConsumed(audioAt, period, ok);
      }
      period++;
    };
  }
  const exits = new Map<number, ProcessExit>();
  const pidOf = new Map<string, number>();
  const failedWith = new Map<string, string>();
  const sessionMain = async function session(ss: Sys): Promise<number> {
    const inputs = await writeInputs(ss, spec, formats, seed, frames);
    const links: [number, number][] = [];
    for (let i = 0; i + 1 < stages.length; i++) links.push(await ss.socketpair());
    for (let i = 0; i < stages.length; i++) {
      const st = stages[i]!;
      const ctx: StageContext = {
        spec: st,
        devicePath: STAGE_NODE[st.stage],
        upFd: i > 0 ? links[i - 1]![1] : -1,
        upSlots: i > 0 ? (stages[i - 1]!.buffers ?? spec.buffers) : 0,
        downFd: i < links.length ? links[i]![0] : -1,
        slots: st.buffers ?? spec.buffers,
        inFmt: formats[i]!.inFmt,
        outFmt: formats[i]!.outFmt,
        heap: outputHeap(p, stages, i),
        frames,
        fps: spec.fps,
        seed,
        input: inputs.get(i) ?? '',
        probe,
      };
      const program = PROGRAMS[st.stage];
      const named = {
        [st.name]: (cs: Sys) =>
          program(cs, ctx).catch((e: unknown) => {
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
  await soc.clock.runUntilSettled(session.exitCode);
  await settleDevices(sys);
  const simTimeNs = soc.clock.now;
  opts.observer?.finished(sys);

  const cmaStats = [...sys.mm.cma.values()].map((a) => a.stats());
  const leaks: LeakCheck = {
    dmabufs: sys.dmabuf.buffers.length,
    openFiles: sys.proc.vfs.openFileCount,
    dmaMappings: sys.dma.debug.liveMappings(),
    cmaPages: cmaStats.reduce((n, a) => n + a.usedPages, 0),
    pages: spec.memoryPressure > 0 ? 0 : Math.round(free0 - sys.mm.pages.freeCount() - pgtablePages()),
  };
  reportEnding(sys, [...exits.values()], leaks, spec.kill?.process ?? null);
  const placement = stages.map((st, i) => describePlacement(p, stages, i, formats[i]!));
  return {
    scenario: spec.name,
    platform: p.name,
    seed,
    frames,
    integrity: { ok: mismatches === 0 && framesChecked > 0, mismatches, framesChecked },
    // The one copy a process pipeline may make: a USB display's CPU read of each frame.
    copies: { cpuBytes: sys.usbDisplay?.usb.stats.cpuReadBytes ?? 0, bounceBytes: sys.dma.stats.bounceBytes },
    ...hardwareCounters(sys, cache0),
    frameLatencyNs: { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: percentile(latencies, 100) },
    droppedFrames: Math.max(0, frames - sunk) + failures + sourceDrops,
    zeroCopy: sys.dma.stats.bounceBytes === 0 && (sys.usbDisplay?.usb.stats.cpuReadBytes ?? 0) === 0,
    placement,
    findings: soc.findings.findings.map((f) => ({ kind: f.kind, message: f.message, call: f.call, timeNs: f.timeNs, site: f.site })),
    simTimeNs,
    wallMs: performance.now() - wall0,
    processes: [...exits.values()],
    leaks,
    ...(tracer ? { trace: tracer } : {}),
  };
}

/**
 * Turns what the run left behind into findings, so `unimem check` fails on
 * them: a process that failed (other than the one the scenario kills) and
 * anything that outlived every process.
 */
function reportEnding(sys: System, exits: ProcessExit[], leaks: LeakCheck, victim: string | null): void {
  const log = sys.soc.findings;
  for (const e of exits) {
    if (e.status === 0 || (e.name === victim && e.status === 128 + 9)) continue;
    log.report('process-failed', 'exit', `process ${e.name} (pid ${e.pid}) exited with status ${e.status}${e.error ? `: ${e.error}` : ''}`);
  }
  const what: [number, string][] = [
    [leaks.dmabufs, 'dma-buf(s)'],
    [leaks.openFiles, 'open file(s)'],
    [leaks.dmaMappings, 'DMA mapping(s)'],
    [leaks.cmaPages, 'CMA page(s)'],
    [leaks.pages, 'page(s)'],
  ];
  const left = what.filter(([n]) => n !== 0).map(([n, w]) => `${n} ${w}`);
  if (left.length > 0) log.report('leak', 'exit', `after every process exited, still allocated: ${left.join(', ')}`);
}

/** Lets deferred device work finish (GEM objects freed after their fences, the display's last scanout). */
async function settleDevices(sys: System): Promise<void> {
  const work = [sys.kms?.dev.settle(), sys.gpu?.settle(), sys.pcm?.settle(), sys.usbDisplay?.dev.settle()].filter((x): x is Promise<void> => x !== undefined);
  await sys.soc.clock.runUntilSettled(Promise.all(work));
}

function defaultBoot(p: PlatformSpec, seed: number, spec: ScenarioSpec): System {
  const formats = planFormats(spec);
  const d = spec.processes!.findIndex((st) => st.stage === 'display' || st.stage === 'usb-display');
  const shown = d >= 0 ? formats[d]!.inFmt! : null;
  return bootSystem(p, {
    seed,
    background: spec.memoryPressure > 0 ? { fill: spec.memoryPressure } : false,
    ...(shown ? { kmsMode: { width: shown.width, height: shown.height } } : {}),
  });
}
