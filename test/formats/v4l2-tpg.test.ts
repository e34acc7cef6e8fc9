import { describe, expect, it } from 'vitest';
import { FONT_VGA_8X16, Tpg, tpgRgbToYcbcr } from '../../src/formats/index.ts';
import {
  V4L2_COLORSPACE_REC709,
  V4L2_PIX_FMT_NV12,
  V4L2_PIX_FMT_RGB24,
  V4L2_PIX_FMT_UYVY,
  V4L2_PIX_FMT_XBGR32,
  V4L2_PIX_FMT_YUV420,
  V4L2_PIX_FMT_YUYV,
} from '../../src/uapi/index.ts';

/** The 75% bars left to right in 8-bit sRGB: the first is the TPG's 191-grey white, the last 100% black. */
const BARS_75: [number, number, number][] = [
  [191, 191, 191], [191, 191, 0], [0, 191, 191], [0, 191, 0], [191, 0, 191], [191, 0, 0], [0, 0, 191], [0, 0, 0],
];

/**
 * BT.601 limited-range Y'CbCr of 8-bit R'G'B' in floating point, the
 * textbook way (Y' = 16 + 219 E'y, Cb = 128 + 224 (E'b - E'y) / 1.772, ...),
 * with E' = value / 256, the full scale of the TPG's 12-bit components.
 */
function bt601(r: number, g: number, b: number): [number, number, number] {
  const [er, eg, eb] = [r / 256, g / 256, b / 256];
  const ey = 0.299 * er + 0.587 * eg + 0.114 * eb;
  return [16 + 219 * ey, 128 + (224 * (eb - ey)) / 1.772, 128 + (224 * (er - ey)) / 1.402];
}

describe('the test-pattern generator\'s colours', () => {
  it('the 75% bars in YUYV are BT.601 limited range, each component the formula\'s value rounded down (fixed-point truncation)', () => {
    const tpg = new Tpg({ pixelformat: V4L2_PIX_FMT_YUYV, width: 640, height: 8 });
    const f = tpg.patternFrame();
    const got = BARS_75.map((_c, i) => {
      const at = i * 80 * 2; // bar i starts at pixel 80 i: Y0 Cb Y1 Cr
      return [f[at]!, f[at + 1]!, f[at + 3]!];
    });
    expect(got).toEqual([[179, 128, 128], [160, 44, 141], [130, 156, 44], [111, 72, 58], [83, 183, 197], [64, 99, 211], [34, 211, 114], [16, 128, 128]]);
    for (let i = 0; i < 8; i++) {
      const want = bt601(...BARS_75[i]!);
      for (let c = 0; c < 3; c++) {
        expect(got[i]![c]!).toBeLessThanOrEqual(want[c]! + 1e-9);
        expect(got[i]![c]!).toBeGreaterThan(want[c]! - 1.01);
      }
    }
    // every line is the same
    for (let y = 1; y < 8; y++) expect(Buffer.compare(f.subarray(y * 1280, (y + 1) * 1280), f.subarray(0, 1280))).toBe(0);
  });

  it('Rec. 709 colorspace gives Rec. 709 coefficients; R\'G\'B\' formats keep the 8-bit sRGB values at full range', () => {
    const t709 = new Tpg({ pixelformat: V4L2_PIX_FMT_YUYV, width: 16, height: 2, colorspace: V4L2_COLORSPACE_REC709 });
    expect(t709.ycbcrEnc).toBe('709');
    const y709 = 16 + 219 * (0.2126 * 191 + 0.7152 * 191) / 256;
    expect(t709.patternFrame()[2 * 2]).toBe(Math.floor(y709)); // pixel 2: the yellow bar
    const rgb = new Tpg({ pixelformat: V4L2_PIX_FMT_RGB24, width: 16, height: 1 });
    expect(rgb.quantization).toBe('full');
    expect([...rgb.patternFrame().subarray(0, 6)]).toEqual([191, 191, 191, 191, 191, 191]);
    const xr = new Tpg({ pixelformat: V4L2_PIX_FMT_XBGR32, width: 16, height: 1, quantization: 'limited' });
    // pixel 2 is the yellow bar; limited R'G'B' maps 191 to 191 * 219 / 255 + 16 = 180 and 0 to 16; blue first, then green, red, a zero X byte
    expect([...xr.patternFrame().subarray(2 * 4, 3 * 4)]).toEqual([16, 180, 180, 0]);
  });

  it('tpgRgbToYcbcr works in 12-bit units: black and white land on the range\'s ends less the truncation', () => {
    expect(tpgRgbToYcbcr(0, 0, 0, '601', 'limited')).toEqual([256, 2048, 2048]);
    expect(tpgRgbToYcbcr(0xff0, 0xff0, 0xff0, '601', 'full').map((v) => v >> 4)).toEqual([254, 128, 128]);
  });
});

