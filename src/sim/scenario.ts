import type { StageDescriptor } from './pipeline/descriptor.ts';
import { planFormats, StagePlanError, stageNamed } from './pipeline/plan.ts';
import { STAGES } from './pipeline/stage-table.ts';
import { scenarioSchemaFor, type ScenarioSpec } from './scenario-schema.ts';
import { InputError } from './input-error.ts';
import { loadPlatform, resolveInputFile, type PlatformSpec } from './platform.ts';
import { errorAt, parseYaml, readInputFile, siteAt, validate, type YamlInput } from './yaml-input.ts';

export type { ScenarioSpec } from './scenario-schema.ts';

/** A validated scenario and the file it came from (for errors found later). */
export interface LoadedScenario {
  spec: ScenarioSpec;
  file: string;
  text: string;
  /** The stage table its processes were checked against (default: the built-in one). */
  stages?: readonly StageDescriptor[];
}

const builtinScenarioSchema = scenarioSchemaFor(STAGES);

/**
 * Loads and validates a scenario by built-in name or path. `stages` is the
 * stage table its processes may name (the built-in one unless a tool adds
 * rows).
 */
export function loadScenario(nameOrPath: string, stages: readonly StageDescriptor[] = STAGES): LoadedScenario {
  const file = resolveInputFile('scenarios', nameOrPath);
  const text = readInputFile(file);
  return { spec: parseScenario(file, text, stages), file, text, stages };
}

/**
 * Loads the platform a scenario names in its `platform:` field; a name that
 * is neither a file nor built in is an InputError at that field of the
 * scenario, not of a file that does not exist.
 */
export function loadScenarioPlatform(s: LoadedScenario): PlatformSpec {
  let file: string;
  try {
    file = resolveInputFile('platforms', s.spec.platform);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    throw errorAt(parseYaml(s.file, s.text), ['platform'], `'${s.spec.platform}': ${e.detail}`);
  }
  return loadPlatform(file);
}

/**
 * Checks a command-line value that overrides a scenario field (`--frames`,
 * `--seed`) against that field's own schema, so the flag has the file's
 * limits; an InputError naming the flag otherwise.
 */
export function checkScenarioFlag(field: 'frames' | 'seed', flag: string, value: number): number {
  const r = builtinScenarioSchema.shape[field].safeParse(value);
  if (!r.success) throw new InputError(flag, 0, 0, '', `${value}: ${r.error.issues[0]!.message}`);
  return value;
}

/** Parses and validates scenario YAML text; errors name file, line, column and field. */
export function parseScenario(file: string, text: string, stages: readonly StageDescriptor[] = STAGES): ScenarioSpec {
  const input = parseYaml(file, text);
  const spec: ScenarioSpec = validate(input, stages === STAGES ? builtinScenarioSchema : scenarioSchemaFor(stages));
  if (spec.format.fourcc === 'YUYV' && spec.format.width % 2 !== 0) throw errorAt(input, ['format', 'width'], 'YUYV needs an even width');
  if (spec.pipeline && spec.processes) throw errorAt(input, ['processes'], 'a scenario has either a kernel-level `pipeline` or `processes`, not both');
  if (spec.processes) {
    checkProcessPipeline(input, spec, stages);
    return spec;
  }
  if (!spec.pipeline) throw errorAt(input, [], 'a scenario needs a `pipeline` or `processes`');
  if (spec.kill) throw errorAt(input, ['kill'], '`kill` needs a process pipeline (`processes`)');
  const roles = spec.pipeline.map((s) => s.role);
  if (roles[0] !== 'capture') throw errorAt(input, ['pipeline', 0, 'role'], `a pipeline starts with a capture stage, not '${roles[0]}'`);
  if (roles[roles.length - 1] !== 'scanout') throw errorAt(input, ['pipeline', roles.length - 1, 'role'], `a pipeline ends with a scanout stage`);
  roles.slice(1, -1).forEach((r, i) => {
    if (r !== 'overlay') throw errorAt(input, ['pipeline', i + 1, 'role'], `between capture and scanout only overlay stages can run, not '${r}'`);
  });
  spec.pipeline.forEach((st, i) => {
    if (st.role === 'overlay' && st.rows > spec.format.height) throw errorAt(input, ['pipeline', i, 'rows'], `exceeds the frame height ${spec.format.height}`);
  });
  return spec;
}

