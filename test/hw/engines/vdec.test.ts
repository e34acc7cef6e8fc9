import { describe, expect, it } from 'vitest';
import { frameFormat, UvdDecoderUnit, UvdEncoder } from '../../../src/formats/index.ts';
import { VdecEngine } from '../../../src/hw/index.ts';
import { pattern, smallSoc } from '../helpers.ts';
import { gather, scatter, segments } from './helpers.ts';

describe('video decoder engine', () => {
  it('decodes an I-frame, then a P-frame against the reference it reads back from the picture it wrote', async () => {
    const soc = smallSoc();
    const fmt = frameFormat(32, 16, 'XR24');
    const enc = new UvdEncoder(fmt, { gop: 30 });
    const f0 = pattern(fmt.size, 1);
    const f1 = f0.slice();
    f1.copyWithin(0, 4); // the picture moves one pixel left
    const p0 = enc.encode(f0).slice();
    const p1 = enc.encode(f1).slice();
    const eng = new VdecEngine(soc.master('dev'), soc.clock);
    const unit = new UvdDecoderUnit(Math.max(p0.length, p1.length), fmt.size);
    const { packet: pkt, ref, picture: out } = unit;
    const pic = segments([0x8060_0009, 0x8062_0000, 0x8064_0100], [1001, 999], fmt.size);

    const s0 = segments([0x8040_0001, 0x8041_0000], [17], p0.length);
    scatter(soc, s0, p0);
    expect(await soc.clock.runUntilSettled(eng.readPacket(s0, pkt, p0.length))).toBe(p0.length);
    eng.decode(unit, p0.length, false);
    await soc.clock.runUntilSettled(eng.writePicture(pic, out, fmt.size));
    expect(gather(soc, pic)).toEqual(f0);

    const s1 = segments([0x8050_0003, 0x8051_0000], [5], p1.length);
    scatter(soc, s1, p1);
    await soc.clock.runUntilSettled(eng.readPacket(s1, pkt, p1.length));
    expect(await soc.clock.runUntilSettled(eng.readReference(pic, ref, fmt.size))).toBe(fmt.size);
    eng.decode(unit, p1.length, true);
    // the destination is the reference's own buffer: it was read whole first
    await soc.clock.runUntilSettled(eng.writePicture(pic, out, fmt.size));
    expect(gather(soc, pic)).toEqual(f1);
  });
});
