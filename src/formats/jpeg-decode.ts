import { kerr } from '../lib/index.ts';
import { ZIGZAG } from './jpeg-encode.ts';
import { nextRegion, wasmHeap, wasmKernels } from './kernels.ts';
import type { FrameFormat } from './pixel-format.ts';

/**
 * DOC: the JPEG block's decoder — sequential DCT JPEG (T.81 SOF0 baseline
 * and SOF1 extended, 8-bit, Huffman coded), as JFIF files from any
 * encoder hold it: any sampling factors (4:4:4, 4:2:2, 4:2:0, ...), one
 * or three components, restart intervals, interleaved or one-component
 * scans. Progressive, lossless and arithmetic-coded files are refused
 * (EINVAL), as a baseline hardware decoder refuses them. Chroma is
 * brought to the output's sampling by repeating samples (no filtering),
 * so a 4:2:2 file decoded to YUYV gives its samples back exactly.
 */

/** The largest picture side the decoder takes (i.MX8's JPEG block's limit; the V4L2 driver takes up to 4096). */
export const JPEG_MAX_DIM = 8192;

/** One component of a decoded picture: its sampling factors and its samples, padded to whole blocks. */
export interface JpegComponent {
  id: number;
  h: number;
  v: number;
  /** Quantization table selector. */
  tq: number;
  /** Samples, `stride` per line. */
  plane: Uint8Array;
  stride: number;
}

/** A decoded picture: the frame header's size and sampling, and each component's samples. */
export interface JpegPicture {
  width: number;
  height: number;
  hmax: number;
  vmax: number;
  comps: JpegComponent[];
}

interface Table {
  /** 9-bit lookup: (length << 8) | symbol, 0 when the code is longer. */
  fast: Uint16Array;
  maxcode: Int32Array;
  valptr: Int32Array;
  mincode: Int32Array;
  vals: Uint8Array;
}

const FAST = 9;

function buildTable(bits: Uint8Array, vals: Uint8Array): Table {
  const fast = new Uint16Array(1 << FAST);
  const maxcode = new Int32Array(18).fill(-1);
  const valptr = new Int32Array(17);
  const mincode = new Int32Array(17);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    const n = bits[len - 1]!;
    valptr[len] = k;
    mincode[len] = code;
    for (let i = 0; i < n; i++, k++, code++) {
      if (len <= FAST) {
        const shift = FAST - len;
        const e = (len << 8) | vals[k]!;
        for (let j = 0; j < 1 << shift; j++) fast[(code << shift) | j] = e;
      }
    }
    if (n) maxcode[len] = code - 1;
    if (code > 1 << len) throw kerr('EINVAL', 'jpeg: bad Huffman table');
    code <<= 1;
  }
  maxcode[17] = 0x7fffffff;
  return { fast, maxcode, valptr, mincode, vals };
}

/** Reads the entropy-coded segment: bytes with their 0xFF00 stuffing removed, zeros at a marker or the end. */
class BitReader {
  private acc = 0;
  private n = 0;
  pos: number;
  private readonly d: Uint8Array;
  private readonly end: number;

  constructor(d: Uint8Array, pos: number, end: number) {
    this.d = d;
    this.pos = pos;
    this.end = end;
  }

  private fill(): void {
    while (this.n <= 16) {
      let b = 0;
      if (this.pos < this.end) {
        b = this.d[this.pos]!;
        if (b === 0xff) {
          const m = this.pos + 1 < this.end ? this.d[this.pos + 1]! : 0xd9;
          if (m === 0) this.pos += 2;
          else b = 0; // a marker: stay on it and feed zeros
        } else this.pos++;
      }
      this.acc = ((this.acc << 8) | b) >>> 0;
      this.n += 8;
    }
  }

  bits(s: number): number {
    if (this.n < s) this.fill();
    this.n -= s;
    const v = (this.acc >>> this.n) & ((1 << s) - 1);
    this.acc &= (1 << this.n) - 1;
    return v;
  }

  decode(t: Table): number {
    if (this.n < 16) this.fill();
    const e = t.fast[(this.acc >>> (this.n - FAST)) & ((1 << FAST) - 1)]!;
    if (e) {
      this.n -= e >> 8;
      this.acc &= (1 << this.n) - 1;
      return e & 0xff;
    }
    let len = FAST + 1;
    let code = (this.acc >>> (this.n - len)) & ((1 << len) - 1);
    while (len <= 16 && code > t.maxcode[len]!) {
      len++;
      code = (this.acc >>> (this.n - len)) & ((1 << len) - 1);
    }
    if (len > 16) throw kerr('EINVAL', 'jpeg: bad Huffman code');
    this.n -= len;
    this.acc &= (1 << this.n) - 1;
    return t.vals[t.valptr[len]! + code - t.mincode[len]!]!;
  }

