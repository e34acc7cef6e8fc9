import { INT_POINTER, type IoctlArgContext, type IoctlArgLayout } from './ioctl-arg.ts';
import { _IOC_DIR, _IOWR } from './ioctl.ts';
import { array, char, decodeStruct, encodeStruct, struct, union, type StructLayout } from './struct-layout.ts';
import {
  V4L2_BUF_TYPE_VIDEO_CAPTURE,
  V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
  V4L2_BUF_TYPE_VIDEO_OUTPUT,
  V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE,
  V4L2_MEMORY_DMABUF,
  V4L2_MEMORY_MMAP,
  V4L2_MEMORY_USERPTR,
  VIDIOC_DQBUF,
  VIDIOC_ENUMINPUT,
  VIDIOC_ENUM_FMT,
  VIDIOC_EXPBUF,
  VIDIOC_G_FMT,
  VIDIOC_G_INPUT,
  VIDIOC_G_PARM,
  VIDIOC_CREATE_BUFS,
  VIDIOC_PREPARE_BUF,
  VIDIOC_QBUF,
  VIDIOC_QUERYBUF,
  VIDIOC_QUERYCAP,
  VIDIOC_REQBUFS,
  VIDIOC_STREAMOFF,
  VIDIOC_STREAMON,
  VIDIOC_S_FMT,
  VIDIOC_S_INPUT,
  VIDIOC_S_PARM,
  VIDIOC_TRY_FMT,
} from './videodev2.ts';

/** V4L2 requests the layouts below need that no driver here implements yet (videodev2.h). */
export const VIDIOC_G_CTRL = _IOWR('V', 27, 8 /* struct v4l2_control */);
export const VIDIOC_S_CTRL = _IOWR('V', 28, 8 /* struct v4l2_control */);
export const VIDIOC_G_SELECTION = _IOWR('V', 94, 64 /* struct v4l2_selection */);
export const VIDIOC_S_SELECTION = _IOWR('V', 95, 64 /* struct v4l2_selection */);
/** Most planes a multi-planar buffer has (VIDEO_MAX_PLANES). */
export const VIDEO_MAX_PLANES = 8;

/** The layouts of the V4L2 requests (LP64; v4l2_format's union is 8-aligned for v4l2_window's pointers). */

function isMultiplanar(type: unknown): boolean {
  return type === V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE || type === V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;
}

export const v4l2CapabilityLayout = struct('v4l2_capability', [
  ['driver', char(16)],
  ['card', char(32)],
  ['bus_info', char(32)],
  ['version', 'u32'],
  ['capabilities', 'u32'],
  ['device_caps', 'u32'],
  ['reserved', array('u32', 3)],
]);
export const v4l2FmtdescLayout = struct('v4l2_fmtdesc', [
  ['index', 'u32'],
  ['type', 'u32'],
  ['flags', 'u32'],
  ['description', char(32)],
  ['pixelformat', 'u32'],
  ['mbus_code', 'u32'],
  ['reserved', array('u32', 3)],
]);
/** struct v4l2_pix_format; the anonymous union of ycbcr_enc and hsv_enc is carried as ycbcr_enc. */
export const v4l2PixFormatLayout = struct('v4l2_pix_format', [
  ['width', 'u32'],
  ['height', 'u32'],
  ['pixelformat', 'u32'],
  ['field', 'u32'],
  ['bytesperline', 'u32'],
  ['sizeimage', 'u32'],
  ['colorspace', 'u32'],
  ['priv', 'u32'],
  ['flags', 'u32'],
  ['ycbcr_enc', 'u32'],
  ['quantization', 'u32'],
  ['xfer_func', 'u32'],
]);
export const v4l2PlanePixFormatLayout = struct(
  'v4l2_plane_pix_format',
  [
    ['sizeimage', 'u32'],
    ['bytesperline', 'u32'],
    ['reserved', array('u16', 6)],
  ],
  { packed: true },
);
export const v4l2PixFormatMplaneLayout = struct(
  'v4l2_pix_format_mplane',
  [
    ['width', 'u32'],
    ['height', 'u32'],
    ['pixelformat', 'u32'],
    ['field', 'u32'],
    ['colorspace', 'u32'],
    ['plane_fmt', array(v4l2PlanePixFormatLayout, VIDEO_MAX_PLANES)],
    ['num_planes', 'u8'],
    ['flags', 'u8'],
    ['ycbcr_enc', 'u8'],
    ['quantization', 'u8'],
    ['xfer_func', 'u8'],
    ['reserved', array('u8', 7)],
  ],
  { packed: true },
);
/** The member of v4l2_format's union `fmt` the kernel reads for the format's buffer type (v4l_g_fmt's switch). */
export function v4l2FormatMember(p: Record<string, unknown>): string | null {
  return isMultiplanar(p.type) ? 'pix_mp' : p.type === V4L2_BUF_TYPE_VIDEO_CAPTURE || p.type === V4L2_BUF_TYPE_VIDEO_OUTPUT ? 'pix' : null;
}

