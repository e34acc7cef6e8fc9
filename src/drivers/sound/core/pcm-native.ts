import { dmaAllocAttrs, dmaFreeAttrs, dmaMmapAttrs } from '../../../dma/index.ts';
import { VM_READ, VM_WRITE, pollWait, registerChrdev, userArg, waitEvent, type File, type FileOperations, type PollTable, type Task, type Vfs, type VmArea } from '../../../fs/index.ts';
import { KernelBug, PAGE_SIZE, alignUp, kerr } from '../../../lib/index.ts';
import {
  O_NONBLOCK,
  POLLERR,
  POLLOUT,
  POLLWRNORM,
  SNDRV_PCM_ACCESS_RW_INTERLEAVED,
  SNDRV_PCM_ACCESS_RW_NONINTERLEAVED,
  SNDRV_PCM_CLASS_GENERIC,
  SNDRV_PCM_INFO_MMAP,
  SNDRV_PCM_IOCTL_DELAY,
  SNDRV_PCM_IOCTL_DRAIN,
  SNDRV_PCM_IOCTL_DROP,
  SNDRV_PCM_IOCTL_HWSYNC,
  SNDRV_PCM_IOCTL_HW_FREE,
  SNDRV_PCM_IOCTL_HW_PARAMS,
  SNDRV_PCM_IOCTL_HW_REFINE,
  SNDRV_PCM_IOCTL_INFO,
  SNDRV_PCM_IOCTL_PAUSE,
  SNDRV_PCM_IOCTL_PREPARE,
  SNDRV_PCM_IOCTL_PVERSION,
  SNDRV_PCM_IOCTL_RESET,
  SNDRV_PCM_IOCTL_START,
  SNDRV_PCM_IOCTL_STATUS,
  SNDRV_PCM_IOCTL_SW_PARAMS,
  SNDRV_PCM_IOCTL_SYNC_PTR,
  SNDRV_PCM_IOCTL_TSTAMP,
  SNDRV_PCM_IOCTL_TTSTAMP,
  SNDRV_PCM_IOCTL_USER_PVERSION,
  SNDRV_PCM_IOCTL_WRITEI_FRAMES,
  SNDRV_PCM_MMAP_OFFSET_CONTROL,
  SNDRV_PCM_MMAP_OFFSET_CONTROL_NEW,
  SNDRV_PCM_MMAP_OFFSET_STATUS,
  SNDRV_PCM_MMAP_OFFSET_STATUS_NEW,
  SNDRV_PCM_STATE_DRAINING,
  SNDRV_PCM_STATE_OPEN,
  SNDRV_PCM_STATE_PAUSED,
  SNDRV_PCM_STATE_PREPARED,
  SNDRV_PCM_STATE_RUNNING,
  SNDRV_PCM_STATE_SETUP,
  SNDRV_PCM_STATE_SUSPENDED,
  SNDRV_PCM_STATE_XRUN,
  SNDRV_PCM_STREAM_PLAYBACK,
  SNDRV_PCM_SYNC_PTR_APPL,
  SNDRV_PCM_SYNC_PTR_AVAIL_MIN,
  SNDRV_PCM_SYNC_PTR_HWSYNC,
  SNDRV_PCM_TSTAMP_LAST,
  SNDRV_PCM_TSTAMP_TYPE_LAST,
  SNDRV_PCM_VERSION,
  SNDRV_PROTOCOL_VERSION,
  type SndPcmHwParams,
  type SndPcmInfo,
  type SndPcmStatus,
  type SndPcmSwParams,
  type SndPcmSyncPtr,
  type SndTimespec,
  type SndXferi,
} from '../../../uapi/index.ts';
import { hwChoose, hwConfig, hwRefine } from './pcm-hw-params.ts';
import { PCM_WAIT_TIMEOUT_NS, pcmApplyApplPtr, pcmBufferNs, pcmLibWrite, pcmPlaybackAvail, pcmRunning, pcmStart, pcmStop } from './pcm-lib.ts';
import {
  AUDIO_GID,
  PcmDevice,
  SND_MAJOR,
  SNDRV_MINOR_DEVICES,
  SNDRV_MINOR_PCM_PLAYBACK,
  SNDRV_PCM_TRIGGER_PAUSE_PUSH,
  SNDRV_PCM_TRIGGER_PAUSE_RELEASE,
  SNDRV_PCM_TRIGGER_STOP,
  type PcmNewOptions,
} from './pcm.ts';

