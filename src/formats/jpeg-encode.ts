import { kerr } from '../lib/index.ts';
import { nextRegion, wasmHeap, wasmKernels } from './kernels.ts';
import type { FrameFormat } from './pixel-format.ts';

/**
 * DOC: the JPEG block's encoder — baseline JPEG (ITU-T T.81, sequential
 * DCT, Huffman coded, 8-bit) in a JFIF file, as a hardware JPEG encoder
 * writes it: SOI, APP0 'JFIF' 1.01, the two quantization tables (T.81
 * Annex K.1 scaled to JPEG_QUALITY the way IJG's libjpeg scales them),
 * SOF0, the four Huffman tables of Annex K.3, SOS, the entropy-coded
 * scan, EOI. One scan, no restart markers.
 *
 * The frame's Y'CbCr samples are coded as they are, without a range
 * change (what hardware encoders fed YUYV or NV12 do): YUYV becomes a
 * 4:2:2 JPEG (luma 2x1, MCU 16x8), NV12 a 4:2:0 JPEG (luma 2x2, MCU
 * 16x16). XBGR32 is converted to JFIF's full-range BT.601 Y'CbCr and
 * coded 4:4:4. Edges that do not fill an MCU repeat the last column
 * and row.
 */

/** The encoder's fixed quality (IJG scale, 1..100): what the hardware's quality register is set to. */
export const JPEG_QUALITY = 90;

/** T.81 Annex K.1: luminance and chrominance quantization tables, natural (row-major) order. */
const K1_LUMA = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49,
  64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const K1_CHROMA = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

/** Zigzag position k -> natural index (T.81 Figure 5). */
export const ZIGZAG = Uint8Array.from([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31,
  39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
]);

/** T.81 Annex K.3: the typical Huffman tables, as BITS (codes of each length 1..16) and HUFFVAL. */
const DC_LUMA_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_CHROMA_BITS = [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
const DC_VALS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const AC_LUMA_BITS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
const AC_LUMA_VALS = [
  0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24,
  0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53,
  0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93,
  0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9,
  0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
];
const AC_CHROMA_BITS = [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
const AC_CHROMA_VALS = [
  0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0, 0x15,
  0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a,
  0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a,
  0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
  0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
];

/** A Huffman table: its DHT contents and, per symbol, the code and its length (T.81 Annex C). */
interface Huffman {
  bits: readonly number[];
  vals: readonly number[];
  code: Uint16Array;
  size: Uint8Array;
}

function huffman(bits: readonly number[], vals: readonly number[]): Huffman {
  const code = new Uint16Array(256);
  const size = new Uint8Array(256);
  let c = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < bits[len - 1]!; i++) {
      code[vals[k]!] = c++;
      size[vals[k++]!] = len;
    }
    c <<= 1;
  }
  return { bits, vals, code, size };
}

const DC_LUMA = huffman(DC_LUMA_BITS, DC_VALS);
const DC_CHROMA = huffman(DC_CHROMA_BITS, DC_VALS);
const AC_LUMA = huffman(AC_LUMA_BITS, AC_LUMA_VALS);
const AC_CHROMA = huffman(AC_CHROMA_BITS, AC_CHROMA_VALS);

/** A K.1 table scaled to `quality` as IJG's jpeg_quality_scaling and jpeg_add_quant_table do (baseline: 1..255). */
function scaledTable(base: readonly number[], quality: number): Uint8Array {
  const q = Math.min(100, Math.max(1, quality));
  const s = q < 50 ? Math.floor(5000 / q) : 200 - 2 * q;
  return Uint8Array.from(base, (t) => Math.min(255, Math.max(1, Math.floor((t * s + 50) / 100))));
}

const Q_LUMA = scaledTable(K1_LUMA, JPEG_QUALITY);
const Q_CHROMA = scaledTable(K1_CHROMA, JPEG_QUALITY);

/** AAN scale factors: the float DCT below gives coefficient (u,v) times 8 * AAN[u] * AAN[v]. */
const AAN = [1, 1.387039845, 1.306562965, 1.175875602, 1, 0.785694958, 0.5411961, 0.275899379];

/** Per natural index, the multiplier that turns the AAN DCT's output into the quantized coefficient. */
function divisors(q: Uint8Array): Float32Array {
  const d = new Float32Array(64);
  for (let i = 0; i < 64; i++) d[i] = 1 / (q[i]! * AAN[i >> 3]! * AAN[i & 7]! * 8);
  return d;
}

