import { KernelBug } from '../lib/index.ts';
import { nextRegion, wasmHeap, wasmKernels } from './kernels.ts';

/**
 * Averages the first `len` bytes of `a` and `b` into `out` (which may be
 * `a` or `b`), each byte floor((a + b) / 2): the blend unit's averaging
 * mode, rounding down. Runs in WebAssembly, 16 bytes a step
 * (averageBytesPlain is the same four bytes at a time).
 */
export function averageBytes(a: Uint8Array, b: Uint8Array, out: Uint8Array, len: number): void {
  if (len > a.length || len > b.length || len > out.length) throw new KernelBug(`averageBytes of ${len} bytes past an array`);
  const pb = nextRegion(0, len);
  const heap = wasmHeap(nextRegion(pb, len));
  heap.set(a.length === len ? a : a.subarray(0, len), 0);
  heap.set(b.length === len ? b : b.subarray(0, len), pb);
  wasmKernels().averageBytes(0, pb, 0, len);
  out.set(heap.subarray(0, len));
}
