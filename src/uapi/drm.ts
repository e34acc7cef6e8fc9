import { O_CLOEXEC, O_RDWR } from './fcntl.ts';
import { _IOR, _IOW, _IOWR } from './ioctl.ts';

/**
 * DRM core and KMS uapi (libdrm's drm.h and drm_mode.h as Debian ships
 * them, matching Linux 6.1): the GEM, PRIME, dumb-buffer and modesetting
 * requests the gpu and display drivers implement. LP64 struct sizes.
 */
export const DRM_IOCTL_BASE = 'd';
/** First driver-private ioctl number; drivers' own requests start here. */
export const DRM_COMMAND_BASE = 0x40;
export const DRM_COMMAND_END = 0xa0;

/** Flags of PRIME_HANDLE_TO_FD: the only two it accepts. */
export const DRM_RDWR = O_RDWR;
export const DRM_CLOEXEC = O_CLOEXEC;

export const DRM_CAP_DUMB_BUFFER = 0x1;
export const DRM_CAP_VBLANK_HIGH_CRTC = 0x2;
export const DRM_CAP_DUMB_PREFERRED_DEPTH = 0x3;
export const DRM_CAP_DUMB_PREFER_SHADOW = 0x4;
export const DRM_CAP_PRIME = 0x5;
export const DRM_PRIME_CAP_IMPORT = 0x1;
export const DRM_PRIME_CAP_EXPORT = 0x2;
export const DRM_CAP_TIMESTAMP_MONOTONIC = 0x6;
export const DRM_CAP_ASYNC_PAGE_FLIP = 0x7;
export const DRM_CAP_CURSOR_WIDTH = 0x8;
export const DRM_CAP_CURSOR_HEIGHT = 0x9;
export const DRM_CAP_ADDFB2_MODIFIERS = 0x10;
export const DRM_CAP_PAGE_FLIP_TARGET = 0x11;
export const DRM_CAP_CRTC_IN_VBLANK_EVENT = 0x12;
export const DRM_CAP_SYNCOBJ = 0x13;
export const DRM_CAP_SYNCOBJ_TIMELINE = 0x14;

export const DRM_MODE_FB_INTERLACED = 1 << 0;
export const DRM_MODE_FB_MODIFIERS = 1 << 1;
export const DRM_MODE_PAGE_FLIP_EVENT = 0x01;
export const DRM_MODE_PAGE_FLIP_ASYNC = 0x02;
export const DRM_MODE_PAGE_FLIP_TARGET_ABSOLUTE = 0x4;
export const DRM_MODE_PAGE_FLIP_TARGET_RELATIVE = 0x8;
export const DRM_MODE_PAGE_FLIP_TARGET = DRM_MODE_PAGE_FLIP_TARGET_ABSOLUTE | DRM_MODE_PAGE_FLIP_TARGET_RELATIVE;
export const DRM_MODE_PAGE_FLIP_FLAGS = DRM_MODE_PAGE_FLIP_EVENT | DRM_MODE_PAGE_FLIP_ASYNC | DRM_MODE_PAGE_FLIP_TARGET;
/** DIRTYFB flags: clips come in src/dst pairs, or the clips were filled with `color`; only hints. */
export const DRM_MODE_FB_DIRTY_ANNOTATE_COPY = 0x01;
export const DRM_MODE_FB_DIRTY_ANNOTATE_FILL = 0x02;
export const DRM_MODE_FB_DIRTY_FLAGS = 0x03;
/** Most clip rectangles one DIRTYFB may carry. */
export const DRM_MODE_FB_DIRTY_MAX_CLIPS = 256;
/** drm_event.type of a page-flip completion read from the DRM fd. */
export const DRM_EVENT_VBLANK = 0x01;
export const DRM_EVENT_FLIP_COMPLETE = 0x02;

/**
 * struct drm_version (64 bytes). In C the three strings are user buffers
 * with their lengths; here the kernel writes the strings and the lengths.
 */
