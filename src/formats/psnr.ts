import type { FrameFormat } from './pixel-format.ts';

/**
 * The peak signal-to-noise ratio, in dB, of frame `b` against frame `a`
 * (both of `fmt`), over every sample byte (an XBGR32 frame's X bytes,
 * which carry no picture, are left out); Infinity when they are equal.
 * How a lossy codec's output is held to its source.
 */
export function psnr(a: Uint8Array, b: Uint8Array, fmt: FrameFormat): number {
  let se = 0;
  let n = 0;
  const skipX = fmt.fourcc === 'XR24';
  for (let i = 0; i < fmt.size; i++) {
    if (skipX && (i & 3) === 3) continue;
    const d = a[i]! - b[i]!;
    se += d * d;
    n++;
  }
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255 * n) / se);
}
