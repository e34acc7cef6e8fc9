import { loadPlatform, loadScenario, runScenario, type PlatformSpec, type RunResult } from '../src/sim/index.ts';
import { videoPlaybackEngineNs } from './engine-floor.ts';
import { copySpeeds, type BenchOptions, type BenchResult } from './harness.ts';
import { WALL_PARTS, withWallProfile, type WallShares } from './wall-profile.ts';

/**
 * The memory traffic one frame needs at the least, in bytes read plus
 * bytes written: `moved` by the devices of the pipeline (each write of a
 * frame into memory and each read of one out of it), `checked` by the
 * checker (the shown frame and the expected one, both read).
 */
interface FrameTraffic {
  moved: number;
  checked: number;
}

/** camera -> display in XR24: the camera writes the frame, the display reads it, the checker compares it. */
function cameraPreviewTraffic(width: number, height: number): FrameTraffic {
  const x = width * height * 4;
  return { moved: 2 * x, checked: 2 * x };
}

/**
 * decoder -> ISP -> GPU compose -> display: the decoder writes NV12, the
 * ISP reads it and writes XR24, the GPU reads that and its UI layer and
 * writes XR24, the display reads it; the checker compares the shown frame.
 * The compressed stream the decoder reads is left out (a few percent).
 */
function videoPlaybackTraffic(width: number, height: number): FrameTraffic {
  const nv12 = (width * height * 3) / 2;
  const x = width * height * 4;
  return { moved: nv12 + (nv12 + x) + (2 * x + x) + x, checked: 2 * x };
}

/**
 * armv7-mobile, with a display CMA area of `cmaBytes` when given: its own
 * 64 MiB holds two 3840x2160 XR24 scanout buffers, not the preview's four.
 */
function platform(cmaBytes?: number): PlatformSpec {
  const p = loadPlatform('armv7-mobile');
  const display = p.cma.areas?.find((a) => a.name === 'display');
  if (cmaBytes !== undefined && display) display.size = cmaBytes;
  return p;
}

/**
 * A run and its steady state: the wall time from the start of the run
 * (boot included) to its first shown frame, and the simulated and wall
 * time from there to its last. Frames already in the earlier stages when
 * the first is shown had part of their work done before it.
 */
interface TimedRun {
  r: RunResult;
  wallMsToFirstFrame: number;
  steadySimNs: number;
  steadyWallMs: number;
  /** This process's user and system CPU time over the run: on a shared machine it moves less than the wall does. */
  cpuMs: number;
  /** Where the run's wall time went, when profiled. */
  shares: WallShares | null;
}

/**
 * Runs `scenario` at `width`x`height`, `fps`, for `frames`; fails the
 * bench when a shown frame differs from its source. With `profile`, under
 * V8's sampling profiler, whose cost the row's speed then includes.
 */
async function run(scenario: string, fourcc: 'XR24' | 'NV12', width: number, height: number, fps: number, frames: number, profile: boolean, p = platform()): Promise<TimedRun> {
  const s = loadScenario(scenario);
  s.spec.format = { width, height, fourcc };
  s.spec.fps = fps;
  let first: { wall: number; sim: number } | null = null;
  let last = { wall: 0, sim: 0 };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const go = () =>
    runScenario(s, p, {
      frames,
      onFrame: (_done, _total, shownAtNs) => {
        last = { wall: performance.now(), sim: shownAtNs };
        first ??= last;
      },
    });
  const { result: r, shares } = profile ? await withWallProfile(go) : { result: await go(), shares: null };
  const cpu = process.cpuUsage(cpu0);
  if (!r.integrity.ok || !first) throw new Error(`${scenario} at ${width}x${height}@${fps} lost integrity`);
  const f: { wall: number; sim: number } = first;
  return { r, wallMsToFirstFrame: f.wall - t0, steadySimNs: last.sim - f.sim, steadyWallMs: last.wall - f.wall, cpuMs: (cpu.user + cpu.system) / 1000, shares };
}

/**
 * One row: simulated seconds per wall second, and the speed against two
 * limits measured in the same run. The memory-bandwidth limit: the frames
 * per wall second this machine could reach if each frame cost only its
 * memory traffic at the speed of the fastest plain copy (which reads and
 * writes each byte it copies, so it carries twice its byte count of
 * traffic). The floor: that traffic plus `engineNs`, the per-pixel work
 * each frame needs (the engines' and the checker's kernels, timed alone,
 * engine-floor.ts), which no faster simulation loop could avoid.
 */
