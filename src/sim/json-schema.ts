import { z } from 'zod';
import { PLATFORM_DRIVERS, type PlatformDriver } from '../drivers/index.ts';
import type { StageDescriptor } from './pipeline/descriptor.ts';
import { STAGES } from './pipeline/stage-table.ts';
import { platformSchemaFor } from './platform-schema.ts';
import { scenarioSchemaFor } from './scenario-schema.ts';
import { bandwidth, MAX_BANDWIDTH, size } from './units-schema.ts';

/** A JSON Schema document (draft-07), as plain data. */
export type JsonSchema = { [keyword: string]: unknown };

/** The strings parseSize takes: bytes with an optional binary unit, or hex. */
export const SIZE_PATTERN = '^\\s*(0[xX][0-9a-fA-F]+|[0-9]+(\\.[0-9]+)?\\s*([bB]|[kKmMgG]([iI]?[bB])?|[tT]([iI][bB])?)?)\\s*$';
/** The strings parseBandwidth takes: bytes per second with an optional decimal or binary unit. */
export const BANDWIDTH_PATTERN = '^\\s*[0-9]+(\\.[0-9]+)?\\s*[kKmMgGtT]?[iI]?[bB]/[sS]\\s*$';

// A size or bandwidth is a number or a string that a transform parses: zod can
// only say "number or string", so the schema names the unit (`title`, which
// the reference reads) and gives the string's grammar.
const UNIT_SCHEMAS = new Map<z.core.$ZodType, JsonSchema>([
  [
    size,
    {
      title: 'size',
      anyOf: [
        { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'bytes' },
        { type: 'string', pattern: SIZE_PATTERN, description: 'bytes with a binary unit (4KiB, 64MiB, 2G) or hex (0x1000)' },
      ],
    },
  ],
  [
    bandwidth,
    {
      title: 'bandwidth',
      anyOf: [
        { type: 'number', exclusiveMinimum: 0, maximum: MAX_BANDWIDTH, description: 'bytes per second' },
        { type: 'string', pattern: BANDWIDTH_PATTERN, description: 'bytes per second with a unit: 800MB/s, 1.6GB/s (decimal), 1GiB/s (binary)' },
      ],
    },
  ],
]);

/**
 * The JSON Schema of a zod schema's input, the text a user writes: units
 * spelled out, and the defaults zod leaves out because a transform sits
 * under them.
 */
function inputJsonSchema(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, {
    target: 'draft-07',
    io: 'input',
    unrepresentable: 'throw',
    override: ({ zodSchema, jsonSchema }) => {
      const unit = unitOf(zodSchema);
      const out = jsonSchema as JsonSchema;
      if (unit) {
        for (const k of Object.keys(out)) if (k !== 'description') delete out[k];
        Object.assign(out, structuredClone(unit));
      }
      const def = zodSchema._zod.def;
      if (def.type === 'default' && !('default' in out)) out.default = (def as unknown as { defaultValue: unknown }).defaultValue;
    },
  }) as JsonSchema;
}

/** The unit's schema when `schema` is a size or bandwidth, or a copy of one that only adds a description. */
function unitOf(schema: z.core.$ZodType): JsonSchema | undefined {
  for (let s: z.core.$ZodType | undefined = schema; s; s = s._zod.parent) {
    const unit = UNIT_SCHEMAS.get(s);
    if (unit) return unit;
  }
  return undefined;
}

/**
 * The JSON Schema of platform files whose devices are the kinds of
 * `drivers`, for editors (yaml-language-server) and validators; every
 * object is closed (additionalProperties false), as the zod schema is strict.
 */
export function platformJsonSchema(drivers: readonly PlatformDriver[] = PLATFORM_DRIVERS): JsonSchema {
  return { $schema: 'http://json-schema.org/draft-07/schema#', title: 'unimem platform', ...stripSchemaKeyword(inputJsonSchema(platformSchemaFor(drivers))) };
}

/**
 * The JSON Schema of scenario files whose processes name the stages of
 * `stages`; each stage name carries its descriptor's description.
 */
export function scenarioJsonSchema(stages: readonly StageDescriptor[] = STAGES): JsonSchema {
  const s = inputJsonSchema(scenarioSchemaFor(stages));
  const stage = (((s.properties as JsonSchema).processes as JsonSchema).items as JsonSchema & { properties: JsonSchema }).properties;
  const field = stage.stage as JsonSchema;
  stage.stage = { description: field.description, type: 'string', oneOf: stages.map((d) => ({ const: d.name, description: d.description })) };
  return { $schema: 'http://json-schema.org/draft-07/schema#', title: 'unimem scenario', ...stripSchemaKeyword(s) };
}

function stripSchemaKeyword(s: JsonSchema): JsonSchema {
  const { $schema: _, ...rest } = s;
  return rest;
}
