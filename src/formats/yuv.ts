import { growMemory, nextRegion, wasmHeap, wasmInstance, wasmKernels, type Kernels } from './kernels.ts';
import type { FrameFormat } from './pixel-format.ts';

/** Bytes of an NV12 frame of `w`x`h`: luma, then a U V pair per 2x2 block (frameFormat's size). */
function nv12Size(w: number, h: number): number {
  return w * (h + Math.ceil(h / 2));
}

/** Throws unless `sw`x`sh` scales by 1/`scale` and `src` and `dst` hold the frames (a kernel reads and writes exactly those bytes). */
function checkSizes(kernel: string, src: Uint8Array, inLen: number, sw: number, sh: number, scale: 1 | 2, dst: Uint8Array, outLen: number): void {
  if (!Number.isInteger(sw / scale) || !Number.isInteger(sh / scale)) throw new Error(`${kernel}: ${sw}x${sh} does not scale by 1/${scale}`);
  if (src.length < inLen || dst.length < outLen) throw new Error(`${kernel}: ${sw}x${sh} needs ${inLen} bytes in and ${outLen} out (have ${src.length} and ${dst.length})`);
}

/** Runs an XRGB8888 kernel on `inLen` bytes of `src`: copies them into the kernels' memory, converts, copies the result to `dst`. */
function runToXrgb(kernel: 'nv12ToXrgb8888' | 'yuyvToXrgb8888', src: Uint8Array, inLen: number, sw: number, sh: number, scale: 1 | 2, dst: Uint8Array): void {
  const outLen = (sw / scale) * (sh / scale) * 4;
  checkSizes(kernel, src, inLen, sw, sh, scale, dst, outLen);
  const out = nextRegion(0, inLen);
  const heap = wasmHeap(nextRegion(out, outLen));
  heap.set(src.length === inLen ? src : src.subarray(0, inLen), 0);
  wasmKernels()[kernel](0, sw, sh, scale, out);
  dst.set(heap.subarray(out, out + outLen));
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
 * width*height*4 bytes of output. Runs in WebAssembly, 16 pixels a step
 * (nv12ToXrgb8888Plain is the same one pixel at a time).
 */
export function nv12ToXrgb8888(src: Uint8Array, sw: number, sh: number, scale: 1 | 2, dst: Uint8Array): void {
  runToXrgb('nv12ToXrgb8888', src, nv12Size(sw, sh), sw, sh, scale, dst);
}

/**
 * Converts a YUYV frame of `sw`x`sh` (BT.601 limited range, as
 * nv12ToXrgb8888) into XRGB8888 (bytes B, G, R, X = 0xff) at 1/`scale` of
 * its size: output pixel (x, y) is source pixel (x*scale, y*scale); each
 * source pixel pair (Y0 U Y1 V) shares its U and V. Same integer formulas
 * as nv12ToXrgb8888; runs in WebAssembly (yuyvToXrgb8888Plain is the same
 * one pixel at a time). `dst` holds width*height*4 bytes.
 */
export function yuyvToXrgb8888(src: Uint8Array, sw: number, sh: number, scale: 1 | 2, dst: Uint8Array): void {
  runToXrgb('yuyvToXrgb8888', src, sw * sh * 2, sw, sh, scale, dst);
}

/**
 * Converts a YUYV frame of `sw`x`sh` into NV12 at 1/`scale` of its size
 * (what the ISP's scaler and chroma resampler compute): luma by nearest
 * sample (every `scale`-th pixel of every `scale`-th line); each NV12
 * chroma sample, which covers a 2x2 block of output pixels, is the
 * rounded mean of the U (and V) the two source lines of that block carry
 * at its left pixel (BT.601 4:2:2 to 4:2:0 vertical subsampling, chroma
 * sited as MPEG-2). `dst` holds the output frame (width*height*3/2 bytes).
 * Runs in WebAssembly; yuyvToNv12Plain is the same one sample at a time.
 */
export function yuyvToNv12(src: Uint8Array, sw: number, sh: number, scale: 1 | 2, dst: Uint8Array): void {
  const [dw, dh] = [sw / scale, sh / scale];
  const inLen = sw * sh * 2;
  const outLen = nv12Size(dw, dh);
  checkSizes('yuyvToNv12', src, inLen, sw, sh, scale, dst, outLen);
  const out = nextRegion(0, inLen);
  const heap = wasmHeap(nextRegion(out, outLen));
  heap.set(src.length === inLen ? src : src.subarray(0, inLen), 0);
  wasmKernels().yuyvToNv12(0, sw, sh, scale, out);
  dst.set(heap.subarray(out, out + outLen));
}

/**
 * Copies or halves an NV12 frame of `sw`x`sh` into NV12 at 1/`scale` of
 * its size (the scaler with the format unchanged): luma and chroma both by
 * nearest sample, so at scale 2 output chroma sample (cx, cy) is source
 * chroma sample (2cx, 2cy). `dst` holds width*height*3/2 bytes of output.
 * Halving runs in WebAssembly; nv12ToNv12Plain is the same one sample at a
 * time.
 */
export function nv12ToNv12(src: Uint8Array, sw: number, sh: number, scale: 1 | 2, dst: Uint8Array): void {
  if (scale === 1) {
    dst.set(src.subarray(0, sw * sh + sw * (sh >> 1)));
    return;
  }
  const inLen = nv12Size(sw, sh);
  const [dw, dh] = [sw >> 1, sh >> 1];
  checkSizes('nv12ToNv12', src, inLen, sw, sh, scale, dst, nv12Size(dw, dh));
  // what the scaler writes: every luma line, and a chroma line per two (an odd height's last one is left as it was)
  const outLen = dw * dh + dw * (dh >> 1);
  const out = nextRegion(0, inLen);
  const heap = wasmHeap(nextRegion(out, outLen));
  heap.set(src.length === inLen ? src : src.subarray(0, inLen), 0);
  wasmKernels().nv12Halve(0, sw, sh, out);
  dst.set(heap.subarray(out, out + outLen));
}

/**
 * An ISP's two frame buffers, its source and its result, in a WebAssembly
 * memory of its own, with the conversions above run over them in place:
 * the DMA reads the source into `input`, convert() leaves the result in
 * `output`, and the DMA writes it from there, so a job copies no frame in
 * or out of the kernels' memory. One per set of formats (an m2m context's).
 */
export class ScalerUnit {
  private readonly k: Kernels = wasmInstance();
  /** The source frame of `src`'s layout. */
  readonly input: Uint8Array;
  /** The result, in `dst`'s layout. */
  readonly output: Uint8Array;

  constructor(
    private readonly src: FrameFormat,
    private readonly scale: 1 | 2,
    private readonly dst: FrameFormat,
  ) {
    const outAt = nextRegion(0, src.size);
    growMemory(this.k, nextRegion(outAt, dst.size));
    this.input = new Uint8Array(this.k.memory.buffer, 0, src.size);
    this.output = new Uint8Array(this.k.memory.buffer, outAt, dst.size);
  }

  /**
   * Converts `input` into `output` as the functions above do: YUYV or
   * NV12 to XRGB8888 (yuyvToXrgb8888, nv12ToXrgb8888) or NV12 (yuyvToNv12,
   * nv12ToNv12), at 1/scale of the source's size.
   */
  convert(): void {
    const { k, src, scale, dst } = this;
    const sw = src.width;
    const sh = src.height;
    const outAt = this.output.byteOffset;
    if (dst.fourcc === 'XR24') {
      if (src.fourcc === 'YUYV') k.yuyvToXrgb8888(0, sw, sh, scale, outAt);
      else k.nv12ToXrgb8888(0, sw, sh, scale, outAt);
    } else if (src.fourcc === 'YUYV') k.yuyvToNv12(0, sw, sh, scale, outAt);
    else if (scale === 1) this.output.set(this.input.subarray(0, sw * sh + sw * (sh >> 1)));
    else k.nv12Halve(0, sw, sh, outAt);
  }
}
