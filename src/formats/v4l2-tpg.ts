import { kerr } from '../lib/index.ts';
import {
  V4L2_COLORSPACE_JPEG,
  V4L2_COLORSPACE_REC709,
  V4L2_COLORSPACE_SRGB,
  V4L2_PIX_FMT_ABGR32,
  V4L2_PIX_FMT_NV12,
  V4L2_PIX_FMT_NV21,
  V4L2_PIX_FMT_RGB24,
  V4L2_PIX_FMT_RGB565,
  V4L2_PIX_FMT_UYVY,
  V4L2_PIX_FMT_XBGR32,
  V4L2_PIX_FMT_YUV420,
  V4L2_PIX_FMT_YUYV,
} from '../uapi/index.ts';
import { FONT_VGA_8X16 } from './font-vga8x16.ts';

/*
 * The kernel's test-pattern generator (drivers/media/common/v4l2-tpg), the
 * part vivid's webcam draws with its default controls: a colour-bar
 * pattern computed in 12-bit R'G'B' (0..0xff0), turned into the format's
 * encoding with the TPG's own fixed-point matrices, packed two pixels at a
 * time (so packed 4:2:2 and subsampled chroma average each pixel pair the
 * way the TPG does), and 8x16 text printed over it. No scaling, cropping,
 * movement, flips, fields or brightness/contrast/hue changes: vivid does
 * none of those at its defaults.
 */

/** Colours of the TPG's table (enum tpg_color), in the table's order. */
export const TPG_COLOR_CSC_WHITE = 0;
export const TPG_COLOR_75_YELLOW = 8;
export const TPG_COLOR_75_CYAN = 9;
export const TPG_COLOR_75_GREEN = 10;
export const TPG_COLOR_75_MAGENTA = 11;
export const TPG_COLOR_75_RED = 12;
export const TPG_COLOR_75_BLUE = 13;
export const TPG_COLOR_100_WHITE = 14;
export const TPG_COLOR_100_BLACK = 21;

/** sRGB 8-bit values of each colour (tpg_colors): the CSC set at 191/50, 75% and 100% bars. */
const TPG_COLORS: readonly (readonly [number, number, number])[] = [
  [191, 191, 191], [191, 191, 50], [50, 191, 191], [50, 191, 50], [191, 50, 191], [191, 50, 50], [50, 50, 191], [50, 50, 50],
  [191, 191, 0], [0, 191, 191], [0, 191, 0], [191, 0, 191], [191, 0, 0], [0, 0, 191],
  [255, 255, 255], [255, 255, 0], [0, 255, 255], [0, 255, 0], [255, 0, 255], [255, 0, 0], [0, 0, 255], [0, 0, 0],
];

/** The patterns modelled (tpg_pattern_strings' first two): eight vertical bars, ITU-R 75% or 100%. */
export type TpgPattern = '75% Colorbar' | '100% Colorbar';

/** Bar colours left to right for each pattern (the TPG's bars table). */
const BARS: Record<TpgPattern, readonly number[]> = {
  '75% Colorbar': [TPG_COLOR_CSC_WHITE, TPG_COLOR_75_YELLOW, TPG_COLOR_75_CYAN, TPG_COLOR_75_GREEN, TPG_COLOR_75_MAGENTA, TPG_COLOR_75_RED, TPG_COLOR_75_BLUE, TPG_COLOR_100_BLACK],
  '100% Colorbar': [14, 15, 16, 17, 18, 19, 20, 21],
};

/** Y'CbCr encodings the TPG can produce here (V4L2_YCBCR_ENC_601 / _709). */
export type TpgYcbcrEnc = '601' | '709';
/** Quantization ranges (V4L2_QUANTIZATION_FULL_RANGE / _LIM_RANGE). */
export type TpgQuantization = 'full' | 'limited';

type ColorEnc = 'rgb' | 'ycbcr';

/** What the TPG knows of one pixel format (tpg_s_fourcc): planes, bytes per pixel pair, subsampling, packing. */
interface FormatInfo {
  enc: ColorEnc;
  /** Bytes of two pixels in each plane (twopixelsize). */
  twopix: readonly number[];
  hdiv: readonly number[];
  vdiv: readonly number[];
  /** Plane widths rounded down to even pixels (hmask ~1). */
  evenMask: readonly boolean[];
  /** Writes colour `c` as pixel 0 or 1 of a pair into the per-plane pair buffers (gen_twopix). */
  pack(buf: readonly Uint8Array[], c: ArrayLike<number>, odd: boolean): void;
}

