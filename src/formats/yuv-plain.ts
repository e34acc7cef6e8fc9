/*
 * The ISP's conversions as plain loops, one pixel a step:
 * the definitions the WebAssembly kernels (wasm/engines.ts) are tested
 * against, byte for byte (test/formats/yuv-kernels.test.ts).
 */

/**
 * Converts a YUYV frame of `sw`x`sh` into NV12 at 1/`scale` of its size
 * (what the ISP's scaler and chroma resampler compute): luma by nearest
 * sample (every `scale`-th pixel of every `scale`-th line); each NV12
 * chroma sample, which covers a 2x2 block of output pixels, is the
 * rounded mean of the U (and V) the two source lines of that block carry
 * at its left pixel (BT.601 4:2:2 to 4:2:0 vertical subsampling, chroma
 * sited as MPEG-2). `dst` holds the output frame (width*height*3/2 bytes).
 * The plain reference of the WebAssembly kernel yuv.ts runs.
 */
export function yuyvToNv12Plain(src: Uint8Array, sw: number, sh: number, scale: 1 | 2, dst: Uint8Array): void {
  const dw = sw / scale;
  const dh = sh / scale;
  const stride = sw * 2;
  for (let y = 0; y < dh; y++) {
    const s = y * scale * stride;
    const d = y * dw;
    for (let x = 0; x < dw; x++) dst[d + x] = src[s + x * scale * 2]!;
  }
  const uv = dw * dh;
  for (let cy = 0; cy < dh / 2; cy++) {
    const s0 = 2 * cy * scale * stride;
    const s1 = Math.min((2 * cy + 1) * scale, sh - 1) * stride;
    const d = uv + cy * dw;
    for (let cx = 0; cx < dw / 2; cx++) {
      // the left source pixel of the block; its pair (4 bytes Y0 U Y1 V) starts at an even pixel
      const px = (2 * cx * scale) & ~1;
      const o = px * 2;
      dst[d + 2 * cx] = (src[s0 + o + 1]! + src[s1 + o + 1]! + 1) >> 1;
      dst[d + 2 * cx + 1] = (src[s0 + o + 3]! + src[s1 + o + 3]! + 1) >> 1;
    }
  }
}

/**
 * Copies or halves an NV12 frame of `sw`x`sh` into NV12 at 1/`scale` of
 * its size (the scaler with the format unchanged): luma and chroma both by
 * nearest sample, so at scale 2 output chroma sample (cx, cy) is source
 * chroma sample (2cx, 2cy). `dst` holds width*height*3/2 bytes of output.
 * The plain reference of the WebAssembly kernel yuv.ts runs.
 */
export function nv12ToNv12Plain(src: Uint8Array, sw: number, sh: number, scale: 1 | 2, dst: Uint8Array): void {
  if (scale === 1) {
    dst.set(src.subarray(0, sw * sh + sw * (sh >> 1)));
    return;
  }
  const dw = sw >> 1;
  const dh = sh >> 1;
  for (let y = 0; y < dh; y++) {
    const s = 2 * y * sw;
    const d = y * dw;
    for (let x = 0; x < dw; x++) dst[d + x] = src[s + 2 * x]!;
  }
  const suv = sw * sh;
  const duv = dw * dh;
  for (let cy = 0; cy < dh >> 1; cy++) {
    const s = suv + 2 * cy * sw;
    const d = duv + cy * dw;
    for (let cx = 0; cx < dw; cx += 2) {
      // a chroma pair (U, V) per 2 output pixels; source pairs 4 bytes apart
      dst[d + cx] = src[s + 2 * cx]!;
      dst[d + cx + 1] = src[s + 2 * cx + 1]!;
    }
  }
}

/*
 * BT.601 limited range to full-range RGB in 8-bit fixed point: with
 * C = Y-16, D = U-128, E = V-128,
 *   R = (298C + 409E + 128) >> 8
 *   G = (298C - 100D - 208E + 128) >> 8
 *   B = (298C + 516D + 128) >> 8
 * each clamped to 0..255. Every sum lies in -71000..137000, so its >> 8
 * indexes CLAMP at +CLAMP_BIAS without a branch.
 */
const CLAMP_BIAS = 512;
const CLAMP = new Uint8Array(2048);
for (let i = 0; i < CLAMP.length; i++) CLAMP[i] = Math.min(255, Math.max(0, i - CLAMP_BIAS));

/** The X byte written with each pixel: XRGB8888's X is "don't care"; 0xff makes the same bytes an opaque ARGB8888. */
const XRGB_X = 0xff;

/** Whether this machine stores a 32-bit word low byte first, so a pixel's B G R X can be one word store. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** `dst` as 32-bit words (one XRGB8888 pixel each) when a word store writes B G R X in that order, else null. */
function pixelWords(dst: Uint8Array): Uint32Array | null {
  return LITTLE_ENDIAN && dst.byteOffset % 4 === 0 ? new Uint32Array(dst.buffer, dst.byteOffset, dst.length >> 2) : null;
}

/**
 * Converts an NV12 frame of `sw`x`sh` (BT.601, limited range: the kernel's
 * V4L2_COLORSPACE_SMPTE170M with V4L2_YCBCR_ENC_601 and
 * V4L2_QUANTIZATION_LIM_RANGE) into XRGB8888 (DRM_FORMAT_XRGB8888, V4L2's
 * XBGR32 'XR24': bytes B, G, R, X per pixel, X = 0xff) at 1/`scale` of its
 * size. Output pixel (x, y) is source pixel (x*scale, y*scale) (nearest);
 * its chroma is the NV12 sample of the 2x2 source block holding that pixel
 * (nearest upsampling). Integer arithmetic: R = clamp((298(Y-16) +
 * 409(V-128) + 128) >> 8), G = clamp((298(Y-16) - 100(U-128) - 208(V-128)
 * + 128) >> 8), B = clamp((298(Y-16) + 516(U-128) + 128) >> 8). `dst` holds
 * width*height*4 bytes of output. The plain reference of the WebAssembly
 * kernel yuv.ts runs (the same bytes, 16 pixels a step).
 */
