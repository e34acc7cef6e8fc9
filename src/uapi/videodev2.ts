import { _IOR, _IOW, _IOWR } from './ioctl.ts';

/**
 * V4L2 uapi (include/uapi/linux/videodev2.h, Linux 6.1): the requests the
 * capture and m2m drivers implement and the constants they need. Struct
 * sizes are those of LP64 (x86_64, arm64); v4l2_fmtdesc, v4l2_streamparm,
 * v4l2_frmsizeenum and v4l2_frmivalenum hold no pointer or long, so their
 * requests are the same on 32-bit ARM.
 */

/** Packs four characters into a pixel format code (v4l2_fourcc). */
export function v4l2_fourcc(a: string, b: string, c: string, d: string): number {
  return (a.charCodeAt(0) | (b.charCodeAt(0) << 8) | (c.charCodeAt(0) << 16) | (d.charCodeAt(0) << 24)) >>> 0;
}

/** The four characters of a pixel format code. */
export function fourccToString(f: number): string {
  return String.fromCharCode(f & 0xff, (f >>> 8) & 0xff, (f >>> 16) & 0xff, (f >>> 24) & 0x7f);
}

export const V4L2_PIX_FMT_YUYV = v4l2_fourcc('Y', 'U', 'Y', 'V');
export const V4L2_PIX_FMT_UYVY = v4l2_fourcc('U', 'Y', 'V', 'Y');
export const V4L2_PIX_FMT_NV12 = v4l2_fourcc('N', 'V', '1', '2');
export const V4L2_PIX_FMT_NV21 = v4l2_fourcc('N', 'V', '2', '1');
export const V4L2_PIX_FMT_YUV420 = v4l2_fourcc('Y', 'U', '1', '2');
export const V4L2_PIX_FMT_RGB565 = v4l2_fourcc('R', 'G', 'B', 'P');
export const V4L2_PIX_FMT_RGB24 = v4l2_fourcc('R', 'G', 'B', '3');
export const V4L2_PIX_FMT_XBGR32 = v4l2_fourcc('X', 'R', '2', '4');
export const V4L2_PIX_FMT_ABGR32 = v4l2_fourcc('A', 'R', '2', '4');
export const V4L2_PIX_FMT_JPEG = v4l2_fourcc('J', 'P', 'E', 'G');
export const V4L2_PIX_FMT_MJPEG = v4l2_fourcc('M', 'J', 'P', 'G');
export const V4L2_PIX_FMT_H264 = v4l2_fourcc('H', '2', '6', '4');
/** unimem's synthetic compressed video stream (src/drivers/vdec-stream.ts); not a Linux format. */
export const V4L2_PIX_FMT_UVD1 = v4l2_fourcc('U', 'V', 'D', '1');

/** enum v4l2_field */
export const V4L2_FIELD_ANY = 0;
export const V4L2_FIELD_NONE = 1;
export const V4L2_FIELD_TOP = 2;
export const V4L2_FIELD_BOTTOM = 3;
export const V4L2_FIELD_INTERLACED = 4;

/** enum v4l2_buf_type */
export const V4L2_BUF_TYPE_VIDEO_CAPTURE = 1;
export const V4L2_BUF_TYPE_VIDEO_OUTPUT = 2;
export const V4L2_BUF_TYPE_VIDEO_OVERLAY = 3;
export const V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE = 9;
export const V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE = 10;

/** enum v4l2_memory */
export const V4L2_MEMORY_MMAP = 1;
export const V4L2_MEMORY_USERPTR = 2;
export const V4L2_MEMORY_OVERLAY = 3;
export const V4L2_MEMORY_DMABUF = 4;

/** enum v4l2_colorspace (the values drivers here report). */
export const V4L2_COLORSPACE_DEFAULT = 0;
export const V4L2_COLORSPACE_SMPTE170M = 1;
export const V4L2_COLORSPACE_REC709 = 3;
export const V4L2_COLORSPACE_JPEG = 7;
export const V4L2_COLORSPACE_SRGB = 8;

