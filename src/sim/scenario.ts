import { readFileSync } from 'node:fs';
import { scenarioSchema, type ScenarioSpec } from './scenario-schema.ts';
import { resolveInputFile, type PlatformSpec } from './platform.ts';
import { errorAt, parseYaml, validate } from './yaml-input.ts';

export type { ScenarioSpec } from './scenario-schema.ts';

/** A validated scenario and the file it came from (for errors found later). */
export interface LoadedScenario {
  spec: ScenarioSpec;
  file: string;
  text: string;
}

/** Loads and validates a scenario by built-in name or path. */
export function loadScenario(nameOrPath: string): LoadedScenario {
  const file = resolveInputFile('scenarios', nameOrPath);
  const text = readFileSync(file, 'utf8');
  return { spec: parseScenario(file, text), file, text };
}

/** Parses and validates scenario YAML text; errors name file, line, column and field. */
export function parseScenario(file: string, text: string): ScenarioSpec {
  const input = parseYaml(file, text);
  const spec = validate(input, scenarioSchema);
  const roles = spec.pipeline.map((s) => s.role);
  if (roles[0] !== 'capture') throw errorAt(input, ['pipeline', 0, 'role'], `a pipeline starts with a capture stage, not '${roles[0]}'`);
  if (roles[roles.length - 1] !== 'scanout') throw errorAt(input, ['pipeline', roles.length - 1, 'role'], `a pipeline ends with a scanout stage`);
  roles.slice(1, -1).forEach((r, i) => {
    if (r !== 'overlay') throw errorAt(input, ['pipeline', i + 1, 'role'], `between capture and scanout only overlay stages can run, not '${r}'`);
  });
  spec.pipeline.forEach((st, i) => {
    if (st.role === 'overlay' && st.rows > spec.format.height) throw errorAt(input, ['pipeline', i, 'rows'], `exceeds the frame height ${spec.format.height}`);
  });
  if (spec.format.fourcc === 'YUYV' && spec.format.width % 2 !== 0) throw errorAt(input, ['format', 'width'], 'YUYV needs an even width');
  return spec;
}

/** Checks that every device a scenario names exists on the platform and can do its job there. */
export function checkScenarioOnPlatform(s: LoadedScenario, p: PlatformSpec): void {
  const input = parseYaml(s.file, s.text);
  const devices = new Map(p.devices.map((d) => [d.name, d]));
  s.spec.pipeline.forEach((st, i) => {
    if (st.role === 'overlay') {
      if (st.device !== 'cpu') throw errorAt(input, ['pipeline', i, 'device'], `an overlay stage runs on the cpu`);
      return;
    }
    const d = devices.get(st.device);
    if (!d) throw errorAt(input, ['pipeline', i, 'device'], `platform '${p.name}' has no device named '${st.device}' (have: ${[...devices.keys()].join(', ')})`);
    const wants = st.role === 'capture' ? ['camera', 'isp', 'video', 'generic'] : ['display', 'usb', 'generic'];
    if (!wants.includes(d.kind)) throw errorAt(input, ['pipeline', i, 'device'], `device '${d.name}' is a ${d.kind}, which cannot do ${st.role}`);
  });
}
