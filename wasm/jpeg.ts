/*
 * The JPEG encoder's scan (formats/jpeg-encode.ts): each block's level
 * shift, forward DCT, quantization and Huffman coding, with the same
 * arithmetic in the same order as scanPlain there, so that the two write
 * the same bytes: the DCT in f64 between f32 stores (as JavaScript
 * computes over a Float32Array), quantization rounded half up (Math.round),
 * two coefficients a step.
 *
 * The tables sit at `tables`, laid out as SCAN_TABLES in jpeg-encode.ts
 * says: the zigzag order, the two divisor tables, then per Huffman table
 * its codes (u16) and their lengths (u8), DC luma, DC chroma, AC luma,
 * AC chroma.
 */

const T_ZIGZAG: usize = 0;
const T_DIV_LUMA: usize = 64;
const T_DIV_CHROMA: usize = 320;
const T_DC_LUMA: usize = 576;
const T_DC_CHROMA: usize = 624;
const T_AC_LUMA: usize = 672;
const T_AC_CHROMA: usize = 1440;
/** A DC table's codes take 16 u16, then its 16 lengths; an AC table's 256 and 256. */
const DC_SIZES: usize = 32;
const AC_SIZES: usize = 512;

// the bit writer: bits not yet in a byte (the newest lowest), how many, where the next byte goes, where the buffer ends
let acc: u64 = 0;
let nbits: i32 = 0;
let pos: usize = 0;
let end: usize = 0;
let full = false;

/** Writes the accumulator's oldest `nbits & ~7` bits as bytes, a 0 stuffed after each 0xff (T.81 F.1.2.3). */
function drain(): void {
  while (nbits >= 8) {
    nbits -= 8;
    const b = <u32>(acc >> <u64>nbits) & 0xff;
    if (pos + 2 > end) {
      full = true;
      nbits = 0;
      break;
    }
    store<u8>(pos++, b);
    if (b == 0xff) store<u8>(pos++, 0);
  }
  acc &= (<u64>1 << <u64>nbits) - 1;
}

/** Appends the low `size` bits of `code` (at most 24); bytes leave the accumulator once 32 bits wait. */
// @ts-ignore: decorator
@inline function put(code: u32, size: i32): void {
  acc = (acc << <u64>size) | <u64>code;
  nbits += size;
  if (nbits >= 32) drain();
}

/** Forward DCT of the 64 f32 at `d` in place: AAN, rows then columns. */
function fdct(d: usize): void {
  for (let pass = 0; pass < 2; pass++) {
    const step: usize = pass == 0 ? 4 : 32;
    const next: usize = pass == 0 ? 32 : 4;
    let p = d;
    for (let i = 0; i < 8; i++, p += next) {
      const d0 = <f64>load<f32>(p);
      const d1 = <f64>load<f32>(p + step);
      const d2 = <f64>load<f32>(p + 2 * step);
      const d3 = <f64>load<f32>(p + 3 * step);
      const d4 = <f64>load<f32>(p + 4 * step);
      const d5 = <f64>load<f32>(p + 5 * step);
      const d6 = <f64>load<f32>(p + 6 * step);
      const d7 = <f64>load<f32>(p + 7 * step);
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
      store<f32>(p, <f32>(t10 + t11));
      store<f32>(p + 4 * step, <f32>(t10 - t11));
      const z1 = (t12 + t13) * 0.707106781;
      store<f32>(p + 2 * step, <f32>(t13 + z1));
      store<f32>(p + 6 * step, <f32>(t13 - z1));
      t10 = t4 + t5;
      t11 = t5 + t6;
      t12 = t6 + t7;
      const z5 = (t10 - t12) * 0.382683433;
      const z2 = 0.5411961 * t10 + z5;
      const z4 = 1.306562965 * t12 + z5;
      const z3 = t11 * 0.707106781;
      const z11 = t7 + z3;
      const z13 = t7 - z3;
      store<f32>(p + 5 * step, <f32>(z13 + z2));
      store<f32>(p + 3 * step, <f32>(z13 - z2));
      store<f32>(p + step, <f32>(z11 + z4));
      store<f32>(p + 7 * step, <f32>(z11 - z4));
    }
  }
}