/** Device capabilities (struct v4l2_capability.capabilities). */
export const V4L2_CAP_VIDEO_CAPTURE = 0x00000001;
export const V4L2_CAP_VIDEO_OUTPUT = 0x00000002;
export const V4L2_CAP_VIDEO_OVERLAY = 0x00000004;
export const V4L2_CAP_VBI_CAPTURE = 0x00000010;
export const V4L2_CAP_VBI_OUTPUT = 0x00000020;
export const V4L2_CAP_SLICED_VBI_CAPTURE = 0x00000040;
export const V4L2_CAP_SLICED_VBI_OUTPUT = 0x00000080;
export const V4L2_CAP_RDS_CAPTURE = 0x00000100;
export const V4L2_CAP_VIDEO_OUTPUT_OVERLAY = 0x00000200;
export const V4L2_CAP_HW_FREQ_SEEK = 0x00000400;
export const V4L2_CAP_RDS_OUTPUT = 0x00000800;
export const V4L2_CAP_VIDEO_CAPTURE_MPLANE = 0x00001000;
export const V4L2_CAP_VIDEO_OUTPUT_MPLANE = 0x00002000;
export const V4L2_CAP_VIDEO_M2M_MPLANE = 0x00004000;
export const V4L2_CAP_VIDEO_M2M = 0x00008000;
export const V4L2_CAP_TUNER = 0x00010000;
export const V4L2_CAP_AUDIO = 0x00020000;
export const V4L2_CAP_RADIO = 0x00040000;
export const V4L2_CAP_MODULATOR = 0x00080000;
export const V4L2_CAP_SDR_CAPTURE = 0x00100000;
export const V4L2_CAP_EXT_PIX_FORMAT = 0x00200000;
export const V4L2_CAP_SDR_OUTPUT = 0x00400000;
export const V4L2_CAP_META_CAPTURE = 0x00800000;
export const V4L2_CAP_READWRITE = 0x01000000;
export const V4L2_CAP_STREAMING = 0x04000000;
export const V4L2_CAP_META_OUTPUT = 0x08000000;
export const V4L2_CAP_TOUCH = 0x10000000;
export const V4L2_CAP_IO_MC = 0x20000000;
export const V4L2_CAP_DEVICE_CAPS = 0x80000000;

/** struct v4l2_requestbuffers.capabilities */
export const V4L2_BUF_CAP_SUPPORTS_MMAP = 1 << 0;
export const V4L2_BUF_CAP_SUPPORTS_USERPTR = 1 << 1;
export const V4L2_BUF_CAP_SUPPORTS_DMABUF = 1 << 2;
export const V4L2_BUF_CAP_SUPPORTS_REQUESTS = 1 << 3;
export const V4L2_BUF_CAP_SUPPORTS_ORPHANED_BUFS = 1 << 4;
export const V4L2_BUF_CAP_SUPPORTS_M2M_HOLD_CAPTURE_BUF = 1 << 5;
export const V4L2_BUF_CAP_SUPPORTS_MMAP_CACHE_HINTS = 1 << 6;

/** struct v4l2_buffer.flags */
export const V4L2_BUF_FLAG_MAPPED = 0x00000001;
export const V4L2_BUF_FLAG_QUEUED = 0x00000002;
export const V4L2_BUF_FLAG_DONE = 0x00000004;
export const V4L2_BUF_FLAG_KEYFRAME = 0x00000008;
export const V4L2_BUF_FLAG_PFRAME = 0x00000010;
export const V4L2_BUF_FLAG_BFRAME = 0x00000020;
export const V4L2_BUF_FLAG_ERROR = 0x00000040;
/** The buffer went through VIDIOC_PREPARE_BUF and waits, dequeued, for its QBUF. */
export const V4L2_BUF_FLAG_PREPARED = 0x00000400;
export const V4L2_BUF_FLAG_LAST = 0x00100000;
/** Where a buffer's timestamp comes from (the V4L2_BUF_FLAG_TIMESTAMP_* field of v4l2_buffer.flags, the queue's timestamp_flags). */
export const V4L2_BUF_FLAG_TIMESTAMP_MASK = 0x0000e000;
export const V4L2_BUF_FLAG_TIMESTAMP_UNKNOWN = 0x00000000;
export const V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC = 0x00002000;
export const V4L2_BUF_FLAG_TIMESTAMP_COPY = 0x00004000;

