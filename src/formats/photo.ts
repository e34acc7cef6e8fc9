import type { FrameFormat } from './pixel-format.ts';

/**
 * A deterministic photo-like picture (the gallery's photos): a sky
 * gradient, a sun and rolling hills whose place changes with `n` and
 * `seed`, and a little fine grain, as smooth as real photos are, so a
 * JPEG of it is small and close to it. Returned as a new frame of `fmt`.
 */
export function syntheticPhoto(fmt: FrameFormat, seed: number, n: number): Uint8Array {
  const { width: w, height: h } = fmt;
  const out = new Uint8Array(fmt.size);
  let g = (((seed + 1) * 2654435761) ^ (n * 40503)) >>> 0 || 1;
  const sunX = ((g >>> 8) % 1000) / 1000;
  const phase = n * 0.7 + (seed % 13);
  const sunR = Math.max(4, Math.min(w, h) / 10);
  // Y'CbCr (full range) of the picture at (x, y)
  const ycc = (x: number, y: number, o: number[]) => {
    const fy = y / h;
    const hill = 0.6 + 0.12 * Math.sin((x / w) * 6.28 + phase) + 0.05 * Math.sin((x / w) * 23 + phase * 2);
    g = (Math.imul(g, 1664525) + 1013904223) >>> 0;
    const grain = ((g >>> 24) & 7) - 3.5;
    const dx = x - sunX * w;
    const dy = y - h * 0.22;
    if (fy > hill) {
      o[0] = 70 + 50 * (1 - fy) + grain;
      o[1] = 105;
      o[2] = 115 + 10 * Math.sin(x / 37);
    } else if (dx * dx + dy * dy < sunR * sunR) {
      o[0] = 235;
      o[1] = 100;
      o[2] = 150;
    } else {
      o[0] = 120 + 90 * fy + grain / 2;
      o[1] = 160 - 30 * fy;
      o[2] = 110 + 10 * fy;
    }
  };
  const px = [0, 0, 0];
  const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
  if (fmt.fourcc === 'XR24') {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        ycc(x, y, px);
        const o = y * fmt.stride + 4 * x;
        const u = px[1]! - 128;
        const v = px[2]! - 128;
        out[o] = clamp(px[0]! + 1.772 * u);
        out[o + 1] = clamp(px[0]! - 0.344136 * u - 0.714136 * v);
        out[o + 2] = clamp(px[0]! + 1.402 * v);
        out[o + 3] = 0xff;
      }
    }
    return out;
  }
  const chroma = fmt.fourcc === 'YUYV' ? (x: number, y: number) => y * fmt.stride + 2 * x : (x: number, y: number) => fmt.stride * h + (y >> 1) * fmt.stride + x;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      ycc(x, y, px);
      out[fmt.fourcc === 'YUYV' ? y * fmt.stride + 2 * x : y * fmt.stride + x] = clamp(px[0]!);
      if ((x & 1) === 0 && (fmt.fourcc === 'YUYV' || (y & 1) === 0)) {
        const c = chroma(x, y);
        const yuyv = fmt.fourcc === 'YUYV';
        out[c + (yuyv ? 1 : 0)] = clamp(px[1]!);
        out[c + (yuyv ? 3 : 1)] = clamp(px[2]!);
      }
    }
  }
  return out;
}
