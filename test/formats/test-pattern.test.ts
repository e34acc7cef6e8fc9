import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameFormat, TestPattern } from '../../src/formats/index.ts';
import { PatternReference } from '../../src/sim/reference/test-pattern.ts';

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

describe('the test pattern equals the checker\'s reference', () => {
  it('the same bytes for random formats (odd widths, NV12 chroma lines), seeds and frame numbers; each matches the other\'s frames', () => {
    const fourcc = fc.constantFrom('YUYV' as const, 'XR24' as const, 'NV12' as const);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 9 }), fourcc, fc.nat(), fc.nat(100000), (w, h, cc, seed, n) => {
        const fmt = frameFormat(cc === 'YUYV' ? 2 * Math.ceil(w / 2) : w, h, cc);
        const fast = new TestPattern(fmt, seed);
        const ref = new PatternReference(fmt, seed);
        const want = new Uint8Array(fmt.size);
        ref.render(n, want);
        const got = fast.frame(n);
        expect(Buffer.compare(got, want)).toBe(0);
        expect(ref.matches(n, got)).toBe(true);
        expect(fast.matches(n, want)).toBe(true);
        got[got.length - 1] ^= 1;
        expect(ref.matches(n, got)).toBe(false);
        expect(ref.matches(n, got.subarray(1))).toBe(false);
      }),
      { numRuns: 60 },
    );
  });

  it('the reference follows the definition: line y of frame n is the strip from (7n + 13y) mod 4093', () => {
    const fmt = frameFormat(8, 4, 'XR24');
    const ref = new PatternReference(fmt, 5);
    const f0 = new Uint8Array(fmt.size);
    const f1 = new Uint8Array(fmt.size);
    ref.render(0, f0);
    ref.render(1, f1);
    // frame 0 line 0 is strip[0, 32), frame 1 line 0 strip[7, 39), frame 0 line 1 strip[13, 45)
    expect([...f1.subarray(0, 25)]).toEqual([...f0.subarray(7, 32)]);
    expect([...f0.subarray(32, 51)]).toEqual([...f0.subarray(13, 32)]);
    expect([...f0.subarray(51, 58)]).toEqual([...f1.subarray(25, 32)]);
  });
});
