import type { FrameFormat } from '../../../formats/index.ts';
import { V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_XBGR32, V4L2_PIX_FMT_YUYV } from '../../../uapi/index.ts';
import { UjpgStreamError, ujpgDecodeReference } from '../../reference/ujpg.ts';
import { encodeStage } from '../../stages/encode.ts';
import { stageDescriptor } from '../descriptor.ts';

/** The V4L2 pixelformat a UJPG header names for each frame layout (the uapi fourccs). */
const PIXELFORMAT: Record<FrameFormat['fourcc'], number> = { YUYV: V4L2_PIX_FMT_YUYV, NV12: V4L2_PIX_FMT_NV12, XR24: V4L2_PIX_FMT_XBGR32 };

/** A camera app's encoder process: each frame to a JPEG file; checked by decoding the file with the reference decoder. */
export const encodeDescriptor = stageDescriptor({
  name: 'encode',
  description: 'JPEG encoder: takes any frame, writes JPEG files',
  device: { kind: 'jpeg', node: 'encoder' },
  role: 'sink',
  program: encodeStage,
  plan: ({ prev }) => ({ inFmt: prev, outFmt: null }),
  check: (x, n, bytes) => {
    const want = x.input(n);
    const got = x.once(() => ({ buf: new Uint8Array(want.length) })).buf;
    const fmt = x.inFmt!;
    try {
      const h = ujpgDecodeReference(bytes, got);
      if (h.pixelformat !== PIXELFORMAT[fmt.fourcc] || h.width !== fmt.width || h.height !== fmt.height) return false;
    } catch (e) {
      if (e instanceof UjpgStreamError) return false;
      throw e;
    }
    return Buffer.from(got.buffer, got.byteOffset, got.length).equals(Buffer.from(want.buffer, want.byteOffset, want.length));
  },
  writeInput: () => Promise.resolve('/tmp'),
});
