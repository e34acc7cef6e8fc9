import { describe, expect, it } from 'vitest';
import * as U from '../../src/uapi/index.ts';

/*
 * Printed by a C program compiled with the machine's gcc against the real
 * <linux/videodev2.h> (Debian bookworm, linux-libc-dev for Linux 6.1, x86_64):
 * printf("0x%08x", VIDIOC_ENUM_FMT) and so on; sizeof gave fmtdesc 64,
 * streamparm 204, frmsizeenum 44, frmivalenum 52.
 */
const FROM_GCC: Record<string, number> = {
  VIDIOC_ENUM_FMT: 0xc0405602,
  VIDIOC_TRY_FMT: 0xc0d05640,
  VIDIOC_G_PARM: 0xc0cc5615,
  VIDIOC_S_PARM: 0xc0cc5616,
  VIDIOC_ENUM_FRAMESIZES: 0xc02c564a,
  VIDIOC_ENUM_FRAMEINTERVALS: 0xc034564b,
  V4L2_FMT_FLAG_COMPRESSED: 0x1,
  V4L2_FMT_FLAG_EMULATED: 0x2,
  V4L2_BUF_FLAG_TIMESTAMP_MASK: 0xe000,
  V4L2_BUF_FLAG_TIMESTAMP_UNKNOWN: 0x0,
  V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC: 0x2000,
  V4L2_BUF_FLAG_TIMESTAMP_COPY: 0x4000,
  V4L2_CAP_TIMEPERFRAME: 0x1000,
  V4L2_MODE_HIGHQUALITY: 0x1,
  V4L2_FRMSIZE_TYPE_DISCRETE: 1,
  V4L2_FRMSIZE_TYPE_CONTINUOUS: 2,
  V4L2_FRMSIZE_TYPE_STEPWISE: 3,
  V4L2_FRMIVAL_TYPE_DISCRETE: 1,
  V4L2_FRMIVAL_TYPE_CONTINUOUS: 2,
  V4L2_FRMIVAL_TYPE_STEPWISE: 3,
};

describe('videodev2 format and streaming-parameter uapi', () => {
  it.each(Object.entries(FROM_GCC))('%s is the value of the real header', (name, value) => {
    expect((U as unknown as Record<string, number>)[name]).toBe(value);
  });

  it('the requests encode direction, type V, number and struct size as _IOWR does', () => {
    const dec = (r: number) => ({ dir: r >>> 30, size: (r >>> 16) & 0x3fff, type: String.fromCharCode((r >>> 8) & 0xff), nr: r & 0xff });
    expect(dec(U.VIDIOC_ENUM_FMT)).toEqual({ dir: 3, size: 64, type: 'V', nr: 2 });
    expect(dec(U.VIDIOC_G_PARM)).toEqual({ dir: 3, size: 204, type: 'V', nr: 21 });
    expect(dec(U.VIDIOC_ENUM_FRAMEINTERVALS)).toEqual({ dir: 3, size: 52, type: 'V', nr: 75 });
  });
});