/** LONG_MAX of the ILP32 ABI: pointers wrap at a boundary below it. */
const LONG_MAX_32 = 0x7fffffff;

function ts(ns: number): SndTimespec {
  return { tv_sec: Math.floor(ns / 1e9), tv_nsec: ns % 1e9 };
}

function intArg(arg: unknown): number {
  if (typeof arg === 'number') return arg;
  if (arg && typeof arg === 'object' && typeof (arg as { value?: unknown }).value === 'number') return (arg as { value: number }).value;
  throw kerr('EFAULT', 'bad int pointer');
}

/**
 * Creates a playback PCM and its node /dev/snd/pcmC<card>D<dev>p
 * (snd_pcm_new with one playback substream + snd_pcm_dev_register).
 * EEXIST when the node exists.
 */
export function pcmNew(vfs: Vfs, opts: PcmNewOptions): PcmDevice {
  const pcm = new PcmDevice(opts);
  pcm.node = registerChrdev(vfs, {
    path: pcm.path,
    major: SND_MAJOR,
    minor: opts.card * SNDRV_MINOR_DEVICES + SNDRV_MINOR_PCM_PLAYBACK + opts.dev,
    mode: 0o660,
    gid: AUDIO_GID,
    fops: pcmPlaybackFops(pcm),
    privateData: pcm,
    sysfs: { class: 'sound' },
  });
  return pcm;
}

/** The node's file operations (snd_pcm_f_ops[SNDRV_PCM_STREAM_PLAYBACK]). */
function pcmPlaybackFops(pcm: PcmDevice): FileOperations {
  return {
    name: 'snd-pcm',
    open: (_inode, file, task) => pcmOpen(pcm, file, task),
    release: (_inode, file) => pcmRelease(pcm, file),
    unlockedIoctl: (file, cmd, arg, task) => pcmIoctl(pcm, file, cmd, arg, task),
    mmap: (_file, vma) => pcmMmap(pcm, vma),
    poll: (file, pt) => pcmPoll(pcm, file, pt),
  };
}

/**
 * Opens the substream (snd_pcm_playback_open): one opener at a time; a
 * second open waits for the first to close, or is EBUSY with O_NONBLOCK.
 */
async function pcmOpen(pcm: PcmDevice, file: File, task: Task): Promise<void> {
  if (pcm.owner) {
    if (file.flags & O_NONBLOCK) throw kerr('EBUSY', `${pcm.path}: substream busy`);
    await waitEvent(pcm.openWait, () => pcm.owner === null, { task });
  }
  pcm.owner = file;
  file.privateData = pcm;
  pcm.runtime.state = SNDRV_PCM_STATE_OPEN;
  pcm.runtime.userPversion = 0;
  pcm.ops.open?.(pcm);
}

/** Stops the stream and frees the ring (snd_pcm_release: drop, then hw_free). */
function pcmRelease(pcm: PcmDevice, file: File): void {
  if (pcm.owner !== file) return;
  if (pcmRunning(pcm)) pcm.ops.trigger(pcm, SNDRV_PCM_TRIGGER_STOP);
  freeBuffer(pcm);
  pcm.runtime.state = SNDRV_PCM_STATE_OPEN;
  pcm.ops.close?.(pcm);
  pcm.owner = null;
  pcm.openWait.wakeUp();
}

/**
 * Dispatches a PCM ioctl (snd_pcm_common_ioctl + snd_pcm_playback_ioctl1).
 * ENOTTY for unknown requests; each request's errnos are its handler's.
 */
