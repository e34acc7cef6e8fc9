import { frameFormat, jpegDecode, jpegEncode, jpegMaxSize, syntheticPhoto, type FrameFormat } from '../../../formats/index.ts';
import { O_CREAT, O_WRONLY } from '../../../uapi/index.ts';
import { jpegDecodeStage } from '../../stages/jpeg-decode.ts';
import { stageDescriptor } from '../descriptor.ts';

/** Photo `n` of the gallery: a synthetic photo of `fmt`, JPEG encoded as the JPEG block encodes it. */
function photoFile(fmt: FrameFormat, seed: number, n: number): Uint8Array {
  const bits = new Uint8Array(jpegMaxSize(fmt));
  return bits.slice(0, jpegEncode(syntheticPhoto(fmt, seed, n), fmt, bits));
}

/** A gallery process: hardware JPEG decode of the photos into memory it allocated itself; each picture must equal the codec's own decode of the same file. */
export const jpegDecodeDescriptor = stageDescriptor({
  name: 'jpeg-decode',
  description: 'JPEG decoder (alone): decodes JPEG files into USERPTR memory',
  device: { kind: 'jpeg', node: 'decoder' },
  role: 'alone',
  program: jpegDecodeStage,
  plan: ({ scenario }) => ({ inFmt: null, outFmt: frameFormat(scenario.format.width, scenario.format.height, scenario.format.fourcc) }),
  // The same file decoded by the same codec outside the simulation.
  expect: (x, n) => {
    const fmt = x.outFmt!;
    const out = x.alloc(fmt.size);
    const bits = photoFile(fmt, x.seed, n);
    jpegDecode(bits, bits.length, fmt, out);
    return out;
  },
  check: (x, n, bytes) => {
    const want = x.output(n);
    return bytes.length === want.length && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).equals(Buffer.from(want.buffer, want.byteOffset, want.length));
  },
  // The gallery: photos taken earlier, JPEG files as the JPEG block encodes them.
  writeInput: async (sys, { outFmt, seed, frames }) => {
    const fmt = outFmt!;
    for (let n = 0; n < frames; n++) {
      const fd = await sys.open(`/tmp/IMG_${String(n).padStart(4, '0')}.jpg`, O_WRONLY | O_CREAT, 0o644);
      await sys.write(fd, photoFile(fmt, seed, n));
      await sys.close(fd);
    }
    return '/tmp';
  },
  placement: (st) => `${st.name}: jpeg-decode, no buffers of its own to share`,
});
