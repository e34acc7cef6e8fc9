import { KERNELS_WASM_BASE64 } from './kernels-wasm.ts';

/*
 * The WebAssembly kernels (wasm/*.ts, built by scripts/build-wasm.ts):
 * one instance per process, made on first use, whose memory is the
 * kernels' scratch space. A caller copies its input in, runs a kernel and
 * copies the result out, all synchronously, so no two jobs ever share the
 * scratch space and a simulated device keeps its buffers in its own
 * arrays. The copies run at memory speed (Uint8Array.set); the kernels
 * run 16 bytes a step.
 */

/** The kernels' exports; pointers are byte offsets into `memory`. */
export interface Kernels {
  readonly memory: WebAssembly.Memory;
  nv12ToXrgb8888(src: number, sw: number, sh: number, scale: number, dst: number): void;
  yuyvToXrgb8888(src: number, sw: number, sh: number, scale: number, dst: number): void;
  averageBytes(a: number, b: number, out: number, len: number): void;
  yuyvToNv12(src: number, sw: number, sh: number, scale: number, dst: number): void;
  nv12Halve(src: number, sw: number, sh: number, dst: number): void;
  checkToXrgb8888(src: number, sw: number, sh: number, scale: number, yuyv: number, dst: number): void;
  checkAverage(a: number, b: number, out: number, len: number): void;
  uvdCodeRows(cur: number, ref: number, stride: number, rows: number, intra: number, out: number): number;
  uvdDecodeOps(packet: number, i: number, end: number, ref: number, predicted: number, out: number, stride: number, rows: number): number;
  /** The CPU cache's tag walk for a store of whole lines (wasm/cache.ts; hw/cache.ts storeWholeLines). */
  cacheStoreTags(tags: number, dirty: number, ways: number, sets: number, setMask: number, storeFirst: number, first: number, last: number, state: number, victims: number, counts: number): number;
  /** The slots a tag walk changed and those holding the store's lines, with the lowest and highest of those lines (wasm/cache.ts). */
  cacheStoreDiff(old: number, tags: number, n: number, first: number, last: number, changed: number, held: number, counts: number): void;
  /** A store's victims split into those holding a nonzero word and the zero ones, with the span of the zero ones' lines (wasm/cache.ts). */
  cacheVictimSplit(data: number, words: number, old: number, victims: number, listed: number, zeros: number, counts: number): number;
  /** The valid dirty slots of a cache, listed (wasm/cache.ts). */
  cacheDirtySlots(tags: number, dirty: number, n: number, out: number): number;
  /** The lines of the listed slots filled with one word (wasm/cache.ts). */
  cacheFillSlots(data: number, words: number, slots: number, count: number, word: number): void;
  /** The JPEG encoder's scan: every block's DCT, quantization and Huffman code (wasm/jpeg.ts); the bytes written, or -1 when they do not fit. */
  jpegScan(y: number, yw: number, cb: number, cr: number, cw: number, mcusX: number, mcusY: number, h: number, v: number, tables: number, out: number, cap: number, scratch: number): number;
  /** The JPEG decoder's inverse DCTs over a batch of blocks, into 64 samples each (wasm/jpeg.ts). */
  jpegIdctBlocks(coefs: number, flags: number, out: number, n: number, ws: number): void;
}

/** Bytes a kernel may read past the end of an input, and the alignment of every region. */
const SLACK = 64;
const PAGE = 65536;

let compiled: WebAssembly.Module | null = null;
let kernels: Kernels | null = null;
let heap = new Uint8Array(0);

/** A new instance of the kernels with a memory of its own (the module compiled once per process). */
export function wasmInstance(): Kernels {
  compiled ??= new WebAssembly.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64'));
  return new WebAssembly.Instance(compiled).exports as unknown as Kernels;
}

/** The shared instance whose memory is the scratch space of wasmHeap, made on the first call. */
export function wasmKernels(): Kernels {
  kernels ??= wasmInstance();
  return kernels;
}

/** `k`'s memory grown to at least `bytes` (a view taken before a grow is detached). */
export function growMemory(k: Kernels, bytes: number): void {
  const { memory } = k;
  if (memory.buffer.byteLength < bytes) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
}

/** Where the scratch region after one of `len` bytes at `at` starts: aligned, with room for a kernel's read past the end. */
export function nextRegion(at: number, len: number): number {
  return at + ((len + SLACK + SLACK - 1) & ~(SLACK - 1));
}

/**
 * The kernels' memory as bytes, grown first to at least `bytes` (the end
 * of the last region a job uses). The view is fresh after a grow; one
 * taken before it is detached, so a job takes it once, before its copies.
 */
export function wasmHeap(bytes: number): Uint8Array {
  const { memory } = wasmKernels();
  growMemory(wasmKernels(), bytes);
  if (heap.buffer !== memory.buffer) heap = new Uint8Array(memory.buffer);
  return heap;
}
