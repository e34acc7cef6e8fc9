import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameFormat, nv12ToNv12, nv12ToXrgb8888, yuyvToNv12, yuyvToXrgb8888, type FrameFormat } from '../../src/formats/index.ts';
import { convertReference } from '../../src/sim/reference/yuv.ts';

/** BT.601 limited range to RGB written from the formula, independently of the driver: [B, G, R, X]. */
function rgb(Y: number, U: number, V: number): number[] {
  const c = Y - 16;
  const d = U - 128;
  const e = V - 128;
  const cl = (n: number) => Math.min(255, Math.max(0, Math.floor(n / 256)));
  return [cl(298 * c + 516 * d + 128), cl(298 * c - 100 * d - 208 * e + 128), cl(298 * c + 409 * e + 128), 0xff];
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
      const ra = new Uint8Array(16);
      const rb = new Uint8Array(16);
      nv12ToXrgb8888(nv12, 2, 2, 1, a);
      yuyvToXrgb8888(yuyv, 2, 2, 1, b);
      convertReference(nv12, frameFormat(2, 2, 'NV12'), frameFormat(2, 2, 'XR24'), 1, ra);
      convertReference(yuyv, frameFormat(2, 2, 'YUYV'), frameFormat(2, 2, 'XR24'), 1, rb);
      for (const out of [a, b, ra, rb]) for (let i = 0; i < 4; i++) expect(px(out, 2, i % 2, i >> 1)).toEqual(c.bgrx);
      expect(rgb(...c.yuv)).toEqual(c.bgrx);
    });

  it('the reference equals the formula for every Y with U and V on a grid from 0 to 255 (each channel clamped at both ends)', () => {
    const uv = [...Array.from({ length: 52 }, (_, i) => 5 * i), 255];
    const w = 512;
    const inFmt = frameFormat(w, uv.length * uv.length, 'YUYV');
    // line r: U, V of grid point r; pair k carries Y0 = k, Y1 = 255 - k
    const src = new Uint8Array(inFmt.size);
    for (let r = 0; r < inFmt.height; r++)
      for (let k = 0; k < w / 2; k++) src.set([k, uv[Math.floor(r / uv.length)]!, 255 - k, uv[r % uv.length]!], r * 2 * w + 4 * k);
    const outFmt = frameFormat(w, inFmt.height, 'XR24');
    const out = new Uint8Array(outFmt.size);
    convertReference(src, inFmt, outFmt, 1, out);
    let wrong = 0;
    for (let r = 0; r < inFmt.height; r++) {
      const U = uv[Math.floor(r / uv.length)]!;
      const V = uv[r % uv.length]!;
      for (let k = 0; k < w / 2; k++) {
        const [a, b] = [rgb(k, U, V), rgb(255 - k, U, V)];
        const o = (r * w + 2 * k) * 4;
        for (let i = 0; i < 4; i++) if (out[o + i] !== a[i] || out[o + 4 + i] !== b[i]) wrong++;
      }
    }
    expect(wrong).toBe(0);
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
});

type Converter = (src: Uint8Array, sw: number, sh: number, scale: 1 | 2, dst: Uint8Array) => void;

/** Frame sizes each conversion takes: NV12 needs even sizes where it is the output (and even widths as input), YUYV even widths. */
const CONVERSIONS: { name: string; fn: Converter; from: 'YUYV' | 'NV12'; to: 'NV12' | 'XR24'; size: (scale: 1 | 2) => fc.Arbitrary<[number, number]> }[] = [
  // YUYV in: an even width; any height at scale 1, an even one at scale 2 (any output size)
  { name: 'yuyvToXrgb8888', fn: yuyvToXrgb8888, from: 'YUYV', to: 'XR24', size: (s) => fc.tuple(fc.integer({ min: 1, max: 24 }).map((k) => 2 * k), fc.integer({ min: 1, max: 12 }).map((k) => (s === 1 ? k : 2 * k))) },
  // NV12 out: output width and height even
  { name: 'yuyvToNv12', fn: yuyvToNv12, from: 'YUYV', to: 'NV12', size: (s) => fc.tuple(fc.integer({ min: 1, max: 12 }).map((k) => 2 * s * k), fc.integer({ min: 1, max: 8 }).map((k) => 2 * s * k)) },
  // NV12 in: an even width, odd heights too (chroma lines ceil(h/2)) where the output is RGB at scale 1
  { name: 'nv12ToXrgb8888', fn: nv12ToXrgb8888, from: 'NV12', to: 'XR24', size: (s) => fc.tuple(fc.integer({ min: 1, max: 24 }).map((k) => 2 * k), fc.integer({ min: 1, max: 12 }).map((k) => (s === 1 ? k : 2 * k))) },
  { name: 'nv12ToNv12', fn: nv12ToNv12, from: 'NV12', to: 'NV12', size: (s) => fc.tuple(fc.integer({ min: 1, max: 12 }).map((k) => 2 * s * k), fc.integer({ min: 1, max: 8 }).map((k) => 2 * s * k)) },
];