export async function pcmIoctl(pcm: PcmDevice, file: File, cmd: number, arg: unknown, task: Task): Promise<number> {
  if (pcm.owner !== file) throw new KernelBug(`${pcm.path}: ioctl from a file that does not own the substream`);
  const rt = pcm.runtime;
  switch (cmd >>> 0) {
    case SNDRV_PCM_IOCTL_PVERSION:
      userArg<{ value: number }>(arg).value = SNDRV_PCM_VERSION;
      return 0;
    case SNDRV_PCM_IOCTL_INFO:
      pcmInfo(pcm, userArg<SndPcmInfo>(arg));
      return 0;
    case SNDRV_PCM_IOCTL_USER_PVERSION:
      rt.userPversion = intArg(arg);
      return 0;
    case SNDRV_PCM_IOCTL_TSTAMP:
    case SNDRV_PCM_IOCTL_TTSTAMP:
      if (intArg(arg) > SNDRV_PCM_TSTAMP_TYPE_LAST) throw kerr('EINVAL', 'unknown timestamp type');
      return 0;
    case SNDRV_PCM_IOCTL_HW_REFINE:
      hwRefine(userArg<SndPcmHwParams>(arg), pcm.hw);
      return 0;
    case SNDRV_PCM_IOCTL_HW_PARAMS:
      await pcmHwParams(pcm, userArg<SndPcmHwParams>(arg));
      return 0;
    case SNDRV_PCM_IOCTL_HW_FREE:
      pcmHwFree(pcm);
      return 0;
    case SNDRV_PCM_IOCTL_SW_PARAMS:
      pcmSwParams(pcm, userArg<SndPcmSwParams>(arg));
      return 0;
    case SNDRV_PCM_IOCTL_STATUS:
      pcmStatus(pcm, userArg<SndPcmStatus>(arg));
      return 0;
    case SNDRV_PCM_IOCTL_DELAY:
      pcmHwsync(pcm);
      userArg<{ value: number }>(arg).value = rt.config!.bufferSize - pcmPlaybackAvail(pcm);
      return 0;
    case SNDRV_PCM_IOCTL_HWSYNC:
      pcmHwsync(pcm);
      return 0;
    case SNDRV_PCM_IOCTL_SYNC_PTR:
      pcmSyncPtr(pcm, userArg<SndPcmSyncPtr>(arg));
      return 0;
    case SNDRV_PCM_IOCTL_PREPARE:
      pcmPrepare(pcm);
      return 0;
    case SNDRV_PCM_IOCTL_RESET:
      pcmReset(pcm);
      return 0;
    case SNDRV_PCM_IOCTL_START:
      pcmStartIoctl(pcm);
      return 0;
    case SNDRV_PCM_IOCTL_DROP:
      pcmDrop(pcm);
      return 0;
    case SNDRV_PCM_IOCTL_DRAIN:
      await pcmDrain(pcm, file, task);
      return 0;
    case SNDRV_PCM_IOCTL_PAUSE:
      pcmPause(pcm, intArg(arg) !== 0);
      return 0;
    case SNDRV_PCM_IOCTL_WRITEI_FRAMES: {
      const x = userArg<SndXferi>(arg);
      x.result = await pcmLibWrite(pcm, file, x, task);
      return 0;
    }
    default:
      throw kerr('ENOTTY', `${pcm.path}: unknown ioctl 0x${(cmd >>> 0).toString(16)}`);
  }
}

/** Describes the PCM (snd_pcm_info). */
function pcmInfo(pcm: PcmDevice, i: SndPcmInfo): void {
  i.device = pcm.dev;
  i.subdevice = 0;
  i.stream = SNDRV_PCM_STREAM_PLAYBACK;
  i.card = pcm.card;
  i.id = 'audio';
  i.name = pcm.name;
  i.subname = 'subdevice #0';
  i.dev_class = SNDRV_PCM_CLASS_GENERIC;
  i.dev_subclass = 0;
  i.subdevices_count = 1;
  i.subdevices_avail = 0;
}

/**
 * Chooses a configuration and allocates the ring (snd_pcm_hw_params):
 * refine, choose, write the result back into `p`, then a fresh managed
 * buffer of buffer_size frames with the PCM's DMA attributes, and the
 * driver's hw_params. EBADFD outside OPEN/SETUP/PREPARED or while
 * mapped; EINVAL when nothing fits; ENOMEM when the ring cannot be had.
 */
