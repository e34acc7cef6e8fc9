/**
 * A soak: plays a process pipeline (video-playback by default) on one
 * booted system for a simulated hour, SIGKILLs one of its processes every
 * simulated minute and starts the pipeline again, and checks that nothing
 * grows: neither the node process's memory nor the simulated kernel's
 * counts (pages, CMA pages, dma-bufs, open files, dma-debug mappings,
 * fences, processes).
 *
 *   npm run soak                                  # 60 simulated minutes
 *   npm run soak -- --minutes 10 --victim composer --json
 *   npm run soak -- --seconds-per-kill 5          # shorter "minutes"
 *
 * Each minute is one run of the pipeline on the same system: the runner
 * kills the minute's victim when the display has shown a minute of frames
 * (the processes it was linked to see EOF or EPIPE and end, as in the
 * process-crash scenario), every process exits, and the next minute starts
 * the pipeline again. The kernel's counts are taken twice a minute: in full
 * flow (the frame before the kill) and once every process has exited. The
 * soak fails (exit 1) when the counts of the last minute exceed those of
 * minute 2 beyond the tolerance, when what is left once every process has
 * exited differs from what the booted system held, when a process other
 * than the victim fails or a finding is reported, or when the node heap or
 * resident set grows beyond its tolerance. Exit 2 on a bad flag.
 *
 * A simulated minute takes about a minute of wall time on one core, so
 * the default hour takes about an hour.
 */
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { liveFenceCount } from '../src/dmabuf/index.ts';
import { bootSystem, InputError, loadPlatform, loadScenario, type LoadedScenario, type System } from '../src/sim/index.ts';
import { runProcessScenario } from '../src/sim/run-processes.ts';

/** What the simulated kernel holds at one moment. */
export interface KernelCounts {
  /**
   * Pages not free in the page allocator (kernel, user, CMA), without the
   * IOMMU page tables: those the drivers grow stay allocated after the
   * unmaps, as io-pgtable-arm-v7s keeps them, and the runner's leak check
   * leaves them out too.
   */
  pages: number;
  cmaPages: number;
  dmabufs: number;
  openFiles: number;
  dmaMappings: number;
  fences: number;
  /** Live and zombie processes in the process table. */
  processes: number;
}

/** The node process's memory (heap after a full collection when gc is exposed). */
export interface NodeMemory {
  rssBytes: number;
  heapUsedBytes: number;
}

/** One simulated minute of the soak. */
export interface SoakMinute {
  minute: number;
  victim: string;
  framesShown: number;
  /** Simulated time at the end of the minute's run. */
  simTimeNs: number;
  wallMs: number;
  /** The kernel's counts on the frame before the kill, every process running. */
  flow: KernelCounts;
  /** The kernel's counts once every process has exited. */
  idle: KernelCounts;
  node: NodeMemory;
  /** Processes other than the victim that did not exit 0, and findings the run reported. */
  problems: string[];
}

export interface SoakOptions {
  scenario?: string;
  platform?: string;
  seed?: number;
  /** Simulated minutes to run (one kill and restart each). */
  minutes?: number;
  /** Seconds of frames shown between two kills: 60 makes a minute. */
  secondsPerKill?: number;
  /** The process killed each minute; 'rotate' takes each process of the pipeline in turn. */
  victim?: string;
  /** The minute the last one is compared with (1-based). */
  baselineMinute?: number;
  /** Slack for the counts in full flow: a fraction of the baseline plus `slackAbs`. */
  slackFraction?: number;
  slackAbs?: number;
  /** How much the node heap (after a full collection) may grow between the baseline and the last minute, in bytes. */
  heapSlackBytes?: number;
  /** How much the resident set may grow, in bytes: more than the heap's, as the allocator keeps freed arenas. */
  rssSlackBytes?: number;
  /** Called after each minute, with the system it runs on (progress; a test plants a leak through it). */
  onMinute?: (m: SoakMinute, sys: System) => void;
}

export interface SoakReport {
  scenario: string;
  platform: string;
  seed: number;
  minutes: SoakMinute[];
  start: { node: NodeMemory; idle: KernelCounts };
  baseline: SoakMinute;
  end: SoakMinute;
  simTimeNs: number;
  wallMs: number;
  /** Why the soak fails; empty when it passes. */
  failures: string[];
}

/** True when node was started with --expose-gc, so that heap readings follow a full collection. */
export function measuresNodeMemory(): boolean {
  return typeof (globalThis as { gc?: unknown }).gc === 'function';
}

/** The node process's memory now, after a full collection when `--expose-gc` made one available. */
export function nodeMemory(): NodeMemory {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rssBytes: m.rss, heapUsedBytes: m.heapUsed };
}

