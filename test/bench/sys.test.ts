import { describe, expect, it } from 'vitest';
import { copySpeeds } from '../../bench/harness.ts';
import { BENCHES } from '../../bench/index.ts';
import { benchSys } from '../../bench/sys.ts';

describe('bench sys', () => {
  it('gives a row for syscalls, ioctls and context switches, each a positive rate over the round trips it ran', async () => {
    const rows = await benchSys({ minMs: 0, batch: 8, heapTrips: 2000 });
    expect(rows.map((r) => r.bench)).toEqual(['sys.getpid', 'sys.ioctl-querycap', 'sys.socket-ping-pong']);
    const rates = ['syscallsPerWallSecond', 'ioctlsPerWallSecond', 'contextSwitchesPerWallSecond'];
    rows.forEach((r, i) => {
      // minMs 0: exactly one timed batch
      expect(r.metrics.roundTrips).toBe(8);
      expect(r.metrics.wallSeconds).toBeGreaterThan(0);
      expect(r.ratios[rates[i]!]).toBeGreaterThan(0);
      expect(Number.isFinite(r.ratios[rates[i]!])).toBe(true);
      expect(r.metrics.wallNsPerRoundTrip).toBeCloseTo((r.metrics.wallSeconds * 1e9) / 8, 3);
    });
    // getpid's floor: the same awaits with no kernel work, measured in the same run
    const g = rows[0]!;
    expect(g.metrics.awaitFloorPerWallSecond).toBeGreaterThan(0);
    expect(g.ratios.fractionOfAwaitFloor).toBeCloseTo(g.ratios.syscallsPerWallSecond! / g.metrics.awaitFloorPerWallSecond!, 6);
    // every round trip allocates at least the promises of its awaits; getpid's figure is given against its floor's
    for (const r of rows) expect(r.metrics.heapBytesPerRoundTrip).toBeGreaterThan(100);
    expect(g.metrics.awaitFloorHeapBytesPerRoundTrip).toBeGreaterThan(100);
    expect(g.metrics.heapBytesOverAwaitFloor).toBeCloseTo(g.metrics.heapBytesPerRoundTrip! - g.metrics.awaitFloorHeapBytesPerRoundTrip!, 6);
    // a ping-pong round trip is two switches: one each way
    const pp = rows[2]!;
    expect(pp.ratios.contextSwitchesPerWallSecond).toBeCloseTo((2 * 8) / pp.metrics.wallSeconds, 3);
  });

  it('is one of the benchmarks `unimem bench` runs', () => {
    expect(Object.keys(BENCHES)).toContain('sys');
  });
});

describe('the copy baseline', () => {
  it('is the fastest of Buffer.copy, TypedArray.set and copyWithin, each measured', () => {
    const c = copySpeeds(64 * 1024, 1);
    for (const v of [c.bufferCopy, c.typedArraySet, c.typedArraySetPieces, c.copyWithin]) expect(v).toBeGreaterThan(0);
    expect(c.fastest).toBe(Math.max(c.bufferCopy, c.typedArraySet, c.typedArraySetPieces, c.copyWithin));
  });
});
