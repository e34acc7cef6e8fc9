import type { FrameFormat } from '../../formats/index.ts';

/*
 * The ISP's conversions, from their definitions (formats/yuv.ts computes
 * the same bytes its own, faster way). Frames are tightly packed, as
 * frameFormat lays them out:
 *   YUYV: line y at 2w*y; pixels 2k and 2k+1 share the 4 bytes Y0 U Y1 V.
 *   NV12: w*h luma bytes, then h/2 lines of w bytes of U V pairs; chroma
 *         pair (cx, cy) belongs to the 2x2 pixel block (2cx.., 2cy..).
 *   XR24: 4 bytes B G R X per pixel, X = 0xff.
 * Scaling by `scale` takes source pixel (x*scale, y*scale) for output
 * pixel (x, y) (nearest). YUV to RGB is BT.601 limited range, integer:
 * with C = Y-16, D = U-128, E = V-128, each channel is
 * floor((298C + ... + 128) / 256) clamped to 0..255.
 */

function clamp8(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Where source pixel (x, y)'s Y, U and V bytes are. */
interface Sampler {
  y(x: number, y: number): number;
  u(x: number, y: number): number;
  v(x: number, y: number): number;
}

function sampler(fourcc: 'YUYV' | 'NV12', w: number, h: number): Sampler {
  if (fourcc === 'YUYV') {
    return {
      y: (x, y) => 2 * w * y + 2 * x,
      u: (x, y) => 2 * w * y + 4 * Math.floor(x / 2) + 1,
      v: (x, y) => 2 * w * y + 4 * Math.floor(x / 2) + 3,
    };
  }
  return {
    y: (x, y) => w * y + x,
    u: (x, y) => w * h + w * Math.floor(y / 2) + 2 * Math.floor(x / 2),
    v: (x, y) => w * h + w * Math.floor(y / 2) + 2 * Math.floor(x / 2) + 1,
  };
}

/**
 * Converts `src` (a frame of `inFmt`, YUYV or NV12) into `out` (a frame
 * of `outFmt`, NV12 or XR24, 1/`scale` of the source's size), as the
 * ISP's mem-to-mem job does.
 */
export function convertReference(src: Uint8Array, inFmt: FrameFormat, outFmt: FrameFormat, scale: 1 | 2, out: Uint8Array): void {
  if (inFmt.fourcc === 'XR24') throw new Error('convertReference: the ISP takes no XR24 input');
  const sw = inFmt.width;
  const sh = inFmt.height;
  const dw = sw / scale;
  const dh = sh / scale;
  const at = sampler(inFmt.fourcc, sw, sh);
  if (outFmt.fourcc === 'XR24') {
    for (let y = 0; y < dh; y++) {
      const sy = y * scale;
      for (let x = 0; x < dw; x++) {
        const sx = x * scale;
        const c = src[at.y(sx, sy)]! - 16;
        const d = src[at.u(sx, sy)]! - 128;
        const e = src[at.v(sx, sy)]! - 128;
        const o = 4 * (dw * y + x);
        out[o] = clamp8((298 * c + 516 * d + 128) >> 8);
        out[o + 1] = clamp8((298 * c - 100 * d - 208 * e + 128) >> 8);
        out[o + 2] = clamp8((298 * c + 409 * e + 128) >> 8);
        out[o + 3] = 0xff;
      }
    }
    return;
  }
  if (outFmt.fourcc !== 'NV12') throw new Error(`convertReference: the ISP makes no ${outFmt.fourcc}`);
  for (let y = 0; y < dh; y++) for (let x = 0; x < dw; x++) out[dw * y + x] = src[at.y(x * scale, y * scale)]!;
  // Each output chroma pair stands for the block whose top-left output pixel is (2cx, 2cy).
  for (let cy = 0; cy < dh / 2; cy++) {
    const top = 2 * cy * scale;
    const below = Math.min((2 * cy + 1) * scale, sh - 1);
    for (let cx = 0; cx < dw / 2; cx++) {
      const sx = 2 * cx * scale;
      const o = dw * dh + dw * cy + 2 * cx;
      if (inFmt.fourcc === 'NV12') {
        // 4:2:0 to 4:2:0: the source block's own chroma
        out[o] = src[at.u(sx, top)]!;
        out[o + 1] = src[at.v(sx, top)]!;
      } else {
        // 4:2:2 to 4:2:0: the rounded mean of the chroma of the block's two lines
        out[o] = (src[at.u(sx, top)]! + src[at.u(sx, below)]! + 1) >> 1;
        out[o + 1] = (src[at.v(sx, top)]! + src[at.v(sx, below)]! + 1) >> 1;
      }
    }
  }
}
