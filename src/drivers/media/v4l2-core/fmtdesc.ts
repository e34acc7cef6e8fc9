import {
  V4L2_FMT_FLAG_COMPRESSED,
  V4L2_PIX_FMT_ABGR32,
  V4L2_PIX_FMT_H264,
  V4L2_PIX_FMT_JPEG,
  V4L2_PIX_FMT_MJPEG,
  V4L2_PIX_FMT_NV12,
  V4L2_PIX_FMT_NV21,
  V4L2_PIX_FMT_RGB24,
  V4L2_PIX_FMT_RGB565,
  V4L2_PIX_FMT_UYVY,
  V4L2_PIX_FMT_XBGR32,
  V4L2_PIX_FMT_YUV420,
  V4L2_PIX_FMT_YUYV,
  fourccToString,
  type V4l2Fmtdesc,
} from '../../../uapi/index.ts';

/** The core's names of the pixel formats here, and which are compressed (the table of v4l_fill_fmtdesc). */
const DESCRIPTIONS = new Map<number, { description: string; compressed: boolean }>([
  [V4L2_PIX_FMT_YUYV, { description: 'YUYV 4:2:2', compressed: false }],
  [V4L2_PIX_FMT_UYVY, { description: 'UYVY 4:2:2', compressed: false }],
  [V4L2_PIX_FMT_NV12, { description: 'Y/UV 4:2:0', compressed: false }],
  [V4L2_PIX_FMT_NV21, { description: 'Y/VU 4:2:0', compressed: false }],
  [V4L2_PIX_FMT_YUV420, { description: 'Planar YUV 4:2:0', compressed: false }],
  [V4L2_PIX_FMT_RGB565, { description: '16-bit RGB 5-6-5', compressed: false }],
  [V4L2_PIX_FMT_RGB24, { description: '24-bit RGB 8-8-8', compressed: false }],
  [V4L2_PIX_FMT_XBGR32, { description: '32-bit BGRX 8-8-8-8', compressed: false }],
  [V4L2_PIX_FMT_ABGR32, { description: '32-bit BGRA 8-8-8-8', compressed: false }],
  [V4L2_PIX_FMT_JPEG, { description: 'JFIF JPEG', compressed: true }],
  [V4L2_PIX_FMT_MJPEG, { description: 'Motion-JPEG', compressed: true }],
  [V4L2_PIX_FMT_H264, { description: 'H.264', compressed: true }],
]);

/**
 * Names a format the driver enumerated (v4l_fill_fmtdesc): a format the
 * core knows gets its description and, when compressed,
 * V4L2_FMT_FLAG_COMPRESSED; another keeps the driver's description, or
 * gets its fourcc as one when the driver gave none.
 */
export function fillFmtdesc(f: V4l2Fmtdesc): void {
  const d = DESCRIPTIONS.get(f.pixelformat >>> 0);
  if (d) {
    f.description = d.description;
    if (d.compressed) f.flags |= V4L2_FMT_FLAG_COMPRESSED;
    return;
  }
  if (!f.description) f.description = fourccToString(f.pixelformat >>> 0);
}

/** Resets what ENUM_FMT writes, keeping index, type and mbus_code (v4l_enum_fmt's memset_after(type)). */
export function clearFmtdesc(f: V4l2Fmtdesc): void {
  f.flags = 0;
  f.description = '';
  f.pixelformat = 0;
  f.mbus_code = f.mbus_code ?? 0;
  f.reserved = [0, 0, 0];
}