describe('the test-pattern generator\'s bars', () => {
  it('bar i covers pixels x with floor(8x / width) = i, odd widths included (RGB24: every pixel its own colour)', () => {
    for (const w of [13, 17, 21, 99]) {
      const f = new Tpg({ pixelformat: V4L2_PIX_FMT_RGB24, width: w, height: 1 }).patternFrame();
      expect(f.length).toBe(w * 3);
      for (let x = 0; x < w; x++) expect([...f.subarray(3 * x, 3 * x + 3)]).toEqual(BARS_75[Math.floor((8 * x) / w)]);
    }
  });

  it('packed 4:2:2 averages the chroma of a pixel pair that straddles two bars; UYVY is YUYV with the bytes swapped in pairs', () => {
    // width 20: pixel 2 is bar 0 (16/20), pixel 3 bar 1 (24/20): the pair (2, 3) mixes white and yellow
    const yuyv = new Tpg({ pixelformat: V4L2_PIX_FMT_YUYV, width: 20, height: 1 }).patternFrame();
    expect([...yuyv.subarray(4, 8)]).toEqual([179, (128 + 44) >> 1, 160, (128 + 141) >> 1]);
    const uyvy = new Tpg({ pixelformat: V4L2_PIX_FMT_UYVY, width: 20, height: 1 }).patternFrame();
    for (let i = 0; i < yuyv.length; i += 2) expect([uyvy[i + 1], uyvy[i]]).toEqual([yuyv[i], yuyv[i + 1]]);
  });

  it('NV12 and YUV420 put luma first, then chroma at half height (pairs averaged); their sizes are the planes\' sum', () => {
    const nv12 = new Tpg({ pixelformat: V4L2_PIX_FMT_NV12, width: 16, height: 4 });
    expect(nv12.planes).toEqual([{ offset: 0, bytesperline: 16, lines: 4 }, { offset: 64, bytesperline: 16, lines: 2 }]);
    const f = nv12.patternFrame();
    expect(f.length).toBe(96);
    expect([...f.subarray(0, 4)]).toEqual([179, 179, 160, 160]);
    expect([...f.subarray(64, 68)]).toEqual([128, 128, 44, 141]);
    expect(Buffer.compare(f.subarray(80, 96), f.subarray(64, 80))).toBe(0);
    const i420 = new Tpg({ pixelformat: V4L2_PIX_FMT_YUV420, width: 16, height: 4 });
    expect(i420.planes.map((p) => [p.offset, p.bytesperline, p.lines])).toEqual([[0, 16, 4], [64, 8, 2], [80, 8, 2]]);
    const g = i420.patternFrame();
    expect([g[64], g[65], g[80], g[81]]).toEqual([128, 44, 128, 141]);
  });
});

