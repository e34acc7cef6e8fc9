import { _IO, _IOR, _IOW, _IOWR } from './ioctl.ts';

/**
 * <sound/asound.h>: the ALSA PCM interface a playback program uses.
 *
 * Unlike the rest of this module, these request numbers follow 32-bit ARM
 * (ILP32, EABI, 32-bit time_t), the ABI of the armv7-mobile platform the
 * audio block belongs to. snd_pcm_uframes_t/sframes_t are `long`, so the
 * structs that hold them change size between ILP32 and LP64; the sizes used
 * (computed by gcc -m32 from the real 6.1 header, time32 layout, where no
 * member is 64-bit so i386 and ARM EABI agree):
 *   snd_pcm_info      288  (no long: same on LP64)
 *   snd_pcm_hw_params 604  (4 + 8 masks*32 + 21 intervals*12 + 6*4 + fifo_size 4 + 64)
 *   snd_pcm_sw_params 104  (3 ints, 7 longs, 2 ints, 56 reserved)
 *   snd_pcm_status    108  (time32 timespecs of 8 bytes, 52-16 reserved)
 *   snd_pcm_sync_ptr  132  (flags 4, s union 64 at 4, c union 64 at 68)
 *   snd_xferi          12  (result, buf, frames: three 4-byte words)
 *   int / snd_pcm_sframes_t 4
 * The LP64 numbers differ only in those sizes (e.g. HW_PARAMS 0xc2604111,
 * SYNC_PTR 0xc0884123).
 */
const SIZEOF_INT = 4;
const SIZEOF_SFRAMES = 4;
const SIZEOF_PCM_INFO = 288;
const SIZEOF_HW_PARAMS = 604;
const SIZEOF_SW_PARAMS = 104;
const SIZEOF_STATUS = 108;
const SIZEOF_SYNC_PTR = 132;
const SIZEOF_XFERI = 12;

/** SNDRV_PROTOCOL_VERSION(major, minor, subminor). */
export function SNDRV_PROTOCOL_VERSION(major: number, minor: number, subminor: number): number {
  return (major << 16) | (minor << 8) | subminor;
}
/** The PCM protocol version of Linux 6.1 (2.0.15). */
export const SNDRV_PCM_VERSION = SNDRV_PROTOCOL_VERSION(2, 0, 15);

export const SNDRV_PCM_IOCTL_PVERSION = _IOR('A', 0x00, SIZEOF_INT);
export const SNDRV_PCM_IOCTL_INFO = _IOR('A', 0x01, SIZEOF_PCM_INFO);
export const SNDRV_PCM_IOCTL_TSTAMP = _IOW('A', 0x02, SIZEOF_INT);
export const SNDRV_PCM_IOCTL_TTSTAMP = _IOW('A', 0x03, SIZEOF_INT);
export const SNDRV_PCM_IOCTL_USER_PVERSION = _IOW('A', 0x04, SIZEOF_INT);
export const SNDRV_PCM_IOCTL_HW_REFINE = _IOWR('A', 0x10, SIZEOF_HW_PARAMS);
export const SNDRV_PCM_IOCTL_HW_PARAMS = _IOWR('A', 0x11, SIZEOF_HW_PARAMS);
export const SNDRV_PCM_IOCTL_HW_FREE = _IO('A', 0x12);
export const SNDRV_PCM_IOCTL_SW_PARAMS = _IOWR('A', 0x13, SIZEOF_SW_PARAMS);
export const SNDRV_PCM_IOCTL_STATUS = _IOR('A', 0x20, SIZEOF_STATUS);
export const SNDRV_PCM_IOCTL_DELAY = _IOR('A', 0x21, SIZEOF_SFRAMES);
export const SNDRV_PCM_IOCTL_HWSYNC = _IO('A', 0x22);
export const SNDRV_PCM_IOCTL_SYNC_PTR = _IOWR('A', 0x23, SIZEOF_SYNC_PTR);
export const SNDRV_PCM_IOCTL_PREPARE = _IO('A', 0x40);
export const SNDRV_PCM_IOCTL_RESET = _IO('A', 0x41);
export const SNDRV_PCM_IOCTL_START = _IO('A', 0x42);
export const SNDRV_PCM_IOCTL_DROP = _IO('A', 0x43);
export const SNDRV_PCM_IOCTL_DRAIN = _IO('A', 0x44);
export const SNDRV_PCM_IOCTL_PAUSE = _IOW('A', 0x45, SIZEOF_INT);
export const SNDRV_PCM_IOCTL_WRITEI_FRAMES = _IOW('A', 0x50, SIZEOF_XFERI);

/** snd_pcm_stream_t */
export const SNDRV_PCM_STREAM_PLAYBACK = 0;
export const SNDRV_PCM_STREAM_CAPTURE = 1;

/** snd_pcm_access_t */
export const SNDRV_PCM_ACCESS_MMAP_INTERLEAVED = 0;
export const SNDRV_PCM_ACCESS_MMAP_NONINTERLEAVED = 1;
export const SNDRV_PCM_ACCESS_MMAP_COMPLEX = 2;
export const SNDRV_PCM_ACCESS_RW_INTERLEAVED = 3;
export const SNDRV_PCM_ACCESS_RW_NONINTERLEAVED = 4;