async function pcmHwParams(pcm: PcmDevice, p: SndPcmHwParams): Promise<void> {
  const rt = pcm.runtime;
  const s = rt.state;
  if (s !== SNDRV_PCM_STATE_OPEN && s !== SNDRV_PCM_STATE_SETUP && s !== SNDRV_PCM_STATE_PREPARED) throw kerr('EBADFD', 'hw_params: stream is running');
  if (rt.mmapCount > 0) throw kerr('EBADFD', 'hw_params: ring still mapped');
  hwRefine(p, pcm.hw);
  hwChoose(p, pcm.hw);
  const cfg = hwConfig(p);
  freeBuffer(pcm);
  rt.config = null;
  rt.state = SNDRV_PCM_STATE_OPEN;
  rt.dmaBuffer = await dmaAllocAttrs(pcm.device, cfg.bufferSize * cfg.frameBytes, pcm.bufferAttrs);
  pcm.stats.bufferAllocs++;
  rt.config = cfg;
  pcm.ops.hwParams(pcm, cfg);
  let b = cfg.bufferSize;
  while (b * 2 <= LONG_MAX_32 - cfg.bufferSize) b *= 2;
  rt.boundary = b;
  rt.availMin = cfg.periodSize;
  rt.startThreshold = 1;
  rt.stopThreshold = cfg.bufferSize;
  rt.hwPtr = 0;
  rt.applPtr = 0;
  rt.state = SNDRV_PCM_STATE_SETUP;
}

/** Frees the ring (snd_pcm_hw_free). EBADFD unless SETUP or PREPARED and unmapped. */
function pcmHwFree(pcm: PcmDevice): void {
  const s = pcm.runtime.state;
  if ((s !== SNDRV_PCM_STATE_SETUP && s !== SNDRV_PCM_STATE_PREPARED) || pcm.runtime.mmapCount > 0) throw kerr('EBADFD', 'hw_free: wrong state or still mapped');
  freeBuffer(pcm);
  pcm.runtime.state = SNDRV_PCM_STATE_OPEN;
}

/** The driver's hw_free, then the managed buffer goes (do_hw_free). */
function freeBuffer(pcm: PcmDevice): void {
  const rt = pcm.runtime;
  if (!rt.dmaBuffer) return;
  if (rt.mmapCount > 0) throw new KernelBug(`${pcm.path}: ring freed while mapped ${rt.mmapCount} times`);
  pcm.ops.hwFree(pcm);
  dmaFreeAttrs(pcm.device, rt.dmaBuffer);
  rt.dmaBuffer = null;
  rt.config = null;
  pcm.stats.bufferFrees++;
}

/** Sets the software parameters (snd_pcm_sw_params); writes back the boundary. EBADFD before HW_PARAMS, EINVAL for a bad field. */
function pcmSwParams(pcm: PcmDevice, p: SndPcmSwParams): void {
  const rt = pcm.runtime;
  if (rt.state === SNDRV_PCM_STATE_OPEN || !rt.config) throw kerr('EBADFD', 'sw_params: no hw_params yet');
  if (p.tstamp_mode < 0 || p.tstamp_mode > SNDRV_PCM_TSTAMP_LAST) throw kerr('EINVAL', 'sw_params: tstamp_mode');
  if (p.proto >= SNDRV_PROTOCOL_VERSION(2, 0, 12) && p.tstamp_type > SNDRV_PCM_TSTAMP_TYPE_LAST) throw kerr('EINVAL', 'sw_params: tstamp_type');
  if (p.avail_min === 0) throw kerr('EINVAL', 'sw_params: avail_min 0');
  // The kernel cannot write silence into a ring it has no mapping of.
  if (p.silence_size !== 0 || p.silence_threshold !== 0) throw kerr('EINVAL', 'sw_params: silence filling needs a kernel mapping of the ring');
  rt.availMin = p.avail_min;
  rt.startThreshold = p.start_threshold;
  rt.stopThreshold = p.stop_threshold;
  p.boundary = rt.boundary;
  if (pcmRunning(pcm) && pcmPlaybackAvail(pcm) >= rt.availMin) rt.sleep.wakeUp(POLLOUT);
}

