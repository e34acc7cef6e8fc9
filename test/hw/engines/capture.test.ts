import { describe, expect, it } from 'vitest';
import { frameFormat } from '../../../src/formats/index.ts';
import { CaptureEngine } from '../../../src/hw/index.ts';
import { PatternReference } from '../../../src/sim/reference/test-pattern.ts';
import { smallSoc } from '../helpers.ts';
import { gather, segments } from './helpers.ts';

describe('capture engine', () => {
  it('writes a frame into two segments, the bytes landing at completion, and an overrun right after the last byte', async () => {
    const soc = smallSoc();
    const fmt = frameFormat(32, 8, 'YUYV'); // 512 bytes
    const segs = segments([0x8030_0100, 0x8050_0ff3], [300], fmt.size);
    soc.mem.fill(0x8030_0000, 0x30_0000, 0x5a);
    const cap = new CaptureEngine(soc.master('dev'), soc.clock, fmt, 7);
    cap.overrun = 3;
    const done = soc.clock.spawn(() => cap.capture(segs, 4));
    await soc.clock.run(soc.clock.now + 50);
    expect(gather(soc, segs)).toEqual(new Uint8Array(fmt.size).fill(0x5a));
    expect(await soc.clock.runUntilSettled(done)).toBe(fmt.size);
    const want = new Uint8Array(fmt.size);
    new PatternReference(fmt, 7).render(4, want);
    expect(gather(soc, segs)).toEqual(want);
    // 212 bytes in the second segment, then the runaway bytes, then untouched memory
    expect(soc.mem.readBytes(0x8050_0ff3 + 212, 4)).toEqual(new Uint8Array([0xbd, 0xbd, 0xbd, 0x5a]));
    expect(soc.mem.readBytes(0x8030_0100 + 300, 1)[0]).toBe(0x5a);
    expect(cap.frames).toBe(1);
  });

  it('reports a short segment list by the bytes it wrote', async () => {
    const soc = smallSoc();
    const fmt = frameFormat(16, 4, 'XR24');
    const cap = new CaptureEngine(soc.master('dev'), soc.clock, fmt, 1);
    expect(await soc.clock.runUntilSettled(cap.capture([{ addr: 0x8030_0000, len: 100 }], 0))).toBe(100);
  });
});
