import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameFormat, nv12ToNv12, nv12ToXrgb8888, ScalerUnit, yuyvToNv12, yuyvToXrgb8888 } from '../../src/formats/index.ts';

// The ISP's unit converts in its own memory: the same bytes as the
// conversion functions (each tested against its plain form), for every
// pair of layouts and both scales, whatever the unit held before.

const convert = { yuyvToXrgb8888, nv12ToXrgb8888, yuyvToNv12, nv12ToNv12 };

describe('ScalerUnit', () => {
  it('makes the bytes the conversion functions make, for YUYV and NV12 to XR24 and NV12 at scales 1 and 2, job after job', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('YUYV' as const, 'NV12' as const),
        fc.constantFrom('XR24' as const, 'NV12' as const),
        fc.constantFrom(1 as const, 2 as const),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer(),
        (from, to, scale, w4, h4, seed) => {
          const src = frameFormat(4 * w4 * scale, 4 * h4 * scale, from);
          const dst = frameFormat(src.width / scale, src.height / scale, to);
          const unit = new ScalerUnit(src, scale, dst);
          const fn = convert[`${from === 'YUYV' ? 'yuyv' : 'nv12'}To${to === 'XR24' ? 'Xrgb8888' : 'Nv12'}`];
          for (let job = 0; job < 2; job++) {
            const frame = Uint8Array.from({ length: src.size }, (_, i) => (Math.imul(i + job * 7919, 2654435761) ^ seed) >>> 24);
            unit.input.set(frame);
            const want = unit.output.slice();
            fn(frame, src.width, src.height, scale, want);
            unit.convert();
            expect(Buffer.compare(unit.output, want)).toBe(0);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