  /** Skips to the next byte boundary and over the RSTn marker there (T.81 F.2.2.5 restart). */
  restart(): void {
    this.acc = 0;
    this.n = 0;
    if (this.pos + 1 < this.end && this.d[this.pos] === 0xff && (this.d[this.pos + 1]! & 0xf8) === 0xd0) this.pos += 2;
    else throw kerr('EINVAL', 'jpeg: missing restart marker');
  }

  /** The position of the first marker after the scan. */
  scanEnd(): number {
    let p = this.pos;
    while (p + 1 < this.end && !(this.d[p] === 0xff && this.d[p + 1] !== 0 && (this.d[p + 1]! & 0xf8) !== 0xd0)) p++;
    return p;
  }
}

/** AAN scale factors: the float IDCT below takes coefficient (u,v) times AAN[u] * AAN[v] (folded into the dequantization). */
const AAN = [1, 1.387039845, 1.306562965, 1.175875602, 1, 0.785694958, 0.5411961, 0.275899379];

/** A quantization table (zigzag order, as DQT holds it) as the IDCT's multipliers, natural order. */
function dequantizer(q: Uint16Array): Float32Array {
  const d = new Float32Array(64);
  for (let k = 0; k < 64; k++) {
    const i = ZIGZAG[k]!;
    d[i] = q[k]! * AAN[i >> 3]! * AAN[i & 7]!;
  }
  return d;
}

const coef = new Float32Array(64);
const ws = new Float32Array(64);

/** One 8-point AAN float IDCT (the algorithm of IJG's jidctflt) from `a` into `o`, both with element step `step`. */
function idct8(a: Float32Array, ai: number, o: Float32Array, oi: number, step: number): void {
  const t0 = a[ai]!;
  const t1 = a[ai + 2 * step]!;
  const t2 = a[ai + 4 * step]!;
  const t3 = a[ai + 6 * step]!;
  const e10 = t0 + t2;
  const e11 = t0 - t2;
  const e13 = t1 + t3;
  const e12 = (t1 - t3) * 1.414213562 - e13;
  const p0 = e10 + e13;
  const p3 = e10 - e13;
  const p1 = e11 + e12;
  const p2 = e11 - e12;
  const t4 = a[ai + step]!;
  const t5 = a[ai + 3 * step]!;
  const t6 = a[ai + 5 * step]!;
  const t7 = a[ai + 7 * step]!;
  const z13 = t6 + t5;
  const z10 = t6 - t5;
  const z11 = t4 + t7;
  const z12 = t4 - t7;
  const q7 = z11 + z13;
  const q11 = (z11 - z13) * 1.414213562;
  const z5 = (z10 + z12) * 1.847759065;
  const q10 = 1.0823922 * z12 - z5;
  const q12 = -2.61312593 * z10 + z5;
  const q6 = q12 - q7;
  const q5 = q11 - q6;
  const q4 = q10 + q5;
  o[oi] = p0 + q7;
  o[oi + 7 * step] = p0 - q7;
  o[oi + step] = p1 + q6;
  o[oi + 6 * step] = p1 - q6;
  o[oi + 2 * step] = p2 + q5;
  o[oi + 5 * step] = p2 - q5;
  o[oi + 4 * step] = p3 + q4;
  o[oi + 3 * step] = p3 - q4;
}

/**
 * Inverse DCT of `coef` (natural order, dequantized with the AAN factors)
 * into the 8x8 block of `p` at `o`, level shifted and clamped; a block
 * with no AC coefficient is filled with its DC alone.
 */
function idct(p: Uint8Array, o: number, stride: number, acs: boolean): void {
  if (!acs) {
    const s = Math.round(coef[0]! / 8 + 128);
    const v = s < 0 ? 0 : s > 255 ? 255 : s;
    for (let y = 0; y < 8; y++) p.fill(v, o + y * stride, o + y * stride + 8);
    return;
  }
  for (let c = 0; c < 8; c++) idct8(coef, c, ws, c, 8);
  for (let r = 0; r < 8; r++) idct8(ws, r * 8, ws, r * 8, 1);
  for (let y = 0; y < 8; y++) {
    const row = o + y * stride;
    for (let x = 0; x < 8; x++) {
      const s = Math.round(ws[y * 8 + x]! / 8 + 128);
      p[row + x] = s < 0 ? 0 : s > 255 ? 255 : s;
    }
  }
}