export const v4l2FormatLayout = struct('v4l2_format', [
  ['type', 'u32'],
  [
    'fmt',
    union(
      { pix: v4l2PixFormatLayout, pix_mp: v4l2PixFormatMplaneLayout, raw_data: array('u8', 200) },
      v4l2FormatMember,
      { align: 8 },
    ),
  ],
]);
export const v4l2RequestBuffersLayout = struct('v4l2_requestbuffers', [
  ['count', 'u32'],
  ['type', 'u32'],
  ['memory', 'u32'],
  ['capabilities', 'u32'],
  ['flags', 'u8'],
  ['reserved', array('u8', 3)],
]);
/** struct v4l2_create_buffers around a v4l2_format of one word size (the native one, or v4l2_format32 for a 32-bit caller). */
export function createBuffersLayout(name: string, format: StructLayout): StructLayout {
  return struct(name, [
    ['index', 'u32'],
    ['count', 'u32'],
    ['memory', 'u32'],
    ['format', format],
    ['capabilities', 'u32'],
    ['flags', 'u32'],
    ['reserved', array('u32', 6)],
  ]);
}
export const v4l2CreateBuffersLayout = createBuffersLayout('v4l2_create_buffers', v4l2FormatLayout);
export const timevalLayout = struct('timeval', [
  ['tv_sec', 's64'],
  ['tv_usec', 's64'],
]);
export const v4l2TimecodeLayout = struct('v4l2_timecode', [
  ['type', 'u32'],
  ['flags', 'u32'],
  ['frames', 'u8'],
  ['seconds', 'u8'],
  ['minutes', 'u8'],
  ['hours', 'u8'],
  ['userbits', array('u8', 4)],
]);

/** The union member a buffer's `memory` selects. */
function memoryMember(memory: unknown, offsetName: string): string | null {
  if (memory === V4L2_MEMORY_MMAP) return offsetName;
  if (memory === V4L2_MEMORY_USERPTR) return 'userptr';
  if (memory === V4L2_MEMORY_DMABUF) return 'fd';
  return null;
}

/** struct v4l2_plane (or v4l2_plane32 with a 'u32' userptr), its union `m` read as the buffer's memory type says. */
function planeLayout(name: string, userptr: 'u32' | 'u64', memory: number | null): StructLayout {
  return struct(name, [
    ['bytesused', 'u32'],
    ['length', 'u32'],
    ['m', union({ mem_offset: 'u32', userptr, fd: 's32' }, () => memoryMember(memory, 'mem_offset'))],
    ['data_offset', 'u32'],
    ['reserved', array('u32', 11)],
  ]);
}

/** A buffer's plane layout for each memory type (the union member differs); MMAP's for an unknown one. */
export type PlaneLayouts = ReadonlyMap<unknown, StructLayout>;

/** The plane layouts of one word size: `userptr` is an unsigned long, 'u64' on LP64, 'u32' for a 32-bit caller (compat_long_t). */
export function planeLayouts(name: string, userptr: 'u32' | 'u64'): PlaneLayouts {
  return new Map([V4L2_MEMORY_MMAP, V4L2_MEMORY_USERPTR, V4L2_MEMORY_DMABUF].map((m) => [m, planeLayout(name, userptr, m)]));
}
const nativePlanes = planeLayouts('v4l2_plane', 'u64');
export const v4l2PlaneLayout = nativePlanes.get(V4L2_MEMORY_MMAP)!;

/** The member of v4l2_buffer's union `m` the kernel reads: `planes` for a multi-planar buffer, else the one its memory type says. */
export function v4l2BufferMember(p: Record<string, unknown>): string | null {
  return isMultiplanar(p.type) ? 'planes' : memoryMember(p.memory, 'offset');
}

/**
 * struct v4l2_buffer of one word size: its timestamp layout and the width
 * of `m.userptr` and `m.planes` ('u64' on LP64; 'u32' for a 32-bit
 * caller's v4l2_buffer32). `request_fd` shares its union with `reserved`
 * and is carried alone.
 */
