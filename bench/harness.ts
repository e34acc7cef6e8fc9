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