/**
 * Where a scan's blocks go once their coefficients are decoded: `arr` from
 * `next()` takes the next block's (zeroed, natural order, dequantized),
 * then `put` says which plane it belongs in; by `flush` every block put is
 * in its plane as samples.
 */
interface BlockSink {
  readonly arr: Float32Array;
  next(): number;
  put(plane: Uint8Array, o: number, stride: number, acs: boolean): void;
  flush(): void;
}

/** Each block's inverse DCT in JavaScript, as it is put: the reference for the batched one. */
function plainSink(): BlockSink {
  return {
    arr: coef,
    next: () => (coef.fill(0), 0),
    put: (plane, o, stride, acs) => idct(plane, o, stride, acs),
    flush: () => {},
  };
}

/** Blocks the WebAssembly IDCT takes in one call. */
const IDCT_BATCH = 1024;

/** The blocks' inverse DCTs in WebAssembly (wasm/jpeg.ts), IDCT_BATCH at a time, the samples then copied into their planes. */
function wasmSink(): BlockSink {
  const coefsAt = 0;
  const flagsAt = nextRegion(coefsAt, IDCT_BATCH * 256);
  const outAt = nextRegion(flagsAt, IDCT_BATCH);
  const wsAt = nextRegion(outAt, IDCT_BATCH * 64);
  // taken once: nothing else runs a kernel until the picture is decoded, so the memory does not grow meanwhile
  const heap = wasmHeap(nextRegion(wsAt, 256));
  const arr = new Float32Array(heap.buffer, coefsAt, IDCT_BATCH * 64);
  const planes: Uint8Array[] = [];
  const offs = new Int32Array(IDCT_BATCH);
  const strides = new Int32Array(IDCT_BATCH);
  let n = 0;
  const flush = (): void => {
    if (n === 0) return;
    wasmKernels().jpegIdctBlocks(coefsAt, flagsAt, outAt, n, wsAt);
    for (let b = 0; b < n; b++) {
      const plane = planes[b]!;
      const stride = strides[b]!;
      let s = outAt + b * 64;
      for (let y = 0, o = offs[b]!; y < 8; y++, o += stride) for (let x = 0; x < 8; x++) plane[o + x] = heap[s++]!;
    }
    n = 0;
  };
  return {
    arr,
    next: () => {
      if (n === IDCT_BATCH) flush();
      arr.fill(0, n * 64, n * 64 + 64);
      return n * 64;
    },
    put: (plane, o, stride, acs) => {
      planes[n] = plane;
      offs[n] = o;
      strides[n] = stride;
      heap[flagsAt + n] = acs ? 1 : 0;
      n++;
    },
    flush,
  };
}

function u16(d: Uint8Array, at: number): number {
  return (d[at]! << 8) | d[at + 1]!;
}

/** The frame header of a JPEG file: its size and components. EINVAL for no SOF before the first scan or a non-sequential process. */
export function jpegFrameHeader(bits: Uint8Array, len: number): { width: number; height: number; comps: { id: number; h: number; v: number }[] } {
  let p = 2;
  if (len < 4 || bits[0] !== 0xff || bits[1] !== 0xd8) throw kerr('EINVAL', 'jpeg: no SOI');
  while (p + 4 <= len) {
    if (bits[p] !== 0xff) throw kerr('EINVAL', `jpeg: no marker at ${p}`);
    const m = bits[p + 1]!;
    if (m === 0xff) {
      p++;
      continue;
    }
    const l = u16(bits, p + 2);
    if (m === 0xc0 || m === 0xc1) {
      if (p + 2 + l > len || l < 8) throw kerr('EINVAL', 'jpeg: short SOF');
      const n = bits[p + 9]!;
      const comps = [];
      for (let i = 0; i < n; i++) comps.push({ id: bits[p + 10 + 3 * i]!, h: bits[p + 11 + 3 * i]! >> 4, v: bits[p + 11 + 3 * i]! & 15 });
      return { width: u16(bits, p + 7), height: u16(bits, p + 5), comps };
    }
    if ((m & 0xf0) === 0xc0 && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) throw kerr('EINVAL', `jpeg: SOF${m - 0xc0} is not a sequential Huffman process`);
    if (m === 0xda || m === 0xd9) break;
    p += 2 + l;
  }
  throw kerr('EINVAL', 'jpeg: no frame header');
}

