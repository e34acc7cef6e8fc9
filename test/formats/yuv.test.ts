import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nv12ToNv12, nv12ToXrgb8888, yuyvToXrgb8888 } from '../../src/formats/index.ts';
import { mismatches, pattern } from '../dmabuf/helpers.ts';

/** BT.601 limited range to RGB written from the formula, independently of the driver: [B, G, R, X]. */
function rgb(Y: number, U: number, V: number): number[] {
  const c = Y - 16;
  const d = U - 128;
  const e = V - 128;
  const cl = (n: number) => Math.min(255, Math.max(0, Math.floor(n / 256)));
  return [cl(298 * c + 516 * d + 128), cl(298 * c - 100 * d - 208 * e + 128), cl(298 * c + 409 * e + 128), 0xff];
}

/** Reference: output pixel (x, y) from source pixel (x*scale, y*scale), chroma by the source layout. */
function refXrgb(src: Uint8Array, fourcc: 'NV12' | 'YUYV', sw: number, sh: number, scale: number): Uint8Array {
  const dw = sw / scale;
  const dh = sh / scale;
  const out = new Uint8Array(dw * dh * 4);
  for (let y = 0; y < dh; y++)
    for (let x = 0; x < dw; x++) {
      const sx = x * scale;
      const sy = y * scale;
      let yuv: [number, number, number];
      if (fourcc === 'NV12') {
        const c = sw * sh + Math.floor(sy / 2) * sw + Math.floor(sx / 2) * 2;
        yuv = [src[sy * sw + sx]!, src[c]!, src[c + 1]!];
      } else {
        const p = sy * sw * 2 + Math.floor(sx / 2) * 4;
        yuv = [src[sy * sw * 2 + sx * 2]!, src[p + 1]!, src[p + 3]!];
      }
      out.set(rgb(...yuv), (y * dw + x) * 4);
    }
  return out;
}

/** Reference NV12 nearest scaling. */
function refNv12(src: Uint8Array, sw: number, sh: number, scale: number): Uint8Array {
  const dw = sw / scale;
  const dh = sh / scale;
  const out = new Uint8Array(dw * dh * 1.5);
  for (let y = 0; y < dh; y++) for (let x = 0; x < dw; x++) out[y * dw + x] = src[y * scale * sw + x * scale]!;
  for (let cy = 0; cy < dh / 2; cy++)
    for (let cx = 0; cx < dw / 2; cx++)
      for (const k of [0, 1]) out[dw * dh + cy * dw + 2 * cx + k] = src[sw * sh + cy * scale * sw + cx * scale * 2 + k]!;
  return out;
}

function px(out: Uint8Array, w: number, x: number, y: number): number[] {
  const o = (y * w + x) * 4;
  return [...out.subarray(o, o + 4)];
}