const DIV_LUMA = divisors(Q_LUMA);
const DIV_CHROMA = divisors(Q_CHROMA);

/** The sampling of each layout: luma blocks per MCU across and down (chroma always one block). */
function sampling(fourcc: FrameFormat['fourcc']): { h: number; v: number } {
  return fourcc === 'YUYV' ? { h: 2, v: 1 } : fourcc === 'NV12' ? { h: 2, v: 2 } : { h: 1, v: 1 };
}

/** The bytes of every marker segment before the scan, and EOI. */
const HEADER_BYTES = 2 + 18 + (4 + 2 * 65) + (2 + 17) + (4 + 4 * 17 + 2 * 12 + 2 * 162) + (2 + 12) + 2;

/**
 * The encoder's CAPTURE sizeimage for a frame of `fmt`: the headers plus
 * one byte for every sample of the MCU-padded picture at the file's
 * sampling (2 a pixel for 4:2:2, 1.5 for 4:2:0, 3 for 4:4:4), the size of
 * the picture stored uncompressed, which a JPEG has no reason to exceed.
 * At JPEG_QUALITY a photo takes a twentieth of it and the sensor's noise
 * pattern, the hardest picture, three quarters (up to nine tenths for
 * frames of a few MCUs); a picture whose file would not fit fails the job
 * with ENOSPC, as a hardware encoder's buffer-overflow interrupt does.
 */
export function jpegMaxSize(fmt: FrameFormat): number {
  const { h, v } = sampling(fmt.fourcc);
  const mcus = Math.ceil(fmt.width / (8 * h)) * Math.ceil(fmt.height / (8 * v));
  return HEADER_BYTES + mcus * (h * v + 2) * 64;
}

/** The smallest JFIF file: its headers and an empty scan (the least a decoder's OUTPUT buffer must hold). */
export const JPEG_MIN_SIZE = HEADER_BYTES;

/**
 * Three planes of the frame's Y', Cb and Cr samples, each padded to whole
 * MCUs by repeating the last column and row.
 */
interface Planes {
  y: Uint8Array;
  cb: Uint8Array;
  cr: Uint8Array;
  /** Padded widths (bytes per line) of the luma and chroma planes. */
  yw: number;
  cw: number;
  mcusX: number;
  mcusY: number;
}

/** Repeats column `w - 1` and line `h - 1` of a `w`x`h` image in a plane of `pw`x`ph`. */
function pad(p: Uint8Array, w: number, h: number, pw: number, ph: number): void {
  if (pw > w) for (let y = 0; y < h; y++) p.fill(p[y * pw + w - 1]!, y * pw + w, (y + 1) * pw);
  for (let y = h; y < ph; y++) p.copyWithin(y * pw, (h - 1) * pw, h * pw);
}

