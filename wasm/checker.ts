/*
 * The frame checker's kernels (sim/reference), written from the
 * definitions and apart from the device kernels in engines.ts: they share
 * no function, and compute the colour conversion another way (pairs of
 * terms by i32x4.dot_i16x8_s, clamped with min and max in 32-bit lanes,
 * packed by shifts), so a slip in one is not repeated in the other. Each
 * has a plain TypeScript twin in src/sim/reference it must match byte for
 * byte (test/sim).
 */

/**
 * Converts 8 pixels (their Y, U and V in the low 8 bytes of each vector,
 * chroma already per pixel) to B G R X words at `d`:
 * with C = Y-16, D = U-128, E = V-128, B = (298C + 516D + 128) >> 8,
 * G = (298C - 100D - 208E + 128) >> 8, R = (298C + 409E + 128) >> 8,
 * each clamped to 0..255.
 */
// @ts-ignore: decorator
@inline function pixels8(y: v128, u: v128, v: v128, d: usize): void {
  const c = i16x8.sub(i16x8.extend_low_i8x16_u(y), i16x8.splat(16));
  const dd = i16x8.sub(i16x8.extend_low_i8x16_u(u), i16x8.splat(128));
  const e = i16x8.sub(i16x8.extend_low_i8x16_u(v), i16x8.splat(128));
  words4(i16x8.shuffle(c, dd, 0, 8, 1, 9, 2, 10, 3, 11), i16x8.shuffle(c, e, 0, 8, 1, 9, 2, 10, 3, 11), d);
  words4(i16x8.shuffle(c, dd, 4, 12, 5, 13, 6, 14, 7, 15), i16x8.shuffle(c, e, 4, 12, 5, 13, 6, 14, 7, 15), d + 16);
}

/** Four pixels from their (C, D) and (C, E) pairs. */
// @ts-ignore: decorator
@inline function words4(cd: v128, ce: v128, d: usize): void {
  const half = i32x4.splat(128);
  const b = i32x4.shr_s(i32x4.add(i32x4.dot_i16x8_s(cd, i32x4.splat((516 << 16) | 298)), half), 8);
  const g = i32x4.shr_s(i32x4.add(i32x4.add(i32x4.dot_i16x8_s(cd, i32x4.splat((-100 << 16) | 298)), i32x4.dot_i16x8_s(ce, i32x4.splat(-208 << 16))), half), 8);
  const r = i32x4.shr_s(i32x4.add(i32x4.dot_i16x8_s(ce, i32x4.splat((409 << 16) | 298)), half), 8);
  const lo = i32x4.splat(0);
  const hi = i32x4.splat(255);
  const bc = i32x4.min_s(i32x4.max_s(b, lo), hi);
  const gc = i32x4.min_s(i32x4.max_s(g, lo), hi);
  const rc = i32x4.min_s(i32x4.max_s(r, lo), hi);
  v128.store(d, v128.or(v128.or(i32x4.splat(0xff000000), i32x4.shl(rc, 16)), v128.or(i32x4.shl(gc, 8), bc)));
}

/** One pixel from its definition, for the last pixels of a line. */
// @ts-ignore: decorator
@inline function pixel1(y: i32, u: i32, v: i32, d: usize): void {
  const c = y - 16;
  const dd = u - 128;
  const e = v - 128;
  const b = min(max((298 * c + 516 * dd + 128) >> 8, 0), 255);
  const g = min(max((298 * c - 100 * dd - 208 * e + 128) >> 8, 0), 255);
  const r = min(max((298 * c + 409 * e + 128) >> 8, 0), 255);
  store<u32>(d, 0xff000000 | (r << 16) | (g << 8) | b);
}

/**
 * Converts a YUYV (`yuyv` 1) or NV12 (0) frame of `sw`x`sh` at `src` to
 * XRGB8888 at 1/`scale` of its size at `dst`: output pixel (x, y) is source
 * pixel (x*scale, y*scale) with the chroma its source pixel carries
 * (sim/reference/yuv.ts convertReference, to XR24).
 */