/** snd_pcm_format_t (the common ones). */
export const SNDRV_PCM_FORMAT_S8 = 0;
export const SNDRV_PCM_FORMAT_U8 = 1;
export const SNDRV_PCM_FORMAT_S16_LE = 2;
export const SNDRV_PCM_FORMAT_S16_BE = 3;
export const SNDRV_PCM_FORMAT_U16_LE = 4;
export const SNDRV_PCM_FORMAT_U16_BE = 5;
export const SNDRV_PCM_FORMAT_S24_LE = 6;
export const SNDRV_PCM_FORMAT_S24_BE = 7;
export const SNDRV_PCM_FORMAT_U24_LE = 8;
export const SNDRV_PCM_FORMAT_U24_BE = 9;
export const SNDRV_PCM_FORMAT_S32_LE = 10;
export const SNDRV_PCM_FORMAT_S32_BE = 11;
export const SNDRV_PCM_FORMAT_U32_LE = 12;
export const SNDRV_PCM_FORMAT_U32_BE = 13;

export const SNDRV_PCM_SUBFORMAT_STD = 0;

/** snd_pcm_state_t */
export const SNDRV_PCM_STATE_OPEN = 0;
export const SNDRV_PCM_STATE_SETUP = 1;
export const SNDRV_PCM_STATE_PREPARED = 2;
export const SNDRV_PCM_STATE_RUNNING = 3;
export const SNDRV_PCM_STATE_XRUN = 4;
export const SNDRV_PCM_STATE_DRAINING = 5;
export const SNDRV_PCM_STATE_PAUSED = 6;
export const SNDRV_PCM_STATE_SUSPENDED = 7;
export const SNDRV_PCM_STATE_DISCONNECTED = 8;

/** snd_pcm_hw_param_t: masks, then intervals. */
export const SNDRV_PCM_HW_PARAM_ACCESS = 0;
export const SNDRV_PCM_HW_PARAM_FORMAT = 1;
export const SNDRV_PCM_HW_PARAM_SUBFORMAT = 2;
export const SNDRV_PCM_HW_PARAM_FIRST_MASK = SNDRV_PCM_HW_PARAM_ACCESS;
export const SNDRV_PCM_HW_PARAM_LAST_MASK = SNDRV_PCM_HW_PARAM_SUBFORMAT;
export const SNDRV_PCM_HW_PARAM_SAMPLE_BITS = 8;
export const SNDRV_PCM_HW_PARAM_FRAME_BITS = 9;
export const SNDRV_PCM_HW_PARAM_CHANNELS = 10;
export const SNDRV_PCM_HW_PARAM_RATE = 11;
export const SNDRV_PCM_HW_PARAM_PERIOD_TIME = 12;
export const SNDRV_PCM_HW_PARAM_PERIOD_SIZE = 13;
export const SNDRV_PCM_HW_PARAM_PERIOD_BYTES = 14;
export const SNDRV_PCM_HW_PARAM_PERIODS = 15;
export const SNDRV_PCM_HW_PARAM_BUFFER_TIME = 16;
export const SNDRV_PCM_HW_PARAM_BUFFER_SIZE = 17;
export const SNDRV_PCM_HW_PARAM_BUFFER_BYTES = 18;
export const SNDRV_PCM_HW_PARAM_TICK_TIME = 19;
export const SNDRV_PCM_HW_PARAM_FIRST_INTERVAL = SNDRV_PCM_HW_PARAM_SAMPLE_BITS;
export const SNDRV_PCM_HW_PARAM_LAST_INTERVAL = SNDRV_PCM_HW_PARAM_TICK_TIME;

/** snd_pcm_hw_params.flags */
export const SNDRV_PCM_HW_PARAMS_NORESAMPLE = 1 << 0;
export const SNDRV_PCM_HW_PARAMS_EXPORT_BUFFER = 1 << 1;
export const SNDRV_PCM_HW_PARAMS_NO_PERIOD_WAKEUP = 1 << 2;

/** SNDRV_PCM_INFO_* bits of snd_pcm_hw_params.info. */
export const SNDRV_PCM_INFO_MMAP = 0x00000001;
export const SNDRV_PCM_INFO_MMAP_VALID = 0x00000002;
export const SNDRV_PCM_INFO_DOUBLE = 0x00000004;
export const SNDRV_PCM_INFO_BATCH = 0x00000010;
export const SNDRV_PCM_INFO_SYNC_APPLPTR = 0x00000020;
export const SNDRV_PCM_INFO_INTERLEAVED = 0x00000100;
export const SNDRV_PCM_INFO_NONINTERLEAVED = 0x00000200;
export const SNDRV_PCM_INFO_COMPLEX = 0x00000400;
export const SNDRV_PCM_INFO_BLOCK_TRANSFER = 0x00010000;
export const SNDRV_PCM_INFO_OVERRANGE = 0x00020000;
export const SNDRV_PCM_INFO_RESUME = 0x00040000;
export const SNDRV_PCM_INFO_PAUSE = 0x00080000;
export const SNDRV_PCM_INFO_HALF_DUPLEX = 0x00100000;
export const SNDRV_PCM_INFO_JOINT_DUPLEX = 0x00200000;
export const SNDRV_PCM_INFO_SYNC_START = 0x00400000;
export const SNDRV_PCM_INFO_NO_PERIOD_WAKEUP = 0x00800000;

