import jpegjs from 'jpeg-js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameFormat, jpegDecode, jpegDecodePicture, jpegEncode, jpegFrameHeader, jpegMaxSize, psnr, syntheticPhoto, TestPattern, type FrameFormat } from '../../src/formats/index.ts';
import { KernelError } from '../../src/lib/index.ts';

function encode(raw: Uint8Array, fmt: FrameFormat): Uint8Array {
  const out = new Uint8Array(jpegMaxSize(fmt));
  return out.slice(0, jpegEncode(raw, fmt, out));
}

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof KernelError) return e.code;
    throw e;
  }
  return undefined;
}

describe('baseline JPEG codec', () => {
  it.each([
    ['YUYV', 64, 48, 0x21, 32],
    ['NV12', 62, 46, 0x22, 32],
    ['XR24', 40, 30, 0x11, 28],
  ] as const)('%s %dx%d: a JFIF file (sampling %s) that decodes back within the stated PSNR, noise and photo alike', (fourcc, w, h, sampling, minDb) => {
    const fmt = frameFormat(w, h, fourcc);
    for (const raw of [new TestPattern(fmt, 3).frame(1), syntheticPhoto(fmt, 3, 1)]) {
      const bits = encode(raw, fmt);
      expect([...bits.subarray(0, 2), ...bits.subarray(6, 11)]).toEqual([0xff, 0xd8, 0x4a, 0x46, 0x49, 0x46, 0]); // SOI, APP0 "JFIF\0"
      expect([...bits.subarray(-2)]).toEqual([0xff, 0xd9]);
      const hdr = jpegFrameHeader(bits, bits.length);
      expect([hdr.width, hdr.height, (hdr.comps[0]!.h << 4) | hdr.comps[0]!.v, hdr.comps.length]).toEqual([w, h, sampling, 3]);
      const back = new Uint8Array(fmt.size);
      expect(jpegDecode(bits, bits.length, fmt, back)).toBe(fmt.size);
      expect(psnr(raw, back, fmt)).toBeGreaterThanOrEqual(minDb);
    }
  });

  it('the sensor\'s noise, the hardest picture, fits the sizeimage and keeps the stage check\'s PSNR at every layout and size', () => {
    for (const [fourcc, minDb] of [['YUYV', 32], ['NV12', 32], ['XR24', 28]] as const) {
      for (const [w, h] of [[16, 16], [34, 18], [64, 48], [320, 240]]) {
        const fmt = frameFormat(w, h, fourcc);
        for (let seed = 0; seed < 4; seed++) {
          const raw = new TestPattern(fmt, seed).frame(seed);
          const bits = encode(raw, fmt); // ENOSPC if it did not fit
          const back = new Uint8Array(fmt.size);
          jpegDecode(bits, bits.length, fmt, back);
          expect(psnr(raw, back, fmt)).toBeGreaterThanOrEqual(minDb);
        }
      }
    }
  });

  it('a photo compresses tenfold and comes back above 40 dB', () => {
    const fmt = frameFormat(320, 240, 'YUYV');
    const raw = syntheticPhoto(fmt, 1, 0);
    const bits = encode(raw, fmt);
    expect(bits.length).toBeLessThan(fmt.size / 10);
    const back = new Uint8Array(fmt.size);
    jpegDecode(bits, bits.length, fmt, back);
    expect(psnr(raw, back, fmt)).toBeGreaterThan(40);
  });

  it('decodes what an independent decoder (jpeg-js) decodes from the same file, within the IDCT rounding of one level', () => {
    const fmt = frameFormat(96, 64, 'YUYV');
    const bits = encode(new TestPattern(fmt, 5).frame(0), fmt);
    const pic = jpegDecodePicture(bits, bits.length);
    const other = jpegjs.decode(bits, { useTArray: true, colorTransform: false, formatAsRGBA: false });
    let worst = 0;
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 96; x++) {
        pic.comps.forEach((c, i) => {
          const mine = c.plane[y * c.stride + ((x * c.h) / pic.hmax | 0)]!;
          worst = Math.max(worst, Math.abs(mine - other.data[(y * 96 + x) * 3 + i]!));
        });
      }
    }
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('refuses what a baseline decoder does not take, and a buffer too small for the file', () => {
    const fmt = frameFormat(32, 16, 'YUYV');
    const bits = encode(syntheticPhoto(fmt, 1, 0), fmt);
    const out = new Uint8Array(fmt.size);
    expect(code(() => jpegDecode(bits.subarray(2), bits.length - 2, fmt, out))).toBe('EINVAL'); // no SOI
    const sof = bits.findIndex((b, i) => b === 0xff && bits[i + 1] === 0xc0);
    const progressive = bits.slice();
    progressive[sof + 1] = 0xc2;
    expect(code(() => jpegDecode(progressive, progressive.length, fmt, out))).toBe('EINVAL');
    expect(code(() => jpegDecode(bits, bits.length, frameFormat(32, 18, 'YUYV'), new Uint8Array(32 * 18 * 2)))).toBe('EINVAL'); // another picture size
    expect(code(() => jpegEncode(syntheticPhoto(fmt, 1, 0), fmt, new Uint8Array(bits.length - 10)))).toBe('ENOSPC');
  });
});

describe('baseline JPEG decoder on damaged files', () => {
  it('a file with any bytes changed or cut decodes or fails with EINVAL, never with another error', () => {
    const fmt = frameFormat(48, 32, 'YUYV');
    const good = encode(syntheticPhoto(fmt, 2, 0), fmt);
    const out = new Uint8Array(fmt.size);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(good.length - 1), fc.nat(255)), { minLength: 1, maxLength: 8 }), fc.nat(good.length), (edits, cut) => {
        const bad = good.slice(0, Math.max(2, cut));
        for (const [at, v] of edits) if (at < bad.length) bad[at] = v;
        const c = code(() => jpegDecode(bad, bad.length, fmt, out));
        expect(c === undefined || c === 'EINVAL').toBe(true);
      }),
      { numRuns: 400, seed: 7 },
    );
  });
});
