import { nextRegion, wasmHeap, wasmKernels, type FrameFormat } from '../../formats/index.ts';
import { arenaKernels, disjoint } from './arena.ts';

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

/*
 * clamp8 of every value a channel's floor(sum / 256) can take, looked up
 * rather than computed: on busy pictures the two comparisons mispredict
 * so often that they cost more than the rest of the conversion. For Y, U,
 * V in 0..255 the three quotients lie in -277..534 (the blue channel's
 * extremes, (298*-16 + 516*-128 + 128) >> 8 and (298*239 + 516*127 + 128)
 * >> 8); the table spans -1024..1023.
 */
const CLAMP_LOW = -1024;
const CLAMP8 = Uint8Array.from({ length: 2048 }, (_, i) => clamp8(i + CLAMP_LOW));

/** Whether a 32-bit word is stored low byte first here (it is wherever Node runs today; the byte stores serve the rest). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Where a source frame's samples are: line y's luma starts at lumaRow(y),
 * one luma byte every `lumaStep`; its chroma at chromaRow(y), one U V pair
 * every `pairStep` bytes for each two pixels, V `vOffset` bytes after U.
 */
interface Layout {
  lumaRow(y: number): number;
  lumaStep: number;
  chromaRow(y: number): number;
  pairStep: number;
  vOffset: number;
}

function layout(fourcc: 'YUYV' | 'NV12', w: number, h: number): Layout {
  if (fourcc === 'YUYV') return { lumaRow: (y) => 2 * w * y, lumaStep: 2, chromaRow: (y) => 2 * w * y + 1, pairStep: 4, vOffset: 2 };
  return { lumaRow: (y) => w * y, lumaStep: 1, chromaRow: (y) => w * h + w * Math.floor(y / 2), pairStep: 2, vOffset: 1 };
}

/**
 * Converts `src` (a frame of `inFmt`, YUYV or NV12) into `out` (a frame
 * of `outFmt`, NV12 or XR24, 1/`scale` of the source's size), as the
 * ISP's mem-to-mem job does. To XR24 it runs the checker's own
 * WebAssembly kernel (wasm/checker.ts, which shares no code with the
 * ISP's), 8 pixels a step: where both frames are in one ReferenceArena
 * (and apart), on them in place; else on copies in the shared scratch
 * memory. convertReferencePlain is the same bytes one pixel at a time,
 * and the definition that kernel is tested against.
 */
export function convertReference(src: Uint8Array, inFmt: FrameFormat, outFmt: FrameFormat, scale: 1 | 2, out: Uint8Array): void {
  if (outFmt.fourcc !== 'XR24' || inFmt.fourcc === 'XR24') {
    convertReferencePlain(src, inFmt, outFmt, scale, out);
    return;
  }
  const inLen = inFmt.size;
  const outLen = (inFmt.width / scale) * (inFmt.height / scale) * 4;
  if (src.length < inLen || out.length < outLen) throw new Error(`convertReference: ${inLen} bytes in and ${outLen} out needed (have ${src.length} and ${out.length})`);
  const yuyv = inFmt.fourcc === 'YUYV' ? 1 : 0;
  // The kernel writes 4 bytes a pixel while it still reads the source, so only a frame apart from its source is made in place.
  const k = arenaKernels(src, out);
  if (k && disjoint(src, inLen, out, outLen)) {
    k.checkToXrgb8888(src.byteOffset, inFmt.width, inFmt.height, scale, yuyv, out.byteOffset);
    return;
  }
  const at = nextRegion(0, inLen);
  const heap = wasmHeap(nextRegion(at, outLen));
  heap.set(src.length === inLen ? src : src.subarray(0, inLen), 0);
  wasmKernels().checkToXrgb8888(0, inFmt.width, inFmt.height, scale, yuyv, at);
  out.set(heap.subarray(at, at + outLen));
}

/** convertReference one pixel at a time, from the definitions above. */
export function convertReferencePlain(src: Uint8Array, inFmt: FrameFormat, outFmt: FrameFormat, scale: 1 | 2, out: Uint8Array): void {
  if (inFmt.fourcc === 'XR24') throw new Error('convertReference: the ISP takes no XR24 input');
  const sw = inFmt.width;
  const sh = inFmt.height;
  const dw = sw / scale;
  const dh = sh / scale;
  const src0 = layout(inFmt.fourcc, sw, sh);
  const { lumaStep, pairStep, vOffset } = src0;
  if (outFmt.fourcc === 'XR24') {
    // B G R X of a pixel as one little-endian word, where the output allows word stores
    const words = LITTLE_ENDIAN && out.byteOffset % 4 === 0 ? new Uint32Array(out.buffer, out.byteOffset, out.length >> 2) : null;
    for (let y = 0; y < dh; y++) {
      const sy = y * scale;
      const luma = src0.lumaRow(sy);
      const chroma = src0.chromaRow(sy);
      let o = 4 * dw * y;
      for (let x = 0; x < dw; x++) {
        const sx = x * scale;
        const u = chroma + pairStep * (sx >> 1);
        const c = src[luma + lumaStep * sx]! - 16;
        const d = src[u]! - 128;
        const e = src[u + vOffset]! - 128;
        // the term all three channels share; v >> 8 is floor(v / 256) for negative v too
        const l = 298 * c + 128;
        const b = CLAMP8[((l + 516 * d) >> 8) - CLAMP_LOW]!;
        const g = CLAMP8[((l - 100 * d - 208 * e) >> 8) - CLAMP_LOW]!;
        const r = CLAMP8[((l + 409 * e) >> 8) - CLAMP_LOW]!;
        if (words) words[o >> 2] = 0xff000000 | (r << 16) | (g << 8) | b;
        else {
          out[o] = b;
          out[o + 1] = g;
          out[o + 2] = r;
          out[o + 3] = 0xff;
        }
        o += 4;
      }
    }
    return;
  }
  if (outFmt.fourcc !== 'NV12') throw new Error(`convertReference: the ISP makes no ${outFmt.fourcc}`);
  if (inFmt.fourcc === 'NV12' && scale === 1) {
    // the same layout at the same size: the frame as it is
    out.set(src.subarray(0, outFmt.size));
    return;
  }
  for (let y = 0; y < dh; y++) {
    const luma = src0.lumaRow(y * scale);
    for (let x = 0; x < dw; x++) out[dw * y + x] = src[luma + lumaStep * x * scale]!;
  }
  // Each output chroma pair stands for the block whose top-left output pixel is (2cx, 2cy).
  for (let cy = 0; cy < dh / 2; cy++) {
    const top = src0.chromaRow(2 * cy * scale);
    const below = src0.chromaRow(Math.min((2 * cy + 1) * scale, sh - 1));
    const o = dw * dh + dw * cy;
    for (let cx = 0; cx < dw / 2; cx++) {
      const u = pairStep * cx * scale;
      if (inFmt.fourcc === 'NV12') {
        // 4:2:0 to 4:2:0: the source block's own chroma
        out[o + 2 * cx] = src[top + u]!;
        out[o + 2 * cx + 1] = src[top + u + vOffset]!;
      } else {
        // 4:2:2 to 4:2:0: the rounded mean of the chroma of the block's two lines
        out[o + 2 * cx] = (src[top + u]! + src[below + u]! + 1) >> 1;
        out[o + 2 * cx + 1] = (src[top + u + vOffset]! + src[below + u + vOffset]! + 1) >> 1;
      }
    }
  }
}