/** struct v4l2_fmtdesc.flags */
export const V4L2_FMT_FLAG_COMPRESSED = 0x0001;
export const V4L2_FMT_FLAG_EMULATED = 0x0002;

/** struct v4l2_captureparm.capability and .capturemode */
export const V4L2_CAP_TIMEPERFRAME = 0x1000;
export const V4L2_MODE_HIGHQUALITY = 0x0001;

/** enum v4l2_frmsizetypes */
export const V4L2_FRMSIZE_TYPE_DISCRETE = 1;
export const V4L2_FRMSIZE_TYPE_CONTINUOUS = 2;
export const V4L2_FRMSIZE_TYPE_STEPWISE = 3;

/** enum v4l2_frmivaltypes */
export const V4L2_FRMIVAL_TYPE_DISCRETE = 1;
export const V4L2_FRMIVAL_TYPE_CONTINUOUS = 2;
export const V4L2_FRMIVAL_TYPE_STEPWISE = 3;

/**
 * Every analog TV standard (V4L2_STD_ALL = V4L2_STD_525_60 |
 * V4L2_STD_625_50). v4l2_std_id is a __u64; the standards in use fit in
 * 24 bits, so it travels as a number.
 */
export const V4L2_STD_ALL = 0x00ffffff;

/** struct v4l2_input.type */
export const V4L2_INPUT_TYPE_TUNER = 1;
export const V4L2_INPUT_TYPE_CAMERA = 2;
export const V4L2_INPUT_TYPE_TOUCH = 3;

/** struct v4l2_input.status (the general, analog and digital bits). */
export const V4L2_IN_ST_NO_POWER = 0x00000001;
export const V4L2_IN_ST_NO_SIGNAL = 0x00000002;
export const V4L2_IN_ST_NO_COLOR = 0x00000004;
export const V4L2_IN_ST_HFLIP = 0x00000010;
export const V4L2_IN_ST_VFLIP = 0x00000020;
export const V4L2_IN_ST_NO_H_LOCK = 0x00000100;
export const V4L2_IN_ST_COLOR_KILL = 0x00000200;
export const V4L2_IN_ST_NO_V_LOCK = 0x00000400;
export const V4L2_IN_ST_NO_STD_LOCK = 0x00000800;

/** struct v4l2_input.capabilities */
export const V4L2_IN_CAP_DV_TIMINGS = 0x00000002;
export const V4L2_IN_CAP_STD = 0x00000004;
export const V4L2_IN_CAP_NATIVE_SIZE = 0x00000008;

/** struct v4l2_input (80 bytes: `std` is a __u64 at offset 48); the kernel writes all but `index`. */
export interface V4l2Input {
  index: number;
  /** __u8 name[32] */
  name: string;
  type: number;
  audioset: number;
  tuner: number;
  /** v4l2_std_id */
  std: number;
  status: number;
  capabilities: number;
  reserved?: number[];
}

/** struct v4l2_capability (104 bytes); strings are the NUL-terminated char arrays. */
export interface V4l2Capability {
  driver: string;
  card: string;
  bus_info: string;
  version: number;
  capabilities: number;
  device_caps: number;
  reserved?: number[];
}

/** struct v4l2_pix_format (48 bytes). */
export interface V4l2PixFormat {
  width: number;
  height: number;
  pixelformat: number;
  field: number;
  bytesperline: number;
  sizeimage: number;
  colorspace: number;
  priv: number;
  flags: number;
  ycbcr_enc: number;
  quantization: number;
  xfer_func: number;
}

/** struct v4l2_format (208 bytes): the union `fmt` holds `pix` for single-planar video. */
export interface V4l2Format {
  type: number;
  fmt: { pix: V4l2PixFormat };
}

/** struct v4l2_requestbuffers (20 bytes); the kernel writes `count` and `capabilities`. */
export interface V4l2RequestBuffers {
  count: number;
  type: number;
  memory: number;
  capabilities: number;
  flags: number;
  reserved?: number[];
}

/** struct timeval as v4l2_buffer carries it. */
export interface Timeval {
  tv_sec: number;
  tv_usec: number;
}

