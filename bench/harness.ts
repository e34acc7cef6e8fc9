/**
 * The benchmark contract: each benchmark returns one record per measurement,
 * printed by `unimem bench` as one JSON object per line. Every ratio is
 * measured against its baseline in the same run, never against a stored
 * number.
 */
export interface BenchResult {
  bench: string;
  metrics: Record<string, number>;
  ratios: Record<string, number>;
}

export type Bench = () => Promise<BenchResult[]>;

/** Runs `fn` repeatedly for at least `minMs` of wall time; returns ops per second and ms per op. */
export function timeLoop(fn: () => void, minMs = 200): { opsPerSec: number; msPerOp: number; iterations: number } {
  let iterations = 0;
  const start = performance.now();
  let now = start;
  while (now - start < minMs) {
    fn();
    iterations++;
    now = performance.now();
  }
  const ms = now - start;
  return { opsPerSec: (iterations * 1000) / ms, msPerOp: ms / iterations, iterations };
}

/** Wall bytes per second of `Buffer.copy` over `bytes` bytes, the baseline for copy ratios. */
export function bufferCopyBytesPerSec(bytes: number, minMs = 200): number {
  const a = Buffer.alloc(bytes, 1);
  const b = Buffer.alloc(bytes);
  const r = timeLoop(() => a.copy(b), minMs);
  return r.opsPerSec * bytes;
}

/** Wall bytes per second of each way JavaScript copies memory, and the fastest of them. */
export interface CopySpeeds {
  bufferCopy: number;
  typedArraySet: number;
  copyWithin: number;
  fastest: number;
}

/**
 * The limit for a copy of `bytes` bytes, measured now: Buffer.copy between
 * two buffers, TypedArray.set between two arrays, and copyWithin from one
 * half of a buffer to the other, each for `minMs`; `fastest` is the one a
 * simulated copy is measured against, so that a ratio near 1 means the
 * simulation moves bytes as fast as this machine can.
 */
export function copySpeeds(bytes: number, minMs = 200): CopySpeeds {
  const bufferCopy = bufferCopyBytesPerSec(bytes, minMs);
  const a = new Uint8Array(bytes).fill(1);
  const b = new Uint8Array(bytes);
  const typedArraySet = timeLoop(() => b.set(a), minMs).opsPerSec * bytes;
  const both = new Uint8Array(2 * bytes).fill(1, 0, bytes);
  const copyWithin = timeLoop(() => both.copyWithin(bytes, 0, bytes), minMs).opsPerSec * bytes;
  return { bufferCopy, typedArraySet, copyWithin, fastest: Math.max(bufferCopy, typedArraySet, copyWithin) };
}
