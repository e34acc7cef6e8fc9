import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { InputError } from '../input-error.ts';
import { checkScenarioFlag } from '../scenario.ts';
import { errorAt, parseYaml, readInputFile, validate } from '../yaml-input.ts';
import type { SweepSpec } from './plan.ts';
import { valuesOf } from './set-value.ts';

const scalar = z.union([z.string(), z.number(), z.boolean()]);

const sweepFileSchema = z.strictObject({
  scenario: z.string().describe('The scenario to sweep: a file (relative to the sweep file) or a built-in name.'),
  platform: z.string().optional().describe('A platform instead of the scenario\'s own: a file or a built-in name.'),
  seed: z.number().int().min(0).optional().describe('Seed of every point (default: the scenario\'s own).'),
  frames: z.number().int().min(1).optional().describe('Frames of every point (default: the scenario\'s own).'),
  set: z
    .record(z.string(), z.union([scalar, z.array(scalar).min(1)]))
    .describe('Each parameter\'s path and its values: a list, or a string as --set takes it (64MiB..128MiB:16MiB, or 0.5,0.9).'),
});

/** Whether a file is a sweep file (a YAML mapping with `set:` and `scenario:`) rather than a scenario. */
export function isSweepFile(path: string): boolean {
  if (!existsSync(path) || !/\.ya?ml$/i.test(path)) return false;
  try {
    const data = parseYaml(path, readInputFile(path)).data;
    return typeof data === 'object' && data !== null && 'set' in data && 'scenario' in data;
  } catch (e) {
    if (e instanceof InputError) return false;
    throw e;
  }
}

/**
 * Reads a sweep file: the scenario, optional platform, seed and frames, and
 * under `set:` each parameter's values. Errors name the file, line, column
 * and field, as a platform file's do.
 */
export function loadSweepFile(file: string): SweepSpec {
  const input = parseYaml(file, readInputFile(file));
  const spec = validate(input, sweepFileSchema);
  const near = (p: string) => (isAbsolute(p) || !existsSync(join(dirname(file), p)) ? p : join(dirname(file), p));
  const axes = Object.entries(spec.set).map(([path, v]) => {
    try {
      return { path, values: valuesOf(v, file, path) };
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      throw errorAt(input, ['set', path], e.detail);
    }
  });
  if (axes.length === 0) throw errorAt(input, ['set'], 'names no parameter to sweep');
  if (spec.frames !== undefined) checkScenarioFlag('frames', `${file}: frames`, spec.frames);
  return { scenario: near(spec.scenario), platform: spec.platform !== undefined ? near(spec.platform) : undefined, seed: spec.seed, frames: spec.frames, axes };
}

/** The top-level mapping of a YAML file (empty when it is not a mapping), to tell a scenario from a platform; InputErrors as for any input file. */
export function yamlFileFields(path: string): Record<string, unknown> {
  const data = parseYaml(path, readInputFile(path)).data;
  return typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : {};
}
