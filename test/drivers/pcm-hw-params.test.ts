import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hwChoose, hwConfig, hwRefine, type PcmHardware } from '../../src/drivers/sound/core/pcm-hw-params.ts';
import { intervalDiv, intervalMul, intervalOf, intervalRefine } from '../../src/drivers/sound/core/pcm-interval.ts';
import { KernelError } from '../../src/lib/index.ts';
import {
  SNDRV_PCM_ACCESS_MMAP_INTERLEAVED,
  SNDRV_PCM_ACCESS_RW_INTERLEAVED,
  SNDRV_PCM_FORMAT_S16_LE,
  SNDRV_PCM_FORMAT_S24_LE,
  SNDRV_PCM_FORMAT_S32_LE,
  SNDRV_PCM_HW_PARAM_CHANNELS,
  SNDRV_PCM_HW_PARAM_FORMAT,
  SNDRV_PCM_HW_PARAM_PERIOD_SIZE,
  SNDRV_PCM_HW_PARAM_PERIODS,
  SNDRV_PCM_HW_PARAM_RATE,
  SNDRV_PCM_INFO_MMAP,
} from '../../src/uapi/index.ts';
import { hwAny, setInt, setMask } from './pcm-helpers.ts';

const HW: PcmHardware = {
  info: SNDRV_PCM_INFO_MMAP,
  access: [SNDRV_PCM_ACCESS_MMAP_INTERLEAVED, SNDRV_PCM_ACCESS_RW_INTERLEAVED],
  formats: [SNDRV_PCM_FORMAT_S16_LE, SNDRV_PCM_FORMAT_S32_LE],
  rateMin: 8000,
  rateMax: 48000,
  channelsMin: 1,
  channelsMax: 2,
  bufferBytesMax: 256 * 1024,
  periodBytesMin: 256,
  periodBytesMax: 64 * 1024,
  periodsMin: 2,
  periodsMax: 32,
};

describe('snd_interval arithmetic', () => {
  it('refine narrows, closes the open ends of integer intervals and rejects empty results', () => {
    const i = intervalOf(0, 100);
    expect(intervalRefine(i, { min: 10, max: 20, openmin: 1, openmax: 0, integer: 1, empty: 0 })).toBe(true);
    expect(i).toMatchObject({ min: 11, max: 20, openmin: 0, integer: 1 });
    expect(() => intervalRefine(i, intervalOf(30, 40))).toThrow(KernelError);
    expect(intervalDiv(intervalOf(10, 10), intervalOf(3, 3))).toMatchObject({ min: 3, max: 4, openmin: 1, openmax: 1 });
    expect(intervalMul(intervalOf(2, 3, true), intervalOf(4, 5, true))).toMatchObject({ min: 8, max: 15, integer: 1 });
  });
});

describe('hw_params refine and choose', () => {
  it('a fully specified request succeeds exactly when the hardware allows it, and the result keeps every relation', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(SNDRV_PCM_FORMAT_S16_LE, SNDRV_PCM_FORMAT_S32_LE, SNDRV_PCM_FORMAT_S24_LE),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 4000, max: 96000 }),
        fc.integer({ min: 16, max: 20000 }),
        fc.integer({ min: 1, max: 40 }),
        (format, channels, rate, periodSize, periods) => {
          const p = hwAny();
          setMask(p, SNDRV_PCM_HW_PARAM_FORMAT, format);
          setInt(p, SNDRV_PCM_HW_PARAM_CHANNELS, channels);
          setInt(p, SNDRV_PCM_HW_PARAM_RATE, rate);
          setInt(p, SNDRV_PCM_HW_PARAM_PERIOD_SIZE, periodSize);
          setInt(p, SNDRV_PCM_HW_PARAM_PERIODS, periods);
          const fb = (format === SNDRV_PCM_FORMAT_S16_LE ? 2 : 4) * channels;
          const possible =
            format !== SNDRV_PCM_FORMAT_S24_LE &&
            channels <= 2 &&
            rate >= 8000 &&
            rate <= 48000 &&
            periodSize * fb >= 256 &&
            periodSize * fb <= 65536 &&
            periods >= 2 &&
            periods <= 32 &&
            periodSize * periods * fb <= 256 * 1024;
          let ok = true;
          try {
            hwRefine(p, HW);
            hwChoose(p, HW);
          } catch (e) {
            if (!(e instanceof KernelError) || e.code !== 'EINVAL') throw e;
            ok = false;
          }
          expect(ok).toBe(possible);
          if (!ok) return;
          const c = hwConfig(p);
          expect([c.format, c.channels, c.rate, c.periodSize, c.periods]).toEqual([format, channels, rate, periodSize, periods]);
          expect(c.frameBytes).toBe(fb);
          expect(c.bufferSize).toBe(periodSize * periods);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a partial request either fails with EINVAL or chooses a configuration inside every limit that honours what was fixed', () => {
    fc.assert(
      fc.property(
        fc.option(fc.constantFrom(SNDRV_PCM_FORMAT_S16_LE, SNDRV_PCM_FORMAT_S32_LE), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 2 }), { nil: undefined }),
        fc.option(fc.integer({ min: 8000, max: 48000 }), { nil: undefined }),
        fc.option(fc.integer({ min: 32, max: 16384 }), { nil: undefined }),
        fc.option(fc.integer({ min: 2, max: 32 }), { nil: undefined }),
        (format, channels, rate, periodSize, periods) => {
          const p = hwAny();
          if (format !== undefined) setMask(p, SNDRV_PCM_HW_PARAM_FORMAT, format);
          if (channels !== undefined) setInt(p, SNDRV_PCM_HW_PARAM_CHANNELS, channels);
          if (rate !== undefined) setInt(p, SNDRV_PCM_HW_PARAM_RATE, rate);
          if (periodSize !== undefined) setInt(p, SNDRV_PCM_HW_PARAM_PERIOD_SIZE, periodSize);
          if (periods !== undefined) setInt(p, SNDRV_PCM_HW_PARAM_PERIODS, periods);
          try {
            hwRefine(p, HW);
            hwChoose(p, HW);
          } catch (e) {
            if (!(e instanceof KernelError) || e.code !== 'EINVAL') throw e;
            return;
          }
          const c = hwConfig(p);
          if (format !== undefined) expect(c.format).toBe(format);
          if (channels !== undefined) expect(c.channels).toBe(channels);
          if (rate !== undefined) expect(c.rate).toBe(rate);
          if (periodSize !== undefined) expect(c.periodSize).toBe(periodSize);
          if (periods !== undefined) expect(c.periods).toBe(periods);
          expect(c.frameBytes).toBe((c.sampleBits / 8) * c.channels);
          expect(c.periodSize * c.frameBytes).toBeGreaterThanOrEqual(256);
          expect(c.periodSize * c.frameBytes).toBeLessThanOrEqual(65536);
          expect(c.bufferSize).toBe(c.periodSize * c.periods);
          expect(c.bufferSize * c.frameBytes).toBeLessThanOrEqual(256 * 1024);
          expect(c.rate).toBeGreaterThanOrEqual(8000);
          expect(c.rate).toBeLessThanOrEqual(48000);
        },
      ),
      { numRuns: 300 },
    );
  });
});