/** What the simulated kernel of `sys` holds now. */
export function kernelCounts(sys: System): KernelCounts {
  return {
    pages: sys.mm.pages.totalPages() - sys.mm.pages.freeCount() - [...sys.domains.values()].reduce((n, d) => n + d.pgtable.tableBytes / 4096, 0),
    cmaPages: [...sys.mm.cma.values()].reduce((n, a) => n + a.stats().usedPages, 0),
    dmabufs: sys.dmabuf.buffers.length,
    openFiles: sys.proc.vfs.openFileCount,
    dmaMappings: sys.dma.debug.liveMappings(),
    fences: liveFenceCount(sys.soc.clock),
    processes: sys.proc.processes.size,
  };
}

const COUNT_NAMES: (keyof KernelCounts)[] = ['pages', 'cmaPages', 'dmabufs', 'openFiles', 'dmaMappings', 'fences', 'processes'];

/** The counts of `last` above those of `base` beyond `frac` of base plus `abs`, one line each. */
function grown(what: string, base: KernelCounts, last: KernelCounts, frac: number, abs: number): string[] {
  return COUNT_NAMES.filter((k) => last[k] > base[k] * (1 + frac) + abs).map((k) => `${what} ${k} grew from ${base[k]} to ${last[k]}`);
}

/**
 * Runs the soak (see the file's comment) and returns every minute's
 * numbers and the reasons it fails, if any.
 */