/** Brings hw_ptr up to date (snd_pcm_hwsync): EPIPE after an underrun, EBADFD when not set up. */
function pcmHwsync(pcm: PcmDevice): void {
  switch (pcm.runtime.state) {
    case SNDRV_PCM_STATE_DRAINING:
    case SNDRV_PCM_STATE_RUNNING:
    case SNDRV_PCM_STATE_PREPARED:
    case SNDRV_PCM_STATE_PAUSED:
      // a BATCH device: hw_ptr moves a period at a time, in the interrupt
      return;
    case SNDRV_PCM_STATE_XRUN:
      throw kerr('EPIPE', 'hwsync: underrun');
    default:
      throw kerr('EBADFD', 'hwsync: not prepared');
  }
}

/** The position the DAC has reached, as audio_tstamp. */
function audioTstamp(pcm: PcmDevice): SndTimespec {
  const cfg = pcm.runtime.config;
  return ts(cfg ? Math.round((pcm.played.frames * 1e9) / cfg.rate) : 0);
}

/** Reports the stream's state and pointers (snd_pcm_status64). */
function pcmStatus(pcm: PcmDevice, st: SndPcmStatus): void {
  const rt = pcm.runtime;
  st.state = rt.state;
  st.suspended_state = 0;
  st.trigger_tstamp = ts(rt.triggerNs);
  st.tstamp = ts(pcm.clock.now);
  st.audio_tstamp = audioTstamp(pcm);
  st.driver_tstamp = ts(pcm.clock.now);
  st.audio_tstamp_data = 0;
  st.audio_tstamp_accuracy = 0;
  st.overrange = 0;
  if (rt.state === SNDRV_PCM_STATE_OPEN || !rt.config) {
    Object.assign(st, { appl_ptr: 0, hw_ptr: 0, delay: 0, avail: 0, avail_max: 0 });
    return;
  }
  const avail = pcmPlaybackAvail(pcm);
  st.appl_ptr = rt.applPtr;
  st.hw_ptr = rt.hwPtr;
  st.avail = avail;
  const s = rt.state;
  st.delay = s === SNDRV_PCM_STATE_RUNNING || s === SNDRV_PCM_STATE_DRAINING || s === SNDRV_PCM_STATE_PAUSED ? rt.config.bufferSize - avail : 0;
  st.avail_max = Math.max(rt.availMax, avail);
  rt.availMax = 0;
}

/**
 * Exchanges pointers with userspace (snd_pcm_sync_ptr): takes appl_ptr
 * and avail_min unless the flags ask to read them, returns state and
 * hw_ptr. With SNDRV_PCM_SYNC_PTR_HWSYNC, hwsync's errors (EPIPE after
 * an underrun) come first. EINVAL for an appl_ptr past the boundary,
 * EFAULT without the status and control records.
 */
function pcmSyncPtr(pcm: PcmDevice, sp: SndPcmSyncPtr): void {
  const rt = pcm.runtime;
  if (!sp.s?.status || !sp.c?.control) throw kerr('EFAULT', 'sync_ptr: s.status and c.control required');
  const flags = sp.flags >>> 0;
  if (flags & SNDRV_PCM_SYNC_PTR_HWSYNC) pcmHwsync(pcm);
  const c = sp.c.control;
  if (!(flags & SNDRV_PCM_SYNC_PTR_APPL)) pcmApplyApplPtr(pcm, c.appl_ptr);
  else c.appl_ptr = rt.applPtr;
  if (!(flags & SNDRV_PCM_SYNC_PTR_AVAIL_MIN)) rt.availMin = c.avail_min;
  else c.avail_min = rt.availMin;
  const st = sp.s.status;
  st.state = rt.state;
  st.hw_ptr = rt.hwPtr;
  st.tstamp = ts(pcm.clock.now);
  st.suspended_state = 0;
  st.audio_tstamp = audioTstamp(pcm);
}

/** Gets the stream ready to start (snd_pcm_prepare): pointers to 0. EBADFD in OPEN, EBUSY while running. */
function pcmPrepare(pcm: PcmDevice): void {
  const rt = pcm.runtime;
  // a paused stream's hardware is already stopped
  if (rt.state === SNDRV_PCM_STATE_PAUSED) rt.state = SNDRV_PCM_STATE_SETUP;
  if (rt.state === SNDRV_PCM_STATE_OPEN || !rt.config) throw kerr('EBADFD', 'prepare: no hw_params');
  if (pcmRunning(pcm)) throw kerr('EBUSY', 'prepare: stream running');
  pcm.ops.prepare(pcm);
  rt.hwPtr = 0;
  rt.applPtr = 0;
  rt.availMax = 0;
  rt.state = SNDRV_PCM_STATE_PREPARED;
}