/**
 * Decodes the JPEG file in the first `len` bytes of `bits` into its
 * components' samples. EINVAL for anything this decoder does not take
 * (see the DOC block) or a stream that ends or breaks before every block
 * is decoded.
 */
export function jpegDecodePicture(bits: Uint8Array, len: number): JpegPicture {
  return decodePicture(bits, len, wasmSink);
}

/** jpegDecodePicture with each block's inverse DCT in JavaScript: the reference the WebAssembly one is tested against. */
export function jpegDecodePicturePlain(bits: Uint8Array, len: number): JpegPicture {
  return decodePicture(bits, len, plainSink);
}

function decodePicture(bits: Uint8Array, len: number, makeSink: () => BlockSink): JpegPicture {
  if (len < 4 || bits[0] !== 0xff || bits[1] !== 0xd8) throw kerr('EINVAL', 'jpeg: no SOI');
  const qt: Uint16Array[] = [];
  const dcT: Table[] = [];
  const acT: Table[] = [];
  let pic: JpegPicture | null = null;
  let mcusX = 0;
  let mcusY = 0;
  let restartInterval = 0;
  let p = 2;
  let done = false;
  while (p + 2 <= len && !done) {
    if (bits[p] !== 0xff) throw kerr('EINVAL', `jpeg: no marker at ${p}`);
    const m = bits[p + 1]!;
    if (m === 0xff) {
      p++;
      continue;
    }
    if (m === 0xd9) break;
    if (p + 4 > len) break;
    const l = u16(bits, p + 2);
    const s = p + 4;
    const e = p + 2 + l;
    if (l < 2 || e > len) throw kerr('EINVAL', 'jpeg: segment past the end');
    if (m === 0xdb) {
      for (let q = s; q < e; ) {
        const pq = bits[q]! >> 4;
        const t = bits[q]! & 3;
        const tab = new Uint16Array(64);
        for (let k = 0; k < 64; k++) tab[k] = pq ? u16(bits, q + 1 + 2 * k) : bits[q + 1 + k]!;
        qt[t] = tab;
        q += 1 + 64 * (pq ? 2 : 1);
      }
    } else if (m === 0xc4) {
      for (let q = s; q < e; ) {
        const tc = bits[q]! >> 4;
        const th = bits[q]! & 3;
        const counts = bits.subarray(q + 1, q + 17);
        let n = 0;
        for (const c of counts) n += c;
        if (q + 17 + n > e) throw kerr('EINVAL', 'jpeg: DHT past its segment');
        const t = buildTable(counts, bits.subarray(q + 17, q + 17 + n));
        (tc ? acT : dcT)[th] = t;
        q += 17 + n;
      }
    } else if (m === 0xdd) {
      restartInterval = u16(bits, s);
    } else if (m === 0xc0 || m === 0xc1) {
      if (pic) throw kerr('EINVAL', 'jpeg: a second frame header');
      if (bits[s] !== 8) throw kerr('EINVAL', `jpeg: ${bits[s]}-bit samples`);
      const height = u16(bits, s + 1);
      const width = u16(bits, s + 3);
      const n = bits[s + 5]!;
      if (!width || !height || (n !== 1 && n !== 3)) throw kerr('EINVAL', `jpeg: ${width}x${height} with ${n} components`);
      if (width > JPEG_MAX_DIM || height > JPEG_MAX_DIM) throw kerr('EINVAL', `jpeg: ${width}x${height} is larger than ${JPEG_MAX_DIM}x${JPEG_MAX_DIM}`);
      const raw = [];
      for (let i = 0; i < n; i++) raw.push({ id: bits[s + 6 + 3 * i]!, h: bits[s + 7 + 3 * i]! >> 4, v: bits[s + 7 + 3 * i]! & 15, tq: bits[s + 8 + 3 * i]! & 3 });
      const hmax = Math.max(...raw.map((c) => c.h));
      const vmax = Math.max(...raw.map((c) => c.v));
      if (raw.some((c) => c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4)) throw kerr('EINVAL', 'jpeg: bad sampling factors');
      mcusX = Math.ceil(width / (8 * hmax));
      mcusY = Math.ceil(height / (8 * vmax));
      const comps = raw.map((c) => {
        const stride = mcusX * c.h * 8;
        return { ...c, stride, plane: new Uint8Array(stride * mcusY * c.v * 8) };
      });
      pic = { width, height, hmax, vmax, comps };
    } else if ((m & 0xf0) === 0xc0 && m !== 0xc8 && m !== 0xcc) {
      throw kerr('EINVAL', `jpeg: SOF${m - 0xc0} is not a sequential Huffman process`);
    } else if (m === 0xda) {
      if (!pic) throw kerr('EINVAL', 'jpeg: scan before the frame header');
      const ns = bits[s]!;
      const scan = [];
      for (let i = 0; i < ns; i++) {
        const c = pic.comps.find((x) => x.id === bits[s + 1 + 2 * i]);
        const dc = dcT[bits[s + 2 + 2 * i]! >> 4];
        const ac = acT[bits[s + 2 + 2 * i]! & 15];
        const q = c && qt[c.tq];
        if (!c || !dc || !ac || !q) throw kerr('EINVAL', 'jpeg: scan names a missing component or table');
        scan.push({ c, dc, ac, q: dequantizer(q), pred: 0 });
      }
      const br = new BitReader(bits, e, len);
      const sink = makeSink();
      const one = scan.length === 1;
      const c0 = scan[0]!.c;
      // A one-component scan covers that component's own blocks, not whole MCUs (T.81 A.2.2).
      const unitsX = one ? Math.ceil(Math.ceil((pic.width * c0.h) / pic.hmax) / 8) : mcusX;
      const unitsY = one ? Math.ceil(Math.ceil((pic.height * c0.v) / pic.vmax) / 8) : mcusY;
      const total = unitsX * unitsY;
      for (let u = 0; u < total; u++) {
        if (restartInterval && u > 0 && u % restartInterval === 0) {
          br.restart();
          for (const sc of scan) sc.pred = 0;
        }
        const ux = u % unitsX;
        const uy = (u / unitsX) | 0;
        for (const sc of scan) {
          const bh = one ? 1 : sc.c.h;
          const bv = one ? 1 : sc.c.v;
          for (let by = 0; by < bv; by++) {
            for (let bx = 0; bx < bh; bx++) {
              const acs = decodeBlock(br, sc.dc, sc.ac, sc.q, sc, sink.arr, sink.next());
              const x = (ux * bh + bx) * 8;
              const y = (uy * bv + by) * 8;
              sink.put(sc.c.plane, y * sc.c.stride + x, sc.c.stride, acs);
            }
          }
        }
      }
      sink.flush();
      p = br.scanEnd();
      if (p + 1 >= len) done = true;
      continue;
    }
    p = e;
  }
  if (!pic) throw kerr('EINVAL', 'jpeg: no frame header');
  return pic;
}

