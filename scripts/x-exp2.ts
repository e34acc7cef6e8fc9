import { Ajv } from 'ajv';
import { readFileSync, readdirSync } from 'node:fs';
import { parse } from 'yaml';
import { platformJsonSchema, scenarioJsonSchema } from '../src/sim/json-schema.ts';
const ajv = new Ajv({ strict: true, allErrors: true });
const vp = ajv.compile(platformJsonSchema());
const vs = ajv.compile(scenarioJsonSchema());
for (const [dir, v] of [['platforms', vp], ['scenarios', vs]] as const) for (const f of readdirSync(`examples/${dir}`)) {
  const ok = v(parse(readFileSync(`examples/${dir}/${f}`, 'utf8')));
  console.log(f, ok, ok ? '' : JSON.stringify(v.errors).slice(0, 500));
}