/** Checks a process pipeline's shape and that each stage can take the frames the one before it gives. */
function checkProcessPipeline(input: YamlInput, spec: ScenarioSpec, table: readonly StageDescriptor[]): void {
  const stages = spec.processes!;
  const names = new Set<string>();
  stages.forEach((st, i) => {
    if (names.has(st.name)) throw errorAt(input, ['processes', i, 'name'], `two processes are named '${st.name}'`);
    names.add(st.name);
  });
  if (spec.kill && !names.has(spec.kill.process)) throw errorAt(input, ['kill', 'process'], `no process is named '${spec.kill.process}'`);
  try {
    planFormats(spec, table);
  } catch (e) {
    if (e instanceof StagePlanError) throw errorAt(input, ['processes', e.index, e.field], e.message);
    throw e;
  }
}

/** Checks that every device a scenario names exists on the platform and can do its job there. */
export function checkScenarioOnPlatform(s: LoadedScenario, p: PlatformSpec): void {
  const input = parseYaml(s.file, s.text);
  if (s.spec.processes) {
    s.spec.processes.forEach((st, i) => {
      const kind = stageNamed(s.stages ?? STAGES, st.stage).device?.kind;
      if (st.device !== undefined) {
        const d = p.devices.find((x) => x.name === st.device);
        if (!kind) throw errorAt(input, ['processes', i, 'device'], `a ${st.stage} process drives no device`);
        if (!d) throw errorAt(input, ['processes', i, 'device'], `platform '${p.name}' has no device named '${st.device}' (its ${kind} devices: ${p.devices.filter((x) => x.kind === kind).map((x) => x.name).join(', ') || 'none'})`);
        if (d.kind !== kind) throw errorAt(input, ['processes', i, 'device'], `device '${d.name}' is a ${d.kind}; a ${st.stage} process drives a ${kind}`);
      } else if (kind && !p.devices.some((d) => d.kind === kind)) throw errorAt(input, ['processes', i, 'stage'], `platform '${p.name}' has no ${kind} device for a ${st.stage} stage`);
      if (st.heap !== 'auto' && st.heap !== 'driver' && st.heap !== 'system' && !p.cma.areas.some((a) => a.name === st.heap) && !(st.heap === 'reserved' && p.cma.default)) {
        throw errorAt(input, ['processes', i, 'heap'], `no dma-heap '${st.heap}' on '${p.name}' (have: system${p.cma.default ? ', reserved' : ''}${p.cma.areas.map((a) => `, ${a.name}`).join('')}, or driver)`);
      }
    });
    return;
  }
  const devices = new Map(p.devices.map((d) => [d.name, d]));
  s.spec.pipeline!.forEach((st, i) => {
    if (st.role === 'overlay') {
      if (st.device !== 'cpu') throw errorAt(input, ['pipeline', i, 'device'], `an overlay stage runs on the cpu`);
      return;
    }
    const d = devices.get(st.device);
    if (!d) throw errorAt(input, ['pipeline', i, 'device'], `platform '${p.name}' has no device named '${st.device}' (have: ${[...devices.keys()].join(', ')})`);
    if (st.role === 'scanout' && d.kind === 'usb') throw errorAt(input, ['pipeline', i, 'device'], `a USB display is driven through its DRM driver (/dev/dri/card3): use a process pipeline with a usb-display stage`);
    const wants = st.role === 'capture' ? ['camera', 'isp', 'video', 'generic'] : ['display', 'generic'];
    if (!wants.includes(d.kind)) throw errorAt(input, ['pipeline', i, 'device'], `device '${d.name}' is a ${d.kind}, which cannot do ${st.role}`);
  });
}

/**
 * Where a scenario's stages are written, as findings' sites name them
 * (`file:line:col`): the `pipeline` or `processes` list, and each of its
 * entries, so a finding is blamed on the stage or process it happened for.
 */
export function stageSites(s: LoadedScenario): { list: string; stages: string[] } {
  const input = parseYaml(s.file, s.text);
  const key = s.spec.processes ? 'processes' : 'pipeline';
  const n = (s.spec.processes ?? s.spec.pipeline ?? []).length;
  return { list: siteAt(input, [key]), stages: Array.from({ length: n }, (_, i) => siteAt(input, [key, i])) };
}

/** Where a field of a scenario is written (`file:line:col`), or its nearest written parent: `frames` when the file leaves it to its default. */
export function scenarioSite(s: LoadedScenario, path: readonly (string | number)[]): string {
  return siteAt(parseYaml(s.file, s.text), path);
}
