import type { PcmDevice } from '../../src/drivers/index.ts';
import { UINT_MAX, maskAny, maskOf } from '../../src/drivers/sound/core/pcm-interval.ts';
import { registerPcmPlayback } from '../../src/drivers/sound/drivers/audio-pcm.ts';
import type { Sys } from '../../src/proc/index.ts';
import { bootSystem, loadPlatform, type System } from '../../src/sim/index.ts';
import {
  SNDRV_PCM_HW_PARAM_FIRST_INTERVAL,
  SNDRV_PCM_IOCTL_HW_PARAMS,
  SNDRV_PCM_IOCTL_SYNC_PTR,
  SNDRV_PCM_VERSION,
  type SndInterval,
  type SndPcmHwParams,
  type SndPcmSwParams,
  type SndPcmSyncPtr,
} from '../../src/uapi/index.ts';

/** armv7-mobile booted, with a PCM on its audio block as card 1 (card 0 is the boot's). */
export function pcmSystem(seed = 7): { sys: System; pcm: PcmDevice; s: { soc: System['soc']; k: System['proc'] } } {
  const sys = bootSystem(loadPlatform('armv7-mobile'), { seed });
  const pcm = registerPcmPlayback({ vfs: sys.proc.vfs, clock: sys.soc.clock, device: sys.devices.get('audio')!, card: 1, dev: 0 });
  return { sys, pcm, s: { soc: sys.soc, k: sys.proc } };
}

/** An unconstrained struct snd_pcm_hw_params (_snd_pcm_hw_params_any). */
export function hwAny(): SndPcmHwParams {
  const iv = (): SndInterval => ({ min: 0, max: UINT_MAX, openmin: 0, openmax: 0, integer: 0, empty: 0 });
  return {
    flags: 0,
    masks: [maskAny(), maskAny(), maskAny()],
    intervals: Array.from({ length: 12 }, iv),
    rmask: UINT_MAX,
    cmask: 0,
    info: 0,
    msbits: 0,
    rate_num: 0,
    rate_den: 0,
    fifo_size: 0,
  };
}

/** The interval of `param` in `p`. */
export function ivOf(p: SndPcmHwParams, param: number): SndInterval {
  return p.intervals[param - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL]!;
}

/** Sets a mask parameter to one value. */
export function setMask(p: SndPcmHwParams, param: number, v: number): void {
  p.masks[param] = maskOf(v);
}

/** Sets an interval parameter to one integer value. */
export function setInt(p: SndPcmHwParams, param: number, v: number): void {
  p.intervals[param - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL] = { min: v, max: v, openmin: 0, openmax: 0, integer: 1, empty: 0 };
}

/** Runs HW_PARAMS with the given fixed values; returns the params as written back. */
export async function hwParams(sys: Sys, fd: number, masks: [number, number][], ints: [number, number][]): Promise<SndPcmHwParams> {
  const p = hwAny();
  for (const [k, v] of masks) setMask(p, k, v);
  for (const [k, v] of ints) setInt(p, k, v);
  await sys.ioctl(fd, SNDRV_PCM_IOCTL_HW_PARAMS, p);
  return p;
}

/** A struct snd_pcm_sync_ptr with the given flags, appl_ptr and avail_min. */
export function syncPtr(flags: number, appl = 0, availMin = 0): SndPcmSyncPtr {
  return {
    flags,
    s: { status: { state: -1, hw_ptr: -1, tstamp: { tv_sec: 0, tv_nsec: 0 }, suspended_state: 0, audio_tstamp: { tv_sec: 0, tv_nsec: 0 } } },
    c: { control: { appl_ptr: appl, avail_min: availMin } },
  };
}

/** SYNC_PTR in one call; returns the struct as the kernel wrote it. */
export async function sync(sys: Sys, fd: number, flags: number, appl = 0, availMin = 0): Promise<SndPcmSyncPtr> {
  const sp = syncPtr(flags, appl, availMin);
  await sys.ioctl(fd, SNDRV_PCM_IOCTL_SYNC_PTR, sp);
  return sp;
}

/** Software parameters as alsa-lib's defaults set them, with the given thresholds. */
export function swParams(availMin: number, start: number, stop: number): SndPcmSwParams {
  return { tstamp_mode: 0, period_step: 1, sleep_min: 0, avail_min: availMin, xfer_align: 1, start_threshold: start, stop_threshold: stop, silence_threshold: 0, silence_size: 0, boundary: 0, proto: SNDRV_PCM_VERSION, tstamp_type: 0 };
}

/**
 * `frames` interleaved S16_LE stereo frames of a seeded signal: a sine on
 * the left channel, a sawtooth on the right, with seeded frequencies.
 */
export function signal(frames: number, seed: number, rate = 48000): Uint8Array {
  let x = seed >>> 0 || 1;
  const rnd = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  const f1 = 200 + rnd() * 800;
  const f2 = 100 + rnd() * 400;
  const out = new Int16Array(frames * 2);
  for (let i = 0; i < frames; i++) {
    out[2 * i] = Math.round(Math.sin((2 * Math.PI * f1 * i) / rate) * 20000);
    out[2 * i + 1] = Math.round((((f2 * i) / rate) % 1) * 40000 - 20000);
  }
  return new Uint8Array(out.buffer);
}