/** struct v4l2_timecode (16 bytes). */
export interface V4l2Timecode {
  type: number;
  flags: number;
  frames: number;
  seconds: number;
  minutes: number;
  hours: number;
  userbits: number[];
}

/** struct v4l2_plane (64 bytes). */
export interface V4l2Plane {
  bytesused: number;
  length: number;
  m: { mem_offset?: number; userptr?: number; fd?: number };
  data_offset: number;
}

/** struct v4l2_buffer (88 bytes); the union `m` holds the member `memory` selects. */
export interface V4l2Buffer {
  index: number;
  type: number;
  bytesused: number;
  flags: number;
  field: number;
  timestamp: Timeval;
  timecode?: V4l2Timecode;
  sequence: number;
  memory: number;
  m: { offset?: number; userptr?: number; planes?: V4l2Plane[]; fd?: number };
  length: number;
  reserved2?: number;
  request_fd?: number;
}

/** struct v4l2_exportbuffer (64 bytes); the kernel writes `fd`. */
export interface V4l2ExportBuffer {
  type: number;
  index: number;
  plane: number;
  flags: number;
  fd: number;
  reserved?: number[];
}

/**
 * struct v4l2_create_buffers (256 bytes): `count` buffers of the plane size
 * `format` asks for, added after the existing ones; the kernel writes
 * `index` (the first new one), `count` and `capabilities`.
 */
export interface V4l2CreateBuffers {
  index: number;
  count: number;
  memory: number;
  format: V4l2Format;
  capabilities: number;
  flags: number;
  reserved?: number[];
}

/** struct v4l2_fmtdesc (64 bytes); the kernel writes flags, description and pixelformat. */
export interface V4l2Fmtdesc {
  index: number;
  type: number;
  flags: number;
  /** char description[32] */
  description: string;
  pixelformat: number;
  mbus_code: number;
  reserved?: number[];
}

/** struct v4l2_fract */
export interface V4l2Fract {
  numerator: number;
  denominator: number;
}

/** struct v4l2_captureparm (40 bytes). */
export interface V4l2Captureparm {
  capability: number;
  capturemode: number;
  /** Seconds between frames. */
  timeperframe: V4l2Fract;
  extendedmode: number;
  readbuffers: number;
  reserved?: number[];
}

/** struct v4l2_outputparm (40 bytes). */
export interface V4l2Outputparm {
  capability: number;
  outputmode: number;
  timeperframe: V4l2Fract;
  extendedmode: number;
  writebuffers: number;
  reserved?: number[];
}

/** struct v4l2_streamparm (204 bytes): the union `parm` holds `capture` or `output` as `type` says. */
export interface V4l2Streamparm {
  type: number;
  parm: { capture?: V4l2Captureparm; output?: V4l2Outputparm };
}

/** struct v4l2_frmsize_discrete */
export interface V4l2FrmsizeDiscrete {
  width: number;
  height: number;
}

/** struct v4l2_frmsize_stepwise */
export interface V4l2FrmsizeStepwise {
  min_width: number;
  max_width: number;
  step_width: number;
  min_height: number;
  max_height: number;
  step_height: number;
}

/** struct v4l2_frmsizeenum (44 bytes); the kernel writes `type` and the union member it names. */
export interface V4l2Frmsizeenum {
  index: number;
  pixel_format: number;
  type: number;
  discrete?: V4l2FrmsizeDiscrete;
  stepwise?: V4l2FrmsizeStepwise;
  reserved?: number[];
}

/** struct v4l2_frmival_stepwise */
export interface V4l2FrmivalStepwise {
  min: V4l2Fract;
  max: V4l2Fract;
  step: V4l2Fract;
}

/** struct v4l2_frmivalenum (52 bytes); the kernel writes `type` and the union member it names. */
export interface V4l2Frmivalenum {
  index: number;
  pixel_format: number;
  width: number;
  height: number;
  type: number;
  discrete?: V4l2Fract;
  stepwise?: V4l2FrmivalStepwise;
  reserved?: number[];
}

