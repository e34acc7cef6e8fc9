import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameFormat, TestPattern, type FrameFormat } from '../../src/formats/index.ts';
import { jpegDecodePicture, jpegDecodePicturePlain } from '../../src/formats/jpeg-decode.ts';
import { jpegEncode, jpegEncodePlain, jpegMaxSize } from '../../src/formats/jpeg-encode.ts';
import { syntheticPhoto } from '../../src/formats/photo.ts';
import { KernelError } from '../../src/lib/index.ts';
import { expectBytes } from '../util/bytes.ts';

/*
 * The JPEG codec's WebAssembly kernels (wasm/jpeg.ts) against the plain
 * code in jpeg-encode.ts and jpeg-decode.ts, byte for byte: every layout,
 * sizes that fill no whole MCU (odd widths and heights, one pixel),
 * pictures from flat to noise (every run length and magnitude category
 * the Huffman coder has, 0xff bytes to stuff), buffers cut short at every
 * point of the scan, and damaged files for the decoder.
 */

const FOURCCS = ['YUYV', 'NV12', 'XR24'] as const;

/** A frame of `fmt` from a mix of flat areas, ramps and noise (an xorshift from `seed`). */
function frame(fmt: FrameFormat, seed: number, kind: number): Uint8Array {
  let s = seed | 1;
  const rand = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s & 0xff;
  };
  const raw = new Uint8Array(fmt.size);
  for (let i = 0; i < raw.length; i++) {
    const area = (i >> (4 + (kind & 3))) % 3;
    raw[i] = kind === 4 ? rand() : area === 0 ? 128 : area === 1 ? (i * 7) & 0xff : rand();
  }
  return raw;
}

/** The two results alike: the same file (compared fast, with the first differing offset) or the same errno. */
function expectSame(a: Uint8Array | string, b: Uint8Array | string): void {
  if (typeof a === 'string' || typeof b === 'string') expect(a).toEqual(b);
  else expectBytes(a, b);
}

/** A picture of any layout and size up to 70x40 (YUYV and NV12 carry chroma for pixel pairs: an even width), from flat to noise. */
const pictureArb = fc
  .record({ fourcc: fc.constantFrom(...FOURCCS), w: fc.integer({ min: 1, max: 70 }), h: fc.integer({ min: 1, max: 40 }), seed: fc.integer(), kind: fc.integer({ min: 0, max: 4 }) })
  .map(({ fourcc, w, h, seed, kind }) => {
    const fmt = frameFormat(fourcc === 'XR24' ? w : w + (w & 1), h, fourcc);
    return { fmt, raw: frame(fmt, seed, kind) };
  });

/** Both encoders' results: the file, or the errno they refused with. */
function both(raw: Uint8Array, fmt: FrameFormat, cap: number): [Uint8Array | string, Uint8Array | string] {
  const run = (encode: typeof jpegEncode): Uint8Array | string => {
    const out = new Uint8Array(cap);
    try {
      return out.slice(0, encode(raw, fmt, out));
    } catch (e) {
      if (e instanceof KernelError) return e.code;
      throw e;
    }
  };
  return [run(jpegEncode), run(jpegEncodePlain)];
}

describe('JPEG encoder: the WebAssembly scan writes what the plain one writes', () => {
  it('on random pictures of every layout and size, whole and with the buffer cut short', () => {
    fc.assert(
      fc.property(
        pictureArb,
        fc.double({ min: 0, max: 1, noNaN: true }),
        ({ fmt, raw }, cut) => {
          const full = jpegMaxSize(fmt);
          const [wasm, plain] = both(raw, fmt, full);
          expect(typeof plain).not.toBe('string');
          expectSame(wasm, plain);
          // too small somewhere in the scan (or its end): both refuse with ENOSPC
          const short = Math.floor(((plain as Uint8Array).length - 1) * cut);
          const [a, b] = both(raw, fmt, short);
          expectSame(a, b);
        },
      ),
      { numRuns: 150 },
    );
  });

  it.each(FOURCCS)('%s: the sensor pattern and the synthetic photo at 640x360', (fourcc) => {
    const fmt = frameFormat(640, 360, fourcc);
    for (const raw of [new TestPattern(fmt, 1).frame(3), syntheticPhoto(fmt, 1, 2)]) {
      const [wasm, plain] = both(raw, fmt, jpegMaxSize(fmt));
      expectSame(wasm, plain);
    }
  });
});

/** A decoder's outcome: each component's samples, or the errno it refused with. */
function decoded(decode: typeof jpegDecodePicture, bits: Uint8Array): Uint8Array[] | string {
  try {
    return decode(bits, bits.length).comps.map((c) => c.plane);
  } catch (e) {
    if (e instanceof KernelError) return e.code;
    throw e;
  }
}

function expectSameDecode(bits: Uint8Array): void {
  const a = decoded(jpegDecodePicture, bits);
  const b = decoded(jpegDecodePicturePlain, bits);
  if (typeof a === 'string' || typeof b === 'string') {
    expect(a).toEqual(b);
    return;
  }
  expect(a.length).toBe(b.length);
  a.forEach((plane, i) => expectBytes(plane, b[i]!));
}

describe('JPEG decoder: the WebAssembly inverse DCTs give the samples the plain ones give', () => {
  it('on random pictures of every layout and size, and on the same files damaged', () => {
    fc.assert(
      fc.property(
        pictureArb,
        fc.array(fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), value: fc.nat(255) }), { maxLength: 4 }),
        fc.double({ min: 0.5, max: 1, noNaN: true }),
        ({ fmt, raw }, edits, keep) => {
          const out = new Uint8Array(jpegMaxSize(fmt));
          const bits = out.slice(0, jpegEncode(raw, fmt, out));
          expectSameDecode(bits);
          // bytes changed, then the file cut: the same samples or the same refusal
          const bad = bits.slice(0, Math.max(4, Math.floor(bits.length * keep)));
          for (const e of edits) bad[Math.floor(e.at * (bad.length - 1))] = e.value;
          expectSameDecode(bad);
        },
      ),
      { numRuns: 150 },
    );
  });

  it.each(FOURCCS)('%s: the sensor pattern and the synthetic photo at 640x360', (fourcc) => {
    const fmt = frameFormat(640, 360, fourcc);
    for (const raw of [new TestPattern(fmt, 1).frame(3), syntheticPhoto(fmt, 1, 2)]) {
      const out = new Uint8Array(jpegMaxSize(fmt));
      expectSameDecode(out.slice(0, jpegEncode(raw, fmt, out)));
    }
  });
});
