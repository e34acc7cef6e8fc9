/*
 * The device engines' per-pixel kernels, in AssemblyScript, compiled to
 * WebAssembly with 128-bit SIMD by scripts/build-wasm.ts (npm run
 * build:wasm). The TypeScript in src/formats loads the result and copies
 * frames in and out of this module's memory; every kernel here has a plain
 * TypeScript reference it must match byte for byte (test/formats).
 *
 * Pointers are byte offsets into the module's own memory, which the caller
 * lays out and grows; a kernel allocates nothing and may read up to 64
 * bytes past the end of its input (the caller leaves that much slack).
 */

// ---------------------------------------------------------------- BT.601 limited range to XRGB8888
/*
 * Per pixel, with Y, U, V as stored (0..255):
 *   B = (298Y + 516U + KB) >> 8,  KB = 128 - 298*16 - 516*128
 *   G = (298Y - 100U - 208V + KG) >> 8,  KG = 128 - 298*16 + 100*128 + 208*128
 *   R = (298Y + 409V + KR) >> 8,  KR = 128 - 298*16 - 409*128
 * which is formats/yuv.ts's 298(Y-16) + 516(U-128) + 128 with the bias
 * folded in. The sums fit 32 bits; the arithmetic shift floors as JS's >>
 * does, and the two saturating narrows (i32 to i16, then i16 to u8) are
 * the clamp to 0..255.
 */
const KB: i32 = 128 - 298 * 16 - 516 * 128;
const KG: i32 = 128 - 298 * 16 + 100 * 128 + 208 * 128;
const KR: i32 = 128 - 298 * 16 - 409 * 128;

/** One channel of 8 pixels as i16: (a*ca + b*cb + k) >> 8, where a and b hold 8 u16 samples. */
// @ts-ignore: decorator
@inline function chan2(a: v128, ca: v128, b: v128, cb: v128, k: v128): v128 {
  const lo = i32x4.shr_s(i32x4.add(i32x4.add(i32x4.extmul_low_i16x8_s(a, ca), i32x4.extmul_low_i16x8_s(b, cb)), k), 8);
  const hi = i32x4.shr_s(i32x4.add(i32x4.add(i32x4.extmul_high_i16x8_s(a, ca), i32x4.extmul_high_i16x8_s(b, cb)), k), 8);
  return i16x8.narrow_i32x4_s(lo, hi);
}

/** The green channel of 8 pixels as i16: three terms. */
// @ts-ignore: decorator
@inline function chan3(y: v128, u: v128, v: v128): v128 {
  const cy = i16x8.splat(298);
  const cu = i16x8.splat(-100);
  const cv = i16x8.splat(-208);
  const k = i32x4.splat(KG);
  const lo = i32x4.shr_s(i32x4.add(i32x4.add(i32x4.add(i32x4.extmul_low_i16x8_s(y, cy), i32x4.extmul_low_i16x8_s(u, cu)), i32x4.extmul_low_i16x8_s(v, cv)), k), 8);
  const hi = i32x4.shr_s(i32x4.add(i32x4.add(i32x4.add(i32x4.extmul_high_i16x8_s(y, cy), i32x4.extmul_high_i16x8_s(u, cu)), i32x4.extmul_high_i16x8_s(v, cv)), k), 8);
  return i16x8.narrow_i32x4_s(lo, hi);
}

/**
 * Converts 16 pixels, their Y, U and V as 16 bytes each (chroma already
 * repeated per pixel), and stores them as 64 bytes of B G R X at `d`.
 */
