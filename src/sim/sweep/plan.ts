import { createHash } from 'node:crypto';
import { parseDocument } from 'yaml';
import { InputError } from '../input-error.ts';
import { platformSchema } from '../platform-schema.ts';
import { resolveInputFile } from '../platform.ts';
import { scenarioSchemaFor } from '../scenario-schema.ts';
import { STAGES } from '../pipeline/stage-table.ts';
import { parseYaml, readInputFile } from '../yaml-input.ts';
import { applyEdits, editsFor, fieldsOf, resolvePath, splitPath, type Edit, type SetTarget } from './set-path.ts';
import type { AxisValue, SetArg } from './set-value.ts';

/** What a sweep (or one side of a compare) runs: a scenario, optionally another platform, and the parameters it varies. */
export interface SweepSpec {
  /** A scenario file or built-in name. */
  scenario: string;
  /** A platform file or built-in name instead of the scenario's own (as `run --platform`). */
  platform?: string;
  seed?: number;
  frames?: number;
  axes: SetArg[];
}

/**
 * One point of a sweep, ready to run anywhere: the edited file texts travel
 * with it, so a worker or another machine needs nothing but these. `key`
 * hashes the inputs as the run reads them (the files' data, seed, frames)
 * with the unimem version.
 */
export interface PointInput {
  index: number;
  key: string;
  version: string;
  /** Each axis's path and the text of the value it takes here, in axis order. */
  params: [path: string, value: AxisValue][];
  scenarioFile: string;
  scenarioText: string;
  platformFile: string;
  platformText: string;
  seed?: number;
  frames?: number;
  /** Why the point cannot run at all (its platform does not resolve): it becomes an invalid row. */
  invalid?: string;
}

/** Most points a sweep may have: beyond it a range's step is surely a typo. */
export const MAX_POINTS = 100_000;

const scenarioSchema = scenarioSchemaFor(STAGES);
const SCENARIO_FIELDS = fieldsOf(scenarioSchema)!;
const PLATFORM_FIELDS = fieldsOf(platformSchema)!;

/** Where a `--set` path points: the scenario or the platform file, and its segments in that file. */
export function targetOf(path: string): { target: SetTarget; segs: string[] } {
  const segs = splitPath(path);
  const [first, ...rest] = segs;
  if (first === 'scenario' && rest.length > 0) return { target: 'scenario', segs: rest };
  // `platform` alone is the scenario's platform field; below it, the platform file's fields
  if (first === 'platform' && rest.length > 0) return { target: 'platform', segs: rest };
  if (SCENARIO_FIELDS.includes(first!)) return { target: 'scenario', segs };
  if (PLATFORM_FIELDS.includes(first!)) return { target: 'platform', segs };
  throw new InputError('--set', 0, 0, path, `no field '${first}' in the scenario or the platform (scenario fields: ${SCENARIO_FIELDS.join(', ')}; platform fields: ${PLATFORM_FIELDS.join(', ')}; prefix scenario. or platform. to choose)`);
}

/** The cartesian product of the axes, the first axis varying slowest. */
export function gridOf(axes: readonly SetArg[]): AxisValue[][] {
  const total = axes.reduce((n, a) => n * a.values.length, 1);
  if (total > MAX_POINTS) throw new InputError('--set', 0, 0, '', `${total} points; a sweep may have at most ${MAX_POINTS}`);
  let combos: AxisValue[][] = [[]];
  for (const a of axes) combos = combos.flatMap((c) => a.values.map((v) => [...c, v]));
  return combos;
}

/**
 * Plans every point of a sweep: applies each combination of values to the
 * scenario and platform files. A path that names nothing is an InputError
 * (the whole sweep is bad input); a value the schema refuses is not
 * checked here: the point runs as an invalid row.
 */
export function planPoints(spec: SweepSpec, version: string): PointInput[] {
  const scenarioFile = resolveInputFile('scenarios', spec.scenario);
  const baseScenario = readInputFile(scenarioFile);
  const scenarioData = parseYaml(scenarioFile, baseScenario).data;
  const targets = spec.axes.map((a) => ({ ...a, ...targetOf(a.path) }));
  // A sweep over the platform itself changes which file the platform paths edit: read each once.
  const platforms = new Map<string, { file: string; text: string; data: unknown }>();
  const platformNamed = (name: string) => {
    let p = platforms.get(name);
    if (!p) {
      const file = resolveInputFile('platforms', name);
      const text = readInputFile(file);
      p = { file, text, data: parseYaml(file, text).data };
      platforms.set(name, p);
    }
    return p;
  };
  return gridOf(spec.axes).map((combo, index) => {
    const params = combo.map((v, i): [string, AxisValue] => [spec.axes[i]!.path, v]);
    const scenarioEdits: Edit[] = [];
    targets.forEach((t, i) => {
      if (t.target === 'scenario') scenarioEdits.push(...editsFor(resolvePath(scenarioSchema, scenarioData, t.segs, t.path, 'scenario'), combo[i]!.value));
    });
    const scenarioText = applyEdits(baseScenario, scenarioEdits);
    const editedScenario = parseDocument(scenarioText).toJS() as Record<string, unknown> | null;
    const setsPlatform = targets.some((t) => t.target === 'scenario' && t.segs.length === 1 && t.segs[0] === 'platform');
    const platformName = setsPlatform ? String(editedScenario?.platform) : (spec.platform ?? (typeof editedScenario?.platform === 'string' ? editedScenario.platform : 'armv7-mobile'));
    const base = { index, version, params, scenarioFile, scenarioText, seed: spec.seed, frames: spec.frames };
    let platform: { file: string; text: string; data: unknown };
    try {
      platform = platformNamed(platformName);
    } catch (e) {
      // A platform the sweep itself names is bad input; one a swept value names is a bad point.
      if (!(e instanceof InputError) || !setsPlatform) throw e;
      const invalid = `platform: '${platformName}': ${e.detail}`;
      return { ...base, platformFile: platformName, platformText: '', invalid, key: pointKey(version, editedScenario, platformName, spec) };
    }
    const platformEdits: Edit[] = [];
    targets.forEach((t, i) => {
      if (t.target === 'platform') platformEdits.push(...editsFor(resolvePath(platformSchema, platform.data, t.segs, t.path, 'platform'), combo[i]!.value));
    });
    const platformText = applyEdits(platform.text, platformEdits);
    return { ...base, platformFile: platform.file, platformText, key: pointKey(version, editedScenario, parseDocument(platformText).toJS(), spec) };
  });
}

/** The hash of what a run reads: both files' data (not their comments or layout), seed, frames, and the unimem version. */
function pointKey(version: string, scenario: unknown, platform: unknown, spec: SweepSpec): string {
  const canon = canonicalJson({ version, scenario, platform, seed: spec.seed ?? null, frames: spec.frames ?? null });
  return createHash('sha256').update(canon).digest('hex').slice(0, 32);
}

/** JSON with object keys sorted, so that equal data hashes equal. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
