import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError, loadPlatform, parseScenario } from '../../src/sim/index.ts';
import { checkScenarioOnPlatform } from '../../src/sim/scenario.ts';

const STAGES = ['capture', 'decode', 'render', 'convert', 'compose', 'cpu', 'display', 'usb-display', 'encode', 'jpeg-decode', 'audio', 'bogus'];
/** A value for a field: right or wrong type, in or out of range. */
const value = fc.oneof(fc.integer({ min: -5, max: 70000 }), fc.constantFrom('XR24', 'NV12', 'YUYV', 'ABCD', 'system', 'display', 'nope', 'true'), fc.boolean(), fc.constant(null));
const field = fc.constantFrom('name', 'stage', 'heap', 'buffers', 'fourcc', 'scale', 'sync', 'rows', 'gop', 'rate', 'channels', 'periodFrames', 'periods', 'colour');
const processLine = fc.record({
  name: fc.constantFrom('a', 'b', 'c', 'cam', 'disp', '9bad'),
  stage: fc.constantFrom(...STAGES),
  extra: fc.array(fc.tuple(field, value), { maxLength: 3 }),
});

function yamlValue(v: unknown): string {
  return v === null ? 'null' : typeof v === 'string' ? v : String(v);
}

type ProcessLine = typeof processLine extends fc.Arbitrary<infer T> ? T : never;

function text(procs: ProcessLine[] | null, fourcc: string, width: number, kill: string | null): string {
  const lines = ['name: fuzz', `format: { width: ${width}, height: 48, fourcc: ${fourcc} }`, 'frames: 2'];
  if (procs) {
    lines.push('processes:');
    for (const p of procs) {
      const extra = p.extra.filter(([k]) => k !== 'name' && k !== 'stage').map(([k, v]) => `, ${k}: ${yamlValue(v)}`).join('');
      lines.push(`  - { name: ${p.name}, stage: ${p.stage}${extra} }`);
    }
  }
  if (kill) lines.push(`kill: { process: ${kill}, afterFrames: 1 }`);
  return lines.join('\n') + '\n';
}

describe('process pipeline files, any content', () => {
  it('either load and fit the platform, or fail with an InputError that names the line, column and field -- never anything else', () => {
    const p = loadPlatform('armv7-mobile');
    fc.assert(
      fc.property(
        fc.option(fc.array(processLine, { minLength: 0, maxLength: 5 }), { nil: null }),
        fc.constantFrom('XR24', 'NV12', 'YUYV', 'RGB3'),
        fc.constantFrom(64, 63, 0, 20000),
        fc.option(fc.constantFrom('a', 'cam', 'zzz'), { nil: null }),
        (procs, fourcc, width, kill) => {
          const t = text(procs, fourcc, width, kill);
          try {
            const spec = parseScenario('fuzz.yaml', t);
            checkScenarioOnPlatform({ spec, file: 'fuzz.yaml', text: t }, p);
            // What loads is a real pipeline: a process list in which every stage is one the runner knows.
            expect(spec.processes!.length).toBeGreaterThan(0);
          } catch (e) {
            if (!(e instanceof InputError)) throw e;
            expect(e.file).toBe('fuzz.yaml');
            expect(e.line).toBeGreaterThanOrEqual(1);
            expect(e.col).toBeGreaterThanOrEqual(1);
            expect(e.message).toMatch(/^fuzz\.yaml:\d+:\d+: /);
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