/** Throws away what was written (snd_pcm_reset): appl_ptr back to hw_ptr. EBADFD unless RUNNING, PREPARED or PAUSED. */
function pcmReset(pcm: PcmDevice): void {
  const rt = pcm.runtime;
  const s = rt.state;
  if (s !== SNDRV_PCM_STATE_RUNNING && s !== SNDRV_PCM_STATE_PREPARED && s !== SNDRV_PCM_STATE_PAUSED && s !== SNDRV_PCM_STATE_SUSPENDED) throw kerr('EBADFD', 'reset: wrong state');
  if (s === SNDRV_PCM_STATE_RUNNING) rt.hwPtr %= rt.config!.bufferSize;
  else rt.hwPtr = 0;
  rt.applPtr = rt.hwPtr;
}

/** Starts playback (the START ioctl: snd_pcm_start_lock_irq). EBADFD unless PREPARED; EPIPE when nothing was written. */
function pcmStartIoctl(pcm: PcmDevice): void {
  const rt = pcm.runtime;
  if (rt.state !== SNDRV_PCM_STATE_PREPARED) throw kerr('EBADFD', 'start: not prepared');
  if (rt.stopThreshold < rt.boundary && pcmPlaybackAvail(pcm) >= rt.config!.bufferSize) throw kerr('EPIPE', 'start: no data');
  pcmStart(pcm, SNDRV_PCM_STATE_RUNNING);
}

/** Stops at once (snd_pcm_drop): SETUP, what was written is forgotten. EBADFD in OPEN. */
function pcmDrop(pcm: PcmDevice): void {
  if (pcm.runtime.state === SNDRV_PCM_STATE_OPEN) throw kerr('EBADFD', 'drop: no hw_params');
  pcmStop(pcm, SNDRV_PCM_STATE_SETUP);
  pcm.runtime.sleep.wakeUp(POLLERR);
}

/**
 * Plays out everything written, then stops (snd_pcm_drain): a prepared
 * stream with data starts draining, a running one drains, an underrun
 * one just stops. EAGAIN for a non-blocking file once draining began;
 * EIO when the hardware does not finish in time.
 */
async function pcmDrain(pcm: PcmDevice, file: File, task: Task): Promise<void> {
  const rt = pcm.runtime;
  if (rt.state === SNDRV_PCM_STATE_OPEN) throw kerr('EBADFD', 'drain: no hw_params');
  if (rt.state === SNDRV_PCM_STATE_PAUSED) pcmPause(pcm, false);
  switch (rt.state) {
    case SNDRV_PCM_STATE_PREPARED:
      if (pcmPlaybackAvail(pcm) < rt.config!.bufferSize) pcmStart(pcm, SNDRV_PCM_STATE_DRAINING);
      else rt.state = SNDRV_PCM_STATE_SETUP;
      break;
    case SNDRV_PCM_STATE_RUNNING:
      rt.state = SNDRV_PCM_STATE_DRAINING;
      break;
    case SNDRV_PCM_STATE_XRUN:
      rt.state = SNDRV_PCM_STATE_SETUP;
      break;
  }
  if (file.flags & O_NONBLOCK) throw kerr('EAGAIN', 'drain: non-blocking');
  const ok = await waitEvent(rt.sleep, () => rt.state !== SNDRV_PCM_STATE_DRAINING, { task, clock: pcm.clock, timeoutNs: PCM_WAIT_TIMEOUT_NS + pcmBufferNs(pcm) });
  if (!ok) {
    if (pcmRunning(pcm)) pcm.ops.trigger(pcm, SNDRV_PCM_TRIGGER_STOP);
    rt.state = SNDRV_PCM_STATE_SETUP;
    throw kerr('EIO', 'drain: timed out');
  }
}