export async function soak(opts: SoakOptions = {}): Promise<SoakReport> {
  const minutes = opts.minutes ?? 60;
  const s = loadScenario(opts.scenario ?? 'video-playback');
  const stages = s.spec.processes;
  if (!stages) throw new InputError(s.file, 0, 0, 'scenario', `${s.spec.name} is not a process pipeline`);
  const p = loadPlatform(opts.platform ?? s.spec.platform);
  const seed = opts.seed ?? s.spec.seed;
  const fps = s.spec.fps;
  const shownPerMinute = Math.round(fps * (opts.secondsPerKill ?? 60));
  // Frames beyond the kill, so that the source is still producing when it comes.
  const frames = shownPerMinute + 2 * fps;
  const baselineMinute = Math.min(opts.baselineMinute ?? 2, minutes);
  const victims = opts.victim === undefined || opts.victim === 'rotate' ? stages.map((st) => st.name) : [opts.victim];
  for (const v of victims) if (!stages.some((st) => st.name === v)) throw new InputError('--victim', 0, 0, '', `${s.spec.name} has no process named '${v}' (has ${stages.map((st) => st.name).join(', ')})`);

  const wall0 = performance.now();
  const sys = bootSystem(p, {
    seed,
    background: s.spec.memoryPressure > 0 ? { fill: s.spec.memoryPressure } : false,
    // the display shows the scenario's frames (video-playback does not scale them)
    kmsMode: { width: s.spec.format.width, height: s.spec.format.height },
  });
  const start = { node: nodeMemory(), idle: kernelCounts(sys) };
  const out: SoakMinute[] = [];
  for (let minute = 1; minute <= minutes; minute++) {
    const victim = victims[(minute - 1) % victims.length]!;
    const spec = { ...s.spec, kill: { process: victim, afterFrames: shownPerMinute } };
    const scenario: LoadedScenario = { ...s, spec };
    let flow: KernelCounts | null = null;
    let shown = 0;
    const findings0 = sys.soc.findings.findings.length;
    const t0 = performance.now();
    const onFrame = (done: number) => {
      shown = done;
      // the frame the kill comes after: every process still running
      if (done === shownPerMinute) flow = kernelCounts(sys);
    };
    const r = await runProcessScenario(scenario, p, { seed, frames, onFrame }, () => sys);
    const problems: string[] = [];
    for (const e of r.processes) if (e.status !== 0 && !(e.name === victim && e.status === 128 + 9)) problems.push(`${e.name} exited ${e.status}${e.error ? `: ${e.error}` : ''}`);
    for (const f of sys.soc.findings.findings.slice(findings0)) problems.push(`finding ${f.kind}: ${f.message}`);
    if (!r.integrity.ok) problems.push(`integrity: ${r.integrity.mismatches} mismatching frames of ${r.integrity.framesChecked}`);
    if (flow === null) problems.push(`the display showed ${shown} frames, fewer than the ${shownPerMinute} before the kill`);
    const m: SoakMinute = {
      minute,
      victim,
      framesShown: shown,
      simTimeNs: sys.soc.clock.now,
      wallMs: performance.now() - t0,
      flow: flow ?? kernelCounts(sys),
      idle: kernelCounts(sys),
      node: nodeMemory(),
      problems,
    };
    out.push(m);
    opts.onMinute?.(m, sys);
  }
  const baseline = out[baselineMinute - 1]!;
  const end = out[out.length - 1]!;
  const failures: string[] = [];
  for (const m of out) for (const why of m.problems) failures.push(`minute ${m.minute}: ${why}`);
  // Once every process has exited the kernel must be back where it booted (the leak check of every run).
  for (const m of out) for (const k of COUNT_NAMES) if (k !== 'processes' && m.idle[k] !== start.idle[k]) failures.push(`minute ${m.minute}: with every process gone, ${k} is ${m.idle[k]}, at boot ${start.idle[k]}`);
  if (end.idle.processes > start.idle.processes) failures.push(`the process table holds ${end.idle.processes} processes after the last minute, ${start.idle.processes} at boot`);
  failures.push(...grown('in full flow,', baseline.flow, end.flow, opts.slackFraction ?? 0.005, opts.slackAbs ?? 2));
  // Without a full collection before each reading (node --expose-gc, as `npm run soak` runs), the heap holds
  // whatever garbage the last collection left and its size says nothing about growth: only the kernel's counts count then.
  if (measuresNodeMemory()) {
    const heapSlack = opts.heapSlackBytes ?? 16 * 1024 * 1024;
    if (end.node.heapUsedBytes > baseline.node.heapUsedBytes + heapSlack)
      failures.push(`node heap grew from ${mib(baseline.node.heapUsedBytes)} to ${mib(end.node.heapUsedBytes)} (more than ${mib(heapSlack)})`);
    const rssSlack = opts.rssSlackBytes ?? 32 * 1024 * 1024;
    if (end.node.rssBytes > baseline.node.rssBytes + rssSlack) failures.push(`node resident memory grew from ${mib(baseline.node.rssBytes)} to ${mib(end.node.rssBytes)} (more than ${mib(rssSlack)})`);
  }
  return { scenario: s.spec.name, platform: p.name, seed, minutes: out, start, baseline, end, simTimeNs: sys.soc.clock.now, wallMs: performance.now() - wall0, failures };
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

function countsLine(c: KernelCounts): string {
  return COUNT_NAMES.map((k) => `${k} ${c[k]}`).join(', ');
}

/** The soak's summary as text: start, baseline and end, then the verdict. */
export function formatSoak(r: SoakReport): string {
  const lines = [
    `soak: ${r.scenario} on ${r.platform}, seed ${r.seed}: ${r.minutes.length} kills in ${(r.simTimeNs / 60e9).toFixed(1)} simulated minutes, ${(r.wallMs / 1000).toFixed(0)} s wall`,
    `  start:            rss ${mib(r.start.node.rssBytes)}, heap ${mib(r.start.node.heapUsedBytes)}; kernel ${countsLine(r.start.idle)}`,
  ];
  for (const [label, m] of [[`minute ${r.baseline.minute}`, r.baseline], [`end (minute ${r.end.minute})`, r.end]] as const) {
    lines.push(`  ${label}:`.padEnd(20) + `rss ${mib(m.node.rssBytes)}, heap ${mib(m.node.heapUsedBytes)}`);
    lines.push(`    in full flow:   ${countsLine(m.flow)}`);
    lines.push(`    all exited:     ${countsLine(m.idle)}`);
  }
  if (!measuresNodeMemory()) lines.push('  (node memory shown but not judged: run node with --expose-gc, as npm run soak does)');
  lines.push(r.failures.length === 0 ? 'soak: nothing grew' : `soak: FAILED\n${r.failures.map((f) => `  ${f}`).join('\n')}`);
  return lines.join('\n') + '\n';
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '60' },
      'seconds-per-kill': { type: 'string', default: '60' },
      victim: { type: 'string', default: 'rotate' },
      scenario: { type: 'string', default: 'video-playback' },
      platform: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
  });
  const minutes = Number(values.minutes);
  if (!Number.isInteger(minutes) || minutes < 2 || minutes > 24 * 60) {
    process.stderr.write(`soak: --minutes must be an integer from 2 to 1440, not ${values.minutes}\n`);
    return 2;
  }
  const secondsPerKill = Number(values['seconds-per-kill']);
  if (!Number.isInteger(secondsPerKill) || secondsPerKill < 1 || secondsPerKill > 3600) {
    process.stderr.write(`soak: --seconds-per-kill must be an integer from 1 to 3600, not ${values['seconds-per-kill']}\n`);
    return 2;
  }
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !Number.isSafeInteger(seed)) {
    process.stderr.write(`soak: --seed must be an integer, not ${values.seed}\n`);
    return 2;
  }
  let r: SoakReport;
  try {
    r = await soak({
      minutes,
      secondsPerKill,
      victim: values.victim,
      scenario: values.scenario,
      ...(values.platform !== undefined ? { platform: values.platform } : {}),
      ...(seed !== undefined ? { seed } : {}),
      onMinute: (m) => {
        if (values.quiet) return;
        process.stderr.write(
          `minute ${m.minute} (killed ${m.victim}, ${(m.wallMs / 1000).toFixed(1)} s wall): rss ${mib(m.node.rssBytes)}, heap ${mib(m.node.heapUsedBytes)}; in flow ${countsLine(m.flow)}${m.problems.length ? `; ${m.problems.join('; ')}` : ''}\n`,
        );
      },
    });
  } catch (e) {
    // a scenario, platform or victim that does not exist is bad input, as for `unimem run`
    if (!(e instanceof InputError)) throw e;
    process.stderr.write(`soak: ${e.message}\n`);
    return 2;
  }
  process.stdout.write(values.json ? JSON.stringify(r) + '\n' : formatSoak(r));
  return r.failures.length === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = await main();
