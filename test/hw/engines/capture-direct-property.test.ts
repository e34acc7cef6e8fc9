import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameFormat, TestPattern } from '../../../src/formats/index.ts';
import { CaptureEngine } from '../../../src/hw/index.ts';
import { smallSoc } from '../helpers.ts';
import { gather, segments } from './helpers.ts';

// The sensor's lines go straight into memory (no frame buffer in between):
// any piece renderRange makes is that piece of render's frame, and a
// capture lands the same bytes wherever the segments cut the frame.

describe('the capture engine writes its pattern straight into memory', () => {
  const fmt = frameFormat(48, 10, 'XR24'); // 1920 bytes, stride 192
  const pattern = new TestPattern(fmt, 5);

  it('renderRange makes any piece of the frame render makes', () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.nat(fmt.size - 1), fc.nat(fmt.size), fc.nat(7), (n, from, len, dstOff) => {
        const k = Math.min(len, fmt.size - from);
        const got = new Uint8Array(k + dstOff);
        pattern.renderRange(n, from, k, got, dstOff);
        expect(Buffer.compare(got.subarray(dstOff), pattern.frame(n).subarray(from, from + k))).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('a capture over segments cut anywhere, across a 1 MiB backing chunk, lands the frame', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 4 }), fc.nat(50), async (sizes, n) => {
        const soc = smallSoc();
        const addrs = [0x800f_ff00, 0x8030_0101, 0x8050_0ff3, 0x8070_0000, 0x8090_0007];
        const segs = segments(addrs.slice(0, sizes.length + 1), sizes, fmt.size);
        const cap = new CaptureEngine(soc.master('dev'), soc.clock, fmt, 5);
        expect(await soc.clock.runUntilSettled(cap.capture(segs, n))).toBe(fmt.size);
        expect(Buffer.compare(gather(soc, segs), pattern.frame(n))).toBe(0);
      }),
      { numRuns: 40 },
    );
  });

  it('through an IO-coherent port, a line the CPU holds takes the new bytes too', async () => {
    const soc = smallSoc({ masters: [{ name: 'dev', coherent: true, bandwidth: 1e9, latencyNs: 100 }] });
    const at = 0x8030_0000;
    soc.cpu.load(at + 256, new Uint8Array(64), 0, 64, 'wb');
    const cap = new CaptureEngine(soc.master('dev'), soc.clock, fmt, 5);
    await soc.clock.runUntilSettled(cap.capture([{ addr: at, len: fmt.size }], 3));
    const seen = new Uint8Array(fmt.size);
    soc.cpu.load(at, seen, 0, fmt.size, 'wb');
    expect(Buffer.compare(seen, pattern.frame(3))).toBe(0);
    expect(Buffer.compare(soc.mem.readBytes(at, fmt.size), pattern.frame(3))).toBe(0);
  });
});