function extend(v: number, s: number): number {
  return v < 1 << (s - 1) ? v - (1 << s) + 1 : v;
}

/** Decodes one block's coefficients into `out` from `at` (zeroed), dequantized, and updates the DC prediction in `st`; returns whether any AC coefficient is not zero. */
function decodeBlock(br: BitReader, dc: Table, ac: Table, q: Float32Array, st: { pred: number }, out: Float32Array, at: number): boolean {
  const s = br.decode(dc);
  if (s > 11) throw kerr('EINVAL', 'jpeg: bad DC size');
  const d = st.pred + (s ? extend(br.bits(s), s) : 0);
  st.pred = d;
  out[at] = d * q[0]!;
  let acs = false;
  for (let k = 1; k < 64; ) {
    const rs = br.decode(ac);
    const r = rs >> 4;
    const sz = rs & 15;
    if (sz === 0) {
      if (r !== 15) break;
      k += 16;
      continue;
    }
    k += r;
    if (k > 63) throw kerr('EINVAL', 'jpeg: coefficient past the block');
    const i = ZIGZAG[k]!;
    out[at + i] = extend(br.bits(sz), sz) * q[i]!;
    acs = true;
    k++;
  }
  return acs;
}

/** Where component `c`'s samples for the picture's columns and lines are: column offsets per x, and a line's offset per y (repeating samples). */
function sampleMap(pic: JpegPicture, c: JpegComponent, w: number, h: number): { cols: Int32Array; rows: Int32Array } {
  const cols = new Int32Array(w);
  for (let x = 0; x < w; x++) cols[x] = ((x * c.h) / pic.hmax) | 0;
  const rows = new Int32Array(h);
  for (let y = 0; y < h; y++) rows[y] = (((y * c.v) / pic.vmax) | 0) * c.stride;
  return { cols, rows };
}

