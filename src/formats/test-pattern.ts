import { forEachFramePiece, type FrameBytes } from './frame-bytes.ts';
import type { FrameFormat } from './pixel-format.ts';

/**
 * A sensor's moving test pattern (like vivid's): deterministic in the
 * frame number and the seed, different in every frame and every line, and
 * cheap to make: each line is a window into one precomputed strip, so a
 * frame is built with one `set` per line, never a byte loop.
 */
export class TestPattern {
  readonly fmt: FrameFormat;
  private readonly strip: Uint8Array;
  private readonly period: number;
  /** A whole line of the strip at each offset, made on first use: a frame's lines are set with no view made per line. */
  private readonly lineViews: (Uint8Array | undefined)[];

  constructor(fmt: FrameFormat, seed: number) {
    this.fmt = fmt;
    // The strip is long enough for any line at any shift; its bytes come from a
    // small LCG seeded by `seed`, mixed with the position so that no two lines match.
    this.period = 4093;
    this.lineViews = new Array<Uint8Array | undefined>(this.period).fill(undefined);
    this.strip = new Uint8Array(fmt.stride + this.period + 1);
    let x = (seed * 2654435761) >>> 0 || 1;
    for (let i = 0; i < this.strip.length; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      this.strip[i] = (x >>> 24) ^ (i & 0xff);
    }
  }

  /** The whole line of the strip at `off`. */
  private line(off: number): Uint8Array {
    return (this.lineViews[off] ??= this.strip.subarray(off, off + this.fmt.stride));
  }

  /** Writes frame `n` into `dst` (size fmt.size). */
  render(n: number, dst: Uint8Array): void {
    const { stride, size } = this.fmt;
    const lines = size / stride;
    for (let y = 0; y < lines; y++) {
      const off = (n * 7 + y * 13) % this.period;
      dst.set(this.line(off), y * stride);
    }
  }

  /** Writes bytes `from..from+len` of frame `n` into `dst` at `dstOff` (a piece of render's output). */
  renderRange(n: number, from: number, len: number, dst: Uint8Array, dstOff: number): void {
    const stride = this.fmt.stride;
    for (let done = 0; done < len; ) {
      const y = Math.floor((from + done) / stride);
      const x = from + done - y * stride;
      const k = Math.min(len - done, stride - x);
      const off = (n * 7 + y * 13) % this.period;
      dst.set(k === stride ? this.line(off) : this.strip.subarray(off + x, off + x + k), dstOff + done);
      done += k;
    }
  }

  /**
   * Whether `bytes` is frame `n`, compared line by line against the strip
   * (no frame is built: a check costs one pass over the bytes); a frame
   * lent in pieces is compared where it lies.
   */
  matches(n: number, bytes: FrameBytes): boolean {
    const { stride, size } = this.fmt;
    if (bytes.length !== size) return false;
    const strip = Buffer.from(this.strip.buffer, this.strip.byteOffset, this.strip.length);
    return forEachFramePiece(bytes, (piece, at) => {
      const got = Buffer.from(piece.buffer, piece.byteOffset, piece.length);
      for (let p = 0; p < piece.length; ) {
        const y = Math.floor((at + p) / stride);
        const x = at + p - y * stride;
        const k = Math.min(piece.length - p, stride - x);
        const off = (n * 7 + y * 13) % this.period;
        if (strip.compare(got, p, p + k, off + x, off + x + k) !== 0) return false;
        p += k;
      }
      return true;
    });
  }

  /** Returns frame `n` as a new array. */
  frame(n: number): Uint8Array {
    const out = new Uint8Array(this.fmt.size);
    this.render(n, out);
    return out;
  }
}