/** Codes the 8x8 block at `src` (rows `stride` apart); returns its quantized DC. */
function codeBlock(src: usize, stride: i32, tables: usize, div: usize, dc: usize, ac: usize, pred: i32, block: usize, coefs: usize): i32 {
  for (let r = 0; r < 8; r++) {
    const o = src + <usize>(r * stride);
    for (let c = 0; c < 8; c++) store<f32>(block + ((r * 8 + c) << 2), <f32>(<i32>load<u8>(o + c) - 128));
  }
  fdct(block);
  // quantized two at a time in natural order (into the f32 block's place: each pair is read before it is written), then put in zigzag order
  const half = f64x2.splat(0.5);
  const one = f64x2.splat(1.0);
  for (let i: usize = 0; i < 64; i += 2) {
    const x = f64x2.mul(f64x2.promote_low_f32x4(v128.load64_zero(block + (i << 2))), f64x2.promote_low_f32x4(v128.load64_zero(div + (i << 2))));
    const r = f64x2.floor(x);
    const up = f64x2.ge(f64x2.sub(x, r), half);
    v128.store64_lane(block + (i << 2), i32x4.trunc_sat_f64x2_s_zero(v128.bitselect(f64x2.add(r, one), r, up)), 0);
  }
  for (let k = 0; k < 64; k++) store<i32>(coefs + (k << 2), load<i32>(block + (<usize>load<u8>(tables + T_ZIGZAG + k) << 2)));
  const dcCode = dc;
  const dcSize = dc + DC_SIZES;
  const acCode = ac;
  const acSize = ac + AC_SIZES;
  const first = load<i32>(coefs);
  const d = first - pred;
  const ad = d < 0 ? -d : d;
  const s = ad == 0 ? 0 : 32 - clz(ad);
  put((<u32>load<u16>(dcCode + (s << 1)) << s) | <u32>(d < 0 ? (d - 1) & ((1 << s) - 1) : d), <i32>load<u8>(dcSize + s) + s);
  let run = 0;
  for (let k = 1; k < 64; k++) {
    const v = load<i32>(coefs + (k << 2));
    if (v == 0) {
      run++;
      continue;
    }
    while (run > 15) {
      put(<u32>load<u16>(acCode + (0xf0 << 1)), <i32>load<u8>(acSize + 0xf0));
      run -= 16;
    }
    const av = v < 0 ? -v : v;
    const vs = 32 - clz(av);
    const sym = (run << 4) | vs;
    const cs = <i32>load<u8>(acSize + sym);
    const bits = <u32>(v < 0 ? (v - 1) & ((1 << vs) - 1) : v);
    const code = <u32>load<u16>(acCode + (sym << 1));
    if (cs + vs <= 24) put((code << vs) | bits, cs + vs);
    else {
      put(code, cs);
      put(bits, vs);
    }
    run = 0;
  }
  if (run > 0) put(<u32>load<u16>(acCode), <i32>load<u8>(acSize));
  return first;
}

/**
 * Codes the scan of planes `y` (`yw` bytes a line), `cb` and `cr` (`cw`)
 * in MCUs of `h` x `v` luma blocks and one block of each chroma, into
 * [out, out + cap), padding the last byte with 1 bits; `scratch` takes
 * 512 bytes. Returns the bytes written, or -1 when they do not fit.
 */
export function jpegScan(y: usize, yw: i32, cb: usize, cr: usize, cw: i32, mcusX: i32, mcusY: i32, h: i32, v: i32, tables: usize, out: usize, cap: i32, scratch: usize): i32 {
  acc = 0;
  nbits = 0;
  pos = out;
  end = out + <usize>cap;
  full = false;
  const block = scratch;
  const coefs = scratch + 256;
  let py = 0;
  let pcb = 0;
  let pcr = 0;
  for (let my = 0; my < mcusY; my++) {
    for (let mx = 0; mx < mcusX; mx++) {
      for (let by = 0; by < v; by++) {
        for (let bx = 0; bx < h; bx++) {
          const at = y + <usize>(((my * v + by) * 8) * yw + (mx * h + bx) * 8);
          py = codeBlock(at, yw, tables, tables + T_DIV_LUMA, tables + T_DC_LUMA, tables + T_AC_LUMA, py, block, coefs);
        }
      }
      const c = <usize>(my * 8 * cw + mx * 8);
      pcb = codeBlock(cb + c, cw, tables, tables + T_DIV_CHROMA, tables + T_DC_CHROMA, tables + T_AC_CHROMA, pcb, block, coefs);
      pcr = codeBlock(cr + c, cw, tables, tables + T_DIV_CHROMA, tables + T_DC_CHROMA, tables + T_AC_CHROMA, pcr, block, coefs);
    }
    if (full) return -1;
  }
  drain();
  if (nbits > 0) {
    put((1 << (8 - nbits)) - 1, 8 - nbits);
    drain();
  }
  return full ? -1 : <i32>(pos - out);
}

