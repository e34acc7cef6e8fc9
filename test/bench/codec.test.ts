import { describe, expect, it } from 'vitest';
import { benchJpeg } from '../../bench/codec.ts';

describe('bench codec', () => {
  it('gives the JPEG encode and decode rows of both pictures, each with its plain figure and under the memory limit', () => {
    const rows = benchJpeg(64, 32, 1, 20);
    expect(rows.map((r) => r.bench)).toEqual(['codec.jpeg-encode-pattern-32p', 'codec.jpeg-decode-pattern-32p', 'codec.jpeg-encode-photo-32p', 'codec.jpeg-decode-photo-32p']);
    for (const r of rows) {
      expect(r.ratios.framesPerWallSecond).toBeGreaterThan(0);
      expect(r.metrics.plainFramesPerWallSecond).toBeGreaterThan(0);
      expect(r.metrics.fileBytes).toBeGreaterThan(0);
      expect(r.ratios.fractionOfMemoryLimit).toBeGreaterThan(0);
      expect(r.ratios.fractionOfMemoryLimit).toBeLessThan(1);
    }
  });
});
