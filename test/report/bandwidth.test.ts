import { describe, expect, it } from 'vitest';
import { ReportCollector } from '../../src/report/index.ts';
import { buildPlots } from '../../src/report/plots.ts';
import { BusRecorder } from '../../src/report/bus-spread.ts';
import { bootSystem, loadPlatform, loadScenario, runScenario } from '../../src/sim/index.ts';

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

describe('BusRecorder spreading', () => {
  it('adds each transfer to every interval it spans in proportion to the overlap: a write that lands at completion and a read counted as it starts', async () => {
    const sys = bootSystem(loadPlatform('armv7-mobile'), { seed: 1 });
    const m = sys.soc.master('dma0'); // 2 GB/s, 100 ns a transfer, no IOMMU
    const rec = new BusRecorder(sys.soc.bus, sys.soc.masters.values(), () => sys.soc.clock.now);
    const MB2 = 2_000_000; // 1 ms at 2 GB/s
    const addr = 0x3000_0000;
    const done = sys.soc.clock.spawn(async () => {
      await m.write(addr, new Uint8Array(MB2).fill(7)); // [0, 1.0001 ms), counted at its end
      await sys.soc.clock.sleep(999_900); // idle until 2 ms
      await m.read(addr, new Uint8Array(MB2)); // [2, 3.0001 ms), counted at its start
    });
    await sys.soc.clock.runUntilSettled(done);
    rec.stop();
    const port = [...sys.soc.bus.ports.keys()].indexOf('dma0');
    const t = [0, 250_000, 500_000, 1_500_000, 2_250_000, 2_500_000, 3_000_100];
    const got = rec.cumulative(t)[port]!;
    const dur = 1_000_100;
    const expected = [0, (MB2 * 250_000) / dur, (MB2 * 500_000) / dur, MB2, MB2 + (MB2 * 250_000) / dur, MB2 + (MB2 * 500_000) / dur, 2 * MB2];
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 3));
    // The interconnect counted the same bytes, and after stop() it is its own class's method again.
    expect(sys.soc.bus.ports.get('dma0')!.bytesRead + sys.soc.bus.ports.get('dma0')!.bytesWritten).toBe(2 * MB2);
    expect(Object.prototype.hasOwnProperty.call(sys.soc.bus, 'transfer')).toBe(false);
    expect(m.tracer).toBeNull();
  });

  it("draws bytes no engine reported a span for as taking the port's time, back to back, and leaves out what moves after the last sample", async () => {
    const sys = bootSystem(loadPlatform('armv7-mobile'), { seed: 1 });
    const m = sys.soc.master('dma0');
    const rec = new BusRecorder(sys.soc.bus, sys.soc.masters.values(), () => sys.soc.clock.now);
    // Two untimed bursts at t=0 (as sgDmaMove counts segments): back to back on the port, 0.5 ms each.
    m.writeNow(0x3000_0000, new Uint8Array(1_000_000));
    m.writeNow(0x3010_0000, new Uint8Array(1_000_000));
    rec.stop();
    const port = [...sys.soc.bus.ports.keys()].indexOf('dma0');
    const got = rec.cumulative([0, 250_000, 750_000])[port]!;
    expect(got[0]).toBe(0);
    expect(got[1]).toBeCloseTo(500_000, 3);
    expect(got[2]).toBeCloseTo(1_500_000, 3);
  });
});
