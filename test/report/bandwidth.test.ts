import { describe, expect, it } from 'vitest';
import { ReportCollector } from '../../src/report/index.ts';
import { buildPlots } from '../../src/report/plots.ts';
import { loadPlatform, loadScenario, runScenario } from '../../src/sim/index.ts';

/** Runs a scenario on armv7-mobile with a collector; returns the capture and the run's per-master byte counters. */
async function capture(name: string, frames: number, intervalNs?: number) {
  const s = loadScenario(name);
  const p = loadPlatform('armv7-mobile');
  const c = new ReportCollector({ intervalNs });
  await runScenario(s, p, { frames, observer: c });
  return { cap: c.capture(), platform: p };
}

describe('bandwidth chart', () => {
  // A frame period and a quarter of a millisecond: the finer the intervals, the more a transfer straddles them.
  for (const [name, intervalNs] of [['camera-preview', undefined], ['video-playback', undefined], ['camera-preview', 250_000], ['video-playback', 250_000]] as const) {
    it(`${name}, ${intervalNs ? `${intervalNs / 1000} µs` : 'frame-period'} intervals: no interval of any master exceeds the bandwidth its platform gives it, and the bytes add up`, async () => {
      const { cap, platform } = await capture(name, 8, intervalNs);
      const bw = buildPlots(cap).find((p) => p.id === 'plot-bandwidth')!;
      const limit = (m: string) => (m === 'cpu' ? platform.cpu.bandwidth : platform.devices.find((d) => d.name === m)!.bandwidth) / 1e6;
      const moving = bw.series.filter((s) => s.values.some((v) => (v ?? 0) > 0));
      expect(moving.length).toBeGreaterThan(0);
      let peak = 0;
      for (const s of moving) {
        for (const v of s.values) {
          expect(v!).toBeLessThanOrEqual(limit(s.label) * (1 + 1e-6));
          peak = Math.max(peak, v! / limit(s.label));
        }
        // The spread keeps every byte: rate x interval summed is what the master moved.
        const k = cap.samples.masters.indexOf(s.label);
        let bytes = 0;
        for (let i = 1; i < bw.x.length; i++) bytes += s.values[i]! * 1e6 * ((bw.x[i]! - bw.x[i - 1]!) / 1e3);
        expect(bytes).toBeCloseTo(cap.samples.masterBytes[k]![cap.samples.t.length - 1]!, -3);
      }
      // Somebody is busy for a good part of an interval: the chart is not trivially under its caps.
      expect(peak).toBeGreaterThan(0.05);
    });
  }
});

describe('BusRecorder', () => {
  it('leaves the run and its trace as they were: the same DMA events with and without a report', async () => {
    const s = loadScenario('camera-preview');
    const p = loadPlatform('armv7-mobile');
    const plain = await runScenario(s, p, { frames: 3, trace: true });
    const watched = await runScenario(s, p, { frames: 3, trace: true, observer: new ReportCollector() });
    const events = (r: typeof plain) => r.trace!.toJSON().traceEvents;
    expect(events(watched).filter((e) => e.cat === 'dma').length).toBeGreaterThan(0);
    expect(events(watched)).toEqual(events(plain));
  });
});
