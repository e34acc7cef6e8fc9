import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { averageBytes } from '../../src/formats/index.ts';
import { KernelBug } from '../../src/lib/index.ts';
import { averageReference } from '../../src/sim/reference/blend.ts';

/** `bytes` copied to `offset` bytes into a fresh buffer. */
function at(bytes: Uint8Array, offset: number): Uint8Array {
  const buf = new Uint8Array(offset + bytes.length);
  buf.set(bytes, offset);
  return buf.subarray(offset);
}

describe('the blend unit\'s average', () => {
  it('averageBytes equals the per-byte floor average of the reference for random arrays, any length, 4-byte aligned offsets, in place too', () => {
    fc.assert(
      fc.property(
        fc.nat(300).chain((len) => fc.tuple(fc.uint8Array({ minLength: len, maxLength: len }), fc.uint8Array({ minLength: len, maxLength: len }))),
        fc.constantFrom(0, 4, 8),
        ([a, b], offset) => {
          const want = new Uint8Array(a.length);
          averageReference(a, b, want);
          const out = at(new Uint8Array(a.length), offset);
          averageBytes(at(a, offset), at(b, 4 - (offset % 8)), out, a.length);
          expect(Buffer.compare(out, want)).toBe(0);
          const inPlace = at(a, offset);
          averageBytes(inPlace, b, inPlace, a.length);
          expect(Buffer.compare(inPlace, want)).toBe(0);
        },
      ),
    );
  });

  it('averageReference is floor((a + b) / 2) of every byte for any offsets (its word path and its byte path), in place too', () => {
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

  it('a view not 4-byte aligned, or a length past an array, is a KernelBug', () => {
    const buf = new Uint8Array(16);
    expect(() => averageBytes(buf.subarray(1), buf, buf, 8)).toThrow(KernelBug);
    expect(() => averageBytes(buf, buf, buf, 17)).toThrow(KernelBug);
  });
});
