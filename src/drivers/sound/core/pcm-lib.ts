import { waitEvent, type File, type Task } from '../../../fs/index.ts';
import { PAGE_SIZE, kerr } from '../../../lib/index.ts';
import {
  O_NONBLOCK,
  POLLOUT,
  SNDRV_PCM_ACCESS_RW_INTERLEAVED,
  SNDRV_PCM_STATE_DRAINING,
  SNDRV_PCM_STATE_PAUSED,
  SNDRV_PCM_STATE_PREPARED,
  SNDRV_PCM_STATE_RUNNING,
  SNDRV_PCM_STATE_SETUP,
  SNDRV_PCM_STATE_XRUN,
  type SndXferi,
} from '../../../uapi/index.ts';
import { SNDRV_PCM_TRIGGER_START, SNDRV_PCM_TRIGGER_STOP, type PcmDevice } from './pcm.ts';

/** How long a blocked write or drain waits for the hardware before EIO (the 10 s of wait_for_avail). */
export const PCM_WAIT_TIMEOUT_NS = 10e9;

/** Frames userspace may write now (snd_pcm_playback_avail). */
export function pcmPlaybackAvail(pcm: PcmDevice): number {
  const rt = pcm.runtime;
  if (!rt.config) return 0;
  let a = rt.hwPtr + rt.config.bufferSize - rt.applPtr;
  if (a < 0) a += rt.boundary;
  else if (a >= rt.boundary) a -= rt.boundary;
  return a;
}

/** True while the hardware plays (snd_pcm_running for playback). */
export function pcmRunning(pcm: PcmDevice): boolean {
  const s = pcm.runtime.state;
  return s === SNDRV_PCM_STATE_RUNNING || s === SNDRV_PCM_STATE_DRAINING;
}

/** How long the whole ring takes to play, in ns. */
export function pcmBufferNs(pcm: PcmDevice): number {
  const cfg = pcm.runtime.config;
  return cfg ? (cfg.bufferSize * 1e9) / cfg.rate : 0;
}

/** Enters `state` (RUNNING or DRAINING) and starts the hardware (snd_pcm_start). */
export function pcmStart(pcm: PcmDevice, state: number): void {
  pcm.runtime.state = state;
  pcm.runtime.triggerNs = pcm.clock.now;
  pcm.ops.trigger(pcm, SNDRV_PCM_TRIGGER_START);
}

/** Stops the hardware if it plays and enters `state` (snd_pcm_stop). */
export function pcmStop(pcm: PcmDevice, state: number): void {
  if (pcmRunning(pcm)) pcm.ops.trigger(pcm, SNDRV_PCM_TRIGGER_STOP);
  pcm.runtime.state = state;
  pcm.runtime.triggerNs = pcm.clock.now;
}

/**
 * Takes in the hardware position after a period interrupt
 * (snd_pcm_update_hw_ptr0 in interrupt context): hw_ptr moves by what
 * the pointer op says was played; an empty ring ends a drain (SETUP) or
 * is an underrun (XRUN, __snd_pcm_xrun).
 */
function pcmUpdateHwPtrInterrupt(pcm: PcmDevice): void {
  const rt = pcm.runtime;
  const cfg = rt.config!;
  let delta = pcm.ops.pointer(pcm) - (rt.hwPtr % cfg.bufferSize);
  if (delta < 0) delta += cfg.bufferSize;
  rt.hwPtr = (rt.hwPtr + delta) % rt.boundary;
  const avail = pcmPlaybackAvail(pcm);
  if (avail > rt.availMax) rt.availMax = avail;
  if (rt.state === SNDRV_PCM_STATE_DRAINING && avail >= cfg.bufferSize) {
    pcmStop(pcm, SNDRV_PCM_STATE_SETUP);
  } else if (avail >= rt.stopThreshold) {
    pcmStop(pcm, SNDRV_PCM_STATE_XRUN);
    pcm.stats.xruns++;
  }
}

/**
 * Tells the core a period has played (snd_pcm_period_elapsed): updates
 * hw_ptr, stops on underrun or at the end of a drain, wakes writers and
 * pollers. Called by the driver from its interrupt; does not sleep.
 */
export function pcmPeriodElapsed(pcm: PcmDevice): void {
  if (!pcmRunning(pcm)) return;
  pcmUpdateHwPtrInterrupt(pcm);
  pcm.runtime.sleep.wakeUp(POLLOUT);
}

/** Moves appl_ptr (pcm_lib_apply_appl_ptr). EINVAL at or past the boundary. */
export function pcmApplyApplPtr(pcm: PcmDevice, appl: number): void {
  const rt = pcm.runtime;
  if (appl === rt.applPtr) return;
  if (!Number.isInteger(appl) || appl < 0 || appl >= rt.boundary) throw kerr('EINVAL', `appl_ptr ${appl} outside [0, ${rt.boundary})`);
  rt.applPtr = appl;
}