/*
 * The JPEG decoder's inverse DCTs (formats/jpeg-decode.ts): a batch of
 * blocks, each 64 dequantized coefficients (f32, natural order) with a
 * flag saying whether any AC coefficient is set, into 64 samples each,
 * with the arithmetic of idct there: IJG's float AAN IDCT in f64 between
 * f32 stores, columns then rows, each sample rounded half up after the
 * level shift and clamped to 0..255; a block with no AC coefficient is
 * its DC alone.
 */

/** One 8-point AAN float IDCT from `a` into `o`, both `step` bytes apart (o may be a). */
function idct8(a: usize, o: usize, step: usize): void {
  const t0 = <f64>load<f32>(a);
  const t1 = <f64>load<f32>(a + 2 * step);
  const t2 = <f64>load<f32>(a + 4 * step);
  const t3 = <f64>load<f32>(a + 6 * step);
  const e10 = t0 + t2;
  const e11 = t0 - t2;
  const e13 = t1 + t3;
  const e12 = (t1 - t3) * 1.414213562 - e13;
  const p0 = e10 + e13;
  const p3 = e10 - e13;
  const p1 = e11 + e12;
  const p2 = e11 - e12;
  const t4 = <f64>load<f32>(a + step);
  const t5 = <f64>load<f32>(a + 3 * step);
  const t6 = <f64>load<f32>(a + 5 * step);
  const t7 = <f64>load<f32>(a + 7 * step);
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
  store<f32>(o, <f32>(p0 + q7));
  store<f32>(o + 7 * step, <f32>(p0 - q7));
  store<f32>(o + step, <f32>(p1 + q6));
  store<f32>(o + 6 * step, <f32>(p1 - q6));
  store<f32>(o + 2 * step, <f32>(p2 + q5));
  store<f32>(o + 5 * step, <f32>(p2 - q5));
  store<f32>(o + 4 * step, <f32>(p3 + q4));
  store<f32>(o + 3 * step, <f32>(p3 - q4));
}

/** Math.round(v / 8 + 128) of an IDCT output, clamped to a sample. */
// @ts-ignore: decorator
@inline function sample(v: f32): u8 {
  const x = <f64>v / 8 + 128;
  const r = floor<f64>(x);
  const s = <i32>(x - r >= 0.5 ? r + 1 : r);
  return <u8>(s < 0 ? 0 : s > 255 ? 255 : s);
}

/** The `n` blocks of coefficients at `coefs` (256 bytes each) with their AC flags at `flags`, as samples at `out` (64 bytes each); `ws` takes 256 bytes. */
export function jpegIdctBlocks(coefs: usize, flags: usize, out: usize, n: i32, ws: usize): void {
  for (let b = 0; b < n; b++) {
    const c = coefs + (<usize>b << 8);
    const o = out + (<usize>b << 6);
    if (load<u8>(flags + b) == 0) {
      memory.fill(o, sample(load<f32>(c)), 64);
      continue;
    }
    for (let col: usize = 0; col < 8; col++) idct8(c + (col << 2), ws + (col << 2), 32);
    for (let r: usize = 0; r < 8; r++) idct8(ws + (r << 5), ws + (r << 5), 4);
    // two samples a step, as `sample` makes each
    const eight = f64x2.splat(8);
    const shift = f64x2.splat(128);
    const half = f64x2.splat(0.5);
    const one = f64x2.splat(1);
    const zero = i32x4.splat(0);
    const max = i32x4.splat(255);
    for (let i: usize = 0; i < 64; i += 2) {
      const x = f64x2.add(f64x2.div(f64x2.promote_low_f32x4(v128.load64_zero(ws + (i << 2))), eight), shift);
      const r = f64x2.floor(x);
      const s = i32x4.trunc_sat_f64x2_s_zero(v128.bitselect(f64x2.add(r, one), r, f64x2.ge(f64x2.sub(x, r), half)));
      const c = i32x4.min_s(i32x4.max_s(s, zero), max);
      v128.store16_lane(o + i, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(c, c), zero), 0);
    }
  }
}
