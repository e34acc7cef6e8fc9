import { describe, expect, it } from 'vitest';
import { frameFormat } from '../../../src/formats/index.ts';
import { ScanoutEngine } from '../../../src/hw/index.ts';
import { pattern, smallSoc } from '../helpers.ts';
import { scatter, segments } from './helpers.ts';

describe('scanout engine', () => {
  it('fetches every line of a framebuffer split mid-line over three segments, as memory was at the vsync', async () => {
    const soc = smallSoc();
    const fmt = frameFormat(20, 6, 'XR24'); // stride 80, 480 bytes
    const segs = segments([0x8060_0007, 0x8040_0000, 0x8070_0101], [123, 200], fmt.size);
    const fb = pattern(fmt.size, 3);
    scatter(soc, segs, fb);
    const eng = new ScanoutEngine(soc.master('dev'), soc.clock, fmt);
    const shot = soc.clock.spawn(() => eng.scanout(segs));
    // the CPU redraws during the fetch; the picture is what the fetch began with
    soc.clock.at(soc.clock.now + 10, () => scatter(soc, segs, pattern(fmt.size, 4)));
    const t0 = soc.clock.now;
    const shown = (await soc.clock.runUntilSettled(shot)).bytes();
    for (let y = 0; y < fmt.height; y++) expect(shown.subarray(y * fmt.stride, (y + 1) * fmt.stride)).toEqual(fb.subarray(y * fmt.stride, (y + 1) * fmt.stride));
    expect(soc.clock.now - t0).toBe(soc.master('dev').timeFor(fmt.size));
    expect(eng.scanouts).toBe(1);
  });
});
