import { forEachFramePiece, type FrameBytes, type FrameFormat } from '../../formats/index.ts';

/*
 * The sensor test pattern, from its definition (formats/test-pattern.ts
 * makes the same bytes its own way):
 *   strip[i] = (x_i >> 24) XOR (i mod 256), where x_0 = the seed scrambled
 *   (seed * 2654435761 mod 2^32, or 1 when that is 0) and
 *   x_{i+1} = (1664525 * x_i + 1013904223) mod 2^32;
 *   line y of frame n is strip[o .. o + stride) with o = (7n + 13y) mod 4093,
 *   for every line of the frame's bytes (size / stride lines: NV12's
 *   chroma lines too).
 */
const PERIOD = 4093;
const TWO_32 = 4294967296;

/** The strip of `length` bytes for `seed`, with the LCG in exact double arithmetic (1664525 * 2^32 < 2^53). */
function patternStrip(seed: number, length: number): Uint8Array {
  const strip = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x = (1664525 * x + 1013904223) % TWO_32;
    strip[i] = Math.floor(x / 16777216) ^ (i % 256);
  }
  return strip;
}

/** The checker's test pattern: frame `n` built or compared line by line from the strip. */
export class PatternReference {
  private readonly strip: Uint8Array;
  private readonly stride: number;
  private readonly lines: number;
  /** The line starting at each offset of the strip, made on first use (render sets a line a call, with no view made per line). */
  private readonly lineViews = new Array<Uint8Array | undefined>(PERIOD).fill(undefined);

  constructor(
    readonly fmt: FrameFormat,
    seed: number,
  ) {
    this.stride = fmt.stride;
    this.lines = fmt.size / fmt.stride;
    this.strip = patternStrip(seed, fmt.stride + PERIOD);
  }

  /** Where line `y` of frame `n` starts in the strip. */
  private lineStart(n: number, y: number): number {
    return (7 * n + 13 * y) % PERIOD;
  }

  /** Writes frame `n` into `out` (fmt.size bytes). */
  render(n: number, out: Uint8Array): void {
    for (let y = 0; y < this.lines; y++) {
      const o = this.lineStart(n, y);
      out.set((this.lineViews[o] ??= this.strip.subarray(o, o + this.stride)), y * this.stride);
    }
  }

  /**
   * Whether `bytes` is exactly frame `n`, without building the frame; a
   * frame lent in pieces is compared where it lies, each piece against the
   * lines it spans.
   */
  matches(n: number, bytes: FrameBytes): boolean {
    if (bytes.length !== this.fmt.size) return false;
    const strip = Buffer.from(this.strip.buffer, this.strip.byteOffset, this.strip.length);
    let y = 0;
    let x = 0;
    return forEachFramePiece(bytes, (piece) => {
      const got = Buffer.from(piece.buffer, piece.byteOffset, piece.length);
      let p = 0;
      while (p < piece.length) {
        const take = Math.min(this.stride - x, piece.length - p);
        const o = this.lineStart(n, y) + x;
        if (got.compare(strip, o, o + take, p, p + take) !== 0) return false;
        p += take;
        x += take;
        if (x === this.stride) {
          x = 0;
          y++;
        }
      }
      return true;
    });
  }
}
