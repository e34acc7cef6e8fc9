import { jpegDecode, JPEG_QUALITY, psnr, type FrameFormat } from '../../../formats/index.ts';
import { KernelError } from '../../../lib/index.ts';
import { encodeStage } from '../../stages/encode.ts';
import { stageDescriptor } from '../descriptor.ts';

/**
 * The least PSNR (dB, over every sample byte) a JPEG of the encoder
 * (quality JPEG_QUALITY = 90) must keep against its source frame. The
 * sensor's test pattern is noise, the hardest picture for JPEG: its Y'CbCr
 * frames come back at about 35 dB (YUYV is coded 4:2:2, NV12 4:2:0, so
 * chroma is not resampled), an XBGR32 frame at about 30 dB (its RGB goes
 * through Y'CbCr and back, rounded and clipped); photos at 42-47 dB.
 */
export const JPEG_MIN_PSNR_DB: Record<FrameFormat['fourcc'], number> = { YUYV: 32, NV12: 32, XR24: 28 };

/** A camera app's encoder process: each frame to a JPEG file; checked by decoding the file and holding it to the frame within JPEG_MIN_PSNR_DB. */
export const encodeDescriptor = stageDescriptor({
  name: 'encode',
  description: `JPEG encoder: takes any frame, writes baseline JPEG (JFIF) files at quality ${JPEG_QUALITY}`,
  device: { kind: 'jpeg', node: 'encoder' },
  role: 'sink',
  program: encodeStage,
  plan: ({ prev }) => ({ inFmt: prev, outFmt: null }),
  check: (x, n, bytes) => {
    const want = x.input(n);
    const got = x.once(() => ({ buf: new Uint8Array(want.length) })).buf;
    const fmt = x.inFmt!;
    try {
      jpegDecode(bytes, bytes.length, fmt, got);
    } catch (e) {
      if (e instanceof KernelError) return false;
      throw e;
    }
    return psnr(want, got, fmt) >= JPEG_MIN_PSNR_DB[fmt.fourcc];
  },
  writeInput: () => Promise.resolve('/tmp'),
});
