import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameFormat, ujpgDecode, ujpgEncode, ujpgMaxSize } from '../../src/formats/index.ts';
import { V4L2_PIX_FMT_YUYV } from '../../src/uapi/index.ts';
import { mismatches } from '../dmabuf/helpers.ts';

const W = 64;
const H = 48;
const RAW = W * H * 2;

/** Incompressible bytes (an LCG), so the coder's literal path carries the frame. */
function noise(len: number, seed: number): Uint8Array {
  const a = new Uint8Array(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    a[i] = x >>> 24;
  }
  return a;
}

function gradient(len: number): Uint8Array {
  const a = new Uint8Array(len);
  for (let i = 0; i < len; i++) a[i] = (i * 3) & 0xff;
  return a;
}

describe('UJPG bitstream', () => {
  it('round-trips any frame byte for byte; the header says what it holds; smooth frames shrink, noise grows by at most 1/128', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 3000 }), fc.integer({ min: 0, max: 4 }), (noise, runs) => {
        // mix noise with runs so both codings are exercised
        const raw = new Uint8Array(noise.length * (runs + 1));
        for (let k = 0; k <= runs; k++) raw.set(k % 2 ? noise.map((_, i) => i & 7) : noise, k * noise.length);
        const f = { width: raw.length, height: 1, fourcc: 'YUYV' as const, stride: raw.length, size: raw.length };
        const out = new Uint8Array(ujpgMaxSize(raw.length));
        const len = ujpgEncode(raw, f, V4L2_PIX_FMT_YUYV, out);
        const back = new Uint8Array(raw.length);
        expect(ujpgDecode(out, len, back)).toBe(raw.length);
        expect(mismatches(back, raw)).toBe(0);
      }),
    );
    const fmt = frameFormat(W, H, 'YUYV');
    const out = new Uint8Array(ujpgMaxSize(RAW));
    const len = ujpgEncode(gradient(RAW), fmt, V4L2_PIX_FMT_YUYV, out);
    expect(len).toBeLessThan(RAW / 20);
    expect(String.fromCharCode(...out.subarray(0, 4))).toBe('UJPG');
    const v = new DataView(out.buffer);
    expect([v.getUint8(4), v.getUint32(8, true), v.getUint32(12, true), v.getUint32(16, true), v.getUint32(20, true), v.getUint32(24, true)]).toEqual([1, V4L2_PIX_FMT_YUYV, W, H, RAW, len - 32]);
    const noisy = ujpgEncode(noise(RAW, 3), fmt, V4L2_PIX_FMT_YUYV, new Uint8Array(ujpgMaxSize(RAW)));
    expect(noisy).toBeGreaterThan(RAW);
    expect(noisy).toBeLessThanOrEqual(ujpgMaxSize(RAW));
    expect(() => ujpgEncode(noise(RAW, 3), fmt, V4L2_PIX_FMT_YUYV, new Uint8Array(RAW / 2))).toThrow(/ENOSPC/);
    out[40] ^= 0x55;
    expect(() => ujpgDecode(out, len, new Uint8Array(RAW))).toThrow(/EINVAL/);
  });
});