export function bufferLayout(name: string, timestamp: StructLayout, pointer: 'u32' | 'u64'): StructLayout {
  return struct(name, [
    ['index', 'u32'],
    ['type', 'u32'],
    ['bytesused', 'u32'],
    ['flags', 'u32'],
    ['field', 'u32'],
    ['timestamp', timestamp],
    ['timecode', v4l2TimecodeLayout],
    ['sequence', 'u32'],
    ['memory', 'u32'],
    ['m', union({ offset: 'u32', userptr: pointer, planes: pointer, fd: 's32' }, v4l2BufferMember)],
    ['length', 'u32'],
    ['reserved2', 'u32'],
    ['request_fd', 's32'],
  ]);
}
export const v4l2BufferLayout = bufferLayout('v4l2_buffer', timevalLayout, 'u64');
export const v4l2ExportBufferLayout = struct('v4l2_exportbuffer', [
  ['type', 'u32'],
  ['index', 'u32'],
  ['plane', 'u32'],
  ['flags', 'u32'],
  ['fd', 's32'],
  ['reserved', array('u32', 11)],
]);
export const v4l2FractLayout = struct('v4l2_fract', [
  ['numerator', 'u32'],
  ['denominator', 'u32'],
]);
export const v4l2CaptureparmLayout = struct('v4l2_captureparm', [
  ['capability', 'u32'],
  ['capturemode', 'u32'],
  ['timeperframe', v4l2FractLayout],
  ['extendedmode', 'u32'],
  ['readbuffers', 'u32'],
  ['reserved', array('u32', 4)],
]);
export const v4l2OutputparmLayout = struct('v4l2_outputparm', [
  ['capability', 'u32'],
  ['outputmode', 'u32'],
  ['timeperframe', v4l2FractLayout],
  ['extendedmode', 'u32'],
  ['writebuffers', 'u32'],
  ['reserved', array('u32', 4)],
]);
export const v4l2StreamparmLayout = struct('v4l2_streamparm', [
  ['type', 'u32'],
  [
    'parm',
    union({ capture: v4l2CaptureparmLayout, output: v4l2OutputparmLayout, raw_data: array('u8', 200) }, (p) =>
      p.type === V4L2_BUF_TYPE_VIDEO_CAPTURE || p.type === V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE
        ? 'capture'
        : p.type === V4L2_BUF_TYPE_VIDEO_OUTPUT || p.type === V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE
          ? 'output'
          : null,
    ),
  ],
]);
export const v4l2InputLayout = struct('v4l2_input', [
  ['index', 'u32'],
  ['name', char(32)],
  ['type', 'u32'],
  ['audioset', 'u32'],
  ['tuner', 'u32'],
  ['std', 'u64'],
  ['status', 'u32'],
  ['capabilities', 'u32'],
  ['reserved', array('u32', 3)],
]);
export const v4l2ControlLayout = struct('v4l2_control', [
  ['id', 'u32'],
  ['value', 's32'],
]);
export const v4l2RectLayout = struct('v4l2_rect', [
  ['left', 's32'],
  ['top', 's32'],
  ['width', 'u32'],
  ['height', 'u32'],
]);
export const v4l2SelectionLayout = struct('v4l2_selection', [
  ['type', 'u32'],
  ['target', 'u32'],
  ['flags', 'u32'],
  ['r', v4l2RectLayout],
  ['reserved', array('u32', 9)],
]);

/**
 * The argument of QUERYBUF, QBUF, DQBUF and PREPARE_BUF as video_usercopy
 * copies it (check_array_args): a multi-planar buffer's `m.planes` points to
 * `length` struct v4l2_plane, copied in before the handler and back after
 * it, even when it failed (check_array_args, video_usercopy); EINVAL for
 * more than VIDEO_MAX_PLANES. The handler sees the planes as an array.
 * `layout` and `planeStructs` are the caller's structs: LP64's, or a 32-bit
 * caller's (v4l2_compat_get_array_args converts its v4l2_plane32 array).
 */
