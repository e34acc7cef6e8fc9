import { KernelBug } from '../lib/index.ts';
import { growMemory, nextRegion, wasmHeap, wasmInstance, wasmKernels, type Kernels } from './kernels.ts';

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

/**
 * The blend unit's two line buffers, in a WebAssembly memory of their own,
 * and its average over them in place, so a job copies nothing in or out:
 * the DMA fills `a` and `b`, average() leaves the result in `a`. One job
 * at a time; the buffers grow to the largest job and stay.
 */
export class AverageUnit {
  private readonly k: Kernels = wasmInstance();
  private len = -1;
  private a = new Uint8Array(0);
  private b = new Uint8Array(0);

  /** The two buffers, `len` bytes each (views taken before a larger job are stale). */
  buffers(len: number): { a: Uint8Array; b: Uint8Array } {
    if (len !== this.len) {
      const bAt = nextRegion(0, len);
      growMemory(this.k, nextRegion(bAt, len));
      this.a = new Uint8Array(this.k.memory.buffer, 0, len);
      this.b = new Uint8Array(this.k.memory.buffer, bAt, len);
      this.len = len;
    }
    return { a: this.a, b: this.b };
  }

  /** a = floor((a + b) / 2), byte by byte, over the buffers of the last buffers() call. */
  average(): void {
    if (this.a.length !== this.len) throw new KernelBug('the blend unit\'s line buffers were detached');
    this.k.averageBytes(this.a.byteOffset, this.b.byteOffset, this.a.byteOffset, this.len);
  }
}
