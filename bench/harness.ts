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

/** What `unimem bench` passes every benchmark; one that has no use for an option ignores it. */
export interface BenchOptions {
  /**
   * Profile the runs (`--profile`): a pipeline row then also splits its
   * wall time per frame into the parts of the simulation (wall-profile.ts).
   */
  profile?: boolean;
}

export type Bench = (opts?: BenchOptions) => Promise<BenchResult[]>;

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
  /** TypedArray.set in pieces of COPY_PIECE: on this machine's caches, faster than one call over the whole range. */
  typedArraySetPieces: number;
  copyWithin: number;
  fastest: number;
}

/** The piece of a copy in pieces (copySpeeds): the size measured fastest here, 10 to 15% over one whole copy of 64 MiB. */
export const COPY_PIECE = 512 * 1024;

/**
 * The speed of each of `fns` (operations per second), measured in turns:
 * `rounds` rounds, each running every function in order for `msEach`,
 * and each function's best round kept. On a machine shared with others,
 * a measure taken in one stretch after another's takes whatever load
 * came meanwhile; turns give every function the same chances, and the
 * best round is the least disturbed.
 */
export function bestOfRounds<K extends string>(fns: Record<K, () => void>, rounds: number, msEach: number): Record<K, number> {
  const best = {} as Record<K, number>;
  const keys = Object.keys(fns) as K[];
  for (const k of keys) best[k] = 0;
  for (let r = 0; r < rounds; r++) for (const k of keys) best[k] = Math.max(best[k], timeLoop(fns[k], msEach).opsPerSec);
  return best;
}

/**
 * The limit for a copy of `bytes` bytes, measured now: Buffer.copy between
 * two buffers, TypedArray.set between two arrays (in one call, and in
 * pieces of COPY_PIECE), and copyWithin from one half of a buffer to the
 * other, in ten turns (bestOfRounds) for about `minMs`
 * each; `fastest` is the one a simulated copy is measured against, so
 * that a ratio near 1 means the simulation moves bytes as fast as this
 * machine can. `subject`, when given, is a simulated copy of the same
 * bytes, measured in the same turns (its speed is `subjectBytesPerSec`).
 */
export function copySpeeds(bytes: number, minMs = 200, subject?: () => void): CopySpeeds & { subjectBytesPerSec: number } {
  const a = Buffer.alloc(bytes, 1);
  const b = Buffer.alloc(bytes);
  const both = new Uint8Array(2 * bytes).fill(1, 0, bytes);
  const rounds = 10;
  const inPieces = (): void => {
    for (let o = 0; o < bytes; o += COPY_PIECE) b.set(a.subarray(o, Math.min(bytes, o + COPY_PIECE)), o);
  };
  const plain = { bufferCopy: () => a.copy(b), typedArraySet: () => b.set(a), typedArraySetPieces: inPieces, copyWithin: () => both.copyWithin(bytes, 0, bytes) };
  const r: Record<string, number> = bestOfRounds<string>(subject ? { ...plain, subject } : plain, rounds, minMs / rounds);
  const bufferCopy = r.bufferCopy! * bytes;
  const typedArraySet = r.typedArraySet! * bytes;
  const typedArraySetPieces = r.typedArraySetPieces! * bytes;
  const copyWithin = r.copyWithin! * bytes;
  return {
    bufferCopy,
    typedArraySet,
    typedArraySetPieces,
    copyWithin,
    fastest: Math.max(bufferCopy, typedArraySet, typedArraySetPieces, copyWithin),
    subjectBytesPerSec: (r.subject ?? 0) * bytes,
  };
}