describe('the test-pattern generator\'s text', () => {
  const glyph = (c: string, row: number) => FONT_VGA_8X16[c.charCodeAt(0) * 16 + row]!;

  it('the font is the VGA 8x16 one: 0 is the dotted oval, A a peaked arch, space blank', () => {
    expect([...FONT_VGA_8X16.subarray(0x30 * 16, 0x31 * 16)]).toEqual([0, 0, 0x38, 0x6c, 0xc6, 0xc6, 0xd6, 0xd6, 0xc6, 0xc6, 0x6c, 0x38, 0, 0, 0, 0]);
    expect(glyph('A', 2)).toBe(0x10);
    expect(FONT_VGA_8X16.subarray(0x20 * 16, 0x21 * 16).every((b) => b === 0)).toBe(true);
  });

  it('YUYV text: set font bits are the 75% white, clear ones black, every pixel Y then Cb (the pair\'s first half)', () => {
    const tpg = new Tpg({ pixelformat: V4L2_PIX_FMT_YUYV, width: 64, height: 48 });
    const f = tpg.patternFrame();
    tpg.genText(f, 16, 8, 'A0');
    for (let row = 0; row < 16; row++) {
      for (let ch = 0; ch < 2; ch++) {
        const bits = glyph('A0'[ch]!, row);
        for (let col = 0; col < 8; col++) {
          const at = (16 + row) * 128 + (8 + ch * 8 + col) * 2;
          expect(f[at]).toBe(bits & (0x80 >> col) ? 179 : 16);
          expect(f[at + 1]).toBe(128);
        }
      }
    }
    // the pixels around the text keep the bars
    const bars = tpg.patternFrame();
    expect(Buffer.compare(f.subarray(15 * 128, 16 * 128), bars.subarray(15 * 128, 16 * 128))).toBe(0);
    expect(Buffer.compare(f.subarray((16 * 128) + 24 * 2, 17 * 128), bars.subarray((16 * 128) + 24 * 2, 17 * 128))).toBe(0);
  });

  it('text is cut to the characters that fit; none is drawn when the first would touch the right or bottom edge', () => {
    const tpg = new Tpg({ pixelformat: V4L2_PIX_FMT_RGB24, width: 40, height: 40 });
    const bars = tpg.patternFrame();
    const f = bars.slice();
    tpg.genText(f, 0, 16, 'WXYZ');
    // (40 - 16) / 8 = 3 characters: pixels 16..39 changed in some row, nothing else past row 16
    expect(Buffer.compare(f.subarray(16 * 120), bars.subarray(16 * 120))).toBe(0);
    const g = bars.slice();
    tpg.genText(g, 0, 32, 'W');
    tpg.genText(g, 24, 0, 'W');
    expect(Buffer.compare(g, bars)).toBe(0);
  });

  it('a subsampled chroma plane takes every other font row and, in YUV420, every other column', () => {
    const tpg = new Tpg({ pixelformat: V4L2_PIX_FMT_YUV420, width: 32, height: 40 });
    const f = tpg.patternFrame();
    tpg.genText(f, 16, 8, 'M');
    // luma follows the glyph; text chroma is 128 (grey) wherever the glyph's cell is, in plane 1 rows 8..15, columns 4..7
    for (let row = 0; row < 16; row++) for (let col = 0; col < 8; col++) expect(f[(16 + row) * 32 + 8 + col]).toBe(glyph('M', row) & (0x80 >> col) ? 179 : 16);
    const cb = tpg.planes[1]!;
    for (let r = 8; r < 16; r++) expect([...f.subarray(cb.offset + r * 16 + 4, cb.offset + r * 16 + 8)]).toEqual([128, 128, 128, 128]);
  });

  it('an unknown pixel format or a frame smaller than a pixel pair is EINVAL', () => {
    expect(() => new Tpg({ pixelformat: 0x12345678, width: 16, height: 16 })).toThrow(/EINVAL|pixel format/);
    expect(() => new Tpg({ pixelformat: V4L2_PIX_FMT_YUYV, width: 1, height: 16 })).toThrow();
    expect(() => new Tpg({ pixelformat: V4L2_PIX_FMT_YUYV, width: 16, height: 16, bytesperline: 8 })).toThrow();
  });
});
