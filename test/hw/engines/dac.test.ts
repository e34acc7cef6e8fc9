import { describe, expect, it } from 'vitest';
import { Dac, PCM_HASH_INIT, pcmHash } from '../../../src/hw/index.ts';
import { pattern, smallSoc } from '../helpers.ts';

const RING = 0x8040_0000;

describe('DAC', () => {
  it('plays a period fetched across the ring wrap as two descriptors, each with its own latency', async () => {
    const soc = smallSoc();
    const ring = pattern(1000, 2);
    soc.mem.write(RING, ring);
    const dac = new Dac(soc.master('dev'), soc.clock);
    dac.setPeriodBytes(256);
    dac.start();
    let arrived = 0;
    const t0 = soc.clock.now;
    dac.fetch([{ addr: RING + 900, len: 100 }, { addr: RING, len: 156 }], () => (arrived = soc.clock.now));
    expect(dac.ready).toBe(false);
    await soc.clock.run();
    const m = soc.master('dev');
    expect(arrived - t0).toBe(m.timeFor(100) + m.timeFor(156));
    expect(dac.ready).toBe(true);
    const want = new Uint8Array(256);
    want.set(ring.subarray(900), 0);
    want.set(ring.subarray(0, 156), 100);
    expect(dac.play(64)).toEqual(want);
    expect(dac.played).toEqual({ frames: 64, hash: pcmHash(PCM_HASH_INIT, want) });
  });

  it('a stop discards the fetch in flight: the FIFO stays not ready', async () => {
    const soc = smallSoc();
    const dac = new Dac(soc.master('dev'), soc.clock);
    dac.setPeriodBytes(64);
    dac.start();
    let done = false;
    dac.fetch([{ addr: RING, len: 64 }], () => (done = true));
    dac.stop();
    await soc.clock.run();
    expect(done).toBe(false);
    expect(dac.ready).toBe(false);
  });
});
