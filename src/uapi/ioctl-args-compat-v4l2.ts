import type { CompatIoctl, IoctlArgLayout } from './ioctl-arg.ts';
import {
  bufferLayout,
  createBuffersLayout,
  planeLayouts,
  timevalLayout,
  v4l2BufferArg,
  v4l2FormatMember,
  v4l2PixFormatLayout,
  v4l2PixFormatMplaneLayout,
} from './ioctl-args-v4l2.ts';
import { _IOC_DIR, _IOWR } from './ioctl.ts';
import { array, struct, union, type StructLayout } from './struct-layout.ts';
import { VIDIOC_CREATE_BUFS, VIDIOC_DQBUF, VIDIOC_G_FMT, VIDIOC_PREPARE_BUF, VIDIOC_QBUF, VIDIOC_QUERYBUF, VIDIOC_S_FMT, VIDIOC_TRY_FMT } from './videodev2.ts';

/*
 * The V4L2 structs of a 32-bit ARM caller that differ from arm64's, as
 * v4l2-compat-ioctl32.c declares them: v4l2_format's union loses the
 * 8-byte alignment v4l2_window's pointers give it on LP64 (204 bytes, not
 * 208), and v4l2_buffer's `m` holds 32-bit pointers and longs. A 32-bit
 * program built with a 64-bit time_t (wasi-libc, time64 armhf) passes
 * v4l2_buffer32 (80 bytes); one with the old 32-bit time_t passes
 * v4l2_buffer32_time32 (68), whose timeval is two s32. On ARM EABI a u64
 * is 8-aligned as on arm64, so v4l2_input, v4l2_standard and v4l2_event
 * (time64) keep their arm64 size and number and need no translation.
 */

/** struct v4l2_format32 (204 bytes): the union `fmt` is 4-aligned. */
export const v4l2Format32Layout = struct('v4l2_format32', [
  ['type', 'u32'],
  ['fmt', union({ pix: v4l2PixFormatLayout, pix_mp: v4l2PixFormatMplaneLayout, raw_data: array('u8', 200) }, v4l2FormatMember)],
]);

/** struct v4l2_create_buffers32 (248 bytes): its format is a v4l2_format32 at offset 12. */
export const v4l2CreateBuffers32Layout = createBuffersLayout('v4l2_create_buffers32', v4l2Format32Layout);

/** struct old_timeval32: a 32-bit time_t's timeval. */
export const oldTimeval32Layout = struct('old_timeval32', [
  ['tv_sec', 's32'],
  ['tv_usec', 's32'],
]);


/** struct v4l2_buffer32: the timestamp is two compat_s64 (a 64-bit time_t), 8-aligned as ARM EABI aligns them. */
export const v4l2Buffer32Layout = bufferLayout('v4l2_buffer32', timevalLayout, 'u32');
/** struct v4l2_buffer32_time32: the timestamp is an old_timeval32. */
export const v4l2Buffer32Time32Layout = bufferLayout('v4l2_buffer32_time32', oldTimeval32Layout, 'u32');
/** struct v4l2_plane32 (60 bytes), per memory type: m.userptr is a compat_long_t. */
export const v4l2Plane32Layouts = planeLayouts('v4l2_plane32', 'u32');

/** The request number a 32-bit caller computes for the V4L2 request `nr` over a struct of `size` bytes (_IOWR('V', nr, ...)). */
function vidioc32(nr: number, size: number): number {
  return _IOWR('V', nr, size) >>> 0;
}

