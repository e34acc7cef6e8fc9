import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { averageBytesPlain } from '../../src/formats/blend-plain.ts';
import { AverageUnit, averageBytes } from '../../src/formats/index.ts';
import { KernelBug } from '../../src/lib/index.ts';
import { averageReference, averageReferencePlain } from '../../src/sim/reference/blend.ts';

/** `bytes` copied to `offset` bytes into a fresh buffer. */
function at(bytes: Uint8Array, offset: number): Uint8Array {
  const buf = new Uint8Array(offset + bytes.length);
  buf.set(bytes, offset);
  return buf.subarray(offset);
}

describe('the blend unit\'s average', () => {
  it('averageBytes (WebAssembly, 16 bytes a step) equals its plain reference for random arrays, any length and offsets, longer arrays, in place too', () => {
    fc.assert(
      fc.property(
        fc.nat(300).chain((len) => fc.tuple(fc.uint8Array({ minLength: len, maxLength: len }), fc.uint8Array({ minLength: len, maxLength: len }))),
        fc.tuple(fc.nat(7), fc.nat(7), fc.nat(7), fc.nat(40)),
        ([a, b], [oa, ob, oo, extra]) => {
          const want = new Uint8Array(a.length);
          averageBytesPlain(a, b, want, a.length);
          // the arrays run on past `len`: those bytes are neither read nor written
          const out = at(new Uint8Array(a.length + extra).fill(0x5a), oo);
          averageBytes(at(Uint8Array.of(...a, ...new Uint8Array(extra).fill(1)), oa), at(b, ob), out, a.length);
          expect(Buffer.compare(out.subarray(0, a.length), want)).toBe(0);
          expect(out.subarray(a.length).every((x) => x === 0x5a)).toBe(true);
          const inPlace = at(a, oa);
          averageBytes(inPlace, b, inPlace, a.length);
          expect(Buffer.compare(inPlace, want)).toBe(0);
        },
      ),
    );
  });

  it('averageBytes on a whole 1080p XRGB frame of random bytes equals the plain reference and the checker', () => {
    const len = 1920 * 1080 * 4;
    const [a, b] = [new Uint8Array(len), new Uint8Array(len)];
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        let s = seed | 1;
        for (let i = 0; i < len; i++) {
          s ^= s << 13;
          s ^= s >>> 17;
          s ^= s << 5;
          a[i] = s;
          b[i] = s >>> 8;
        }
        const [fast, plain, check] = [new Uint8Array(len), new Uint8Array(len), new Uint8Array(len)];
        averageBytes(a, b, fast, len);
        averageBytesPlain(a, b, plain, len);
        averageReference(a, b, check);
        expect(Buffer.compare(fast, plain)).toBe(0);
        expect(Buffer.compare(check, plain)).toBe(0);
      }),
      { numRuns: 3 },
    );
  });

  it.each([
    ['averageReference (the checker\'s WebAssembly kernel)', averageReference],
    ['averageReferencePlain (its word path and its byte path)', averageReferencePlain],
  ])('%s is floor((a + b) / 2) of every byte for any offsets, in place too', (_, averageReference) => {
    fc.assert(
      fc.property(
        fc.nat(300).chain((len) => fc.tuple(fc.uint8Array({ minLength: len, maxLength: len }), fc.uint8Array({ minLength: len, maxLength: len }))),
        fc.tuple(fc.nat(3), fc.nat(3), fc.nat(3)),
        ([a, b], [oa, ob, oo]) => {
          const want = a.map((x, i) => Math.floor((x + b[i]!) / 2));
          const out = at(new Uint8Array(a.length), oo);
          averageReference(at(a, oa), at(b, ob), out);
          expect(Buffer.compare(out, want)).toBe(0);
          const inPlace = at(a, oa);
          averageReference(inPlace, at(b, oa), inPlace);
          expect(Buffer.compare(inPlace, want)).toBe(0);
        },
      ),
    );
  });

  it('the blend unit\'s own line buffers (AverageUnit) average in place, job after job of any length, growing and shrinking', () => {
    const unit = new AverageUnit();
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(2000), fc.integer()), { minLength: 1, maxLength: 6 }), (jobs) => {
        for (const [len, seed] of jobs) {
          const { a, b } = unit.buffers(len);
          expect([a.length, b.length]).toEqual([len, len]);
          const [x, y] = [Uint8Array.from({ length: len }, (_, i) => (i * 31 + seed) & 0xff), Uint8Array.from({ length: len }, (_, i) => (i * i + (seed >> 8)) & 0xff)];
          a.set(x);
          b.set(y);
          unit.average();
          const want = new Uint8Array(len);
          averageBytesPlain(x, y, want, len);
          expect(Buffer.compare(a, want)).toBe(0);
          expect(Buffer.compare(b, y)).toBe(0);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('the extremes: 0 and 255 give 127, 255 and 255 give 255, 1 and 0 give 0 (rounding down, no borrow between bytes)', () => {
    const a = Uint8Array.of(0, 255, 1, 254, 0, 255, 1, 254, 7);
    const b = Uint8Array.of(255, 255, 0, 255, 255, 255, 0, 255, 8);
    const out = new Uint8Array(9);
    averageBytes(a, b, out, 9);
    expect([...out]).toEqual([127, 255, 0, 254, 127, 255, 0, 254, 7]);
    const ref = new Uint8Array(9);
    averageReference(a, b, ref);
    expect([...ref]).toEqual([127, 255, 0, 254, 127, 255, 0, 254, 7]);
  });

  it('a length past an array is a KernelBug; the plain reference wants 4-byte aligned views', () => {
    const buf = new Uint8Array(16);
    expect(() => averageBytes(buf, buf, buf, 17)).toThrow(KernelBug);
    expect(() => averageBytesPlain(buf.subarray(1), buf, buf, 8)).toThrow(KernelBug);
    expect(() => averageBytesPlain(buf, buf, buf, 17)).toThrow(KernelBug);
  });
});
