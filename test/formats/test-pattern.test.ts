import { describe, expect, it } from 'vitest';
import { frameFormat, TestPattern } from '../../src/formats/index.ts';

describe('the sensor test pattern', () => {
  const fmt = frameFormat(96, 40, 'YUYV');
  const p = new TestPattern(fmt, 3);

  it('checks a frame without building it: its own frame matches, any other frame or one changed byte does not', () => {
    for (const n of [0, 1, 57, 4093, 4094]) {
      const f = p.frame(n);
      expect(p.matches(n, f)).toBe(true);
      expect(p.matches(n + 1, f)).toBe(false);
      for (const at of [0, fmt.stride - 1, fmt.size >> 1, fmt.size - 1]) {
        const g = f.slice();
        g[at] ^= 1;
        expect(p.matches(n, g)).toBe(false);
      }
    }
    expect(p.matches(0, p.frame(0).subarray(1))).toBe(false);
  });

  it('is deterministic in the seed and differs between seeds', () => {
    expect(Buffer.compare(new TestPattern(fmt, 3).frame(9), p.frame(9))).toBe(0);
    expect(new TestPattern(fmt, 4).matches(9, p.frame(9))).toBe(false);
  });
});