export const VIDIOC_QUERYCAP = _IOR('V', 0, 104 /* struct v4l2_capability */);
export const VIDIOC_ENUM_FMT = _IOWR('V', 2, 64 /* struct v4l2_fmtdesc */);
export const VIDIOC_G_FMT = _IOWR('V', 4, 208 /* struct v4l2_format */);
export const VIDIOC_S_FMT = _IOWR('V', 5, 208 /* struct v4l2_format */);
export const VIDIOC_REQBUFS = _IOWR('V', 8, 20 /* struct v4l2_requestbuffers */);
export const VIDIOC_QUERYBUF = _IOWR('V', 9, 88 /* struct v4l2_buffer */);
export const VIDIOC_QBUF = _IOWR('V', 15, 88 /* struct v4l2_buffer */);
export const VIDIOC_EXPBUF = _IOWR('V', 16, 64 /* struct v4l2_exportbuffer */);
export const VIDIOC_DQBUF = _IOWR('V', 17, 88 /* struct v4l2_buffer */);
export const VIDIOC_STREAMON = _IOW('V', 18, 4 /* int */);
export const VIDIOC_STREAMOFF = _IOW('V', 19, 4 /* int */);
export const VIDIOC_G_PARM = _IOWR('V', 21, 204 /* struct v4l2_streamparm */);
export const VIDIOC_S_PARM = _IOWR('V', 22, 204 /* struct v4l2_streamparm */);
export const VIDIOC_ENUMINPUT = _IOWR('V', 26, 80 /* struct v4l2_input */);
export const VIDIOC_G_INPUT = _IOR('V', 38, 4 /* int */);
export const VIDIOC_S_INPUT = _IOWR('V', 39, 4 /* int */);
export const VIDIOC_TRY_FMT = _IOWR('V', 64, 208 /* struct v4l2_format */);
export const VIDIOC_ENUM_FRAMESIZES = _IOWR('V', 74, 44 /* struct v4l2_frmsizeenum */);
export const VIDIOC_ENUM_FRAMEINTERVALS = _IOWR('V', 75, 52 /* struct v4l2_frmivalenum */);
export const VIDIOC_CREATE_BUFS = _IOWR('V', 92, 256 /* struct v4l2_create_buffers */);
export const VIDIOC_PREPARE_BUF = _IOWR('V', 93, 88 /* struct v4l2_buffer */);

/*
 * Video outputs and the remaining field orders (VIDIOC_ENUMOUTPUT,
 * G_OUTPUT, S_OUTPUT; what an output node such as vivid's takes).
 */

/** enum v4l2_field: the orders after INTERLACED. */
export const V4L2_FIELD_SEQ_TB = 5;
export const V4L2_FIELD_SEQ_BT = 6;
export const V4L2_FIELD_ALTERNATE = 7;
export const V4L2_FIELD_INTERLACED_TB = 8;
export const V4L2_FIELD_INTERLACED_BT = 9;

/** enum v4l2_colorspace: the ones after SRGB. */
export const V4L2_COLORSPACE_OPRGB = 9;
export const V4L2_COLORSPACE_BT2020 = 10;

/** struct v4l2_output.type */
export const V4L2_OUTPUT_TYPE_MODULATOR = 1;
export const V4L2_OUTPUT_TYPE_ANALOG = 2;
export const V4L2_OUTPUT_TYPE_ANALOGVGAOVERLAY = 3;

/** struct v4l2_output.capabilities */
export const V4L2_OUT_CAP_DV_TIMINGS = 0x00000002;
export const V4L2_OUT_CAP_STD = 0x00000004;
export const V4L2_OUT_CAP_NATIVE_SIZE = 0x00000008;

/** struct v4l2_output (72 bytes: `std` is a __u64 at offset 48); the kernel writes all but `index`. */
export interface V4l2Output {
  index: number;
  /** __u8 name[32] */
  name: string;
  type: number;
  audioset: number;
  modulator: number;
  /** v4l2_std_id */
  std: number;
  capabilities: number;
  reserved?: number[];
}

export const VIDIOC_G_OUTPUT = _IOR('V', 46, 4 /* int */);
export const VIDIOC_S_OUTPUT = _IOWR('V', 47, 4 /* int */);
export const VIDIOC_ENUMOUTPUT = _IOWR('V', 48, 72 /* struct v4l2_output */);
