import { describe, expect, it } from 'vitest';
import { frameFormat } from '../../../src/formats/index.ts';
import { JpegEngine } from '../../../src/hw/index.ts';
import { ujpgDecodeReference } from '../../../src/sim/reference/ujpg.ts';
import { V4L2_PIX_FMT_NV12 } from '../../../src/uapi/index.ts';
import { smallSoc } from '../helpers.ts';
import { gather, scatter, segments } from './helpers.ts';

describe('JPEG engine', () => {
  it('encodes a scattered frame into a bitstream the reference decodes, and decodes it back into other segments', async () => {
    const soc = smallSoc();
    const fmt = frameFormat(32, 16, 'NV12');
    // a smooth frame with a sharp stripe: runs and literals both
    const raw = new Uint8Array(fmt.size);
    for (let i = 0; i < raw.length; i++) raw[i] = (i >> 3) % 7 === 0 ? (i * 37) & 0xff : i & 0xff;
    const rawSegs = segments([0x8040_0005, 0x8042_0000], [301], fmt.size);
    scatter(soc, rawSegs, raw);
    const eng = new JpegEngine(soc.master('dev'), soc.clock);
    const rawBuf = new Uint8Array(fmt.size);
    const coded = new Uint8Array(2 * fmt.size);
    await soc.clock.runUntilSettled(eng.read(rawSegs, rawBuf, fmt.size, 'enc read'));
    const len = eng.encode(rawBuf, fmt, V4L2_PIX_FMT_NV12, coded);
    const codedSegs = segments([0x8050_0003, 0x8054_0000], [41], len);
    expect(await soc.clock.runUntilSettled(eng.write(codedSegs, coded, len, 'enc write'))).toBe(len);
    const check = new Uint8Array(fmt.size);
    const h = ujpgDecodeReference(gather(soc, codedSegs), check);
    expect(h).toMatchObject({ pixelformat: V4L2_PIX_FMT_NV12, width: 32, height: 16, raw: fmt.size });
    expect(check).toEqual(raw);

    const bits = new Uint8Array(len);
    await soc.clock.runUntilSettled(eng.read(codedSegs, bits, len, 'dec read'));
    const out = new Uint8Array(fmt.size);
    expect(eng.decode(bits, len, out)).toBe(fmt.size);
    const outSegs = segments([0x8060_0000, 0x8061_0001], [100], fmt.size);
    await soc.clock.runUntilSettled(eng.write(outSegs, out, fmt.size, 'dec write'));
    expect(gather(soc, outSegs)).toEqual(raw);
  });
});
