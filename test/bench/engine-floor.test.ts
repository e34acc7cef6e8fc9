import { describe, expect, it } from 'vitest';
import { videoPlaybackEngineNs } from '../../bench/engine-floor.ts';

describe('the video-playback floor', () => {
  it('times every kernel a frame needs, each a positive figure, the total their sum', () => {
    const r = videoPlaybackEngineNs(64, 32, 3, 1);
    for (const k of ['encode', 'decode', 'convert', 'blend', 'check'] as const) expect(r[k]).toBeGreaterThan(0);
    expect(r.total).toBeCloseTo(r.encode + r.decode + r.convert + r.blend + r.check, 6);
  });
});