/** A component's samples at every pixel: its plane and where each pixel's sample is; neutral chroma (128) for a missing component. */
function sampler(pic: JpegPicture, c: JpegComponent | undefined, w: number, h: number): { plane: Uint8Array; cols: Int32Array; rows: Int32Array } {
  if (c) return { plane: c.plane, ...sampleMap(pic, c, w, h) };
  return { plane: Uint8Array.of(128), cols: new Int32Array(w), rows: new Int32Array(h) };
}

/**
 * Writes the picture as a frame of `fmt` (which must be its size) into
 * `out`: YUYV and NV12 take the Y'CbCr samples as they are (a one-component
 * file gets neutral chroma), each chroma sample the file's at the left
 * (and top) pixel it covers; XBGR32 gets JFIF's full-range BT.601 RGB.
 */
export function jpegPictureToFrame(pic: JpegPicture, fmt: FrameFormat, out: Uint8Array): void {
  const { width: w, height: h } = fmt;
  const Y = sampler(pic, pic.comps[0], w, h);
  const U = sampler(pic, pic.comps[1], w, h);
  const V = sampler(pic, pic.comps[2], w, h);
  if (fmt.fourcc === 'YUYV') {
    for (let y = 0; y < h; y++) {
      let o = y * fmt.stride;
      const yr = Y.rows[y]!;
      const ur = U.rows[y]!;
      const vr = V.rows[y]!;
      for (let x = 0; x < w; x += 2, o += 4) {
        out[o] = Y.plane[yr + Y.cols[x]!]!;
        out[o + 1] = U.plane[ur + U.cols[x]!]!;
        out[o + 2] = Y.plane[yr + Y.cols[x + 1]!]!;
        out[o + 3] = V.plane[vr + V.cols[x]!]!;
      }
    }
  } else if (fmt.fourcc === 'NV12') {
    for (let y = 0; y < h; y++) {
      const o = y * fmt.stride;
      const yr = Y.rows[y]!;
      for (let x = 0; x < w; x++) out[o + x] = Y.plane[yr + Y.cols[x]!]!;
    }
    const base = fmt.stride * h;
    for (let y = 0; y < Math.ceil(h / 2); y++) {
      let o = base + y * fmt.stride;
      const ur = U.rows[2 * y]!;
      const vr = V.rows[2 * y]!;
      for (let x = 0; x < w; x += 2, o += 2) {
        out[o] = U.plane[ur + U.cols[x]!]!;
        out[o + 1] = V.plane[vr + V.cols[x]!]!;
      }
    }
  } else {
    const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
    for (let y = 0; y < h; y++) {
      let o = y * fmt.stride;
      const yr = Y.rows[y]!;
      const ur = U.rows[y]!;
      const vr = V.rows[y]!;
      for (let x = 0; x < w; x++, o += 4) {
        const l = Y.plane[yr + Y.cols[x]!]!;
        const u = U.plane[ur + U.cols[x]!]! - 128;
        const v = V.plane[vr + V.cols[x]!]! - 128;
        out[o] = clamp(l + 1.772 * u);
        out[o + 1] = clamp(l - 0.344136 * u - 0.714136 * v);
        out[o + 2] = clamp(l + 1.402 * v);
        out[o + 3] = 0xff;
      }
    }
  }
}

/**
 * Decodes the JPEG file in the first `len` bytes of `bits` into `out` as
 * a frame of `fmt`; returns the frame's size. EINVAL when the file does
 * not decode or its picture is not `fmt`'s size; ENOSPC when `out` is
 * smaller than the frame. What the JPEG block's core does between its
 * input and output DMA.
 */
export function jpegDecode(bits: Uint8Array, len: number, fmt: FrameFormat, out: Uint8Array): number {
  if (out.length < fmt.size) throw kerr('ENOSPC', `jpeg: ${fmt.size}-byte frame in a ${out.length}-byte buffer`);
  // the size first, before any plane is allocated for what the file claims
  const hdr = jpegFrameHeader(bits, len);
  if (hdr.width !== fmt.width || hdr.height !== fmt.height) throw kerr('EINVAL', `jpeg: a ${hdr.width}x${hdr.height} picture for a ${fmt.width}x${fmt.height} frame`);
  const pic = jpegDecodePicture(bits, len);
  if (pic.width !== fmt.width || pic.height !== fmt.height) throw kerr('EINVAL', `jpeg: a ${pic.width}x${pic.height} picture for a ${fmt.width}x${fmt.height} frame`);
  jpegPictureToFrame(pic, fmt, out);
  return fmt.size;
}