export interface DrmVersion {
  version_major: number;
  version_minor: number;
  version_patchlevel: number;
  name_len: number;
  name: string;
  date_len: number;
  date: string;
  desc_len: number;
  desc: string;
}

/** struct drm_get_cap (16 bytes); the kernel writes `value`. */
export interface DrmGetCap {
  capability: number | bigint;
  value: number | bigint;
}

/** struct drm_prime_handle (12 bytes). */
export interface DrmPrimeHandle {
  handle: number;
  flags: number;
  fd: number;
}

/** struct drm_gem_close (8 bytes). */
export interface DrmGemClose {
  handle: number;
  pad: number;
}

/** struct drm_mode_create_dumb (32 bytes); the kernel writes handle, pitch and size. */
export interface DrmModeCreateDumb {
  height: number;
  width: number;
  bpp: number;
  flags: number;
  handle: number;
  pitch: number;
  size: number | bigint;
}

/** struct drm_mode_map_dumb (16 bytes); the kernel writes the fake mmap `offset`. */
export interface DrmModeMapDumb {
  handle: number;
  pad: number;
  offset: number | bigint;
}

/** struct drm_mode_destroy_dumb (4 bytes). */
export interface DrmModeDestroyDumb {
  handle: number;
}

/** struct drm_mode_fb_cmd2 (104 bytes); the kernel writes `fb_id`. */
export interface DrmModeFbCmd2 {
  fb_id: number;
  width: number;
  height: number;
  pixel_format: number;
  flags: number;
  handles: number[];
  pitches: number[];
  offsets: number[];
  modifier: (number | bigint)[];
}

/** struct drm_mode_crtc_page_flip (24 bytes). */
export interface DrmModeCrtcPageFlip {
  crtc_id: number;
  fb_id: number;
  flags: number;
  reserved: number;
  user_data: number | bigint;
}

