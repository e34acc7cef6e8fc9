import { TestPattern, type FrameFormat } from '../../formats/index.ts';

/**
 * The compositor's own layer (a player's controls bar and a translucent
 * title strip): deterministic in the frame size and seed, drawn once by the
 * compositor's CPU into a GPU buffer and blended over every video frame.
 */
export function uiLayer(fmt: FrameFormat, seed: number): Uint8Array {
  const out = new Uint8Array(fmt.size);
  uiLayerInto(fmt, seed, out);
  return out;
}

/** uiLayer drawn into `out` (fmt.size bytes, whatever they held before). */
export function uiLayerInto(fmt: FrameFormat, seed: number, out: Uint8Array): void {
  const bar = Math.max(1, Math.floor(fmt.height / 8));
  // a line is its base value plus a ramp stepping every 16 bytes: at most 66 different lines, each drawn once
  const lines = new Map<number, Uint8Array>();
  for (let y = 0; y < fmt.height; y++) {
    const inBar = y >= fmt.height - bar;
    const inTitle = y < bar / 2;
    const base = inBar ? 0xe0 : inTitle ? 0x80 : (seed * 31 + y) & 0x3f;
    let line = lines.get(base);
    if (!line) {
      line = new Uint8Array(fmt.stride);
      // the ramp repeats every 256 bytes: its first period is filled, the rest copied over in doubling pieces
      const period = Math.min(256, fmt.stride);
      for (let x = 0; x < period; x += 16) line.fill((base + ((x >> 4) & 0x0f)) & 0xff, x, x + 16);
      for (let have = period; have < fmt.stride; have *= 2) line.copyWithin(have, 0, Math.min(have, fmt.stride - have));
      lines.set(base, line);
    }
    out.set(line, y * fmt.stride);
  }
  // the bytes past the lines (a second plane) stay zero, as in a new buffer
  out.fill(0, fmt.height * fmt.stride, fmt.size);
}

/** The byte a CPU stage draws over the top lines of frame `frame` (a subtitle band). */
export function cpuOverlayValue(frame: number): number {
  return (frame * 37 + 102) & 0xff;
}

/** How many textures the render stage uploads. */
export const RENDER_TEXTURES = 4;

/** The render stage's textures: frames of the test pattern, uploaded once (frame n blends textures n and n+1, modulo their count). */
export function renderTextures(fmt: FrameFormat, seed: number): Uint8Array[] {
  const p = new TestPattern(fmt, seed);
  return Array.from({ length: RENDER_TEXTURES }, (_, k) => p.frame(k));
}
