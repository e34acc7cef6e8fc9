import { nextRegion, wasmHeap, wasmKernels } from '../../formats/index.ts';
import { arenaKernels, disjoint } from './arena.ts';

/**
 * The blend unit's average for the checker: every byte of `out` is
 * floor((a + b) / 2) of the same bytes of `a` and `b`, by the checker's
 * own WebAssembly kernel (wasm/checker.ts: 16-bit sums, not the GPU's bit
 * trick), 16 bytes a step: where all three are in one ReferenceArena, on
 * them in place; else on copies in the shared scratch memory.
 * averageReferencePlain is its definition.
 */
export function averageReference(a: Uint8Array, b: Uint8Array, out: Uint8Array): void {
  const len = out.length;
  if (a.length < len || b.length < len) throw new Error(`averageReference: ${len} bytes from arrays of ${a.length} and ${b.length}`);
  // The kernel reads each 16 bytes of both inputs before it writes those of `out`: `out` may be an input, not overlap one elsewhere.
  const k = arenaKernels(a, b, out);
  if (k && (a.byteOffset === out.byteOffset || disjoint(a, len, out, len)) && (b.byteOffset === out.byteOffset || disjoint(b, len, out, len))) {
    k.checkAverage(a.byteOffset, b.byteOffset, out.byteOffset, len);
    return;
  }
  const pb = nextRegion(0, len);
  const heap = wasmHeap(nextRegion(pb, len));
  heap.set(a.length === len ? a : a.subarray(0, len), 0);
  heap.set(b.length === len ? b : b.subarray(0, len), pb);
  wasmKernels().checkAverage(0, pb, 0, len);
  out.set(heap.subarray(0, len));
}

/**
 * The blend unit's average, from its definition: every byte of `out` is
 * floor((a + b) / 2) of the same byte of `a` and `b` (the GPU's
 * GPU_COMPOSE_OP_AVERAGE over XRGB8888 or any byte format).
 *
 * Four bytes at a time when all three views are 4-byte aligned and long
 * enough, by the per-byte identity a + b = 2(a & b) + (a ^ b): so
 * floor((a + b) / 2) = (a & b) + ((a ^ b) >> 1), and clearing each byte's
 * low bit of a ^ b before the shift keeps every byte's bits in that byte.
 * No byte of the sum carries (it is at most 255), so the identity holds for
 * each byte of a 32-bit word whatever the byte order. The tail, and views
 * that are not aligned, take the definition byte by byte. The definition
 * the checker's WebAssembly kernel (averageReference) is tested against.
 */
export function averageReferencePlain(a: Uint8Array, b: Uint8Array, out: Uint8Array): void {
  const len = out.length;
  let done = 0;
  if (((a.byteOffset | b.byteOffset | out.byteOffset) & 3) === 0 && a.length >= len && b.length >= len) {
    const words = len >>> 2;
    const wa = new Uint32Array(a.buffer, a.byteOffset, words);
    const wb = new Uint32Array(b.buffer, b.byteOffset, words);
    const wo = new Uint32Array(out.buffer, out.byteOffset, words);
    for (let i = 0; i < words; i++) {
      const x = wa[i]!;
      const y = wb[i]!;
      // x & y may read as negative (a signed 32-bit result); the store takes the sum mod 2^32
      wo[i] = (x & y) + (((x ^ y) & 0xfefefefe) >>> 1);
    }
    done = words * 4;
  }
  for (let i = done; i < len; i++) out[i] = (a[i]! + b[i]!) >> 1;
}
