import { describe, expect, it } from 'vitest';
import { frameFormat, jpegEncode, jpegMaxSize, TestPattern, type FrameFormat } from '../../src/formats/index.ts';
import type { CheckContext } from '../../src/sim/pipeline/descriptor.ts';
import { encodeDescriptor, JPEG_MIN_PSNR_DB } from '../../src/sim/pipeline/stages/encode.ts';

/** What the runner gives the encode stage's check for frame `n`: the frame the encoder was fed. */
function context(fmt: FrameFormat, frame: Uint8Array): CheckContext {
  let kept: unknown;
  return {
    inFmt: fmt,
    outFmt: null,
    input: () => frame,
    once: <T>(make: () => T): T => (kept ??= make()) as T,
  } as unknown as CheckContext;
}

function file(fmt: FrameFormat, raw: Uint8Array): Uint8Array {
  const out = new Uint8Array(jpegMaxSize(fmt));
  return out.slice(0, jpegEncode(raw, fmt, out));
}

describe('the encode stage\'s check of a JPEG file', () => {
  it.each(['YUYV', 'NV12', 'XR24'] as const)('%s: passes the file of the frame, fails another frame\'s file, a picture of another size and bytes that are no JPEG', (fourcc) => {
    const fmt = frameFormat(96, 64, fourcc);
    const p = new TestPattern(fmt, 2);
    const x = context(fmt, p.frame(0));
    const check = encodeDescriptor.check!;
    expect(JPEG_MIN_PSNR_DB[fourcc]).toBeGreaterThanOrEqual(28);
    expect(check(x, 0, file(fmt, p.frame(0)))).toBe(true);
    expect(check(x, 0, file(fmt, p.frame(1)))).toBe(false);
    const other = frameFormat(64, 64, fourcc);
    expect(check(x, 0, file(other, new TestPattern(other, 2).frame(0)))).toBe(false);
    expect(check(x, 0, p.frame(0).subarray(0, 1000))).toBe(false);
  });
});