export function v4l2BufferArg(cmd: number, name: string, layout: StructLayout = v4l2BufferLayout, planeStructs: PlaneLayouts = nativePlanes): IoctlArgLayout {
  return {
    cmd,
    name,
    layout,
    dir: _IOC_DIR(cmd),
    copyOut: 'video',
    toArg(s, mem, _addr, ctx: IoctlArgContext) {
      const n = s.length as number;
      if (!isMultiplanar(s.type) || n === 0) return s;
      if (n > VIDEO_MAX_PLANES) throw mem.fail('EINVAL', `${n} planes exceed VIDEO_MAX_PLANES`);
      const planeLayout = planeStructs.get(s.memory) ?? planeStructs.get(V4L2_MEMORY_MMAP)!;
      const ptr = BigInt((s.m as { planes: number | bigint }).planes);
      const bytes = mem.read(ptr, n * planeLayout.size);
      const planes = Array.from({ length: n }, (_, i) => decodeStruct(planeLayout, bytes, i * planeLayout.size));
      ctx.planes = { ptr, bytes, layout: planeLayout, prev: planes.map((p) => structuredClone(p)) };
      ctx.arrayArgs = true;
      return { ...s, m: { planes } };
    },
    fromArg(arg, s, mem, _ok, ctx) {
      const pl = ctx.planes as { ptr: bigint; bytes: Uint8Array; layout: StructLayout; prev: Record<string, unknown>[] } | undefined;
      if (!pl) return;
      const planes = ((arg.m as { planes?: unknown } | undefined)?.planes ?? []) as Record<string, unknown>[];
      planes.slice(0, pl.prev.length).forEach((p, i) => encodeStruct(pl.layout, p, pl.bytes, pl.prev[i], i * pl.layout.size));
      Object.assign(s, arg, { m: s.m });
      mem.write(pl.ptr, pl.bytes);
    },
  };
}

function plain(cmd: number, name: string, layout: StructLayout): IoctlArgLayout {
  return { cmd, name, layout, dir: _IOC_DIR(cmd), copyOut: 'video' };
}

/** Every V4L2 request with its argument layout (video_usercopy's copies). */
export const V4L2_IOCTL_ARGS: readonly IoctlArgLayout[] = [
  plain(VIDIOC_QUERYCAP, 'VIDIOC_QUERYCAP', v4l2CapabilityLayout),
  plain(VIDIOC_ENUM_FMT, 'VIDIOC_ENUM_FMT', v4l2FmtdescLayout),
  plain(VIDIOC_G_FMT, 'VIDIOC_G_FMT', v4l2FormatLayout),
  plain(VIDIOC_S_FMT, 'VIDIOC_S_FMT', v4l2FormatLayout),
  plain(VIDIOC_TRY_FMT, 'VIDIOC_TRY_FMT', v4l2FormatLayout),
  plain(VIDIOC_REQBUFS, 'VIDIOC_REQBUFS', v4l2RequestBuffersLayout),
  plain(VIDIOC_CREATE_BUFS, 'VIDIOC_CREATE_BUFS', v4l2CreateBuffersLayout),
  v4l2BufferArg(VIDIOC_QUERYBUF, 'VIDIOC_QUERYBUF'),
  v4l2BufferArg(VIDIOC_QBUF, 'VIDIOC_QBUF'),
  v4l2BufferArg(VIDIOC_PREPARE_BUF, 'VIDIOC_PREPARE_BUF'),
  v4l2BufferArg(VIDIOC_DQBUF, 'VIDIOC_DQBUF'),
  plain(VIDIOC_EXPBUF, 'VIDIOC_EXPBUF', v4l2ExportBufferLayout),
  plain(VIDIOC_STREAMON, 'VIDIOC_STREAMON', INT_POINTER),
  plain(VIDIOC_STREAMOFF, 'VIDIOC_STREAMOFF', INT_POINTER),
  plain(VIDIOC_G_PARM, 'VIDIOC_G_PARM', v4l2StreamparmLayout),
  plain(VIDIOC_S_PARM, 'VIDIOC_S_PARM', v4l2StreamparmLayout),
  plain(VIDIOC_ENUMINPUT, 'VIDIOC_ENUMINPUT', v4l2InputLayout),
  plain(VIDIOC_G_INPUT, 'VIDIOC_G_INPUT', INT_POINTER),
  plain(VIDIOC_S_INPUT, 'VIDIOC_S_INPUT', INT_POINTER),
  plain(VIDIOC_G_CTRL, 'VIDIOC_G_CTRL', v4l2ControlLayout),
  plain(VIDIOC_S_CTRL, 'VIDIOC_S_CTRL', v4l2ControlLayout),
  plain(VIDIOC_G_SELECTION, 'VIDIOC_G_SELECTION', v4l2SelectionLayout),
  plain(VIDIOC_S_SELECTION, 'VIDIOC_S_SELECTION', v4l2SelectionLayout),
];
