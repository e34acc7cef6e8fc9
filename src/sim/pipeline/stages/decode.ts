import { frameFormat, TestPattern, UvdEncoder } from '../../../formats/index.ts';
import { O_CREAT, O_WRONLY } from '../../../uapi/index.ts';
import { decodeStage } from '../../stages/decode.ts';
import { stageDescriptor } from '../descriptor.ts';

/** A video player's decode process: the stream file through the stateful decoder. */
export const decodeDescriptor = stageDescriptor({
  name: 'decode',
  description: 'video decoder: reads a stream file, gives the scenario\'s NV12 or XR24 (`gop`)',
  device: { kind: 'video', node: 'video' },
  role: 'source',
  program: decodeStage,
  plan: ({ scenario, fail }) => {
    if (scenario.format.fourcc === 'YUYV') fail('stage', 'the decoder gives NV12 or XR24 (set format.fourcc)');
    return { inFmt: null, outFmt: frameFormat(scenario.format.width, scenario.format.height, scenario.format.fourcc) };
  },
  expect: (x, n) => x.pattern(n),
  makesPattern: true,
  // The media file: length-prefixed packets of the synthetic codec, made by its encoder from the source pattern.
  writeInput: async (sys, { st, outFmt, seed, frames }) => {
    const enc = new UvdEncoder(outFmt!, { gop: st.gop });
    const pattern = new TestPattern(outFmt!, seed);
    const path = `/tmp/${st.name}.uvd`;
    const fd = await sys.open(path, O_WRONLY | O_CREAT, 0o644);
    const head = new Uint8Array(4);
    // one frame buffer for them all: a new one per frame is a frame of garbage each time
    const raw = new Uint8Array(outFmt!.size);
    for (let n = 0; n < frames; n++) {
      pattern.render(n, raw);
      const packet = enc.encode(raw);
      new DataView(head.buffer).setUint32(0, packet.length, true);
      await sys.write(fd, head);
      await sys.write(fd, packet);
    }
    await sys.close(fd);
    return path;
  },
});
