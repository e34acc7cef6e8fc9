import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TmpfsData } from '../../src/fs/tmpfs.ts';

const SPAN = 300_000; // a few 64 KiB blocks, and ranges that cross them

type Op = { op: 'write'; at: number; len: number; seed: number } | { op: 'zero'; at: number; len: number } | { op: 'read'; at: number; len: number };

const range = { at: fc.nat(SPAN - 1), len: fc.integer({ min: 0, max: 140_000 }) };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('write' as const), ...range, seed: fc.nat(255) }),
  fc.record({ op: fc.constant('zero' as const), ...range }),
  fc.record({ op: fc.constant('read' as const), ...range }),
);

describe('a tmpfs file’s bytes, kept in blocks made as they are written', () => {
  it('read back as one flat array of the same writes and holes would', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 25 }), (ops) => {
        const d = new TmpfsData();
        const model = new Uint8Array(SPAN + 140_000);
        for (const o of ops) {
          const end = o.at + o.len;
          if (o.op === 'write') {
            const bytes = Uint8Array.from({ length: o.len }, (_, i) => (i * 7 + o.seed) & 0xff);
            d.write(o.at, bytes);
            model.set(bytes, o.at);
          } else if (o.op === 'zero') {
            d.zero(o.at, end);
            model.fill(0, o.at, end);
          } else {
            const got = d.read(o.at, end);
            expect(got.length).toBe(o.len);
            expect(Buffer.from(got).equals(Buffer.from(model.subarray(o.at, end)))).toBe(true);
          }
        }
        expect(Buffer.from(d.read(0, model.length)).equals(Buffer.from(model))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
