/**
 * The SoC's one source of randomness: xoshiro128** seeded through splitmix32.
 * Every random choice in the simulation (cache victims, speculative
 * prefetches, TLB replacement, background load) draws from one instance, so
 * the same seed gives the same run byte for byte.
 */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
  }

  /** Writes the generator's four words of state into `out` (for a kernel that draws as this does, then `restore`s). */
  save(out: Uint32Array): void {
    out[0] = this.a;
    out[1] = this.b;
    out[2] = this.c;
    out[3] = this.d;
  }

  /** Takes the state `save` wrote, advanced by whatever drew from it meanwhile. */
  restore(src: Uint32Array): void {
    this.a = src[0]!;
    this.b = src[1]!;
    this.c = src[2]!;
    this.d = src[3]!;
  }

  /** Returns a uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  /** Returns a float in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Returns an integer in [0, n). */
  int(n: number): number {
    return n <= 4294967296 ? Math.floor(this.next() * n) : Math.floor((this.nextU32() * 4294967296 + this.nextU32()) / 2 ** 64 * n);
  }

  /** Returns true with probability `p`; draws nothing when p is 0 or 1. */
  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.next() < p;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
