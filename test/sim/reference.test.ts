import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { referenceFiles, platformReference, scenarioReference } from '../../scripts/reference.ts';
import { PLATFORM_DRIVERS } from '../../src/drivers/index.ts';
import { BANDWIDTH_PATTERN, platformJsonSchema, scenarioJsonSchema, SIZE_PATTERN } from '../../src/sim/json-schema.ts';
import { STAGES } from '../../src/sim/pipeline/stage-table.ts';
import { parsePlatform, parseScenario } from '../../src/sim/index.ts';
import { parseBandwidth, parseSize } from '../../src/sim/units-schema.ts';
import { invertPlatformDriver } from './fixtures/invert-device.ts';
import { invertDescriptor } from './fixtures/invert-stage.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** The committed JSON Schema files, compiled by a real JSON Schema validator as an editor would use them. */
function validators(): Record<'platform' | 'scenario', ValidateFunction> {
  const ajv = new Ajv({ strict: true, allErrors: true });
  return {
    platform: ajv.compile(JSON.parse(read('schemas/platform.schema.json'))),
    scenario: ajv.compile(JSON.parse(read('schemas/scenario.schema.json'))),
  };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const BUILTIN = (['platform', 'scenario'] as const).flatMap((kind) =>
  readdirSync(join(ROOT, 'examples', `${kind}s`))
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => ({ kind, file: `examples/${kind}s/${f}` })),
);