/** The request numbers of a 32-bit caller (v4l2-compat-ioctl32.c's VIDIOC_*32 and VIDIOC_*32_TIME32). */
export const VIDIOC_G_FMT32 = vidioc32(4, v4l2Format32Layout.size);
export const VIDIOC_S_FMT32 = vidioc32(5, v4l2Format32Layout.size);
export const VIDIOC_TRY_FMT32 = vidioc32(64, v4l2Format32Layout.size);
export const VIDIOC_CREATE_BUFS32 = vidioc32(92, v4l2CreateBuffers32Layout.size);
export const VIDIOC_QUERYBUF32 = vidioc32(9, v4l2Buffer32Layout.size);
export const VIDIOC_QBUF32 = vidioc32(15, v4l2Buffer32Layout.size);
export const VIDIOC_DQBUF32 = vidioc32(17, v4l2Buffer32Layout.size);
export const VIDIOC_PREPARE_BUF32 = vidioc32(93, v4l2Buffer32Layout.size);
export const VIDIOC_QUERYBUF32_TIME32 = vidioc32(9, v4l2Buffer32Time32Layout.size);
export const VIDIOC_QBUF32_TIME32 = vidioc32(15, v4l2Buffer32Time32Layout.size);
export const VIDIOC_DQBUF32_TIME32 = vidioc32(17, v4l2Buffer32Time32Layout.size);
export const VIDIOC_PREPARE_BUF32_TIME32 = vidioc32(93, v4l2Buffer32Time32Layout.size);

/** A 32-bit format request: the native handling over v4l2_format32 (get_v4l2_format32, put_v4l2_format32). */
function format32(cmd: number, name: string): IoctlArgLayout {
  return { cmd, name, layout: v4l2Format32Layout, dir: _IOC_DIR(cmd), copyOut: 'video' };
}

/** A 32-bit buffer request: the native handling over the caller's struct and its v4l2_plane32 array. */
function buffer32Arg(cmd: number, name: string, layout: StructLayout): IoctlArgLayout {
  return v4l2BufferArg(cmd, name, layout, v4l2Plane32Layouts);
}

/**
 * The V4L2 requests of a 32-bit caller whose struct differs from arm64's,
 * each with the native request it becomes (v4l2_compat_translate_cmd) and
 * its 32-bit layout (v4l2_compat_get_user and _put_user, and
 * v4l2_compat_get_array_args for the planes).
 */
export const V4L2_COMPAT_IOCTLS: readonly CompatIoctl[] = [
  { native: VIDIOC_G_FMT, spec: format32(VIDIOC_G_FMT32, 'VIDIOC_G_FMT32') },
  { native: VIDIOC_S_FMT, spec: format32(VIDIOC_S_FMT32, 'VIDIOC_S_FMT32') },
  { native: VIDIOC_TRY_FMT, spec: format32(VIDIOC_TRY_FMT32, 'VIDIOC_TRY_FMT32') },
  {
    native: VIDIOC_CREATE_BUFS,
    spec: { cmd: VIDIOC_CREATE_BUFS32, name: 'VIDIOC_CREATE_BUFS32', layout: v4l2CreateBuffers32Layout, dir: _IOC_DIR(VIDIOC_CREATE_BUFS32), copyOut: 'video' },
  },
  { native: VIDIOC_QUERYBUF, spec: buffer32Arg(VIDIOC_QUERYBUF32, 'VIDIOC_QUERYBUF32', v4l2Buffer32Layout) },
  { native: VIDIOC_QBUF, spec: buffer32Arg(VIDIOC_QBUF32, 'VIDIOC_QBUF32', v4l2Buffer32Layout) },
  { native: VIDIOC_DQBUF, spec: buffer32Arg(VIDIOC_DQBUF32, 'VIDIOC_DQBUF32', v4l2Buffer32Layout) },
  { native: VIDIOC_PREPARE_BUF, spec: buffer32Arg(VIDIOC_PREPARE_BUF32, 'VIDIOC_PREPARE_BUF32', v4l2Buffer32Layout) },
  { native: VIDIOC_QUERYBUF, spec: buffer32Arg(VIDIOC_QUERYBUF32_TIME32, 'VIDIOC_QUERYBUF32_TIME32', v4l2Buffer32Time32Layout) },
  { native: VIDIOC_QBUF, spec: buffer32Arg(VIDIOC_QBUF32_TIME32, 'VIDIOC_QBUF32_TIME32', v4l2Buffer32Time32Layout) },
  { native: VIDIOC_DQBUF, spec: buffer32Arg(VIDIOC_DQBUF32_TIME32, 'VIDIOC_DQBUF32_TIME32', v4l2Buffer32Time32Layout) },
  { native: VIDIOC_PREPARE_BUF, spec: buffer32Arg(VIDIOC_PREPARE_BUF32_TIME32, 'VIDIOC_PREPARE_BUF32_TIME32', v4l2Buffer32Time32Layout) },
];