/** A random frame of `fmt`, placed `offset` bytes into a larger buffer (the converters must not assume offset 0). */
function frameArb(fmt: FrameFormat): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.uint8Array({ minLength: fmt.size, maxLength: fmt.size }), fc.nat(7)).map(([bytes, offset]) => {
    const buf = new Uint8Array(offset + fmt.size);
    buf.set(bytes, offset);
    return buf.subarray(offset);
  });
}

describe('the YUV converters equal the reference (property, random frames, both scales, edge sizes)', () => {
  for (const c of CONVERSIONS)
    for (const scale of [1, 2] as const)
      it(`${c.name} at 1/${scale}`, () => {
        const inputs = c.size(scale).chain(([w, h]) => {
          const inFmt = frameFormat(w, h, c.from);
          return fc.tuple(fc.constant(inFmt), frameArb(inFmt));
        });
        fc.assert(
          fc.property(inputs, ([inFmt, src]) => {
            const outFmt = frameFormat(inFmt.width / scale, inFmt.height / scale, c.to);
            const got = new Uint8Array(outFmt.size).fill(0xa5);
            const want = new Uint8Array(outFmt.size).fill(0x5a);
            c.fn(src, inFmt.width, inFmt.height, scale, got);
            convertReference(src, inFmt, outFmt, scale, want);
            expect(Buffer.compare(got, want)).toBe(0);
          }),
          { numRuns: 40 },
        );
      });

  it('the smallest frames: 2x2 (4x4 at 1/2) of every conversion, and a 1-line YUYV to RGB', () => {
    for (const c of CONVERSIONS)
      for (const scale of [1, 2] as const) {
        const inFmt = frameFormat(2 * scale, 2 * scale, c.from);
        const src = Uint8Array.from({ length: inFmt.size }, (_, i) => (i * 89 + 7) & 0xff);
        const outFmt = frameFormat(2, 2, c.to);
        const got = new Uint8Array(outFmt.size);
        const want = new Uint8Array(outFmt.size);
        c.fn(src, inFmt.width, inFmt.height, scale, got);
        convertReference(src, inFmt, outFmt, scale, want);
        expect([c.name, scale, [...got]]).toEqual([c.name, scale, [...want]]);
      }
    const line = Uint8Array.of(16, 128, 235, 128, 81, 90, 81, 240);
    const got = new Uint8Array(16);
    yuyvToXrgb8888(line, 4, 1, 1, got);
    expect([...got]).toEqual([0, 0, 0, 255, 255, 255, 255, 255, 0, 0, 255, 255, 0, 0, 255, 255]);
  });

  it('YUYV to NV12 chroma is the rounded mean of the block\'s two lines at its left pixel', () => {
    // 4x2 YUYV: line 0 chroma (U, V) = (10, 20) and (100, 200), line 1 (11, 25) and (101, 0)
    const src = Uint8Array.of(1, 10, 2, 20, 3, 100, 4, 200, 5, 11, 6, 25, 7, 101, 8, 0);
    const got = new Uint8Array(12);
    yuyvToNv12(src, 4, 2, 1, got);
    expect([...got]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 11, 23, 101, 100]);
  });
});