export function nv12ToXrgb8888Plain(src: Uint8Array, sw: number, sh: number, scale: 1 | 2, dst: Uint8Array): void {
  const dw = sw / scale;
  const dh = sh / scale;
  const uv = sw * sh;
  // at scale 1 two output pixels share a chroma pair; at scale 2 each output pixel has its own
  const perChroma = scale === 1 ? 2 : 1;
  const words = pixelWords(dst);
  for (let y = 0; y < dh; y++) {
    const sy = y * scale;
    const ys = sy * sw;
    const cs = uv + (sy >> 1) * sw;
    let d = y * dw * 4;
    for (let x = 0; x < dw; x += perChroma) {
      const sx = x * scale;
      const c = cs + (sx & ~1);
      const u = src[c]! - 128;
      const v = src[c + 1]! - 128;
      const rv = 409 * v + 128 + (CLAMP_BIAS << 8);
      const guv = -100 * u - 208 * v + 128 + (CLAMP_BIAS << 8);
      const bu = 516 * u + 128 + (CLAMP_BIAS << 8);
      const l0 = 298 * (src[ys + sx]! - 16);
      if (words) words[d >> 2] = (XRGB_X << 24) | (CLAMP[(l0 + rv) >> 8]! << 16) | (CLAMP[(l0 + guv) >> 8]! << 8) | CLAMP[(l0 + bu) >> 8]!;
      else {
        dst[d] = CLAMP[(l0 + bu) >> 8]!;
        dst[d + 1] = CLAMP[(l0 + guv) >> 8]!;
        dst[d + 2] = CLAMP[(l0 + rv) >> 8]!;
        dst[d + 3] = XRGB_X;
      }
      d += 4;
      if (perChroma === 2) {
        const l1 = 298 * (src[ys + sx + 1]! - 16);
        if (words) words[d >> 2] = (XRGB_X << 24) | (CLAMP[(l1 + rv) >> 8]! << 16) | (CLAMP[(l1 + guv) >> 8]! << 8) | CLAMP[(l1 + bu) >> 8]!;
        else {
          dst[d] = CLAMP[(l1 + bu) >> 8]!;
          dst[d + 1] = CLAMP[(l1 + guv) >> 8]!;
          dst[d + 2] = CLAMP[(l1 + rv) >> 8]!;
          dst[d + 3] = XRGB_X;
        }
        d += 4;
      }
    }
  }
}

/**
 * Converts a YUYV frame of `sw`x`sh` (BT.601 limited range, as
 * nv12ToXrgb8888) into XRGB8888 (bytes B, G, R, X = 0xff) at 1/`scale` of
 * its size: output pixel (x, y) is source pixel (x*scale, y*scale); each
 * source pixel pair (Y0 U Y1 V) shares its U and V. Same integer formulas
 * as nv12ToXrgb8888. `dst` holds width*height*4 bytes. The plain
 * reference of the WebAssembly kernel yuv.ts runs.
 */
export function yuyvToXrgb8888Plain(src: Uint8Array, sw: number, sh: number, scale: 1 | 2, dst: Uint8Array): void {
  const dw = sw / scale;
  const dh = sh / scale;
  const stride = sw * 2;
  const perChroma = scale === 1 ? 2 : 1;
  const words = pixelWords(dst);
  for (let y = 0; y < dh; y++) {
    const s = y * scale * stride;
    let d = y * dw * 4;
    for (let x = 0; x < dw; x += perChroma) {
      const sx = x * scale;
      // the pair Y0 U Y1 V holding source pixel sx
      const p = s + (sx & ~1) * 2;
      const u = src[p + 1]! - 128;
      const v = src[p + 3]! - 128;
      const rv = 409 * v + 128 + (CLAMP_BIAS << 8);
      const guv = -100 * u - 208 * v + 128 + (CLAMP_BIAS << 8);
      const bu = 516 * u + 128 + (CLAMP_BIAS << 8);
      const l0 = 298 * (src[s + sx * 2]! - 16);
      if (words) words[d >> 2] = (XRGB_X << 24) | (CLAMP[(l0 + rv) >> 8]! << 16) | (CLAMP[(l0 + guv) >> 8]! << 8) | CLAMP[(l0 + bu) >> 8]!;
      else {
        dst[d] = CLAMP[(l0 + bu) >> 8]!;
        dst[d + 1] = CLAMP[(l0 + guv) >> 8]!;
        dst[d + 2] = CLAMP[(l0 + rv) >> 8]!;
        dst[d + 3] = XRGB_X;
      }
      d += 4;
      if (perChroma === 2) {
        const l1 = 298 * (src[p + 2]! - 16);
        if (words) words[d >> 2] = (XRGB_X << 24) | (CLAMP[(l1 + rv) >> 8]! << 16) | (CLAMP[(l1 + guv) >> 8]! << 8) | CLAMP[(l1 + bu) >> 8]!;
        else {
          dst[d] = CLAMP[(l1 + bu) >> 8]!;
          dst[d + 1] = CLAMP[(l1 + guv) >> 8]!;
          dst[d + 2] = CLAMP[(l1 + rv) >> 8]!;
          dst[d + 3] = XRGB_X;
        }
        d += 4;
      }
    }
  }
}
