import type { Sys } from '../../proc/index.ts';
import {
  MAP_SHARED,
  O_RDWR,
  POLLOUT,
  PROT_READ,
  PROT_WRITE,
  SNDRV_PCM_ACCESS_MMAP_INTERLEAVED,
  SNDRV_PCM_FORMAT_S16_LE,
  SNDRV_PCM_HW_PARAM_ACCESS,
  SNDRV_PCM_HW_PARAM_CHANNELS,
  SNDRV_PCM_HW_PARAM_FIRST_INTERVAL,
  SNDRV_PCM_HW_PARAM_FORMAT,
  SNDRV_PCM_HW_PARAM_PERIODS,
  SNDRV_PCM_HW_PARAM_PERIOD_SIZE,
  SNDRV_PCM_HW_PARAM_RATE,
  SNDRV_PCM_HW_PARAM_SUBFORMAT,
  SNDRV_PCM_IOCTL_DRAIN,
  SNDRV_PCM_IOCTL_HW_PARAMS,
  SNDRV_PCM_IOCTL_PREPARE,
  SNDRV_PCM_IOCTL_START,
  SNDRV_PCM_IOCTL_SW_PARAMS,
  SNDRV_PCM_IOCTL_SYNC_PTR,
  SNDRV_PCM_MMAP_OFFSET_DATA,
  SNDRV_PCM_SUBFORMAT_STD,
  SNDRV_PCM_SYNC_PTR_APPL,
  SNDRV_PCM_SYNC_PTR_HWSYNC,
  SNDRV_PCM_VERSION,
  type SndInterval,
  type SndMask,
  type SndPcmHwParams,
  type SndPcmSyncPtr,
} from '../../uapi/index.ts';
import { audioSignal } from './audio-signal.ts';
import type { StageContext } from './stage.ts';

/** A mask with only bit `v` set (snd_mask_set on an empty mask). */
function maskOf(v: number): SndMask {
  const bits = [0, 0, 0, 0, 0, 0, 0, 0];
  bits[v >>> 5] = (1 << (v & 31)) >>> 0;
  return { bits };
}

/** The whole range, or exactly `v` (an integer interval). */
function interval(v?: number): SndInterval {
  return v === undefined ? { min: 0, max: 0xffffffff, openmin: 0, openmax: 0, integer: 0, empty: 0 } : { min: v, max: v, openmin: 0, openmax: 0, integer: 1, empty: 0 };
}

/** SYNC_PTR: tells the driver appl_ptr (with APPL) and reads back hw_ptr and the state. */
async function syncPtr(sys: Sys, fd: number, flags: number, appl: number, availMin: number): Promise<SndPcmSyncPtr> {
  const sp: SndPcmSyncPtr = {
    flags,
    s: { status: { state: -1, hw_ptr: -1, tstamp: { tv_sec: 0, tv_nsec: 0 }, suspended_state: 0, audio_tstamp: { tv_sec: 0, tv_nsec: 0 } } },
    c: { control: { appl_ptr: appl, avail_min: availMin } },
  };
  await sys.ioctl(fd, SNDRV_PCM_IOCTL_SYNC_PTR, sp);
  return sp;
}

/**
 * A music player in mmap mode (aplay -M, as alsa-lib drives it): sets the
 * hardware parameters, maps the ring buffer -- memory the kernel allocated
 * with NO_KERNEL_MAPPING and mapped only here -- fills it, starts, then
 * each time poll says a period is free writes the next period of samples
 * straight into the ring and tells the driver with SYNC_PTR; drains at the
 * end. `frames` periods are played.
 */
export async function audioStage(sys: Sys, ctx: StageContext): Promise<number> {
  const { rate, channels, periodFrames, periods } = ctx.spec;
  const fd = await sys.open(ctx.devicePath, O_RDWR);
  const intervals = Array.from({ length: 12 }, () => interval());
  const set = (param: number, v: number) => (intervals[param - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL] = interval(v));
  set(SNDRV_PCM_HW_PARAM_CHANNELS, channels);
  set(SNDRV_PCM_HW_PARAM_RATE, rate);
  set(SNDRV_PCM_HW_PARAM_PERIOD_SIZE, periodFrames);
  set(SNDRV_PCM_HW_PARAM_PERIODS, periods);
  const masks: SndMask[] = [];
  masks[SNDRV_PCM_HW_PARAM_ACCESS] = maskOf(SNDRV_PCM_ACCESS_MMAP_INTERLEAVED);
  masks[SNDRV_PCM_HW_PARAM_FORMAT] = maskOf(SNDRV_PCM_FORMAT_S16_LE);
  masks[SNDRV_PCM_HW_PARAM_SUBFORMAT] = maskOf(SNDRV_PCM_SUBFORMAT_STD);
  const hw: SndPcmHwParams = { flags: 0, masks, intervals, rmask: 0xffffffff, cmask: 0, info: 0, msbits: 0, rate_num: 0, rate_den: 0, fifo_size: 0 };
  await sys.ioctl(fd, SNDRV_PCM_IOCTL_HW_PARAMS, hw);
  const bufferFrames = periodFrames * periods;
  const frameBytes = 2 * channels;
  await sys.ioctl(fd, SNDRV_PCM_IOCTL_SW_PARAMS, {
    tstamp_mode: 0,
    period_step: 1,
    sleep_min: 0,
    avail_min: periodFrames,
    xfer_align: 1,
    start_threshold: bufferFrames,
    stop_threshold: bufferFrames,
    silence_threshold: 0,
    silence_size: 0,
    boundary: 0,
    proto: SNDRV_PCM_VERSION,
    tstamp_type: 0,
  });
  await sys.ioctl(fd, SNDRV_PCM_IOCTL_PREPARE);
  const ringBytes = bufferFrames * frameBytes;
  const ring = await sys.mmap(0, ringBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, SNDRV_PCM_MMAP_OFFSET_DATA);
  const total = ctx.frames * periodFrames;
  let appl = 0;
  const write = async (upTo: number) => {
    // One period at a time, wrapping at the end of the ring.
    while (appl < upTo) {
      const n = Math.min(periodFrames, upTo - appl, bufferFrames - (appl % bufferFrames));
      await sys.store(ring + (appl % bufferFrames) * frameBytes, audioSignal(appl, n, channels, rate, ctx.seed));
      appl += n;
    }
  };
  await write(Math.min(total, bufferFrames));
  // Without SNDRV_PCM_SYNC_PTR_APPL the driver takes appl_ptr from us (the flag means: keep yours).
  await syncPtr(sys, fd, 0, appl, periodFrames);
  ctx.probe.produced(0);
  await sys.ioctl(fd, SNDRV_PCM_IOCTL_START);
  while (appl < total) {
    await sys.poll([{ fd, events: POLLOUT }], -1);
    const st = await syncPtr(sys, fd, SNDRV_PCM_SYNC_PTR_HWSYNC | SNDRV_PCM_SYNC_PTR_APPL, 0, periodFrames);
    await write(Math.min(total, st.s.status.hw_ptr + bufferFrames));
    await syncPtr(sys, fd, 0, appl, periodFrames);
  }
  await sys.ioctl(fd, SNDRV_PCM_IOCTL_DRAIN);
  await sys.munmap(ring, ringBytes);
  return 0;
}