describe('ISP colour conversion (pure functions): BT.601 limited range to XRGB8888 bytes B, G, R, 0xff', () => {
  // pairs of pixels sharing chroma: black+white (U=V=128), red+red, green+green, blue+blue, 4 wide x 2 high per pair
  const cases: { name: string; yuv: [number, number, number]; bgrx: number[] }[] = [
    { name: 'black Y=16', yuv: [16, 128, 128], bgrx: [0, 0, 0, 255] },
    { name: 'white Y=235', yuv: [235, 128, 128], bgrx: [255, 255, 255, 255] },
    { name: 'grey Y=128: (298*112+128)>>8 = 130', yuv: [128, 128, 128], bgrx: [130, 130, 130, 255] },
    { name: 'red (81, 90, 240)', yuv: [81, 90, 240], bgrx: [0, 0, 255, 255] },
    { name: 'green (145, 54, 34): B = (38442-38184+128)>>8 = 1', yuv: [145, 54, 34], bgrx: [1, 255, 0, 255] },
    { name: 'blue (41, 240, 110)', yuv: [41, 240, 110], bgrx: [255, 0, 0, 255] },
    { name: 'all 0: B and R clamp at 0, G = (-4768+12800+26624+128)>>8 = 135', yuv: [0, 0, 0], bgrx: [0, 135, 0, 255] },
    { name: 'all 255: B and R clamp, G = (71222-12700-26416+128)>>8 = 125', yuv: [255, 255, 255], bgrx: [255, 125, 255, 255] },
  ];
  for (const c of cases)
    it(`${c.name} -> ${c.bgrx.join(',')} from NV12 and from YUYV`, () => {
      const [Y, U, V] = c.yuv;
      const nv12 = new Uint8Array(2 * 2 * 1.5).fill(Y);
      nv12.set([U, V], 4);
      const yuyv = Uint8Array.of(Y, U, Y, V, Y, U, Y, V);
      const a = new Uint8Array(16);
      const b = new Uint8Array(16);
      nv12ToXrgb8888(nv12, 2, 2, 1, a);
      yuyvToXrgb8888(yuyv, 2, 2, 1, b);
      for (let i = 0; i < 4; i++) {
        expect(px(a, 2, i % 2, i >> 1)).toEqual(c.bgrx);
        expect(px(b, 2, i % 2, i >> 1)).toEqual(c.bgrx);
      }
    });

  it('NV12 chroma is nearest per 2x2 block; YUYV chroma per pixel pair; luma per pixel', () => {
    // 4x4 NV12: left blocks neutral, right blocks red; luma 16 / 235 alternating per column
    const nv12 = new Uint8Array(4 * 4 * 1.5);
    for (let y = 0; y < 4; y++) nv12.set([16, 235, 81, 81], y * 4);
    for (let cy = 0; cy < 2; cy++) nv12.set([128, 128, 90, 240], 16 + cy * 4);
    const out = new Uint8Array(4 * 4 * 4);
    nv12ToXrgb8888(nv12, 4, 4, 1, out);
    for (let y = 0; y < 4; y++) {
      expect(px(out, 4, 0, y)).toEqual([0, 0, 0, 255]);
      expect(px(out, 4, 1, y)).toEqual([255, 255, 255, 255]);
      expect(px(out, 4, 2, y)).toEqual([0, 0, 255, 255]);
      expect(px(out, 4, 3, y)).toEqual([0, 0, 255, 255]);
    }
    // scale 2: pixel (1, 0) is source (2, 0): red
    const half = new Uint8Array(2 * 2 * 4);
    nv12ToXrgb8888(nv12, 4, 4, 2, half);
    expect([px(half, 2, 0, 0), px(half, 2, 1, 1)]).toEqual([
      [0, 0, 0, 255],
      [0, 0, 255, 255],
    ]);
    // YUYV at scale 2 keeps source pixels 0 and 2: the first of each pair, with that pair's chroma
    const yuyv = Uint8Array.of(235, 128, 16, 128, 81, 90, 16, 240);
    const y2 = new Uint8Array(4 * 2 * 4);
    yuyvToXrgb8888(Uint8Array.from([...yuyv, ...yuyv]), 4, 2, 2, y2);
    expect([px(y2, 2, 0, 0), px(y2, 2, 1, 0)]).toEqual([
      [255, 255, 255, 255],
      [0, 0, 255, 255],
    ]);
  });

  it('property: every converter equals the pixel-by-pixel reference for random frames, sizes and scales', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.constantFrom(1 as const, 2 as const), fc.integer(), (w4, h4, scale, seed) => {
        const w = w4 * 4;
        const h = h4 * 4;
        const nv12 = pattern(w * h * 1.5, seed & 0xffff);
        const yuyv = pattern(w * h * 2, (seed >>> 16) & 0xffff).map((b, i) => (b * 7 + i * 13) & 0xff);
        const dw = w / scale;
        const dh = h / scale;
        const out = new Uint8Array(dw * dh * 4);
        nv12ToXrgb8888(nv12, w, h, scale, out);
        expect(mismatches(out, refXrgb(nv12, 'NV12', w, h, scale))).toBe(0);
        yuyvToXrgb8888(yuyv, w, h, scale, out);
        expect(mismatches(out, refXrgb(yuyv, 'YUYV', w, h, scale))).toBe(0);
        const nv = new Uint8Array(dw * dh * 1.5);
        nv12ToNv12(nv12, w, h, scale, nv);
        expect(mismatches(nv, refNv12(nv12, w, h, scale))).toBe(0);
      }),
      { numRuns: 60 },
    );
  });
});
