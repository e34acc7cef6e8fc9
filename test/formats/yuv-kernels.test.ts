import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameFormat, nv12ToNv12, nv12ToXrgb8888, yuyvToNv12, yuyvToXrgb8888, type FrameFormat } from '../../src/formats/index.ts';
import { nv12ToNv12Plain, nv12ToXrgb8888Plain, yuyvToNv12Plain, yuyvToXrgb8888Plain } from '../../src/formats/yuv-plain.ts';
import { convertReference, convertReferencePlain } from '../../src/sim/reference/yuv.ts';

/*
 * The WebAssembly kernels (16 pixels a step, a scalar tail) against the
 * plain loops they replace, byte for byte: the ISP's, and the checker's
 * own. Sizes straddle the 16-pixel (and the checker's 8-pixel) steps, odd
 * output widths and odd heights included; inputs sit at any offset in longer arrays,
 * and outputs in longer arrays whose bytes past the frame must not change.
 */

type Convert = (src: Uint8Array, sw: number, sh: number, scale: 1 | 2, dst: Uint8Array) => void;

const ISP: { name: string; from: 'NV12' | 'YUYV'; fast: Convert; plain: Convert }[] = [
  { name: 'nv12ToXrgb8888', from: 'NV12', fast: nv12ToXrgb8888, plain: nv12ToXrgb8888Plain },
  { name: 'yuyvToXrgb8888', from: 'YUYV', fast: yuyvToXrgb8888, plain: yuyvToXrgb8888Plain },
];

/** `bytes` at `offset` in a buffer `after` bytes longer (filled with `fill`). */
function placed(bytes: Uint8Array, offset: number, after: number, fill = 0): Uint8Array {
  const buf = new Uint8Array(offset + bytes.length + after).fill(fill);
  buf.set(bytes, offset);
  return buf.subarray(offset);
}

/**
 * A source frame size for `scale`: an even width (a chroma pair per two
 * pixels, as V4L2 has it), so an odd output width at 1/2; any height, a
 * multiple of the scale.
 */
function sizeArb(scale: 1 | 2): fc.Arbitrary<[number, number]> {
  return fc.tuple(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 9 })).map(([w, h]) => [2 * w, h * scale]);
}

/** A frame of `fmt` of random bytes, at a random offset, with random bytes after it. */
function frameArb(fmt: FrameFormat): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.uint8Array({ minLength: fmt.size + 64, maxLength: fmt.size + 64 }), fc.nat(15)).map(([bytes, offset]) => placed(bytes, offset, 0));
}

/** A deterministic noise frame (xorshift) of `len` bytes. */
function noise(len: number, seed: number): Uint8Array {
  const out = new Uint8Array(len);
  let s = seed | 1;
  for (let i = 0; i < len; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s;
  }
  return out;
}

describe('the ISP\'s WebAssembly conversions equal their plain loops', () => {
  for (const c of ISP)
    for (const scale of [1, 2] as const)
      it(`${c.name} at 1/${scale}: random frames of any size, offsets and padding`, () => {
        const inputs = sizeArb(scale).chain(([w, h]) => fc.tuple(fc.constant(frameFormat(w, h, c.from)), frameArb(frameFormat(w, h, c.from)), fc.nat(15)));
        fc.assert(
          fc.property(inputs, ([inFmt, src, outOffset]) => {
            const outLen = (inFmt.width / scale) * (inFmt.height / scale) * 4;
            const want = new Uint8Array(outLen);
            c.plain(src, inFmt.width, inFmt.height, scale, want);
            const got = placed(new Uint8Array(outLen), outOffset, 32, 0xa5);
            c.fast(src, inFmt.width, inFmt.height, scale, got);
            expect(Buffer.compare(got.subarray(0, outLen), want.subarray(0, outLen))).toBe(0);
            expect(got.subarray(outLen, outLen + 32).every((x) => x === 0xa5)).toBe(true);
          }),
          { numRuns: 60 },
        );
      });

  it('whole 720p frames of noise, both formats and scales, and the extremes of every channel (all 0, all 255)', () => {
    for (const c of ISP)
      for (const scale of [1, 2] as const) {
        const fmt = frameFormat(1280, 720, c.from);
        const outLen = (1280 / scale) * (720 / scale) * 4;
        for (const src of [noise(fmt.size, 7 * scale), new Uint8Array(fmt.size), new Uint8Array(fmt.size).fill(255)]) {
          const [got, want] = [new Uint8Array(outLen), new Uint8Array(outLen)];
          c.fast(src, 1280, 720, scale, got);
          c.plain(src, 1280, 720, scale, want);
          expect([c.name, scale, Buffer.compare(got, want)]).toEqual([c.name, scale, 0]);
        }
      }
  });

  it('a source shorter than its frame, a destination shorter than the result, or a size that does not scale is an error', () => {
    const fmt = frameFormat(32, 4, 'NV12');
    expect(() => nv12ToXrgb8888(new Uint8Array(fmt.size - 1), 32, 4, 1, new Uint8Array(32 * 4 * 4))).toThrow(/needs/);
    expect(() => nv12ToXrgb8888(new Uint8Array(fmt.size), 32, 4, 1, new Uint8Array(32 * 4 * 4 - 1))).toThrow(/needs/);
    expect(() => yuyvToXrgb8888(new Uint8Array(33 * 4 * 2), 33, 4, 2, new Uint8Array(4096))).toThrow(/scale/);
  });
});

