import { describe, expect, it } from 'vitest';
import { BlendEngine } from '../../../src/hw/index.ts';
import { averageReference } from '../../../src/sim/reference/blend.ts';
import { pattern, smallSoc } from '../helpers.ts';
import { gather, scatter, segments } from './helpers.ts';

describe('blend engine', () => {
  it('averages two scattered sources into a scattered destination, byte by byte, rounding down', async () => {
    const soc = smallSoc();
    const len = 1027;
    const s0 = segments([0x8040_0003, 0x8041_0000], [501], len);
    const s1 = segments([0x8050_0000, 0x8051_0005, 0x8052_0009], [7, 999], len);
    const dst = segments([0x8060_0001, 0x8061_0000], [4095], len);
    const a = pattern(len, 1);
    const b = pattern(len, 9);
    scatter(soc, s0, a);
    scatter(soc, s1, b);
    const eng = new BlendEngine(soc.master('dev'), soc.clock);
    const t0 = soc.clock.now;
    expect(await soc.clock.runUntilSettled(eng.average(dst, s0, s1, len))).toBe(len);
    const want = new Uint8Array(len);
    averageReference(a, b, want);
    expect(gather(soc, dst)).toEqual(want);
    const m = soc.master('dev');
    expect(soc.clock.now - t0).toBe(m.timeFor(2 * len) + m.timeFor(len));
  });
});
