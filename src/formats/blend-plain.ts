import { KernelBug } from '../lib/index.ts';

/**
 * Averages two byte arrays (4-byte aligned views) into `out`, four bytes per step: per byte,
 * (a & b) + ((a ^ b) >> 1) with the low bits masked so no byte borrows from
 * its neighbour (the blend unit's averaging mode, rounding down). The plain
 * reference of the WebAssembly kernel blend.ts runs (test/formats/blend.test.ts).
 */
export function averageBytesPlain(a: Uint8Array, b: Uint8Array, out: Uint8Array, len: number): void {
  if ((a.byteOffset | b.byteOffset | out.byteOffset) & 3) throw new KernelBug('averageBytes needs 4-byte aligned arrays');
  if (len > a.length || len > b.length || len > out.length) throw new KernelBug(`averageBytes of ${len} bytes past an array`);
  const words = len >>> 2;
  const wa = new Uint32Array(a.buffer, a.byteOffset, words);
  const wb = new Uint32Array(b.buffer, b.byteOffset, words);
  const wo = new Uint32Array(out.buffer, out.byteOffset, words);
  for (let i = 0; i < words; i++) {
    const x = wa[i]!;
    const y = wb[i]!;
    wo[i] = ((x & y) + (((x ^ y) & 0xfefefefe) >>> 1)) >>> 0;
  }
  for (let i = words << 2; i < len; i++) out[i] = (a[i]! + b[i]!) >>> 1;
}