describe('the ISP\'s WebAssembly scaler to NV12 equals its plain loops', () => {
  const NV12_OUT: { name: string; from: 'NV12' | 'YUYV'; fast: Convert; plain: Convert }[] = [
    { name: 'yuyvToNv12', from: 'YUYV', fast: yuyvToNv12, plain: yuyvToNv12Plain },
    { name: 'nv12ToNv12', from: 'NV12', fast: nv12ToNv12, plain: nv12ToNv12Plain },
  ];
  for (const c of NV12_OUT)
    for (const scale of [1, 2] as const)
      it(`${c.name} at 1/${scale}: random frames with an even output size, any offsets, padding untouched`, () => {
        // NV12 out: an even output width and height, so 2*scale source pixels a step
        const size = fc.tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 6 })).map(([w, h]) => [2 * scale * w, 2 * scale * h] as const);
        const inputs = size.chain(([w, h]) => fc.tuple(fc.constant(frameFormat(w, h, c.from)), frameArb(frameFormat(w, h, c.from)), fc.nat(15)));
        fc.assert(
          fc.property(inputs, ([inFmt, src, outOffset]) => {
            const outLen = frameFormat(inFmt.width / scale, inFmt.height / scale, 'NV12').size;
            const want = new Uint8Array(outLen).fill(0xa5);
            c.plain(src, inFmt.width, inFmt.height, scale, want);
            const got = placed(new Uint8Array(outLen).fill(0xa5), outOffset, 32, 0xa5);
            c.fast(src, inFmt.width, inFmt.height, scale, got);
            expect(Buffer.compare(got.subarray(0, outLen), want)).toBe(0);
            expect(got.subarray(outLen, outLen + 32).every((x) => x === 0xa5)).toBe(true);
          }),
          { numRuns: 60 },
        );
      });

  it('whole 720p frames of noise, both scales', () => {
    for (const c of NV12_OUT)
      for (const scale of [1, 2] as const) {
        const fmt = frameFormat(1280, 720, c.from);
        const src = noise(fmt.size, 11 * scale);
        const outLen = frameFormat(1280 / scale, 720 / scale, 'NV12').size;
        const [got, want] = [new Uint8Array(outLen), new Uint8Array(outLen)];
        c.fast(src, 1280, 720, scale, got);
        c.plain(src, 1280, 720, scale, want);
        expect([c.name, scale, Buffer.compare(got, want)]).toEqual([c.name, scale, 0]);
      }
  });
});

describe('the checker\'s WebAssembly conversion (convertReference to XR24) equals its plain loop', () => {
  for (const from of ['NV12', 'YUYV'] as const)
    for (const scale of [1, 2] as const)
      it(`${from} to XR24 at 1/${scale}: random frames of any size and offset`, () => {
        const inputs = sizeArb(scale).chain(([w, h]) => fc.tuple(fc.constant(frameFormat(w, h, from)), frameArb(frameFormat(w, h, from))));
        fc.assert(
          fc.property(inputs, ([inFmt, src]) => {
            const outFmt = frameFormat(inFmt.width / scale, inFmt.height / scale, 'XR24');
            const [got, want] = [new Uint8Array(outFmt.size + 16).fill(0xa5), new Uint8Array(outFmt.size + 16).fill(0xa5)];
            convertReference(src, inFmt, outFmt, scale, got);
            convertReferencePlain(src, inFmt, outFmt, scale, want);
            expect(Buffer.compare(got, want)).toBe(0);
          }),
          { numRuns: 60 },
        );
      });

  it('whole 720p frames of noise: the checker, its plain loop and the ISP agree', () => {
    for (const from of ['NV12', 'YUYV'] as const)
      for (const scale of [1, 2] as const) {
        const inFmt = frameFormat(1280, 720, from);
        const outFmt = frameFormat(1280 / scale, 720 / scale, 'XR24');
        const src = noise(inFmt.size, 3 + scale);
        const [check, plain, isp] = [new Uint8Array(outFmt.size), new Uint8Array(outFmt.size), new Uint8Array(outFmt.size)];
        convertReference(src, inFmt, outFmt, scale, check);
        convertReferencePlain(src, inFmt, outFmt, scale, plain);
        (from === 'NV12' ? nv12ToXrgb8888 : yuyvToXrgb8888)(src, 1280, 720, scale, isp);
        expect([from, scale, Buffer.compare(check, plain), Buffer.compare(isp, plain)]).toEqual([from, scale, 0, 0]);
      }
  });
});