// @ts-ignore: decorator
@inline function xrgb16(y8: v128, u8: v128, v8: v128, d: usize): void {
  const yl = i16x8.extend_low_i8x16_u(y8);
  const yh = i16x8.extend_high_i8x16_u(y8);
  const ul = i16x8.extend_low_i8x16_u(u8);
  const uh = i16x8.extend_high_i8x16_u(u8);
  const vl = i16x8.extend_low_i8x16_u(v8);
  const vh = i16x8.extend_high_i8x16_u(v8);
  const c298 = i16x8.splat(298);
  const c516 = i16x8.splat(516);
  const c409 = i16x8.splat(409);
  const kb = i32x4.splat(KB);
  const kr = i32x4.splat(KR);
  const b = i8x16.narrow_i16x8_u(chan2(yl, c298, ul, c516, kb), chan2(yh, c298, uh, c516, kb));
  const g = i8x16.narrow_i16x8_u(chan3(yl, ul, vl), chan3(yh, uh, vh));
  const r = i8x16.narrow_i16x8_u(chan2(yl, c298, vl, c409, kr), chan2(yh, c298, vh, c409, kr));
  const x = i8x16.splat(-1);
  const bgLo = i8x16.shuffle(b, g, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const bgHi = i8x16.shuffle(b, g, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const rxLo = i8x16.shuffle(r, x, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const rxHi = i8x16.shuffle(r, x, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  v128.store(d, i16x8.shuffle(bgLo, rxLo, 0, 8, 1, 9, 2, 10, 3, 11));
  v128.store(d, i16x8.shuffle(bgLo, rxLo, 4, 12, 5, 13, 6, 14, 7, 15), 16);
  v128.store(d, i16x8.shuffle(bgHi, rxHi, 0, 8, 1, 9, 2, 10, 3, 11), 32);
  v128.store(d, i16x8.shuffle(bgHi, rxHi, 4, 12, 5, 13, 6, 14, 7, 15), 48);
}

/** One pixel, scalar: the tail of a line that is not a multiple of 16 pixels. */
// @ts-ignore: decorator
@inline function xrgb1(y: i32, u: i32, v: i32, d: usize): void {
  const l = 298 * y;
  const b = clamp8((l + 516 * u + KB) >> 8);
  const g = clamp8((l - 100 * u - 208 * v + KG) >> 8);
  const r = clamp8((l + 409 * v + KR) >> 8);
  store<u32>(d, 0xff000000 | (r << 16) | (g << 8) | b);
}

// @ts-ignore: decorator
@inline function clamp8(v: i32): u32 {
  return <u32>(v < 0 ? 0 : v > 255 ? 255 : v);
}

/**
 * NV12 (`sw`x`sh`) to XRGB8888 at 1/`scale` (1 or 2) of its size, nearest
 * sample, chroma of the 2x2 block: formats/yuv.ts nv12ToXrgb8888.
 */
export function nv12ToXrgb8888(src: usize, sw: i32, sh: i32, scale: i32, dst: usize): void {
  const dw = sw / scale;
  const dh = sh / scale;
  const uv = src + <usize>(sw * sh);
  const blocks = dw & ~15;
  let d = dst;
  for (let y = 0; y < dh; y++) {
    const sy = y * scale;
    const ys = src + <usize>(sy * sw);
    const cs = uv + <usize>((sy >> 1) * sw);
    if (scale == 1) {
      for (let x = 0; x < blocks; x += 16) {
        const y8 = v128.load(ys + x);
        const c = v128.load(cs + x);
        const u8 = i8x16.shuffle(c, c, 0, 0, 2, 2, 4, 4, 6, 6, 8, 8, 10, 10, 12, 12, 14, 14);
        const v8 = i8x16.shuffle(c, c, 1, 1, 3, 3, 5, 5, 7, 7, 9, 9, 11, 11, 13, 13, 15, 15);
        xrgb16(y8, u8, v8, d);
        d += 64;
      }
      for (let x = blocks; x < dw; x++) {
        const c = cs + <usize>(x & ~1);
        xrgb1(load<u8>(ys + x), load<u8>(c), load<u8>(c, 1), d);
        d += 4;
      }
    } else {
      for (let x = 0; x < blocks; x += 16) {
        const p = ys + 2 * x;
        const q = cs + 2 * x;
        const ya = v128.load(p);
        const yb = v128.load(p, 16);
        const ca = v128.load(q);
        const cb = v128.load(q, 16);
        const y8 = i8x16.shuffle(ya, yb, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        const u8 = i8x16.shuffle(ca, cb, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        const v8 = i8x16.shuffle(ca, cb, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        xrgb16(y8, u8, v8, d);
        d += 64;
      }
      for (let x = blocks; x < dw; x++) {
        const c = cs + <usize>(2 * x);
        xrgb1(load<u8>(ys + 2 * x), load<u8>(c), load<u8>(c, 1), d);
        d += 4;
      }
    }
  }
}

/**
 * YUYV (`sw`x`sh`) to XRGB8888 at 1/`scale` of its size: output pixel x
 * is source pixel x*scale, with the U and V of its pair: formats/yuv.ts
 * yuyvToXrgb8888.
 */
export function yuyvToXrgb8888(src: usize, sw: i32, sh: i32, scale: i32, dst: usize): void {
  const dw = sw / scale;
  const dh = sh / scale;
  const blocks = dw & ~15;
  let d = dst;
  for (let y = 0; y < dh; y++) {
    const s = src + <usize>(y * scale * sw * 2);
    if (scale == 1) {
      for (let x = 0; x < blocks; x += 16) {
        const a = v128.load(s + 2 * x);
        const b = v128.load(s + 2 * x, 16);
        const y8 = i8x16.shuffle(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        const u8 = i8x16.shuffle(a, b, 1, 1, 5, 5, 9, 9, 13, 13, 17, 17, 21, 21, 25, 25, 29, 29);
        const v8 = i8x16.shuffle(a, b, 3, 3, 7, 7, 11, 11, 15, 15, 19, 19, 23, 23, 27, 27, 31, 31);
        xrgb16(y8, u8, v8, d);
        d += 64;
      }
    } else {
      for (let x = 0; x < blocks; x += 16) {
        // output pixel k is the first of source pair k: its Y, U and V at 4k, 4k+1, 4k+3
        const p = s + 4 * x;
        const a = v128.load(p);
        const b = v128.load(p, 16);
        const c = v128.load(p, 32);
        const e = v128.load(p, 48);
        const yab = i8x16.shuffle(a, b, 0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0);
        const yce = i8x16.shuffle(c, e, 0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0);
        const uab = i8x16.shuffle(a, b, 1, 5, 9, 13, 17, 21, 25, 29, 0, 0, 0, 0, 0, 0, 0, 0);
        const uce = i8x16.shuffle(c, e, 1, 5, 9, 13, 17, 21, 25, 29, 0, 0, 0, 0, 0, 0, 0, 0);
        const vab = i8x16.shuffle(a, b, 3, 7, 11, 15, 19, 23, 27, 31, 0, 0, 0, 0, 0, 0, 0, 0);
        const vce = i8x16.shuffle(c, e, 3, 7, 11, 15, 19, 23, 27, 31, 0, 0, 0, 0, 0, 0, 0, 0);
        const y8 = i64x2.shuffle(yab, yce, 0, 2);
        const u8 = i64x2.shuffle(uab, uce, 0, 2);
        const v8 = i64x2.shuffle(vab, vce, 0, 2);
        xrgb16(y8, u8, v8, d);
        d += 64;
      }
    }
    for (let x = blocks; x < dw; x++) {
      const sx = x * scale;
      const p = s + <usize>((sx & ~1) * 2);
      xrgb1(load<u8>(s + <usize>(sx * 2)), load<u8>(p, 1), load<u8>(p, 3), d);
      d += 4;
    }
  }
}

// ---------------------------------------------------------------- the blend unit

/**
 * Averages `len` bytes of `a` and `b` into `out` (which may be `a`),
 * rounding down: the rounding-up average less the bit the halving
 * dropped, 16 bytes a step: formats/blend.ts averageBytes.
 */
export function averageBytes(a: usize, b: usize, out: usize, len: i32): void {
  const one = i8x16.splat(1);
  const vecs = len & ~15;
  for (let i = 0; i < vecs; i += 16) {
    const x = v128.load(a + i);
    const y = v128.load(b + i);
    v128.store(out + i, i8x16.sub(i8x16.avgr_u(x, y), v128.and(v128.xor(x, y), one)));
  }
  for (let i = vecs; i < len; i++) store<u8>(out + i, (<u32>load<u8>(a + i) + <u32>load<u8>(b + i)) >> 1);
}

// ---------------------------------------------------------------- the scaler with NV12 out

/**
 * YUYV (`sw`x`sh`) to NV12 at 1/`scale` of its size: luma by nearest
 * sample, each chroma pair the rounded mean of the U (and V) the block's
 * two source lines carry at its left pixel: formats/yuv.ts yuyvToNv12.
 */
export function yuyvToNv12(src: usize, sw: i32, sh: i32, scale: i32, dst: usize): void {
  const dw = sw / scale;
  const dh = sh / scale;
  const stride = <usize>(sw * 2);
  const lumaBlocks = dw & ~15;
  for (let y = 0; y < dh; y++) {
    const s = src + <usize>(y * scale) * stride;
    const d = dst + <usize>(y * dw);
    for (let x = 0; x < lumaBlocks; x += 16) {
      if (scale == 1) {
        const p = s + <usize>(2 * x);
        v128.store(d + x, i8x16.shuffle(v128.load(p), v128.load(p, 16), 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30));
      } else {
        const p = s + <usize>(4 * x);
        const ab = i8x16.shuffle(v128.load(p), v128.load(p, 16), 0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0);
        const ce = i8x16.shuffle(v128.load(p, 32), v128.load(p, 48), 0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0);
        v128.store(d + x, i64x2.shuffle(ab, ce, 0, 2));
      }
    }
    for (let x = lumaBlocks; x < dw; x++) store<u8>(d + x, load<u8>(s + <usize>(x * scale * 2)));
  }
  const uv = dst + <usize>(dw * dh);
  // an odd size's last chroma line and pair take its last block's (the output has room: NV12 rounds them up)
  const pairs = (dw + 1) >> 1;
  const pairBlocks = pairs & ~7;
  for (let cy = 0; cy < (dh + 1) >> 1; cy++) {
    const s0 = src + <usize>(2 * cy * scale) * stride;
    const s1 = src + <usize>min((2 * cy + 1) * scale, sh - 1) * stride;
    const d = uv + <usize>(cy * dw);
    // 8 chroma pairs a step: the rounded means of the two lines, then their U and V at each block's left pixel
    for (let cx = 0; cx < pairBlocks; cx += 8) {
      if (scale == 1) {
        const o = <usize>(4 * cx);
        const a = i8x16.avgr_u(v128.load(s0 + o), v128.load(s1 + o));
        const b = i8x16.avgr_u(v128.load(s0 + o, 16), v128.load(s1 + o, 16));
        v128.store(d + <usize>(2 * cx), i8x16.shuffle(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31));
      } else {
        const o = <usize>(8 * cx);
        const a = i8x16.avgr_u(v128.load(s0 + o), v128.load(s1 + o));
        const b = i8x16.avgr_u(v128.load(s0 + o, 16), v128.load(s1 + o, 16));
        const c = i8x16.avgr_u(v128.load(s0 + o, 32), v128.load(s1 + o, 32));
        const e = i8x16.avgr_u(v128.load(s0 + o, 48), v128.load(s1 + o, 48));
        const ab = i8x16.shuffle(a, b, 1, 3, 9, 11, 17, 19, 25, 27, 0, 0, 0, 0, 0, 0, 0, 0);
        const ce = i8x16.shuffle(c, e, 1, 3, 9, 11, 17, 19, 25, 27, 0, 0, 0, 0, 0, 0, 0, 0);
        v128.store(d + <usize>(2 * cx), i64x2.shuffle(ab, ce, 0, 2));
      }
    }
    for (let cx = pairBlocks; cx < pairs; cx++) {
      const o = <usize>(((2 * cx * scale) & ~1) * 2);
      store<u8>(d + <usize>(2 * cx), <u8>((<u32>load<u8>(s0 + o, 1) + <u32>load<u8>(s1 + o, 1) + 1) >> 1));
      store<u8>(d + <usize>(2 * cx + 1), <u8>((<u32>load<u8>(s0 + o, 3) + <u32>load<u8>(s1 + o, 3) + 1) >> 1));
    }
  }
}

/**
 * Halves an NV12 frame of `sw`x`sh` (both even, the output's width
 * even): luma and chroma by nearest sample, output chroma pair (cx, cy)
 * being source pair (2cx, 2cy): formats/yuv.ts nv12ToNv12 at scale 2.
 */
export function nv12Halve(src: usize, sw: i32, sh: i32, dst: usize): void {
  const dw = sw >> 1;
  const dh = sh >> 1;
  const blocks = dw & ~15;
  for (let y = 0; y < dh; y++) {
    const s = src + <usize>(2 * y * sw);
    const d = dst + <usize>(y * dw);
    for (let x = 0; x < blocks; x += 16) v128.store(d + x, i8x16.shuffle(v128.load(s + 2 * x), v128.load(s + 2 * x, 16), 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30));
    for (let x = blocks; x < dw; x++) store<u8>(d + x, load<u8>(s + <usize>(2 * x)));
  }
  const suv = src + <usize>(sw * sh);
  const duv = dst + <usize>(dw * dh);
  for (let cy = 0; cy < dh >> 1; cy++) {
    const s = suv + <usize>(2 * cy * sw);
    const d = duv + <usize>(cy * dw);
    // every other U V pair: 16-bit lanes 0, 2, 4, ...
    for (let cx = 0; cx < blocks; cx += 16) v128.store(d + cx, i16x8.shuffle(v128.load(s + 2 * cx), v128.load(s + 2 * cx, 16), 0, 2, 4, 6, 8, 10, 12, 14));
    for (let cx = blocks; cx < dw; cx += 2) {
      store<u8>(d + cx, load<u8>(s + <usize>(2 * cx)));
      store<u8>(d + cx + 1, load<u8>(s + <usize>(2 * cx + 1)));
    }
  }
}
