import { describe, expect, it } from 'vitest';
import { frameFormat, jpegDecode, jpegFrameHeader, jpegMaxSize, psnr, syntheticPhoto } from '../../../src/formats/index.ts';
import { JpegEngine } from '../../../src/hw/index.ts';
import { smallSoc } from '../helpers.ts';
import { gather, scatter, segments } from './helpers.ts';

describe('JPEG engine', () => {
  it('encodes a scattered frame into a JFIF file, and decodes the file back into other segments as the codec decodes it', async () => {
    const soc = smallSoc();
    const fmt = frameFormat(32, 16, 'NV12');
    const raw = syntheticPhoto(fmt, 7, 0);
    const rawSegs = segments([0x8040_0005, 0x8042_0000], [301], fmt.size);
    scatter(soc, rawSegs, raw);
    const eng = new JpegEngine(soc.master('dev'), soc.clock);
    const rawBuf = new Uint8Array(fmt.size);
    const coded = new Uint8Array(jpegMaxSize(fmt));
    await soc.clock.runUntilSettled(eng.read(rawSegs, rawBuf, fmt.size, 'enc read'));
    const len = eng.encode(rawBuf, fmt, coded);
    const codedSegs = segments([0x8050_0003, 0x8054_0000], [41], len);
    expect(await soc.clock.runUntilSettled(eng.write(codedSegs, coded, len, 'enc write'))).toBe(len);
    const file = gather(soc, codedSegs);
    expect(jpegFrameHeader(file, len)).toMatchObject({ width: 32, height: 16 });
    const check = new Uint8Array(fmt.size);
    jpegDecode(file, len, fmt, check);
    expect(psnr(raw, check, fmt)).toBeGreaterThan(32);

    const bits = new Uint8Array(len);
    await soc.clock.runUntilSettled(eng.read(codedSegs, bits, len, 'dec read'));
    const out = new Uint8Array(fmt.size);
    expect(eng.decode(bits, len, fmt, out)).toBe(fmt.size);
    const outSegs = segments([0x8060_0000, 0x8061_0001], [100], fmt.size);
    await soc.clock.runUntilSettled(eng.write(outSegs, out, fmt.size, 'dec write'));
    expect(gather(soc, outSegs)).toEqual(check);
  });
});
