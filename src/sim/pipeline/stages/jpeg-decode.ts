import { frameFormat, TestPattern, ujpgEncode, ujpgMaxSize, v4l2PixelFormat } from '../../../formats/index.ts';
import { O_CREAT, O_WRONLY } from '../../../uapi/index.ts';
import { jpegDecodeStage } from '../../stages/jpeg-decode.ts';
import { stageDescriptor } from '../descriptor.ts';

/** A gallery process: hardware JPEG decode of the photos into memory it allocated itself. */
export const jpegDecodeDescriptor = stageDescriptor({
  name: 'jpeg-decode',
  description: 'JPEG decoder (alone): decodes JPEG files into USERPTR memory',
  device: { kind: 'jpeg', node: 'decoder' },
  role: 'alone',
  program: jpegDecodeStage,
  plan: ({ scenario }) => ({ inFmt: null, outFmt: frameFormat(scenario.format.width, scenario.format.height, scenario.format.fourcc) }),
  expect: (x, n) => x.pattern(n),
  makesPattern: true,
  check: (x, n, bytes) => {
    const want = x.output(n);
    return bytes.length === want.length && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).equals(Buffer.from(want.buffer, want.byteOffset, want.length));
  },
  // The gallery: photos taken earlier, encoded as the JPEG block encodes them.
  writeInput: async (sys, { outFmt, seed, frames }) => {
    const fmt = outFmt!;
    const pattern = new TestPattern(fmt, seed);
    const bits = new Uint8Array(ujpgMaxSize(fmt.size));
    for (let n = 0; n < frames; n++) {
      const len = ujpgEncode(pattern.frame(n), fmt, v4l2PixelFormat(fmt.fourcc), bits);
      const fd = await sys.open(`/tmp/IMG_${String(n).padStart(4, '0')}.jpg`, O_WRONLY | O_CREAT, 0o644);
      await sys.write(fd, bits.subarray(0, len));
      await sys.close(fd);
    }
    return '/tmp';
  },
  placement: (st) => `${st.name}: jpeg-decode, no buffers of its own to share`,
});