/** Packed 4:2:2: luma at `y` (+2 for the odd pixel); chroma at `u`/`v`, the odd pixel's averaged into the even's. */
function packed422(y: number, u: number, v: number) {
  return (buf: readonly Uint8Array[], c: ArrayLike<number>, odd: boolean): void => {
    const b = buf[0]!;
    b[y + (odd ? 2 : 0)] = c[0]!;
    b[u] = odd ? (b[u]! + c[1]!) >> 1 : c[1]!;
    b[v] = odd ? (b[v]! + c[2]!) >> 1 : c[2]!;
  };
}

/** Semi-planar 4:2:0: luma pair in plane 0, the averaged CbCr (or CrCb) pair in plane 1. */
function semiPlanar(uFirst: boolean) {
  return (buf: readonly Uint8Array[], c: ArrayLike<number>, odd: boolean): void => {
    buf[0]![odd ? 1 : 0] = c[0]!;
    const uv = buf[1]!;
    const [a, b] = uFirst ? [c[1]!, c[2]!] : [c[2]!, c[1]!];
    uv[0] = odd ? (uv[0]! + a) >> 1 : a;
    uv[1] = odd ? (uv[1]! + b) >> 1 : b;
  };
}

const FORMATS = new Map<number, FormatInfo>([
  [V4L2_PIX_FMT_YUYV, { enc: 'ycbcr', twopix: [4], hdiv: [1], vdiv: [1], evenMask: [true], pack: packed422(0, 1, 3) }],
  [V4L2_PIX_FMT_UYVY, { enc: 'ycbcr', twopix: [4], hdiv: [1], vdiv: [1], evenMask: [true], pack: packed422(1, 0, 2) }],
  [V4L2_PIX_FMT_NV12, { enc: 'ycbcr', twopix: [2, 2], hdiv: [1, 1], vdiv: [1, 2], evenMask: [false, true], pack: semiPlanar(true) }],
  [V4L2_PIX_FMT_NV21, { enc: 'ycbcr', twopix: [2, 2], hdiv: [1, 1], vdiv: [1, 2], evenMask: [false, true], pack: semiPlanar(false) }],
  [
    V4L2_PIX_FMT_YUV420,
    {
      enc: 'ycbcr',
      twopix: [2, 2, 2],
      hdiv: [1, 2, 2],
      vdiv: [1, 2, 2],
      evenMask: [false, false, false],
      pack: (buf, c, odd) => {
        buf[0]![odd ? 1 : 0] = c[0]!;
        for (const p of [1, 2]) {
          const b = buf[p]!;
          b[0] = odd ? (b[0]! + c[p]!) >> 1 : c[p]!;
          if (odd) b[1] = b[0]!;
        }
      },
    },
  ],
  [
    V4L2_PIX_FMT_RGB24,
    {
      enc: 'rgb',
      twopix: [6],
      hdiv: [1],
      vdiv: [1],
      evenMask: [false],
      pack: (buf, c, odd) => buf[0]!.set([c[0]!, c[1]!, c[2]!], odd ? 3 : 0),
    },
  ],
  [
    V4L2_PIX_FMT_RGB565,
    {
      enc: 'rgb',
      twopix: [4],
      hdiv: [1],
      vdiv: [1],
      evenMask: [false],
      // little-endian 5:6:5; the byte stores drop the bits that do not fit, as the u8 stores do
      pack: (buf, c, odd) => buf[0]!.set([((c[1]! << 5) | c[2]!) & 0xff, ((c[0]! << 3) | (c[1]! >> 3)) & 0xff], odd ? 2 : 0),
    },
  ],
  [V4L2_PIX_FMT_XBGR32, { enc: 'rgb', twopix: [8], hdiv: [1], vdiv: [1], evenMask: [false], pack: (buf, c, odd) => buf[0]!.set([c[2]!, c[1]!, c[0]!, 0], odd ? 4 : 0) }],
  // the alpha control is 0 at vivid's default, so ARGB's alpha byte is too
  [V4L2_PIX_FMT_ABGR32, { enc: 'rgb', twopix: [8], hdiv: [1], vdiv: [1], evenMask: [false], pack: (buf, c, odd) => buf[0]!.set([c[2]!, c[1]!, c[0]!, 0], odd ? 4 : 0) }],
]);

/** Whether the TPG here draws pixel format `pixelformat` (a V4L2 fourcc). */
export function tpgSupports(pixelformat: number): boolean {
  return FORMATS.has(pixelformat);
}