function row(bench: string, t: TimedRun, traffic: FrameTraffic, copyBytesPerSec: number, engineNs: number, extra: Record<string, number> = {}): BenchResult {
  const r = t.r;
  const simSeconds = r.simTimeNs / 1e9;
  const wallSeconds = r.wallMs / 1000;
  const framesPerWallSecond = r.integrity.framesChecked / wallSeconds;
  const trafficNs = ((traffic.moved + traffic.checked) / (2 * copyBytesPerSec)) * 1e9;
  const limitFramesPerWallSecond = 1e9 / trafficNs;
  const floorFramesPerWallSecond = 1e9 / (trafficNs + engineNs);
  return {
    bench,
    metrics: {
      frames: r.frames,
      framesChecked: r.integrity.framesChecked,
      simSeconds,
      wallSeconds,
      tlbMisses: r.iommu.tlbMisses,
      bytesMovedPerFrame: traffic.moved,
      bytesCheckedPerFrame: traffic.checked,
      framesPerWallSecond,
      limitFramesPerWallSecond,
      fastestCopyBytesPerSec: copyBytesPerSec,
      engineNsPerFrame: engineNs,
      floorFramesPerWallSecond,
      // the run's parts: boot, setup and the pipeline's first pass up to the first shown frame, then the frames from the first to the last
      wallSecondsToFirstFrame: t.wallMsToFirstFrame / 1000,
      steadySimSecondsPerWallSecond: t.steadySimNs / 1e6 / t.steadyWallMs,
      // the same run per second of this process's CPU time (the collector's and compiler's threads included)
      simSecondsPerCpuSecond: simSeconds / (t.cpuMs / 1000),
      ...extra,
      ...wallMsPerFrame(t.shares, r.integrity.framesChecked),
    },
    ratios: {
      simSecondsPerWallSecond: simSeconds / wallSeconds,
      // the speed a run at the floor would have: the same simulated time over the wall time the floor needs for the frames checked
      floorSimSecondsPerWallSecond: (simSeconds * floorFramesPerWallSecond) / r.integrity.framesChecked,
      fractionOfMemoryLimit: framesPerWallSecond / limitFramesPerWallSecond,
      fractionOfFloor: framesPerWallSecond / floorFramesPerWallSecond,
    },
  };
}

/** A profiled run's wall time per part, per checked frame (`wallMsPerFrame.memoryCopies`); nothing when not profiled. */
function wallMsPerFrame(shares: WallShares | null, frames: number): Record<string, number> {
  if (!shares) return {};
  const out: Record<string, number> = {};
  for (const part of WALL_PARTS) out[`wallMsPerFrame.${part}`] = shares[part] / frames;
  out['wallMsPerFrame.total'] = shares.total / frames;
  return out;
}

/**
 * Byte-accurate pipelines (every frame written by its devices through
 * their SMMUs or CMA, read by the display, compared byte for byte):
 * camera-preview at 1080p60 and 3840x2160@60 (with a display CMA area
 * that holds its buffers), the four-process
 * video-playback at 720p30 and 1080p30. Each reports simulated seconds per
 * wall second and its speed against the memory-bandwidth limit. The
 * 2160p60 preview runs first, so that the process's peak resident memory
 * after it is that run's (with the code loaded), not a later row's nor the
 * copy baseline's.
 */
export default async function benchPipeline(opts: BenchOptions = {}): Promise<BenchResult[]> {
  const profile = opts.profile ?? false;
  const uhd = await run('camera-preview', 'XR24', 3840, 2160, 60, 30, profile, platform(160 * 1024 * 1024));
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  // after the peak is read: the copy's own 256 MiB of buffers are no part of a run's memory
  const copy = copySpeeds(64 * 1024 * 1024, 150).fastest;
  const fhd = await run('camera-preview', 'XR24', 1920, 1080, 60, 300, profile);
  const v720 = await run('video-playback', 'NV12', 1280, 720, 30, 90, profile);
  const v1080 = await run('video-playback', 'NV12', 1920, 1080, 30, 30, profile);
  // a camera preview computes nothing per pixel: the sensor's frame and the checker's compare are its memory traffic
  const e720 = videoPlaybackEngineNs(1280, 720).total;
  const e1080 = videoPlaybackEngineNs(1920, 1080).total;
  return [
    row('pipeline.video-playback-720p30', v720, videoPlaybackTraffic(1280, 720), copy, e720),
    row('pipeline.video-playback-1080p30', v1080, videoPlaybackTraffic(1920, 1080), copy, e1080),
    row('pipeline.camera-preview-1080p60', fhd, cameraPreviewTraffic(1920, 1080), copy, 0),
    row('pipeline.camera-preview-2160p60', uhd, cameraPreviewTraffic(3840, 2160), copy, 0, { peakRssBytes }),
  ];
}
