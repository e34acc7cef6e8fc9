/**
 * DOC: formats — pixel formats, test patterns and bitstreams
 *
 * Pure functions and small classes on bytes: frame layouts (fourcc, stride,
 * plane sizes, the V4L2 pixelformat of each), the sensor's test pattern,
 * the ISP's YUV conversions, the blend unit's average, the codecs'
 * bitstreams (UJPG, UVD1). Nothing
 * here knows of memory, devices or time, so both sides may use it: the
 * devices' hardware and drivers below the syscall line, and userspace
 * programs above it. Imports only uapi and lib.
 */
export { averageBytes } from './blend.ts';
export { frameFormat, frameFourcc, v4l2PixelFormat, type FrameFormat } from './pixel-format.ts';
export { TestPattern } from './test-pattern.ts';
export { UJPG_HEADER, ujpgDecode, ujpgEncode, ujpgMaxSize, ujpgParse } from './ujpg.ts';
export { UVD_HEADER, UvdEncoder, uvdChecksum, uvdDecode, uvdMaxPacketSize, uvdParseHeader, type UvdHeader } from './uvd-stream.ts';
export { nv12ToNv12, nv12ToXrgb8888, yuyvToNv12, yuyvToXrgb8888 } from './yuv.ts';