/** Fixed-point matrix entry: `v` scaled to range `r`, 8 fractional bits (the TPG's COEFF). */
function coeff(v: number, r: number): number {
  return Math.trunc(0.5 + v * r * 256);
}

/**
 * The R'G'B' to Y'CbCr matrix of an encoding, rows Y', Cb, Cr, at the
 * four-decimal weights the TPG uses, scaled to the quantization's range
 * (219 and 224 limited, 255 full).
 */
function matrix(rows: readonly (readonly number[])[], full: boolean): number[][] {
  return rows.map((row, k) => row.map((v) => coeff(v, full ? 255 : k === 0 ? 219 : 224)));
}

const BT601 = [[0.299, 0.587, 0.114], [-0.1687, -0.3313, 0.5], [0.5, -0.4187, -0.0813]] as const;
const REC709 = [[0.2126, 0.7152, 0.0722], [-0.1146, -0.3854, 0.5], [0.5, -0.4542, -0.0458]] as const;

const MATRICES: Record<TpgYcbcrEnc, Record<TpgQuantization, number[][]>> = {
  '601': { limited: matrix(BT601, false), full: matrix(BT601, true) },
  '709': { limited: matrix(REC709, false), full: matrix(REC709, true) },
};

/**
 * Converts 12-bit R'G'B' (0..0xff0) to 12-bit Y'CbCr with the TPG's
 * integer matrices (color_to_ycbcr / rgb2ycbcr): products summed, shifted
 * down 16 bits (an arithmetic shift, so negatives round down), offset by
 * 16 (limited) and 128 in 12-bit units.
 */
export function tpgRgbToYcbcr(r: number, g: number, b: number, enc: TpgYcbcrEnc, q: TpgQuantization): [number, number, number] {
  const m = MATRICES[enc][q];
  const yOff = q === 'full' ? 0 : 16;
  const row = (k: number) => (m[k]![0]! * r + m[k]![1]! * g + m[k]![2]! * b) >> 16;
  return [row(0) + (yOff << 4), row(1) + (128 << 4), row(2) + (128 << 4)];
}

/** Y'CbCr encoding a colorspace implies (V4L2_MAP_YCBCR_ENC_DEFAULT), for the two colorspaces families modelled. */
export function tpgDefaultYcbcrEnc(colorspace: number): TpgYcbcrEnc {
  return colorspace === V4L2_COLORSPACE_REC709 ? '709' : '601';
}

/** Quantization a colorspace implies (V4L2_MAP_QUANTIZATION_DEFAULT): full for R'G'B' and JPEG, limited for other Y'CbCr. */
export function tpgDefaultQuantization(rgb: boolean, colorspace: number): TpgQuantization {
  return rgb || colorspace === V4L2_COLORSPACE_JPEG ? 'full' : 'limited';
}

/** What a TPG draws: the format and frame, the pattern and how colour is encoded. */
export interface TpgConfig {
  /** V4L2 pixel format (a fourcc the TPG here supports). */
  pixelformat: number;
  width: number;
  height: number;
  /** Bytes per line of plane 0 (at least the format's minimum); the other planes follow it. */
  bytesperline?: number;
  /** Default the 75% colour bars, vivid's default test pattern. */
  pattern?: TpgPattern;
  /** V4L2 colorspace; default sRGB (vivid's Colorspace control default). */
  colorspace?: number;
  /** Default from the colorspace. */
  ycbcrEnc?: TpgYcbcrEnc;
  /** Default from the colorspace and whether the format is R'G'B'. */
  quantization?: TpgQuantization;
}

/** One plane of the frame: where it starts, its line length and its line count. */
export interface TpgPlane {
  offset: number;
  bytesperline: number;
  lines: number;
}

/**
 * A test-pattern generator for one format (struct tpg_data after
 * tpg_init, tpg_s_fourcc and tpg_reset_source): the pattern frame is built
 * once (tpg_precalculate_colors and _line, then tpg_fill_plane_buffer for
 * every line) and copied into each buffer; text is printed over it per
 * frame (tpg_gen_text). Planes lie one after another in one buffer.
 */
