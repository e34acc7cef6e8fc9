import { describe, expect, it } from 'vitest';
import { frameFormat, ScalerUnit } from '../../../src/formats/index.ts';
import { IspEngine } from '../../../src/hw/index.ts';
import { convertReference } from '../../../src/sim/reference/yuv.ts';
import { pattern, smallSoc } from '../helpers.ts';
import { gather, scatter, segments } from './helpers.ts';

describe('ISP engine', () => {
  it('reads a scattered YUYV frame, scales it to half-size XRGB8888 and writes it over other segments', async () => {
    const soc = smallSoc();
    const src = frameFormat(32, 16, 'YUYV');
    const dst = frameFormat(16, 8, 'XR24');
    const inSegs = segments([0x8040_0011, 0x8044_0000, 0x8048_0203], [333, 77], src.size);
    const outSegs = segments([0x8050_0000, 0x8058_0fff], [129], dst.size);
    const frame = pattern(src.size, 5);
    scatter(soc, inSegs, frame);
    const eng = new IspEngine(soc.master('dev'), soc.clock);
    const unit = new ScalerUnit(src, 2, dst);
    expect(await soc.clock.runUntilSettled(eng.readFrame(inSegs, unit.input, src.size))).toBe(src.size);
    eng.convert(unit);
    expect(await soc.clock.runUntilSettled(eng.writeFrame(outSegs, unit.output, dst.size))).toBe(dst.size);
    const want = new Uint8Array(dst.size);
    convertReference(frame, src, dst, 2, want);
    expect(gather(soc, outSegs)).toEqual(want);
  });
});