export function checkToXrgb8888(src: usize, sw: i32, sh: i32, scale: i32, yuyv: i32, dst: usize): void {
  const dw = sw / scale;
  const dh = sh / scale;
  const groups = dw & ~7;
  let o = dst;
  for (let y = 0; y < dh; y++) {
    const sy = y * scale;
    // where line sy's luma and chroma start, and how far apart its samples are
    const luma = src + <usize>(yuyv ? 2 * sw * sy : sw * sy);
    const chroma = src + <usize>(yuyv ? 2 * sw * sy + 1 : sw * sh + sw * (sy >> 1));
    const lumaStep = yuyv ? 2 : 1;
    const pairStep = yuyv ? 4 : 2;
    const vOffset = yuyv ? 2 : 1;
    for (let x = 0; x < groups; x += 8) {
      let yv: v128, uv: v128, vv: v128;
      if (yuyv) {
        if (scale == 1) {
          const a = v128.load(luma + 2 * x);
          yv = i8x16.shuffle(a, a, 0, 2, 4, 6, 8, 10, 12, 14, 0, 0, 0, 0, 0, 0, 0, 0);
          uv = i8x16.shuffle(a, a, 1, 1, 5, 5, 9, 9, 13, 13, 0, 0, 0, 0, 0, 0, 0, 0);
          vv = i8x16.shuffle(a, a, 3, 3, 7, 7, 11, 11, 15, 15, 0, 0, 0, 0, 0, 0, 0, 0);
        } else {
          const a = v128.load(luma + 4 * x);
          const b = v128.load(luma + 4 * x, 16);
          yv = i8x16.shuffle(a, b, 0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0);
          uv = i8x16.shuffle(a, b, 1, 5, 9, 13, 17, 21, 25, 29, 0, 0, 0, 0, 0, 0, 0, 0);
          vv = i8x16.shuffle(a, b, 3, 7, 11, 15, 19, 23, 27, 31, 0, 0, 0, 0, 0, 0, 0, 0);
        }
      } else if (scale == 1) {
        yv = v128.load64_zero(luma + x);
        const c = v128.load64_zero(chroma + x);
        uv = i8x16.shuffle(c, c, 0, 0, 2, 2, 4, 4, 6, 6, 0, 0, 0, 0, 0, 0, 0, 0);
        vv = i8x16.shuffle(c, c, 1, 1, 3, 3, 5, 5, 7, 7, 0, 0, 0, 0, 0, 0, 0, 0);
      } else {
        const a = v128.load(luma + 2 * x);
        const c = v128.load(chroma + 2 * x);
        yv = i8x16.shuffle(a, a, 0, 2, 4, 6, 8, 10, 12, 14, 0, 0, 0, 0, 0, 0, 0, 0);
        uv = i8x16.shuffle(c, c, 0, 2, 4, 6, 8, 10, 12, 14, 0, 0, 0, 0, 0, 0, 0, 0);
        vv = i8x16.shuffle(c, c, 1, 3, 5, 7, 9, 11, 13, 15, 0, 0, 0, 0, 0, 0, 0, 0);
      }
      pixels8(yv, uv, vv, o);
      o += 32;
    }
    for (let x = groups; x < dw; x++) {
      const sx = x * scale;
      const u = chroma + <usize>(pairStep * (sx >> 1));
      pixel1(load<u8>(luma + <usize>(lumaStep * sx)), load<u8>(u), load<u8>(u + vOffset), o);
      o += 4;
    }
  }
}

/** Every byte of `out` is floor((a + b) / 2) of the bytes of `a` and `b`, by 16-bit sums (sim/reference/blend.ts averageReference). */
export function checkAverage(a: usize, b: usize, out: usize, len: i32): void {
  const vecs = len & ~15;
  for (let i = 0; i < vecs; i += 16) {
    const x = v128.load(a + i);
    const y = v128.load(b + i);
    const lo = i16x8.shr_u(i16x8.add(i16x8.extend_low_i8x16_u(x), i16x8.extend_low_i8x16_u(y)), 1);
    const hi = i16x8.shr_u(i16x8.add(i16x8.extend_high_i8x16_u(x), i16x8.extend_high_i8x16_u(y)), 1);
    v128.store(out + i, i8x16.narrow_i16x8_u(lo, hi));
  }
  for (let i = vecs; i < len; i++) store<u8>(out + i, (<u32>load<u8>(a + i) + <u32>load<u8>(b + i)) >> 1);
}