function writableState(pcm: PcmDevice): boolean {
  const s = pcm.runtime.state;
  return s === SNDRV_PCM_STATE_PREPARED || s === SNDRV_PCM_STATE_RUNNING || s === SNDRV_PCM_STATE_PAUSED;
}

/** The state check of a transfer (pcm_sanity_check / pcm_accessible_state): EPIPE after an underrun, EBADFD before PREPARE. */
function checkWritable(pcm: PcmDevice): void {
  switch (pcm.runtime.state) {
    case SNDRV_PCM_STATE_PREPARED:
    case SNDRV_PCM_STATE_RUNNING:
    case SNDRV_PCM_STATE_PAUSED:
      return;
    case SNDRV_PCM_STATE_XRUN:
      throw kerr('EPIPE', 'write: underrun');
    default:
      throw kerr('EBADFD', 'write: not prepared');
  }
}

/** The frames a transfer names: the bytes themselves, or read from the caller's memory at an address (copy_from_user). EFAULT when neither. */
function userFrames(pcm: PcmDevice, buf: Uint8Array | number, len: number, task: Task): Uint8Array {
  if (buf instanceof Uint8Array) {
    if (buf.length < len) throw kerr('EFAULT', `writei: ${buf.length} bytes given for ${len}`);
    return buf;
  }
  if (typeof buf !== 'number' || !task.pinUserPages || !task.unpinUserPages) throw kerr('EFAULT', 'writei: bad buffer');
  const pfns = task.pinUserPages(buf, len, false);
  try {
    const out = new Uint8Array(len);
    const cpu = pcm.device.ctx.soc.cpu;
    let off = 0;
    let addr = buf;
    for (let i = 0; off < len; i++) {
      const inPage = addr % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - inPage, len - off);
      cpu.load(pfns[i]! * PAGE_SIZE + inPage, out, off, n, 'wb');
      off += n;
      addr += n;
    }
    return out;
  } finally {
    task.unpinUserPages(pfns);
  }
}

/**
 * Copies frames into the ring (snd_pcm_lib_write): as many as fit, then
 * waits for room unless O_NONBLOCK (EAGAIN when nothing fit); starts the
 * stream once start_threshold frames are queued. Returns the frames
 * written; EPIPE after an underrun, EBADFD before PREPARE, EINVAL for a
 * multichannel stream not set up for RW access, EIO when the hardware
 * frees no room for PCM_WAIT_TIMEOUT_NS. The bytes go through the
 * driver's copy op: the kernel has no mapping of the ring.
 */
export async function pcmLibWrite(pcm: PcmDevice, file: File, x: SndXferi, task: Task): Promise<number> {
  checkWritable(pcm);
  const rt = pcm.runtime;
  const cfg = rt.config!;
  if (cfg.access !== SNDRV_PCM_ACCESS_RW_INTERLEAVED && cfg.channels > 1) throw kerr('EINVAL', 'writei: stream is not set up for RW_INTERLEAVED');
  const frames = x.frames;
  if (!Number.isInteger(frames) || frames < 0) throw kerr('EINVAL', 'writei: bad frame count');
  if (frames === 0) return 0;
  const src = userFrames(pcm, x.buf, frames * cfg.frameBytes, task);
  let done = 0;
  while (done < frames) {
    let avail = pcmPlaybackAvail(pcm);
    if (avail === 0) {
      if (file.flags & O_NONBLOCK) {
        if (done) break;
        throw kerr('EAGAIN', 'writei: ring full');
      }
      const want = Math.min(frames - done, rt.availMin || 1);
      try {
        const ok = await waitEvent(rt.sleep, () => !writableState(pcm) || pcmPlaybackAvail(pcm) >= want, { task, clock: pcm.clock, timeoutNs: PCM_WAIT_TIMEOUT_NS });
        if (!ok) throw kerr('EIO', 'writei: playback write error (DMA or IRQ trouble?)');
        checkWritable(pcm);
      } catch (e) {
        if (done) break;
        throw e;
      }
      avail = pcmPlaybackAvail(pcm);
    }
    const pos = rt.applPtr % cfg.bufferSize;
    const n = Math.min(frames - done, avail, cfg.bufferSize - pos);
    pcm.ops.copy(pcm, pos * cfg.frameBytes, src, done * cfg.frameBytes, n * cfg.frameBytes);
    // the copy takes the CPU's memory time on a core, as the process's own stores do
    await pcm.device.ctx.soc.cores.runDebt();
    rt.applPtr = (rt.applPtr + n) % rt.boundary;
    done += n;
    if (rt.state === SNDRV_PCM_STATE_PREPARED && cfg.bufferSize - pcmPlaybackAvail(pcm) >= rt.startThreshold) pcmStart(pcm, SNDRV_PCM_STATE_RUNNING);
  }
  return done;
}
