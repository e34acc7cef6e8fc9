import { describe, expect, it } from 'vitest';
import { frameFormat } from '../../src/formats/index.ts';
import { uiLayer } from '../../src/sim/stages/ui-layer.ts';

describe('the compositor’s UI layer', () => {
  it('is, byte for byte, each line’s base (bar, title strip or a value per line) plus a ramp stepping every 16 bytes', () => {
    for (const [w, h, seed] of [[1280, 720, 1], [36, 20, 3], [17, 9, 0], [64, 3, 250]] as const) {
      const fmt = frameFormat(w, h, 'XR24');
      const got = uiLayer(fmt, seed);
      const bar = Math.max(1, Math.floor(h / 8));
      for (let y = 0; y < h; y++) {
        const base = y >= h - bar ? 0xe0 : y < bar / 2 ? 0x80 : (seed * 31 + y) & 0x3f;
        for (let x = 0; x < fmt.stride; x++) {
          if (got[y * fmt.stride + x] !== ((base + ((x >> 4) & 0x0f)) & 0xff)) expect.fail(`${w}x${h} seed ${seed}: byte ${x} of line ${y}`);
        }
      }
    }
  });
});