function planes(raw: Uint8Array, fmt: FrameFormat): Planes {
  const { width: w, height: h } = fmt;
  const { h: sh, v: sv } = sampling(fmt.fourcc);
  const mcusX = Math.ceil(w / (8 * sh));
  const mcusY = Math.ceil(h / (8 * sv));
  const yw = mcusX * 8 * sh;
  const yh = mcusY * 8 * sv;
  const cw = mcusX * 8;
  const ch = mcusY * 8;
  const y = new Uint8Array(yw * yh);
  const cb = new Uint8Array(cw * ch);
  const cr = new Uint8Array(cw * ch);
  if (fmt.fourcc === 'YUYV') {
    const cwid = w >> 1;
    for (let r = 0; r < h; r++) {
      let s = r * fmt.stride;
      const yo = r * yw;
      const co = r * cw;
      for (let x = 0; x < cwid; x++, s += 4) {
        y[yo + 2 * x] = raw[s]!;
        cb[co + x] = raw[s + 1]!;
        y[yo + 2 * x + 1] = raw[s + 2]!;
        cr[co + x] = raw[s + 3]!;
      }
    }
    pad(y, w, h, yw, yh);
    pad(cb, cwid, h, cw, ch);
    pad(cr, cwid, h, cw, ch);
  } else if (fmt.fourcc === 'NV12') {
    for (let r = 0; r < h; r++) y.set(raw.subarray(r * fmt.stride, r * fmt.stride + w), r * yw);
    const cwid = w >> 1;
    const chgt = Math.ceil(h / 2);
    const base = fmt.stride * h;
    for (let r = 0; r < chgt; r++) {
      let s = base + r * fmt.stride;
      const co = r * cw;
      for (let x = 0; x < cwid; x++, s += 2) {
        cb[co + x] = raw[s]!;
        cr[co + x] = raw[s + 1]!;
      }
    }
    pad(y, w, h, yw, yh);
    pad(cb, cwid, chgt, cw, ch);
    pad(cr, cwid, chgt, cw, ch);
  } else {
    // XBGR32: bytes B, G, R, X; JFIF's Y'CbCr (full range BT.601), rounded.
    for (let r = 0; r < h; r++) {
      let s = r * fmt.stride;
      const o = r * yw;
      for (let x = 0; x < w; x++, s += 4) {
        const B = raw[s]!;
        const G = raw[s + 1]!;
        const R = raw[s + 2]!;
        y[o + x] = Math.round(0.299 * R + 0.587 * G + 0.114 * B);
        cb[o + x] = Math.min(255, Math.max(0, Math.round(-0.168736 * R - 0.331264 * G + 0.5 * B + 128)));
        cr[o + x] = Math.min(255, Math.max(0, Math.round(0.5 * R - 0.418688 * G - 0.081312 * B + 128)));
      }
    }
    pad(y, w, h, yw, yh);
    pad(cb, w, h, cw, ch);
    pad(cr, w, h, cw, ch);
  }
  return { y, cb, cr, yw, cw, mcusX, mcusY };
}

/** Writes the scan's bits with 0xFF stuffing into `out`; ENOSPC past its end. */
class BitWriter {
  private acc = 0;
  private n = 0;
  pos: number;
  private readonly out: Uint8Array;
  private readonly cap: number;

  constructor(out: Uint8Array, pos: number) {
    this.out = out;
    this.pos = pos;
    this.cap = out.length;
  }

  /** Appends the low `size` bits of `code` (at most 24). */
  put(code: number, size: number): void {
    this.acc = (this.acc << size) | code;
    this.n += size;
    while (this.n >= 8) {
      this.n -= 8;
      const b = (this.acc >>> this.n) & 0xff;
      if (this.pos + 2 > this.cap) throw kerr('ENOSPC', 'jpeg: bitstream buffer too small');
      this.out[this.pos++] = b;
      if (b === 0xff) this.out[this.pos++] = 0;
    }
    this.acc &= (1 << this.n) - 1;
  }

  /** Pads the last byte with 1 bits (T.81 F.1.2.3). */
  flush(): void {
    if (this.n > 0) this.put((1 << (8 - this.n)) - 1, 8 - this.n);
  }
}

const block = new Float32Array(64);
const coefs = new Int32Array(64);

/** Forward DCT of `d` in place (the AAN float algorithm, rows then columns), scaled as AAN leaves it. */
function fdct(d: Float32Array): void {
  for (let pass = 0; pass < 2; pass++) {
    const step = pass === 0 ? 1 : 8;
    const next = pass === 0 ? 8 : 1;
    for (let i = 0, p = 0; i < 8; i++, p += next) {
      const d0 = d[p]!;
      const d1 = d[p + step]!;
      const d2 = d[p + 2 * step]!;
      const d3 = d[p + 3 * step]!;
      const d4 = d[p + 4 * step]!;
      const d5 = d[p + 5 * step]!;
      const d6 = d[p + 6 * step]!;
      const d7 = d[p + 7 * step]!;
      const t0 = d0 + d7;
      const t7 = d0 - d7;
      const t1 = d1 + d6;
      const t6 = d1 - d6;
      const t2 = d2 + d5;
      const t5 = d2 - d5;
      const t3 = d3 + d4;
      const t4 = d3 - d4;
      let t10 = t0 + t3;
      const t13 = t0 - t3;
      let t11 = t1 + t2;
      let t12 = t1 - t2;
      d[p] = t10 + t11;
      d[p + 4 * step] = t10 - t11;
      const z1 = (t12 + t13) * 0.707106781;
      d[p + 2 * step] = t13 + z1;
      d[p + 6 * step] = t13 - z1;
      t10 = t4 + t5;
      t11 = t5 + t6;
      t12 = t6 + t7;
      const z5 = (t10 - t12) * 0.382683433;
      const z2 = 0.5411961 * t10 + z5;
      const z4 = 1.306562965 * t12 + z5;
      const z3 = t11 * 0.707106781;
      const z11 = t7 + z3;
      const z13 = t7 - z3;
      d[p + 5 * step] = z13 + z2;
      d[p + 3 * step] = z13 - z2;
      d[p + step] = z11 + z4;
      d[p + 7 * step] = z11 - z4;
    }
  }
}