/** struct drm_clip_rect (8 bytes): a rectangle [x1, x2) x [y1, y2) of 16-bit coordinates. */
export interface DrmClipRect {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/**
 * struct drm_mode_fb_dirty_cmd (24 bytes). In C `clips_ptr` is a user
 * pointer to num_clips struct drm_clip_rect; here it is the array itself
 * (0 for none).
 */
export interface DrmModeFbDirtyCmd {
  fb_id: number;
  flags: number;
  color: number;
  num_clips: number;
  clips_ptr: DrmClipRect[] | number | bigint;
}

/**
 * struct drm_mode_card_res (64 bytes). The four id pointers are arrays the
 * kernel fills up to the counts the caller gives; it then writes all counts.
 */
export interface DrmModeCardRes {
  fb_id_ptr: number[] | number;
  crtc_id_ptr: number[] | number;
  connector_id_ptr: number[] | number;
  encoder_id_ptr: number[] | number;
  count_fbs: number;
  count_crtcs: number;
  count_connectors: number;
  count_encoders: number;
  min_width: number;
  max_width: number;
  min_height: number;
  max_height: number;
}

/**
 * struct drm_unique (16 bytes). In C `unique` is a user buffer of
 * `unique_len` bytes; here the kernel writes the string when the length
 * given is enough, and always the full length.
 */
export interface DrmUnique {
  unique_len: number | bigint;
  unique: string;
}

/** struct drm_auth (4 bytes): a client's magic token (drm_magic_t). */
export interface DrmAuth {
  magic: number;
}

/** struct drm_client (40 bytes): GET_CLIENT answers for index 0 only, with the caller's own view. */
export interface DrmClient {
  idx: number;
  auth: number;
  pid: number | bigint;
  uid: number | bigint;
  magic: number | bigint;
  iocs: number | bigint;
}

/** struct drm_set_version (16 bytes): -1 in a major means "no requirement"; the kernel writes what it has. */
export interface DrmSetVersion {
  drm_di_major: number;
  drm_di_minor: number;
  drm_dd_major: number;
  drm_dd_minor: number;
}

/** struct drm_gem_flink (8 bytes); the kernel writes the global `name`. */
export interface DrmGemFlink {
  handle: number;
  name: number;
}

/** struct drm_gem_open (16 bytes); the kernel writes `handle` and `size`. */
export interface DrmGemOpen {
  name: number;
  handle: number;
  size: number | bigint;
}

export const DRM_IOCTL_VERSION = _IOWR(DRM_IOCTL_BASE, 0x00, 64 /* struct drm_version */);
export const DRM_IOCTL_GET_UNIQUE = _IOWR(DRM_IOCTL_BASE, 0x01, 16 /* struct drm_unique */);
export const DRM_IOCTL_GET_MAGIC = _IOR(DRM_IOCTL_BASE, 0x02, 4 /* struct drm_auth */);
export const DRM_IOCTL_GET_CLIENT = _IOWR(DRM_IOCTL_BASE, 0x05, 40 /* struct drm_client */);
export const DRM_IOCTL_SET_VERSION = _IOWR(DRM_IOCTL_BASE, 0x07, 16 /* struct drm_set_version */);
export const DRM_IOCTL_GEM_FLINK = _IOWR(DRM_IOCTL_BASE, 0x0a, 8 /* struct drm_gem_flink */);
export const DRM_IOCTL_GEM_OPEN = _IOWR(DRM_IOCTL_BASE, 0x0b, 16 /* struct drm_gem_open */);
export const DRM_IOCTL_AUTH_MAGIC = _IOW(DRM_IOCTL_BASE, 0x11, 4 /* struct drm_auth */);
export const DRM_IOCTL_GEM_CLOSE = _IOW(DRM_IOCTL_BASE, 0x09, 8 /* struct drm_gem_close */);
export const DRM_IOCTL_GET_CAP = _IOWR(DRM_IOCTL_BASE, 0x0c, 16 /* struct drm_get_cap */);
export const DRM_IOCTL_PRIME_HANDLE_TO_FD = _IOWR(DRM_IOCTL_BASE, 0x2d, 12 /* struct drm_prime_handle */);
export const DRM_IOCTL_PRIME_FD_TO_HANDLE = _IOWR(DRM_IOCTL_BASE, 0x2e, 12 /* struct drm_prime_handle */);
export const DRM_IOCTL_MODE_GETRESOURCES = _IOWR(DRM_IOCTL_BASE, 0xa0, 64 /* struct drm_mode_card_res */);
/** Its argument is the framebuffer id itself (an unsigned int). */
export const DRM_IOCTL_MODE_RMFB = _IOWR(DRM_IOCTL_BASE, 0xaf, 4 /* unsigned int */);
export const DRM_IOCTL_MODE_PAGE_FLIP = _IOWR(DRM_IOCTL_BASE, 0xb0, 24 /* struct drm_mode_crtc_page_flip */);
export const DRM_IOCTL_MODE_DIRTYFB = _IOWR(DRM_IOCTL_BASE, 0xb1, 24 /* struct drm_mode_fb_dirty_cmd */);
export const DRM_IOCTL_MODE_CREATE_DUMB = _IOWR(DRM_IOCTL_BASE, 0xb2, 32 /* struct drm_mode_create_dumb */);
export const DRM_IOCTL_MODE_MAP_DUMB = _IOWR(DRM_IOCTL_BASE, 0xb3, 16 /* struct drm_mode_map_dumb */);
export const DRM_IOCTL_MODE_DESTROY_DUMB = _IOWR(DRM_IOCTL_BASE, 0xb4, 4 /* struct drm_mode_destroy_dumb */);
export const DRM_IOCTL_MODE_ADDFB2 = _IOWR(DRM_IOCTL_BASE, 0xb8, 104 /* struct drm_mode_fb_cmd2 */);