export class Tpg {
  readonly width: number;
  readonly height: number;
  readonly pixelformat: number;
  readonly planes: readonly TpgPlane[];
  /** Bytes of the whole frame, every plane (tpg_calc_plane_size summed). */
  readonly size: number;
  readonly ycbcrEnc: TpgYcbcrEnc;
  readonly quantization: TpgQuantization;
  private readonly info: FormatInfo;
  private readonly pattern: TpgPattern;
  /** Encoded colours, by tpg_color index (tpg->colors). */
  private readonly colors: number[][] = [];
  private readonly frame: Uint8Array;
  /** Text foreground and background pixel pairs per plane (tpg->textfg, textbg). */
  private readonly textfg: Uint8Array[];
  private readonly textbg: Uint8Array[];

  constructor(cfg: TpgConfig) {
    const info = FORMATS.get(cfg.pixelformat);
    if (!info) throw kerr('EINVAL', `tpg: pixel format 0x${cfg.pixelformat.toString(16)} not drawn`);
    const { width, height } = cfg;
    if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 2 && height >= 1)) throw kerr('EINVAL', `tpg: frame ${width}x${height}`);
    this.info = info;
    this.width = width;
    this.height = height;
    this.pixelformat = cfg.pixelformat;
    this.pattern = cfg.pattern ?? '75% Colorbar';
    const colorspace = cfg.colorspace ?? V4L2_COLORSPACE_SRGB;
    this.ycbcrEnc = cfg.ycbcrEnc ?? tpgDefaultYcbcrEnc(colorspace);
    this.quantization = cfg.quantization ?? tpgDefaultQuantization(info.enc === 'rgb', colorspace);
    const minBpl = Math.trunc((width * info.twopix[0]!) / 2);
    const bpl0 = cfg.bytesperline ?? minBpl;
    if (bpl0 < minBpl) throw kerr('EINVAL', `tpg: bytesperline ${bpl0} < ${minBpl}`);
    let offset = 0;
    this.planes = info.twopix.map((tp, p) => {
      // the chroma planes' lines follow plane 0's (tpg_s_bytesperline)
      const bpl = p === 0 ? bpl0 : Math.trunc((bpl0 * tp) / (info.twopix[0]! * info.hdiv[p]!));
      const plane = { offset, bytesperline: bpl, lines: Math.trunc(height / info.vdiv[p]!) };
      offset += Math.trunc((bpl * height) / info.vdiv[p]!);
      return plane;
    });
    this.size = offset;
    for (let k = 0; k < TPG_COLORS.length; k++) this.colors.push(this.precalculateColor(k));
    const textColor = (k: number) => this.pair(k, k);
    // the 75% bars print in the CSC white; every other pattern in 100% white, on black
    this.textfg = textColor(this.pattern === '75% Colorbar' ? TPG_COLOR_CSC_WHITE : TPG_COLOR_100_WHITE);
    this.textbg = textColor(TPG_COLOR_100_BLACK);
    this.frame = new Uint8Array(this.size);
    this.fillPattern();
  }

  /** The encoded components of colour `k` (Y', Cb, Cr or R', G', B', at the format's depth). */
  color(k: number): readonly number[] {
    const c = this.colors[k];
    if (!c) throw kerr('EINVAL', `tpg: no colour ${k}`);
    return c;
  }

  /** Colour `k` in the format's encoding (precalculate_color at default brightness, contrast, saturation and hue). */
  private precalculateColor(k: number): number[] {
    const [r8, g8, b8] = TPG_COLORS[k]!;
    const [r, g, b] = [r8 << 4, g8 << 4, b8 << 4];
    if (this.info.enc === 'ycbcr') {
      let [y, cb, cr] = tpgRgbToYcbcr(r, g, b, this.ycbcrEnc, this.quantization).map((v) => v >> 4) as [number, number, number];
      // limited range stays inside 16..235/240; full range still keeps 0 and 255 free
      const [lo, yHi, cHi] = this.quantization === 'limited' ? [16, 235, 240] : [1, 254, 254];
      y = Math.min(yHi, Math.max(lo, y));
      cb = Math.min(cHi, Math.max(lo, cb));
      cr = Math.min(cHi, Math.max(lo, cr));
      return [y, cb, cr];
    }
    let [rr, gg, bb] = [r, g, b];
    if (this.quantization === 'limited') [rr, gg, bb] = [rr, gg, bb].map((v) => Math.trunc((v * 219) / 255) + (16 << 4)) as [number, number, number];
    if (this.pixelformat === V4L2_PIX_FMT_RGB565) return [rr >> 7, gg >> 6, bb >> 7];
    return [rr >> 4, gg >> 4, bb >> 4];
  }

  /** Packs colours `a` then `b` as one pixel pair, a buffer per plane (two gen_twopix calls). */
  private pair(a: number, b: number, buf?: Uint8Array[]): Uint8Array[] {
    const out = buf ?? this.info.twopix.map(() => new Uint8Array(8));
    this.info.pack(out, this.colors[a]!, false);
    this.info.pack(out, this.colors[b]!, true);
    return out;
  }

  /** The bar colour at pixel `x` (tpg_get_color for the colour-bar patterns): bar (8x / width) mod 8. */
  barColor(x: number): number {
    return BARS[this.pattern][Math.trunc((x * 8) / this.width) % 8]!;
  }

  /** Byte offset of pixel `x` in plane `p`'s line (tpg_hdiv). */
  private hdivBytes(p: number, x: number): number {
    let px = Math.trunc(x / this.info.hdiv[p]!);
    if (this.info.evenMask[p]) px &= ~1;
    return Math.trunc((px * this.info.twopix[p]!) / 2);
  }

  /**
   * Builds the pattern frame: one line per plane from pixel pairs
   * (tpg_precalculate_line), copied into every line of the plane, a
   * subsampled plane taking every other frame line (tpg_fill_plane_buffer).
   */
  private fillPattern(): void {
    const { info, width } = this;
    const lines = info.twopix.map((_tp, p) => new Uint8Array(this.hdivBytes(p, width + 2) + 8));
    const pix = info.twopix.map(() => new Uint8Array(8));
    for (let x = 0; x < width; x += 2) {
      this.pair(this.barColor(x), this.barColor(x + 1), pix);
      for (let p = 0; p < lines.length; p++) {
        lines[p]!.set(pix[p]!.subarray(0, info.twopix[p]! / info.hdiv[p]!), this.hdivBytes(p, x));
      }
    }
    for (let p = 0; p < this.planes.length; p++) {
      const { offset, bytesperline } = this.planes[p]!;
      const line = lines[p]!.subarray(0, this.hdivBytes(p, width));
      const rows = Math.ceil(this.height / info.vdiv[p]!);
      for (let row = 0; row < rows; row++) {
        const at = offset + row * bytesperline;
        // an odd height's last subsampled line has no room in the plane (its size rounds down)
        if (at + line.length > this.size) break;
        this.frame.set(line, at);
      }
    }
  }

  /** Writes the pattern frame into `dst` (tpg_fillbuffer for every plane). */
  fill(dst: Uint8Array): void {
    if (dst.length < this.size) throw kerr('EINVAL', `tpg: buffer of ${dst.length} bytes < ${this.size}`);
    dst.set(this.frame);
  }

  /** Returns the pattern frame as a new array. */
  patternFrame(): Uint8Array {
    return this.frame.slice();
  }

  /**
   * Prints `text` (ASCII) with its top-left corner at pixel (`x`, `y`) in
   * the VGA 8x16 font (tpg_gen_text): nothing when the first character would
   * not fit, the text cut to the characters that fit the width. Each set
   * font bit draws the foreground pixel, each clear bit the background,
   * a pixel being the first half of the format's text pixel pair in each
   * plane (so packed 4:2:2 text repeats the first chroma sample); a
   * horizontally subsampled plane takes every other font column, a
   * vertically subsampled one every other font row.
   */
  genText(dst: Uint8Array, y: number, x: number, text: string): void {
    const { info } = this;
    if (y + 16 >= this.height || x + 8 >= this.width) return;
    const len = Math.min(text.length, Math.trunc((this.width - x) / 8));
    for (let p = 0; p < this.planes.length; p++) {
      const { offset, bytesperline } = this.planes[p]!;
      const size = info.twopix[p]! / 2;
      const hdiv = info.hdiv[p]!;
      const vdiv = info.vdiv[p]!;
      const fg = this.textfg[p]!.subarray(0, size);
      const bg = this.textbg[p]!.subarray(0, size);
      const cols = 8 / hdiv;
      for (let row = 0; row < 16; row += vdiv) {
        let at = offset + Math.trunc((y + row) / vdiv) * bytesperline + Math.trunc(x / hdiv) * size;
        for (let s = 0; s < len; s++) {
          const code = text.charCodeAt(s);
          // the kernel indexes the font with a signed char: codes past 127 read whatever lies before it; a blank cell here
          const bits = code < 0x80 ? FONT_VGA_8X16[code * 16 + row]! : 0;
          for (let c = 0; c < cols; c++, at += size) {
            const px = (bits << (c * hdiv)) & 0x80 ? fg : bg;
            for (let b = 0; b < size; b++) dst[at + b] = px[b]!;
          }
        }
      }
    }
  }
}