/** Codes the 8x8 block at (`x`, `y`) of plane `p` (`pw` wide); returns its quantized DC for the next prediction. */
function codeBlock(bw: BitWriter, p: Uint8Array, pw: number, x: number, y: number, div: Float32Array, dc: Huffman, ac: Huffman, pred: number): number {
  for (let r = 0; r < 8; r++) {
    const o = (y + r) * pw + x;
    for (let c = 0; c < 8; c++) block[r * 8 + c] = p[o + c]! - 128;
  }
  fdct(block);
  for (let k = 0; k < 64; k++) {
    const i = ZIGZAG[k]!;
    coefs[k] = Math.round(block[i]! * div[i]!);
  }
  const d = coefs[0]! - pred;
  const ad = d < 0 ? -d : d;
  const s = ad === 0 ? 0 : 32 - Math.clz32(ad);
  bw.put((dc.code[s]! << s) | (d < 0 ? (d - 1) & ((1 << s) - 1) : d), dc.size[s]! + s);
  let run = 0;
  for (let k = 1; k < 64; k++) {
    const v = coefs[k]!;
    if (v === 0) {
      run++;
      continue;
    }
    while (run > 15) {
      bw.put(ac.code[0xf0]!, ac.size[0xf0]!);
      run -= 16;
    }
    const av = v < 0 ? -v : v;
    const vs = 32 - Math.clz32(av);
    const sym = (run << 4) | vs;
    const cs = ac.size[sym]!;
    const bits = v < 0 ? (v - 1) & ((1 << vs) - 1) : v;
    // one write for the code and its bits while they fit the 24 bits put takes at once
    if (cs + vs <= 24) bw.put((ac.code[sym]! << vs) | bits, cs + vs);
    else {
      bw.put(ac.code[sym]!, cs);
      bw.put(bits, vs);
    }
    run = 0;
  }
  if (run > 0) bw.put(ac.code[0]!, ac.size[0]!);
  return coefs[0]!;
}

