import { KernelError } from '../../lib/index.ts';
import { InputError } from '../input-error.ts';
import { parsePlatform, type PlatformSpec } from '../platform.ts';
import type { RunResult } from '../run-result.ts';
import { runScenario } from '../run.ts';
import { parseScenario, type LoadedScenario } from '../scenario.ts';
import { flattenMetrics } from './metrics.ts';
import type { PointInput } from './plan.ts';

/**
 * How a point came out: `ok` (every frame arrived intact, no process
 * failed), `failed` (the run ended but did not do its job: the reason is
 * its first failure), `invalid` (its inputs are refused: the reason is the
 * field and why) or `error` (the simulator itself threw: a bug, retried
 * when the sweep runs again).
 */
export type PointStatus = 'ok' | 'failed' | 'invalid' | 'error';

/** One row of a sweep's results: the point's parameters, how it came out, every metric and finding. */
export interface PointRow {
  key: string;
  version: string;
  index: number;
  scenario: string;
  platform: string;
  seed: number | null;
  frames: number | null;
  /** Each parameter's path and value, in axis order. */
  params: [path: string, text: string, sortKey: number | string][];
  status: PointStatus;
  reason: string;
  metrics: Record<string, number>;
  findings: { kind: string; message: string; site?: string }[];
  placement: string[];
  wallMs: number;
}

/**
 * The run failed at its job: a frame differs or none was shown, or a
 * process failed (as `unimem run` exits 1). The reason is a capacity
 * finding when there is one, since it carries the arithmetic (what was
 * needed against what the platform had), else the failed process.
 */
export function runFailure(r: RunResult): string | null {
  const failed = r.findings.find((f) => f.kind === 'process-failed');
  const capacity = r.findings.find((f) => f.kind === 'capacity');
  if (failed || !r.integrity.ok) {
    if (capacity) return capacity.message;
  }
  if (failed) return failed.message;
  if (!r.integrity.ok) return r.integrity.framesChecked === 0 ? 'no frame was shown' : `${r.integrity.mismatches} shown frame(s) differ from the source`;
  return null;
}

/** A row for point `p` with its inputs filled in and no results yet. */
export function pointRow(p: PointInput, status: PointRow['status'], reason: string): PointRow {
  return {
    key: p.key,
    version: p.version,
    index: p.index,
    scenario: p.scenarioFile,
    platform: p.platformFile,
    seed: p.seed ?? null,
    frames: p.frames ?? null,
    params: p.params.map(([path, v]) => [path, v.text, v.sortKey]),
    status,
    reason,
    metrics: {},
    findings: [],
    placement: [],
    wallMs: 0,
  };
}

/**
 * Runs one point from its inputs alone (what a worker thread does): parses
 * the edited files, runs the scenario, and turns the result into a row.
 * Refused inputs and failed kernel calls are rows, never exceptions, so a
 * sweep always finishes.
 */
export async function runPoint(p: PointInput): Promise<PointRow> {
  const row = pointRow(p, 'invalid', p.invalid ?? '');
  if (p.invalid) return row;
  let s: LoadedScenario, platform: PlatformSpec;
  try {
    s = { spec: parseScenario(p.scenarioFile, p.scenarioText), file: p.scenarioFile, text: p.scenarioText };
    row.scenario = s.spec.name;
    platform = parsePlatform(p.platformFile, p.platformText);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return { ...row, reason: invalidReason(e, p) };
  }
  row.platform = platform.name;
  row.seed = p.seed ?? s.spec.seed;
  row.frames = p.frames ?? s.spec.frames;
  try {
    const r = await runScenario(s, platform, { seed: p.seed, frames: p.frames });
    delete r.trace;
    const failure = runFailure(r);
    return {
      ...row,
      status: failure ? 'failed' : 'ok',
      reason: failure ?? '',
      metrics: flattenMetrics(r),
      findings: r.findings.map((f) => ({ kind: f.kind, message: f.message, ...(f.site ? { site: f.site } : {}) })),
      placement: r.placement,
      wallMs: r.wallMs,
    };
  } catch (e) {
    // The scenario does not fit the platform (a device it names is missing): an input the run refuses.
    if (e instanceof InputError) return { ...row, reason: invalidReason(e, p) };
    if (e instanceof KernelError) return { ...row, status: 'failed', reason: `a kernel call failed with ${e.message}` };
    // anything else is the simulator's own bug (a KernelBug): the worker reports it as an `error` row
    throw e;
  }
}

/**
 * The scenario and platform of a point, validated as `unimem run` validates
 * its files; an InputError when either is refused.
 */
export function loadPoint(p: PointInput): { scenario: LoadedScenario; platform: PlatformSpec } {
  if (p.invalid) throw new InputError(p.platformFile, 0, 0, 'platform', p.invalid);
  return {
    scenario: { spec: parseScenario(p.scenarioFile, p.scenarioText), file: p.scenarioFile, text: p.scenarioText },
    platform: parsePlatform(p.platformFile, p.platformText),
  };
}

/** An input error as a row's reason: which file, the field and why (`platform cma.default: must be ...`). */
function invalidReason(e: InputError, p: PointInput): string {
  const which = e.file === p.platformFile ? 'platform' : e.file === p.scenarioFile ? 'scenario' : e.file;
  return `${which} ${e.field ? `${e.field}: ` : ''}${e.detail}`;
}
