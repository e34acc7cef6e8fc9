import { describe, expect, it } from 'vitest';
import { CheckerFrames, videoPlaybackEngineNs } from '../../bench/engine-floor.ts';
import { frameFormat, TestPattern } from '../../src/formats/index.ts';
import { averageReferencePlain } from '../../src/sim/reference/blend.ts';
import { convertReferencePlain } from '../../src/sim/reference/yuv.ts';

describe('the video-playback floor', () => {
  it('times every kernel a frame needs, each a positive figure, the total their sum', () => {
    const r = videoPlaybackEngineNs(64, 32, 3, 1);
    for (const k of ['encode', 'decode', 'convert', 'blend', 'check'] as const) expect(r[k]).toBeGreaterThan(0);
    expect(r.total).toBeCloseTo(r.encode + r.decode + r.convert + r.blend + r.check, 6);
  });

  it('times the checker computing the frame the display must show', () => {
    const nv12 = frameFormat(36, 20, 'NV12');
    const xr24 = frameFormat(36, 20, 'XR24');
    const pattern = new TestPattern(nv12, 3);
    const ui = new TestPattern(xr24, 4).frame(1);
    const c = new CheckerFrames(nv12.size, xr24.size);
    c.ui.set(ui);
    c.expect(pattern, 5);
    const rgb = new Uint8Array(xr24.size);
    convertReferencePlain(pattern.frame(5), nv12, xr24, 1, rgb);
    const want = new Uint8Array(xr24.size);
    averageReferencePlain(rgb, ui, want);
    expect(Buffer.from(c.output).equals(Buffer.from(want))).toBe(true);
  });
});
