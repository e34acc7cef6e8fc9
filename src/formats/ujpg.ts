import { kerr } from '../lib/index.ts';
import { nextRegion, wasmHeap, wasmKernels } from './kernels.ts';
import type { FrameFormat } from './pixel-format.ts';

/**
 * DOC: the codec's bitstream ("UJPG", version 1) — not real JPEG, but a
 * deterministic lossless format with the same role: a header that says
 * what frame it holds, then the coded frame.
 *
 * Header, 32 bytes, little endian:
 *   0  'U' 'J' 'P' 'G'        magic
 *   4  u8 version = 1, 3 zero bytes
 *   8  u32 pixelformat        V4L2 fourcc of the raw frame (YUYV, NV12, XR24)
 *   12 u32 width, 16 u32 height
 *   20 u32 raw size           bytes of the raw frame
 *   24 u32 payload length     bytes after the header
 *   28 u32 checksum           sum of the raw bytes mod 2^32
 * Payload: the raw bytes delta coded (d[i] = raw[i] - raw[i-1] mod 256,
 * raw[-1] = 0), then run-length coded PackBits style: a control byte c
 * below 128 is followed by c+1 literal bytes; c from 128 is followed by
 * one byte repeated c-125 times (3..130). Smooth images (constant
 * gradients) become long runs; the worst case is raw + ceil(raw/128).
 */
export const UJPG_HEADER = 32;
const MAGIC = 0x47504a55; // 'UJPG' read little endian

/** Largest bitstream of a `raw`-byte frame (the encoder's CAPTURE sizeimage). */
export function ujpgMaxSize(raw: number): number {
  return UJPG_HEADER + raw + Math.ceil(raw / 128);
}

/**
 * Encodes `raw` (a frame of `fmt` with V4L2 `pixelformat`) into `out`;
 * returns the bitstream's length. ENOSPC when `out` is too small. Runs in
 * WebAssembly (wasm/ujpg.ts); ujpgEncodePlain is the same one byte a step.
 */
export function ujpgEncode(raw: Uint8Array, fmt: FrameFormat, pixelformat: number, out: Uint8Array): number {
  const n = fmt.size;
  if (out.length < UJPG_HEADER) throw kerr('ENOSPC', 'ujpg: no room for the header');
  if (raw.length < n) throw kerr('EINVAL', `ujpg: ${raw.length}-byte frame, ${n} expected`);
  const cap = out.length;
  const outAt = nextRegion(0, n);
  const heap = wasmHeap(nextRegion(outAt, cap));
  heap.set(raw.length === n ? raw : raw.subarray(0, n), 0);
  const k = wasmKernels();
  const o = k.ujpgEncodePayload(0, n, outAt, cap);
  if (o < 0) throw kerr('ENOSPC', 'ujpg: bitstream buffer too small');
  out.set(heap.subarray(outAt + UJPG_HEADER, outAt + o), UJPG_HEADER);
  const v = new DataView(out.buffer, out.byteOffset, UJPG_HEADER);
  v.setUint32(0, MAGIC, true);
  v.setUint32(4, 1, true);
  v.setUint32(8, pixelformat >>> 0, true);
  v.setUint32(12, fmt.width, true);
  v.setUint32(16, fmt.height, true);
  v.setUint32(20, n, true);
  v.setUint32(24, o - UJPG_HEADER, true);
  v.setUint32(28, k.byteSum(0, n) >>> 0, true);
  return o;
}

/** A bitstream's header fields; EINVAL for a bad magic or version or a stream shorter than it claims. */
export function ujpgParse(bits: Uint8Array, len: number): { pixelformat: number; width: number; height: number; raw: number; payload: number; checksum: number } {
  if (len < UJPG_HEADER) throw kerr('EINVAL', `ujpg: ${len} bytes hold no header`);
  const v = new DataView(bits.buffer, bits.byteOffset, UJPG_HEADER);
  if (v.getUint32(0, true) !== MAGIC || v.getUint8(4) !== 1) throw kerr('EINVAL', 'ujpg: bad magic or version');
  const h = { pixelformat: v.getUint32(8, true), width: v.getUint32(12, true), height: v.getUint32(16, true), raw: v.getUint32(20, true), payload: v.getUint32(24, true), checksum: v.getUint32(28, true) };
  if (UJPG_HEADER + h.payload > len) throw kerr('EINVAL', `ujpg: payload of ${h.payload} bytes in a ${len}-byte buffer`);
  return h;
}

/**
 * Decodes a bitstream of `len` bytes into `out` (which must hold exactly
 * the header's raw size); returns the raw size. EINVAL for a corrupt
 * payload or checksum. Runs in WebAssembly (wasm/ujpg.ts); ujpgDecodePlain
 * is the same one byte a step.
 */
export function ujpgDecode(bits: Uint8Array, len: number, out: Uint8Array): number {
  const h = ujpgParse(bits, len);
  if (out.length < h.raw) throw kerr('ENOSPC', `ujpg: ${h.raw}-byte frame in a ${out.length}-byte buffer`);
  const end = UJPG_HEADER + h.payload;
  const outAt = nextRegion(0, end);
  const heap = wasmHeap(nextRegion(outAt, h.raw));
  heap.set(bits.subarray(0, end), 0);
  const k = wasmKernels();
  const o = k.ujpgDecodePayload(0, UJPG_HEADER, end, outAt, h.raw);
  if (o === -1) throw kerr('EINVAL', 'ujpg: literal past the end');
  if (o === -2) throw kerr('EINVAL', 'ujpg: run past the end');
  if (o !== h.raw) throw kerr('EINVAL', `ujpg: payload gave ${o} of ${h.raw} bytes`);
  if (k.byteSum(outAt, o) >>> 0 !== h.checksum) throw kerr('EINVAL', 'ujpg: checksum mismatch');
  out.set(heap.subarray(outAt, outAt + o));
  return o;
}