/** snd_pcm_tstamp_t and the timestamp types of sw_params. */
export const SNDRV_PCM_TSTAMP_NONE = 0;
export const SNDRV_PCM_TSTAMP_ENABLE = 1;
export const SNDRV_PCM_TSTAMP_LAST = SNDRV_PCM_TSTAMP_ENABLE;
export const SNDRV_PCM_TSTAMP_TYPE_GETTIMEOFDAY = 0;
export const SNDRV_PCM_TSTAMP_TYPE_MONOTONIC = 1;
export const SNDRV_PCM_TSTAMP_TYPE_MONOTONIC_RAW = 2;
export const SNDRV_PCM_TSTAMP_TYPE_LAST = SNDRV_PCM_TSTAMP_TYPE_MONOTONIC_RAW;

/** mmap offsets of the three areas a PCM file has (32-bit time: the _OLD status/control offsets). */
export const SNDRV_PCM_MMAP_OFFSET_DATA = 0x00000000;
export const SNDRV_PCM_MMAP_OFFSET_STATUS = 0x80000000;
export const SNDRV_PCM_MMAP_OFFSET_CONTROL = 0x81000000;
export const SNDRV_PCM_MMAP_OFFSET_STATUS_NEW = 0x82000000;
export const SNDRV_PCM_MMAP_OFFSET_CONTROL_NEW = 0x83000000;

/** snd_pcm_sync_ptr.flags */
export const SNDRV_PCM_SYNC_PTR_HWSYNC = 1 << 0;
/** Read appl_ptr from the driver instead of setting it. */
export const SNDRV_PCM_SYNC_PTR_APPL = 1 << 1;
/** Read avail_min from the driver instead of setting it. */
export const SNDRV_PCM_SYNC_PTR_AVAIL_MIN = 1 << 2;

/** snd_pcm_class */
export const SNDRV_PCM_CLASS_GENERIC = 0;

/** struct snd_mask: 256 bits as 8 u32 words. */
export interface SndMask {
  bits: number[];
}

/** struct snd_interval; the bit fields as 0/1 numbers. */
export interface SndInterval {
  min: number;
  max: number;
  openmin: number;
  openmax: number;
  integer: number;
  empty: number;
}

/** struct snd_pcm_hw_params: masks[0..2] and intervals[0..11] (index = param - FIRST_INTERVAL). */
export interface SndPcmHwParams {
  flags: number;
  masks: SndMask[];
  intervals: SndInterval[];
  rmask: number;
  cmask: number;
  info: number;
  msbits: number;
  rate_num: number;
  rate_den: number;
  fifo_size: number;
}

/** struct snd_pcm_sw_params */
export interface SndPcmSwParams {
  tstamp_mode: number;
  period_step: number;
  sleep_min: number;
  avail_min: number;
  xfer_align: number;
  start_threshold: number;
  stop_threshold: number;
  silence_threshold: number;
  silence_size: number;
  boundary: number;
  proto: number;
  tstamp_type: number;
}

/** struct timespec (32-bit time_t). */
export interface SndTimespec {
  tv_sec: number;
  tv_nsec: number;
}

/** struct snd_pcm_status */
export interface SndPcmStatus {
  state: number;
  trigger_tstamp: SndTimespec;
  tstamp: SndTimespec;
  appl_ptr: number;
  hw_ptr: number;
  delay: number;
  avail: number;
  avail_max: number;
  overrange: number;
  suspended_state: number;
  audio_tstamp_data: number;
  audio_tstamp: SndTimespec;
  driver_tstamp: SndTimespec;
  audio_tstamp_accuracy: number;
}

/** struct snd_pcm_mmap_status */
export interface SndPcmMmapStatus {
  state: number;
  hw_ptr: number;
  tstamp: SndTimespec;
  suspended_state: number;
  audio_tstamp: SndTimespec;
}

/** struct snd_pcm_mmap_control */
export interface SndPcmMmapControl {
  appl_ptr: number;
  avail_min: number;
}

/** struct snd_pcm_sync_ptr */
export interface SndPcmSyncPtr {
  flags: number;
  s: { status: SndPcmMmapStatus };
  c: { control: SndPcmMmapControl };
}

/**
 * struct snd_xferi. `buf` is the frames themselves (as write(2) takes
 * bytes here) or a user address in the caller's memory.
 */
export interface SndXferi {
  result: number;
  buf: Uint8Array | number;
  frames: number;
}

/** struct snd_pcm_info */
export interface SndPcmInfo {
  device: number;
  subdevice: number;
  stream: number;
  card: number;
  id: string;
  name: string;
  subname: string;
  dev_class: number;
  dev_subclass: number;
  subdevices_count: number;
  subdevices_avail: number;
}