describe('the reference (docs/*.md, schemas/*.schema.json)', () => {
  it.each(Object.keys(referenceFiles()))('%s is what `npm run docs` writes from the schemas today', (path) => {
    expect(read(path), `${path} is stale: run npm run docs`).toBe(referenceFiles()[path]);
  });

  it('names every field of both schemas, with its meaning, and every device kind and stage with its description', () => {
    const docs = { platform: read('docs/platform.md'), scenario: read('docs/scenario.md') };
    const walk = (s: Record<string, unknown>, kind: keyof typeof docs): void => {
      for (const [k, f] of Object.entries((s.properties ?? {}) as Record<string, Record<string, unknown>>)) {
        expect(docs[kind]).toContain(`| \`${k}\` |`);
        expect(f.description, `${kind} field ${k} has no description`).toMatch(/\w/);
        walk(f, kind);
        if (f.items) walk(f.items as Record<string, unknown>, kind);
        for (const v of (f.items as { oneOf?: Record<string, unknown>[] } | undefined)?.oneOf ?? []) walk(v, kind);
      }
    };
    walk(platformJsonSchema(), 'platform');
    walk(scenarioJsonSchema(), 'scenario');
    for (const d of PLATFORM_DRIVERS) expect(docs.platform).toContain(`| \`${d.kind}\` | ${d.probe ? `\`${d.name}\`` : 'none binds it'} | ${d.description} |`);
    for (const d of STAGES) expect(docs.scenario).toMatch(new RegExp(`^\\| \`${d.name}\` \\|.*\\| ${escape(d.description)} \\|`, 'm'));
    expect(docs.platform).toMatch(/\| `vmalloc` \| size \| bytes \| `240MiB` \| — \| /);
    expect(docs.platform).toMatch(/\| `bandwidth` \| bandwidth \| bytes\/s \| `4GB\/s` \| — \| /);
    expect(docs.platform).toMatch(/\| `walkNs` \| number \| ns \| `150` \| 0 to 1000000000 \| /);
    expect(docs.scenario).toMatch(/\| `frames` \| integer \| {2}\| `60` \| 1 to 100000 \| /);
  });

  it("documents a device kind's and a stage's own fields, from their table rows", () => {
    const stage = { ...invertDescriptor, schema: { passes: z.number().int().min(1).max(3).default(1).describe('invert: how many times it inverts.') } };
    const platform = platformReference([...PLATFORM_DRIVERS, invertPlatformDriver]);
    expect(platform).toMatch(/\| `inverter` \| `unimem-invert` \| inverter: a 2D engine .* \| \[`lanes`\]\(#devices-kind-inverter\) \|/);
    expect(platform).toMatch(/### `devices\[\]` kind `inverter`[^#]*\| `lanes` \| integer \| {2}\| `1` \| 1 to 8 \|/);
    const scenario = scenarioReference([...STAGES, stage]);
    expect(scenario).toMatch(/\| `invert` \| `inverter` device \| filter \| inverter: takes any frame.* \| `passes` \|/);
    expect(scenario).toMatch(/### `processes\[\]` stage `invert`[^#]*\| `passes` \| integer \| {2}\| `1` \| 1 to 3 \| invert: how many times it inverts\. \|/);
  });
});

describe('the JSON Schemas, checked by ajv as an editor checks a file', () => {
  const v = validators();

  it.each(BUILTIN)('$file names its schema on its first line and is valid against it', ({ kind, file }) => {
    const text = read(file);
    expect(text.split('\n')[0]).toBe(`# yaml-language-server: $schema=../../schemas/${kind}.schema.json`);
    expect(v[kind](parse(text)), JSON.stringify(v[kind].errors)).toBe(true);
  });

  it.each([
    ['platform', 'examples/platforms/armv7-mobile.yaml', 'dmaMaskBits:', 'dmaMaskBit:', 'dmaMaskBit'],
    ['platform', 'examples/platforms/armv7-mobile.yaml', 'cma:', 'cmma:', 'cmma'],
    ['scenario', 'examples/scenarios/camera-preview.yaml', 'frames:', 'frame:', 'frame'],
    ['scenario', 'examples/scenarios/missing-sync.yaml', 'sync: false', 'synch: false', 'synch'],
  ] as const)('rejects a misspelled field in %s file %s (%s -> %s), as the simulator does', (kind, file, from, to, field) => {
    const text = read(file);
    expect(text).toContain(from);
    const bad = text.replace(from, to);
    expect(v[kind](parse(bad))).toBe(false);
    expect(v[kind].errors).toContainEqual(expect.objectContaining({ keyword: 'additionalProperties', params: { additionalProperty: field } }));
    const own = kind === 'platform' ? () => parsePlatform(file, bad) : () => parseScenario(file, bad);
    expect(own).toThrow(new RegExp(`${field}`));
  });

  it('rejects what the simulator rejects: a value out of its limits, a unit in the wrong field, an unknown kind or stage', () => {
    const scenario = parse(read('examples/scenarios/camera-preview.yaml'));
    expect(v.scenario({ ...scenario, frames: 0 })).toBe(false);
    expect(v.scenario({ ...scenario, processes: [{ name: 'x', stage: 'teleport' }] })).toBe(false);
    const platform = parse(read('examples/platforms/armv7-mobile.yaml'));
    const device = platform.devices[0];
    expect(v.platform({ ...platform, devices: [{ ...device, maxSegmentSize: '64KiB' }] })).toBe(true);
    expect(v.platform({ ...platform, devices: [{ ...device, maxSegmentSize: '1GB/s' }] })).toBe(false);
    expect(v.platform({ ...platform, devices: [{ ...device, bandwidth: '1.6GB/s' }] })).toBe(true);
    expect(v.platform({ ...platform, devices: [{ ...device, bandwidth: '64MiB' }] })).toBe(false);
    expect(v.platform({ ...platform, devices: [{ ...device, kind: 'toaster' }] })).toBe(false);
  });
});

describe('the unit patterns of the JSON Schemas', () => {
  const sizes = ['4096', '4K', '4k', '4KB', '4KiB', '4kib', '64MiB', '64 MiB', ' 2G ', '2GB', '1TiB', '1T', '512B', '0x1000', '0X1F', '1.5KiB', '64MB/s', 'MiB', '4Kb/s', '4KiBs', '1TB', '-4K', '0x', 'auto', '4 K i B'];
  const bandwidths = ['800MB/s', '1.6GB/s', '1GiB/s', '2gb/s', '100B/s', '5 kB/s', '1TB/s', '1MiB/s', '1ib/s', '1GB', '64MiB', 'fast', '1G/s', '1GB/S'];

  it('take a size string exactly when parseSize does (but for fractions of a byte, which the simulator rejects)', () => {
    for (const s of sizes) expect(new RegExp(SIZE_PATTERN).test(s), s).toBe(parseSize(s) !== undefined);
    expect(new RegExp(SIZE_PATTERN).test('1.5')).toBe(true);
    expect(parseSize('1.5')).toBeUndefined();
  });

  it('take a bandwidth string exactly when parseBandwidth does', () => {
    for (const s of bandwidths) expect(new RegExp(BANDWIDTH_PATTERN).test(s), s).toBe(parseBandwidth(s) !== undefined);
  });
});
