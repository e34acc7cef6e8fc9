/**
 * DOC: formats — pixel formats, test patterns and bitstreams
 *
 * Pure functions and small classes on bytes: frame layouts (fourcc, stride,
 * plane sizes, the V4L2 pixelformat of each), the sensor's test pattern,
 * the kernel's test-pattern generator (v4l2-tpg: colour bars and 8x16
 * text, byte for byte, for vivid),
 * the ISP's YUV conversions, the blend unit's average, the codecs'
 * bitstreams (baseline JPEG in JFIF files, UVD1), a synthetic photo and
 * PSNR for lossy output. The per-pixel loops run as WebAssembly
 * kernels (wasm/, kernels.ts) in a scratch memory of their own: a caller
 * copies in, runs and copies out in one synchronous step. The JPEG
 * encoder's scan (DCT, quantization, Huffman) runs there whole, and the
 * decoder's inverse DCTs in batches; the decoder's Huffman decoding and
 * its checks of damaged files stay in TypeScript. Nothing
 * here knows of memory, devices or time, so both sides may use it: the
 * devices' hardware and drivers below the syscall line, and userspace
 * programs above it. Imports only uapi and lib.
 */
export { AverageUnit, averageBytes } from './blend.ts';
export { growMemory, nextRegion, wasmHeap, wasmInstance, wasmKernels, type Kernels } from './kernels.ts';
export { frameFormat, frameFourcc, v4l2PixelFormat, type FrameFormat } from './pixel-format.ts';
export { TestPattern } from './test-pattern.ts';
export { forEachFramePiece, frameBytesOf, frameEquals, type FrameBytes, type LentFrame } from './frame-bytes.ts';
export { FONT_VGA_8X16 } from './font-vga8x16.ts';
export {
  Tpg,
  TPG_COLOR_100_BLACK,
  TPG_COLOR_100_WHITE,
  TPG_COLOR_75_BLUE,
  TPG_COLOR_75_CYAN,
  TPG_COLOR_75_GREEN,
  TPG_COLOR_75_MAGENTA,
  TPG_COLOR_75_RED,
  TPG_COLOR_75_YELLOW,
  TPG_COLOR_CSC_WHITE,
  tpgDefaultQuantization,
  tpgDefaultYcbcrEnc,
  tpgRgbToYcbcr,
  tpgSupports,
  type TpgConfig,
  type TpgPattern,
  type TpgPlane,
  type TpgQuantization,
  type TpgYcbcrEnc,
} from './v4l2-tpg.ts';
export { JPEG_MIN_SIZE, JPEG_QUALITY, jpegEncode, jpegMaxSize } from './jpeg-encode.ts';
export { jpegDecode, jpegDecodePicture, jpegFrameHeader, jpegPictureToFrame, type JpegComponent, type JpegPicture } from './jpeg-decode.ts';
export { psnr } from './psnr.ts';
export { syntheticPhoto } from './photo.ts';
export { UVD_HEADER, UvdDecoderUnit, UvdEncoder, uvdChecksum, uvdDecode, uvdMaxPacketSize, uvdParseHeader, type UvdHeader } from './uvd-stream.ts';
export { nv12ToNv12, nv12ToXrgb8888, ScalerUnit, yuyvToNv12, yuyvToXrgb8888 } from './yuv.ts';