/** Writes the marker segments before the scan; returns where the scan starts. */
function headers(out: Uint8Array, fmt: FrameFormat): number {
  const { h, v } = sampling(fmt.fourcc);
  const b: number[] = [0xff, 0xd8];
  const seg = (marker: number, body: number[]) => b.push(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body);
  seg(0xe0, [0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  seg(0xdb, [0x00, ...Array.from(ZIGZAG, (i) => Q_LUMA[i]!), 0x01, ...Array.from(ZIGZAG, (i) => Q_CHROMA[i]!)]);
  seg(0xc0, [8, fmt.height >> 8, fmt.height & 0xff, fmt.width >> 8, fmt.width & 0xff, 3, 1, (h << 4) | v, 0, 2, 0x11, 1, 3, 0x11, 1]);
  const dht = (cls: number, t: Huffman) => [cls, ...t.bits, ...t.vals];
  seg(0xc4, [...dht(0x00, DC_LUMA), ...dht(0x10, AC_LUMA), ...dht(0x01, DC_CHROMA), ...dht(0x11, AC_CHROMA)]);
  seg(0xda, [3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]);
  if (b.length + 2 > out.length) throw kerr('ENOSPC', 'jpeg: no room for the headers');
  out.set(b);
  return b.length;
}

/**
 * Encodes the frame `raw` of `fmt` into a baseline JFIF file in `out`;
 * returns its length. ENOSPC when `out` is too small, EINVAL for a short frame. What the JPEG block's core
 * does between its input and output DMA.
 */
export function jpegEncode(raw: Uint8Array, fmt: FrameFormat, out: Uint8Array): number {
  return encodeWith(scanInWasm, raw, fmt, out);
}

/** jpegEncode with the scan coded in JavaScript, block by block: the reference the WebAssembly scan is tested against. */
export function jpegEncodePlain(raw: Uint8Array, fmt: FrameFormat, out: Uint8Array): number {
  return encodeWith(scanPlain, raw, fmt, out);
}

/** Codes the scan of `p` into `out` from byte `start`, the last byte padded; returns where it ends. ENOSPC when it does not fit. */
type ScanCoder = (p: Planes, h: number, v: number, out: Uint8Array, start: number) => number;

function encodeWith(scan: ScanCoder, raw: Uint8Array, fmt: FrameFormat, out: Uint8Array): number {
  if (raw.length < fmt.size) throw kerr('EINVAL', `jpeg: ${raw.length}-byte frame, ${fmt.size} expected`);
  const start = headers(out, fmt);
  const { h, v } = sampling(fmt.fourcc);
  let pos = scan(planes(raw, fmt), h, v, out, start);
  if (pos + 2 > out.length) throw kerr('ENOSPC', 'jpeg: no room for EOI');
  out[pos++] = 0xff;
  out[pos++] = 0xd9;
  return pos;
}

function scanPlain(p: Planes, h: number, v: number, out: Uint8Array, start: number): number {
  const bw = new BitWriter(out, start);
  let py = 0;
  let pcb = 0;
  let pcr = 0;
  for (let my = 0; my < p.mcusY; my++) {
    for (let mx = 0; mx < p.mcusX; mx++) {
      for (let by = 0; by < v; by++) for (let bx = 0; bx < h; bx++) py = codeBlock(bw, p.y, p.yw, (mx * h + bx) * 8, (my * v + by) * 8, DIV_LUMA, DC_LUMA, AC_LUMA, py);
      pcb = codeBlock(bw, p.cb, p.cw, mx * 8, my * 8, DIV_CHROMA, DC_CHROMA, AC_CHROMA, pcb);
      pcr = codeBlock(bw, p.cr, p.cw, mx * 8, my * 8, DIV_CHROMA, DC_CHROMA, AC_CHROMA, pcr);
    }
  }
  bw.flush();
  return bw.pos;
}

/**
 * The tables wasm/jpeg.ts reads, in its layout: the zigzag order (64
 * bytes), the luma and chroma divisors (64 f32 each), then per Huffman
 * table its codes (u16) and lengths (u8): DC luma and DC chroma (16 of
 * each), AC luma and AC chroma (256 of each).
 */
const SCAN_TABLES = ((): Uint8Array => {
  const t = new Uint8Array(2208);
  t.set(ZIGZAG, 0);
  new Float32Array(t.buffer, 64, 64).set(DIV_LUMA);
  new Float32Array(t.buffer, 320, 64).set(DIV_CHROMA);
  const huff = (at: number, hf: Huffman, n: number): void => {
    new Uint16Array(t.buffer, at, n).set(hf.code.subarray(0, n));
    t.set(hf.size.subarray(0, n), at + 2 * n);
  };
  huff(576, DC_LUMA, 16);
  huff(624, DC_CHROMA, 16);
  huff(672, AC_LUMA, 256);
  huff(1440, AC_CHROMA, 256);
  return t;
})();

/** The scan coded by wasm/jpeg.ts over copies of the planes in the kernels' memory. */
function scanInWasm(p: Planes, h: number, v: number, out: Uint8Array, start: number): number {
  const scratchAt = nextRegion(0, SCAN_TABLES.length);
  const yAt = nextRegion(scratchAt, 512);
  const cbAt = nextRegion(yAt, p.y.length);
  const crAt = nextRegion(cbAt, p.cb.length);
  const outAt = nextRegion(crAt, p.cr.length);
  const cap = out.length - start;
  const heap = wasmHeap(nextRegion(outAt, cap));
  heap.set(SCAN_TABLES, 0);
  heap.set(p.y, yAt);
  heap.set(p.cb, cbAt);
  heap.set(p.cr, crAt);
  const n = wasmKernels().jpegScan(yAt, p.yw, cbAt, crAt, p.cw, p.mcusX, p.mcusY, h, v, 0, outAt, cap, scratchAt);
  if (n < 0) throw kerr('ENOSPC', 'jpeg: bitstream buffer too small');
  out.set(heap.subarray(outAt, outAt + n), start);
  return start + n;
}