/** Pauses or resumes (snd_pcm_pause). EBADFD unless RUNNING (push) or PAUSED (release). */
function pcmPause(pcm: PcmDevice, push: boolean): void {
  const rt = pcm.runtime;
  if (push) {
    if (rt.state !== SNDRV_PCM_STATE_RUNNING) throw kerr('EBADFD', 'pause: not running');
    pcm.ops.trigger(pcm, SNDRV_PCM_TRIGGER_PAUSE_PUSH);
    rt.state = SNDRV_PCM_STATE_PAUSED;
  } else {
    if (rt.state !== SNDRV_PCM_STATE_PAUSED) throw kerr('EBADFD', 'pause release: not paused');
    rt.state = SNDRV_PCM_STATE_RUNNING;
    pcm.ops.trigger(pcm, SNDRV_PCM_TRIGGER_PAUSE_RELEASE);
  }
  rt.triggerNs = pcm.clock.now;
}

/**
 * Maps the ring into a process (snd_pcm_mmap_data with
 * snd_pcm_lib_default_mmap): the data area at offset
 * SNDRV_PCM_MMAP_OFFSET_DATA through dma_mmap_attrs, with the buffer's
 * memory type. The status and control pages are ENXIO, as on ARM, where
 * the CPU caches are not coherent. EBADFD before HW_PARAMS, EINVAL for
 * RW access or a range past the ring.
 */
function pcmMmap(pcm: PcmDevice, vma: VmArea): void {
  const rt = pcm.runtime;
  const off = vma.pgoff * PAGE_SIZE;
  if (off === SNDRV_PCM_MMAP_OFFSET_STATUS || off === SNDRV_PCM_MMAP_OFFSET_CONTROL || off === SNDRV_PCM_MMAP_OFFSET_STATUS_NEW || off === SNDRV_PCM_MMAP_OFFSET_CONTROL_NEW)
    throw kerr('ENXIO', 'status/control mmap not supported on a non-coherent CPU: use SYNC_PTR');
  if (!(vma.flags & (VM_READ | VM_WRITE))) throw kerr('EINVAL', 'pcm mmap: neither read nor write');
  const cfg = rt.config;
  const buf = rt.dmaBuffer;
  if (rt.state === SNDRV_PCM_STATE_OPEN || !cfg || !buf) throw kerr('EBADFD', 'pcm mmap: no hw_params');
  if (!(pcm.hw.info & SNDRV_PCM_INFO_MMAP)) throw kerr('ENXIO', 'pcm mmap: not mmapable');
  if (cfg.access === SNDRV_PCM_ACCESS_RW_INTERLEAVED || cfg.access === SNDRV_PCM_ACCESS_RW_NONINTERLEAVED) throw kerr('EINVAL', 'pcm mmap: RW access');
  const dmaBytes = alignUp(cfg.bufferSize * cfg.frameBytes, PAGE_SIZE);
  if (vma.length > dmaBytes || off > dmaBytes - vma.length) throw kerr('EINVAL', 'pcm mmap: past the ring');
  const { pfns, memType } = dmaMmapAttrs(pcm.device, buf, vma.pgoff, vma.length);
  vma.memType = memType;
  let i = 0;
  while (i < pfns.length) {
    let n = 1;
    while (i + n < pfns.length && pfns[i + n] === pfns[i]! + n) n++;
    vma.remapPfnRange(vma.start + i * PAGE_SIZE, pfns[i]!, n * PAGE_SIZE);
    i += n;
  }
  rt.mmapCount++;
  vma.vmOps = {
    open: () => void rt.mmapCount++,
    close: () => void rt.mmapCount--,
  };
}

/** Reports POLLOUT when avail_min frames are free, POLLERR when the stream is not usable (snd_pcm_poll). */
function pcmPoll(pcm: PcmDevice, file: File, pt: PollTable | null): number {
  const rt = pcm.runtime;
  pollWait(file, rt.sleep, pt);
  const ok = POLLOUT | POLLWRNORM;
  switch (rt.state) {
    case SNDRV_PCM_STATE_RUNNING:
    case SNDRV_PCM_STATE_PREPARED:
    case SNDRV_PCM_STATE_PAUSED:
      return pcmPlaybackAvail(pcm) >= rt.availMin ? ok : 0;
    case SNDRV_PCM_STATE_DRAINING:
      return 0;
    default:
      return ok | POLLERR;
  }
}
