/**
 * DRM pixel format codes (drm_fourcc.h as libdrm 2.4.114 ships it,
 * matching Linux 6.1): the formats the display's primary plane scans out,
 * and NV12 for buffers the video and camera blocks hand to it. A code is
 * four ASCII characters, little-endian; bit 31 (DRM_FORMAT_BIG_ENDIAN) is
 * never set by the characters themselves.
 */

/** Packs four characters into a DRM format code (fourcc_code). */
export function fourcc_code(a: string, b: string, c: string, d: string): number {
  return (a.charCodeAt(0) | (b.charCodeAt(0) << 8) | (c.charCodeAt(0) << 16) | (d.charCodeAt(0) << 24)) >>> 0;
}

/** [31:0] x:R:G:B 8:8:8:8, little-endian: bytes B, G, R, x in memory. */
export const DRM_FORMAT_XRGB8888 = fourcc_code('X', 'R', '2', '4');
/** [31:0] A:R:G:B 8:8:8:8, little-endian: bytes B, G, R, A in memory. */
export const DRM_FORMAT_ARGB8888 = fourcc_code('A', 'R', '2', '4');
/** Two planes: full-size Y, then 2x2-subsampled interleaved Cb:Cr (4:2:0). */
export const DRM_FORMAT_NV12 = fourcc_code('N', 'V', '1', '2');
