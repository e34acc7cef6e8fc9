import { frameFormat, TestPattern, type FrameFormat } from '../src/formats/index.ts';
import { jpegDecodePicture, jpegDecodePicturePlain } from '../src/formats/jpeg-decode.ts';
import { jpegEncode, jpegEncodePlain, jpegMaxSize } from '../src/formats/jpeg-encode.ts';
import { syntheticPhoto } from '../src/formats/photo.ts';
import { bestOfRounds, copySpeeds, type BenchResult } from './harness.ts';

/**
 * The JPEG codec on one 1920x1080 YUYV frame, encode and decode, for the
 * sensor's test pattern (noise: a file of 3 MB, the Huffman coder's worst)
 * and the synthetic photo (a tenfold smaller file): frames per wall second
 * as the codec runs (its WebAssembly kernels), and as its plain code runs
 * (`plainFramesPerWallSecond`, the reference the kernels are tested
 * against byte for byte). The ratio is the frame's memory traffic (the
 * raw frame and the file, each read or written once) at the speed of the
 * fastest plain copy measured in the same run, which no codec gets past.
 */
export function benchJpeg(width = 1920, height = 1080, rounds = 5, msEach = 400): BenchResult[] {
  const fmt = frameFormat(width, height, 'YUYV');
  const copy = copySpeeds(16 * 1024 * 1024, 150).fastest;
  const rows: BenchResult[] = [];
  for (const [name, raw] of [
    ['pattern', new TestPattern(fmt, 1).frame(0)],
    ['photo', syntheticPhoto(fmt, 1, 1)],
  ] as const) {
    const out = new Uint8Array(jpegMaxSize(fmt));
    const len = jpegEncode(raw, fmt, out);
    const file = out.slice(0, len);
    const enc = bestOfRounds({ kernels: () => jpegEncode(raw, fmt, out), plain: () => jpegEncodePlain(raw, fmt, out) }, rounds, msEach);
    const dec = bestOfRounds({ kernels: () => jpegDecodePicture(file, len), plain: () => jpegDecodePicturePlain(file, len) }, rounds, msEach);
    rows.push(row(`codec.jpeg-encode-${name}-${height}p`, fmt, len, enc, copy), row(`codec.jpeg-decode-${name}-${height}p`, fmt, len, dec, copy));
  }
  return rows;
}

function row(bench: string, fmt: FrameFormat, fileBytes: number, fps: { kernels: number; plain: number }, copyBytesPerSec: number): BenchResult {
  // a plain copy reads and writes each byte it copies: twice its byte count of traffic
  const limitFramesPerWallSecond = (2 * copyBytesPerSec) / (fmt.size + fileBytes);
  return {
    bench,
    metrics: {
      frameBytes: fmt.size,
      fileBytes,
      msPerFrame: 1000 / fps.kernels,
      plainMsPerFrame: 1000 / fps.plain,
      plainFramesPerWallSecond: fps.plain,
      fastestCopyBytesPerSec: copyBytesPerSec,
      limitFramesPerWallSecond,
    },
    ratios: { framesPerWallSecond: fps.kernels, fractionOfMemoryLimit: fps.kernels / limitFramesPerWallSecond },
  };
}

export default async function benchCodec(): Promise<BenchResult[]> {
  return benchJpeg();
}
