import { Dac, type Clock, type PcmPlayed, type Timer } from '../../../hw/index.ts';
import { DMA_ATTR_NO_KERNEL_MAPPING, DMA_ATTR_WRITE_COMBINE, dmaAllocAttrs, dmaFreeAttrs, dmaMmapAttrs, type Device, type DmaBuffer } from '../../../dma/index.ts';
import {
  VM_READ,
  VM_WRITE,
  WaitQueueHead,
  pollWait,
  registerChrdev,
  userArg,
  waitEvent,
  type DeviceNode,
  type File,
  type FileOperations,
  type PollTable,
  type Task,
  type Vfs,
  type VmArea,
} from '../../../fs/index.ts';
import { KernelBug, PAGE_SIZE, alignUp, kerr } from '../../../lib/index.ts';
import {
  O_NONBLOCK,
  POLLERR,
  POLLOUT,
  POLLWRNORM,
  SNDRV_PCM_ACCESS_MMAP_INTERLEAVED,
  SNDRV_PCM_ACCESS_RW_INTERLEAVED,
  SNDRV_PCM_ACCESS_RW_NONINTERLEAVED,
  SNDRV_PCM_CLASS_GENERIC,
  SNDRV_PCM_FORMAT_S16_LE,
  SNDRV_PCM_FORMAT_S32_LE,
  SNDRV_PCM_INFO_BATCH,
  SNDRV_PCM_INFO_BLOCK_TRANSFER,
  SNDRV_PCM_INFO_INTERLEAVED,
  SNDRV_PCM_INFO_MMAP,
  SNDRV_PCM_INFO_MMAP_VALID,
  SNDRV_PCM_INFO_PAUSE,
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
import { hwChoose, hwConfig, hwRefine, type PcmConfig, type PcmHardware } from './pcm-hw-params.ts';
import { platformDriver } from '../../base/platform-driver.ts';
import { sndCardFreeIndex } from './sound-card.ts';

/** Major number of ALSA device nodes (CONFIG_SND_MAJOR). */
export const SND_MAJOR = 116;
/** Minor of a card's first playback PCM without dynamic minors (SNDRV_MINOR_PCM_PLAYBACK). */
export const SNDRV_MINOR_PCM_PLAYBACK = 16;
/** Minors each card owns (SNDRV_MINOR_DEVICES). */
export const SNDRV_MINOR_DEVICES = 32;
/** The group udev gives /dev/snd nodes on Debian ("audio"). */
export const AUDIO_GID = 29;
/** How long a blocked write or drain waits for the hardware before EIO (the 10 s of wait_for_avail). */
export const PCM_WAIT_TIMEOUT_NS = 10e9;
/** Flags the ring buffer is allocated with: userspace maps it, the kernel never does. */
export const PCM_BUFFER_ATTRS = DMA_ATTR_NO_KERNEL_MAPPING | DMA_ATTR_WRITE_COMBINE;
/** LONG_MAX of the ILP32 ABI: pointers wrap at a boundary below it. */
const LONG_MAX_32 = 0x7fffffff;

/**
 * The audio block's limits (its snd_pcm_hardware): interleaved S16_LE or
 * S32_LE, mono or stereo, 8-48 kHz, periods no larger than one DMA segment.
 */
export function audioHardware(device: Device): PcmHardware {
  return {
    info: SNDRV_PCM_INFO_MMAP | SNDRV_PCM_INFO_MMAP_VALID | SNDRV_PCM_INFO_INTERLEAVED | SNDRV_PCM_INFO_BLOCK_TRANSFER | SNDRV_PCM_INFO_BATCH | SNDRV_PCM_INFO_PAUSE,
    access: [SNDRV_PCM_ACCESS_MMAP_INTERLEAVED, SNDRV_PCM_ACCESS_RW_INTERLEAVED],
    formats: [SNDRV_PCM_FORMAT_S16_LE, SNDRV_PCM_FORMAT_S32_LE],
    rateMin: 8000,
    rateMax: 48000,
    channelsMin: 1,
    channelsMax: 2,
    bufferBytesMax: 256 * 1024,
    periodBytesMin: 256,
    periodBytesMax: Math.min(64 * 1024, device.maxSegmentSize),
    periodsMin: 2,
    periodsMax: 32,
  };
}

/** What registerPcmPlayback takes. */
export interface PcmPlaybackOptions {
  vfs: Vfs;
  clock: Clock;
  /** The audio block: its DMA port reads the ring, its dma ops allocate it. */
  device: Device;
  card: number;
  dev: number;
  name?: string;
  /** Overrides of the hardware limits, for tests. */
  hardware?: Partial<PcmHardware>;
}

/** Counters of one PCM device. */
export interface PcmStats {
  /** Periods the DAC played (period-elapsed interrupts). */
  periods: number;
  xruns: number;
  /** Bytes the audio DMA read from the ring. */
  dmaReadBytes: number;
  /** Bytes WRITEI copied into the ring with the CPU. */
  cpuCopyBytes: number;
  bufferAllocs: number;
  bufferFrees: number;
  /** Periods whose DMA fetch had not finished when the DAC needed them. */
  lateFetches: number;
}

function ts(ns: number): SndTimespec {
  return { tv_sec: Math.floor(ns / 1e9), tv_nsec: ns % 1e9 };
}

function intArg(arg: unknown): number {
  if (typeof arg === 'number') return arg;
  if (arg && typeof arg === 'object' && typeof (arg as { value?: unknown }).value === 'number') return (arg as { value: number }).value;
  throw kerr('EFAULT', 'bad int pointer');
}

/**
 * One ALSA playback PCM with a single substream (struct snd_pcm with its
 * snd_pcm_runtime): /dev/snd/pcmC<card>D<dev>p. The ring buffer is
 * allocated at HW_PARAMS with NO_KERNEL_MAPPING, mapped into the process
 * at SNDRV_PCM_MMAP_OFFSET_DATA, and read one period at a time by the
 * audio block's DMA while RUNNING. The status and control pages cannot be
 * mapped (ENXIO, as on ARM, where the CPU caches are not coherent), so
 * userspace exchanges pointers with SYNC_PTR.
 */
export class PcmDevice {
  readonly card: number;
  readonly dev: number;
  readonly name: string;
  readonly path: string;
  readonly device: Device;
  readonly hw: PcmHardware;
  readonly node: DeviceNode;
  /** The audio block's DAC, fed by its DMA one period ahead. */
  readonly dac: Dac;
  /** What the DAC has converted since registration. */
  get played(): PcmPlayed {
    return this.dac.played;
  }
  /** Test hook: called with each period's bytes as the DAC plays them. */
  onPeriod?: (bytes: Uint8Array) => void;
  readonly stats: PcmStats = { periods: 0, xruns: 0, dmaReadBytes: 0, cpuCopyBytes: 0, bufferAllocs: 0, bufferFrees: 0, lateFetches: 0 };

  /** The file that has the substream open, or null. */
  private owner: File | null = null;
  private readonly clock: Clock;
  /** Woken when the substream is released (pcm->open_wait). */
  private readonly openWait = new WaitQueueHead();
  /** Woken on period elapsed and state changes (runtime->sleep). */
  private readonly sleepWq = new WaitQueueHead();
  private stateV = SNDRV_PCM_STATE_OPEN;
  private cfg: PcmConfig | null = null;
  private buf: DmaBuffer | null = null;
  private hwPtr = 0;
  private applPtr = 0;
  private boundary = 0;
  private availMin = 1;
  private startThreshold = 1;
  private stopThreshold = 0;
  private availMax = 0;
  private triggerNs = 0;
  private mmapCount = 0;
  private userPversion = 0;
  // the DMA engine while RUNNING
  private timer: Timer | null = null;
  private periodStartNs = 0;
  private periodIndex = 0;
  private releases: Promise<void>[] = [];

  constructor(opts: PcmPlaybackOptions) {
    this.card = opts.card;
    this.dev = opts.dev;
    this.name = opts.name ?? `audio PCM ${opts.card}:${opts.dev}`;
    this.device = opts.device;
    this.clock = opts.clock;
    this.dac = new Dac(opts.device.master, opts.device.ctx.soc.clock);
    this.hw = { ...audioHardware(opts.device), ...opts.hardware };
    this.path = `/dev/snd/pcmC${opts.card}D${opts.dev}p`;
    this.node = registerChrdev(opts.vfs, {
      path: this.path,
      major: SND_MAJOR,
      minor: opts.card * SNDRV_MINOR_DEVICES + SNDRV_MINOR_PCM_PLAYBACK + opts.dev,
      mode: 0o660,
      gid: AUDIO_GID,
      fops: this.fops(),
      privateData: this,
    });
  }

  /** The stream state (runtime->status->state). */
  get state(): number {
    return this.stateV;
  }

  /** The ring buffer while hw_params are set, else null (runtime->dma_buffer_p). */
  get buffer(): DmaBuffer | null {
    return this.buf;
  }

  /** The configuration HW_PARAMS chose, or null. */
  get config(): PcmConfig | null {
    return this.cfg;
  }

  /** hw_ptr and appl_ptr in frames (status->hw_ptr, control->appl_ptr). */
  get pointers(): { hw: number; appl: number } {
    return { hw: this.hwPtr, appl: this.applPtr };
  }

  /** Removes the node (snd_card_disconnect of this PCM); open files keep working. */
  unregister(): void {
    this.node.unregister();
  }

  /** Waits for releases that went asynchronous. */
  async settle(): Promise<void> {
    while (this.releases.length) await this.releases.shift();
  }

  private fops(): FileOperations {
    return {
      name: 'snd-pcm',
      open: (_inode, file, task) => this.open(file, task),
      release: (_inode, file) => this.release(file),
      unlockedIoctl: (file, cmd, arg, task) => this.ioctl(file, cmd, arg, task),
      mmap: (_file, vma) => this.mmap(vma),
      poll: (file, pt) => this.poll(file, pt),
    };
  }

  /**
   * Opens the substream (snd_pcm_playback_open): one opener at a time; a
   * second open waits for the first to close, or is EBUSY with O_NONBLOCK.
   */
  private async open(file: File, task: Task): Promise<void> {
    if (this.owner) {
      if (file.flags & O_NONBLOCK) throw kerr('EBUSY', `${this.path}: substream busy`);
      await waitEvent(this.openWait, () => this.owner === null, { task });
    }
    this.owner = file;
    file.privateData = this;
    this.stateV = SNDRV_PCM_STATE_OPEN;
    this.userPversion = 0;
  }

  /** Stops the stream and frees the ring (snd_pcm_release: drop, then hw_free). */
  private release(file: File): void {
    if (this.owner !== file) return;
    this.stopDma();
    this.freeBuffer();
    this.stateV = SNDRV_PCM_STATE_OPEN;
    this.owner = null;
    this.openWait.wakeUp();
  }

  private checkOwner(file: File): void {
    if (this.owner !== file) throw new KernelBug(`${this.path}: ioctl from a file that does not own the substream`);
  }

  /** Dispatches a PCM ioctl (snd_pcm_common_ioctl + snd_pcm_playback_ioctl1). ENOTTY for unknown requests. */
  async ioctl(file: File, cmd: number, arg: unknown, task: Task): Promise<number> {
    this.checkOwner(file);
    switch (cmd >>> 0) {
      case SNDRV_PCM_IOCTL_PVERSION:
        userArg<{ value: number }>(arg).value = SNDRV_PCM_VERSION;
        return 0;
      case SNDRV_PCM_IOCTL_INFO:
        this.info(userArg<SndPcmInfo>(arg));
        return 0;
      case SNDRV_PCM_IOCTL_USER_PVERSION:
        this.userPversion = intArg(arg);
        return 0;
      case SNDRV_PCM_IOCTL_TSTAMP:
      case SNDRV_PCM_IOCTL_TTSTAMP:
        if (intArg(arg) > SNDRV_PCM_TSTAMP_TYPE_LAST) throw kerr('EINVAL', 'unknown timestamp type');
        return 0;
      case SNDRV_PCM_IOCTL_HW_REFINE:
        hwRefine(userArg<SndPcmHwParams>(arg), this.hw);
        return 0;
      case SNDRV_PCM_IOCTL_HW_PARAMS:
        await this.hwParams(userArg<SndPcmHwParams>(arg));
        return 0;
      case SNDRV_PCM_IOCTL_HW_FREE:
        this.hwFree();
        return 0;
      case SNDRV_PCM_IOCTL_SW_PARAMS:
        this.swParams(userArg<SndPcmSwParams>(arg));
        return 0;
      case SNDRV_PCM_IOCTL_STATUS:
        this.status(userArg<SndPcmStatus>(arg));
        return 0;
      case SNDRV_PCM_IOCTL_DELAY:
        this.hwsync();
        userArg<{ value: number }>(arg).value = this.cfg!.bufferSize - this.avail();
        return 0;
      case SNDRV_PCM_IOCTL_HWSYNC:
        this.hwsync();
        return 0;
      case SNDRV_PCM_IOCTL_SYNC_PTR:
        this.syncPtr(userArg<SndPcmSyncPtr>(arg));
        return 0;
      case SNDRV_PCM_IOCTL_PREPARE:
        this.prepare();
        return 0;
      case SNDRV_PCM_IOCTL_RESET:
        this.reset();
        return 0;
      case SNDRV_PCM_IOCTL_START:
        this.start();
        return 0;
      case SNDRV_PCM_IOCTL_DROP:
        this.drop();
        return 0;
      case SNDRV_PCM_IOCTL_DRAIN:
        await this.drain(file, task);
        return 0;
      case SNDRV_PCM_IOCTL_PAUSE:
        this.pause(intArg(arg) !== 0);
        return 0;
      case SNDRV_PCM_IOCTL_WRITEI_FRAMES: {
        const x = userArg<SndXferi>(arg);
        x.result = await this.writei(file, x, task);
        return 0;
      }
      default:
        throw kerr('ENOTTY', `${this.path}: unknown ioctl 0x${(cmd >>> 0).toString(16)}`);
    }
  }

  /** Describes the PCM (snd_pcm_info). */
  private info(i: SndPcmInfo): void {
    i.device = this.dev;
    i.subdevice = 0;
    i.stream = SNDRV_PCM_STREAM_PLAYBACK;
    i.card = this.card;
    i.id = 'audio';
    i.name = this.name;
    i.subname = 'subdevice #0';
    i.dev_class = SNDRV_PCM_CLASS_GENERIC;
    i.dev_subclass = 0;
    i.subdevices_count = 1;
    i.subdevices_avail = 0;
  }

  /**
   * Chooses a configuration and allocates the ring (snd_pcm_hw_params):
   * refine, choose, write the result back into `p`, then a fresh buffer of
   * buffer_size frames from the audio block's memory, never mapped into
   * the kernel. EBADFD outside OPEN/SETUP/PREPARED or while mapped.
   */
  private async hwParams(p: SndPcmHwParams): Promise<void> {
    const s = this.stateV;
    if (s !== SNDRV_PCM_STATE_OPEN && s !== SNDRV_PCM_STATE_SETUP && s !== SNDRV_PCM_STATE_PREPARED) throw kerr('EBADFD', 'hw_params: stream is running');
    if (this.mmapCount > 0) throw kerr('EBADFD', 'hw_params: ring still mapped');
    hwRefine(p, this.hw);
    hwChoose(p, this.hw);
    const cfg = hwConfig(p);
    this.freeBuffer();
    this.cfg = null;
    this.stateV = SNDRV_PCM_STATE_OPEN;
    const bytes = cfg.bufferSize * cfg.frameBytes;
    this.buf = await dmaAllocAttrs(this.device, bytes, PCM_BUFFER_ATTRS);
    this.stats.bufferAllocs++;
    this.cfg = cfg;
    this.dac.setPeriodBytes(cfg.periodSize * cfg.frameBytes);
    let b = cfg.bufferSize;
    while (b * 2 <= LONG_MAX_32 - cfg.bufferSize) b *= 2;
    this.boundary = b;
    this.availMin = cfg.periodSize;
    this.startThreshold = 1;
    this.stopThreshold = cfg.bufferSize;
    this.hwPtr = 0;
    this.applPtr = 0;
    this.stateV = SNDRV_PCM_STATE_SETUP;
  }

  /** Frees the ring (snd_pcm_hw_free). EBADFD unless SETUP or PREPARED and unmapped. */
  private hwFree(): void {
    const s = this.stateV;
    if ((s !== SNDRV_PCM_STATE_SETUP && s !== SNDRV_PCM_STATE_PREPARED) || this.mmapCount > 0) throw kerr('EBADFD', 'hw_free: wrong state or still mapped');
    this.freeBuffer();
    this.stateV = SNDRV_PCM_STATE_OPEN;
  }

  private freeBuffer(): void {
    if (!this.buf) return;
    if (this.mmapCount > 0) throw new KernelBug(`${this.path}: ring freed while mapped ${this.mmapCount} times`);
    dmaFreeAttrs(this.device, this.buf);
    this.buf = null;
    this.cfg = null;
    this.stats.bufferFrees++;
  }

  /** Sets the software parameters (snd_pcm_sw_params); writes back the boundary. EBADFD before HW_PARAMS. */
  private swParams(p: SndPcmSwParams): void {
    if (this.stateV === SNDRV_PCM_STATE_OPEN || !this.cfg) throw kerr('EBADFD', 'sw_params: no hw_params yet');
    if (p.tstamp_mode < 0 || p.tstamp_mode > SNDRV_PCM_TSTAMP_LAST) throw kerr('EINVAL', 'sw_params: tstamp_mode');
    if (p.proto >= SNDRV_PROTOCOL_VERSION(2, 0, 12) && p.tstamp_type > SNDRV_PCM_TSTAMP_TYPE_LAST) throw kerr('EINVAL', 'sw_params: tstamp_type');
    if (p.avail_min === 0) throw kerr('EINVAL', 'sw_params: avail_min 0');
    // The kernel cannot write silence into a ring it has no mapping of.
    if (p.silence_size !== 0 || p.silence_threshold !== 0) throw kerr('EINVAL', 'sw_params: silence filling needs a kernel mapping of the ring');
    this.availMin = p.avail_min;
    this.startThreshold = p.start_threshold;
    this.stopThreshold = p.stop_threshold;
    p.boundary = this.boundary;
    if (this.running() && this.avail() >= this.availMin) this.sleepWq.wakeUp(POLLOUT);
  }

  /** Frames userspace may write now (snd_pcm_playback_avail). */
  private avail(): number {
    if (!this.cfg) return 0;
    let a = this.hwPtr + this.cfg.bufferSize - this.applPtr;
    if (a < 0) a += this.boundary;
    else if (a >= this.boundary) a -= this.boundary;
    return a;
  }

  private running(): boolean {
    return this.stateV === SNDRV_PCM_STATE_RUNNING || this.stateV === SNDRV_PCM_STATE_DRAINING;
  }

  /** Brings hw_ptr up to date (snd_pcm_hwsync): EPIPE after an underrun, EBADFD when not set up. */
  private hwsync(): void {
    switch (this.stateV) {
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

  /** Reports the stream's state and pointers (snd_pcm_status64). */
  private status(st: SndPcmStatus): void {
    st.state = this.stateV;
    st.suspended_state = 0;
    st.trigger_tstamp = ts(this.triggerNs);
    st.tstamp = ts(this.clock.now);
    st.audio_tstamp = ts(this.cfg ? Math.round((this.played.frames * 1e9) / this.cfg.rate) : 0);
    st.driver_tstamp = ts(this.clock.now);
    st.audio_tstamp_data = 0;
    st.audio_tstamp_accuracy = 0;
    st.overrange = 0;
    if (this.stateV === SNDRV_PCM_STATE_OPEN || !this.cfg) {
      Object.assign(st, { appl_ptr: 0, hw_ptr: 0, delay: 0, avail: 0, avail_max: 0 });
      return;
    }
    const avail = this.avail();
    st.appl_ptr = this.applPtr;
    st.hw_ptr = this.hwPtr;
    st.avail = avail;
    const s = this.stateV;
    st.delay = s === SNDRV_PCM_STATE_RUNNING || s === SNDRV_PCM_STATE_DRAINING || s === SNDRV_PCM_STATE_PAUSED ? this.cfg.bufferSize - avail : 0;
    st.avail_max = Math.max(this.availMax, avail);
    this.availMax = 0;
  }

  /**
   * Exchanges pointers with userspace (snd_pcm_sync_ptr): takes appl_ptr
   * and avail_min unless the flags ask to read them, returns state and
   * hw_ptr. With SNDRV_PCM_SYNC_PTR_HWSYNC, hwsync's errors (EPIPE after
   * an underrun) come first. EINVAL for an appl_ptr past the boundary.
   */
  private syncPtr(sp: SndPcmSyncPtr): void {
    if (!sp.s?.status || !sp.c?.control) throw kerr('EFAULT', 'sync_ptr: s.status and c.control required');
    const flags = sp.flags >>> 0;
    if (flags & SNDRV_PCM_SYNC_PTR_HWSYNC) this.hwsync();
    const c = sp.c.control;
    if (!(flags & SNDRV_PCM_SYNC_PTR_APPL)) this.applyApplPtr(c.appl_ptr);
    else c.appl_ptr = this.applPtr;
    if (!(flags & SNDRV_PCM_SYNC_PTR_AVAIL_MIN)) this.availMin = c.avail_min;
    else c.avail_min = this.availMin;
    const st = sp.s.status;
    st.state = this.stateV;
    st.hw_ptr = this.hwPtr;
    st.tstamp = ts(this.clock.now);
    st.suspended_state = 0;
    st.audio_tstamp = ts(this.cfg ? Math.round((this.played.frames * 1e9) / this.cfg.rate) : 0);
  }

  /** Moves appl_ptr (pcm_lib_apply_appl_ptr). EINVAL at or past the boundary. */
  private applyApplPtr(appl: number): void {
    if (appl === this.applPtr) return;
    if (!Number.isInteger(appl) || appl < 0 || appl >= this.boundary) throw kerr('EINVAL', `appl_ptr ${appl} outside [0, ${this.boundary})`);
    this.applPtr = appl;
  }

  /** Gets the stream ready to start (snd_pcm_prepare): pointers to 0. EBADFD in OPEN, EBUSY while running. */
  private prepare(): void {
    if (this.stateV === SNDRV_PCM_STATE_PAUSED) {
      this.stopDma();
      this.stateV = SNDRV_PCM_STATE_SETUP;
    }
    if (this.stateV === SNDRV_PCM_STATE_OPEN || !this.cfg) throw kerr('EBADFD', 'prepare: no hw_params');
    if (this.running()) throw kerr('EBUSY', 'prepare: stream running');
    this.hwPtr = 0;
    this.applPtr = 0;
    this.availMax = 0;
    this.stateV = SNDRV_PCM_STATE_PREPARED;
  }

  /** Throws away what was written (snd_pcm_reset): appl_ptr back to hw_ptr. EBADFD unless RUNNING, PREPARED or PAUSED. */
  private reset(): void {
    const s = this.stateV;
    if (s !== SNDRV_PCM_STATE_RUNNING && s !== SNDRV_PCM_STATE_PREPARED && s !== SNDRV_PCM_STATE_PAUSED && s !== SNDRV_PCM_STATE_SUSPENDED) throw kerr('EBADFD', 'reset: wrong state');
    if (s === SNDRV_PCM_STATE_RUNNING) this.hwPtr %= this.cfg!.bufferSize;
    else this.hwPtr = 0;
    this.applPtr = this.hwPtr;
  }

  /** Starts playback (snd_pcm_start). EBADFD unless PREPARED; EPIPE when nothing was written. */
  private start(): void {
    if (this.stateV !== SNDRV_PCM_STATE_PREPARED) throw kerr('EBADFD', 'start: not prepared');
    if (this.stopThreshold < this.boundary && this.avail() >= this.cfg!.bufferSize) throw kerr('EPIPE', 'start: no data');
    this.doStart(SNDRV_PCM_STATE_RUNNING);
  }

  private doStart(state: number): void {
    this.stateV = state;
    this.triggerNs = this.clock.now;
    this.startDma();
  }

  /** Stops at once (snd_pcm_drop): SETUP, what was written is forgotten. EBADFD in OPEN. */
  private drop(): void {
    if (this.stateV === SNDRV_PCM_STATE_OPEN) throw kerr('EBADFD', 'drop: no hw_params');
    this.stopDma();
    this.stateV = SNDRV_PCM_STATE_SETUP;
    this.triggerNs = this.clock.now;
    this.sleepWq.wakeUp(POLLERR);
  }

  /**
   * Plays out everything written, then stops (snd_pcm_drain): a prepared
   * stream with data starts draining, a running one drains, an underrun
   * one just stops. EAGAIN for a non-blocking file once draining began.
   */
  private async drain(file: File, task: Task): Promise<void> {
    if (this.stateV === SNDRV_PCM_STATE_OPEN) throw kerr('EBADFD', 'drain: no hw_params');
    if (this.stateV === SNDRV_PCM_STATE_PAUSED) this.pause(false);
    switch (this.stateV) {
      case SNDRV_PCM_STATE_PREPARED:
        if (this.avail() < this.cfg!.bufferSize) this.doStart(SNDRV_PCM_STATE_DRAINING);
        else this.stateV = SNDRV_PCM_STATE_SETUP;
        break;
      case SNDRV_PCM_STATE_RUNNING:
        this.stateV = SNDRV_PCM_STATE_DRAINING;
        break;
      case SNDRV_PCM_STATE_XRUN:
        this.stateV = SNDRV_PCM_STATE_SETUP;
        break;
    }
    if (file.flags & O_NONBLOCK) throw kerr('EAGAIN', 'drain: non-blocking');
    const ok = await waitEvent(this.sleepWq, () => this.stateV !== SNDRV_PCM_STATE_DRAINING, { task, clock: this.clock, timeoutNs: PCM_WAIT_TIMEOUT_NS + this.bufferNs() });
    if (!ok) {
      this.stopDma();
      this.stateV = SNDRV_PCM_STATE_SETUP;
      throw kerr('EIO', 'drain: timed out');
    }
  }

  /** Pauses or resumes (snd_pcm_pause). EBADFD unless RUNNING (push) or PAUSED (release). */
  private pause(push: boolean): void {
    if (push) {
      if (this.stateV !== SNDRV_PCM_STATE_RUNNING) throw kerr('EBADFD', 'pause: not running');
      this.stopDma();
      this.stateV = SNDRV_PCM_STATE_PAUSED;
    } else {
      if (this.stateV !== SNDRV_PCM_STATE_PAUSED) throw kerr('EBADFD', 'pause release: not paused');
      this.stateV = SNDRV_PCM_STATE_RUNNING;
      this.startDma();
    }
    this.triggerNs = this.clock.now;
  }

  /**
   * Copies frames into the ring (snd_pcm_lib_write): as many as fit, then
   * waits for room unless O_NONBLOCK (EAGAIN when nothing fit); starts the
   * stream once start_threshold frames are queued. Returns the frames
   * written; EPIPE after an underrun, EBADFD before PREPARE, EINVAL for a
   * multichannel stream not set up for RW access. The CPU writes through a
   * short-lived write-combined mapping of each page (the driver's copy
   * op), never through a kernel mapping of the whole ring.
   */
  private async writei(file: File, x: SndXferi, task: Task): Promise<number> {
    this.checkWritable();
    const cfg = this.cfg!;
    if (cfg.access !== SNDRV_PCM_ACCESS_RW_INTERLEAVED && cfg.channels > 1) throw kerr('EINVAL', 'writei: stream is not set up for RW_INTERLEAVED');
    const frames = x.frames;
    if (!Number.isInteger(frames) || frames < 0) throw kerr('EINVAL', 'writei: bad frame count');
    if (frames === 0) return 0;
    const src = this.userFrames(x.buf, frames * cfg.frameBytes, task);
    let done = 0;
    while (done < frames) {
      let avail = this.avail();
      if (avail === 0) {
        if (file.flags & O_NONBLOCK) {
          if (done) break;
          throw kerr('EAGAIN', 'writei: ring full');
        }
        const want = Math.min(frames - done, this.availMin || 1);
        try {
          const ok = await waitEvent(this.sleepWq, () => !this.writableState() || this.avail() >= want, { task, clock: this.clock, timeoutNs: PCM_WAIT_TIMEOUT_NS });
          if (!ok) throw kerr('EIO', 'writei: playback write error (DMA or IRQ trouble?)');
          this.checkWritable();
        } catch (e) {
          if (done) break;
          throw e;
        }
        avail = this.avail();
      }
      const pos = this.applPtr % cfg.bufferSize;
      const n = Math.min(frames - done, avail, cfg.bufferSize - pos);
      const cpu = this.device.ctx.soc.cpu;
      const before = cpu.busyNs;
      this.copyToRing(pos * cfg.frameBytes, src, done * cfg.frameBytes, n * cfg.frameBytes);
      // the copy takes the CPU's memory time, as the process's own stores do
      if (cpu.busyNs > before) await this.clock.sleep(cpu.busyNs - before);
      this.applPtr = (this.applPtr + n) % this.boundary;
      done += n;
      if (this.stateV === SNDRV_PCM_STATE_PREPARED && cfg.bufferSize - this.avail() >= this.startThreshold) this.doStart(SNDRV_PCM_STATE_RUNNING);
    }
    return done;
  }

  private writableState(): boolean {
    const s = this.stateV;
    return s === SNDRV_PCM_STATE_PREPARED || s === SNDRV_PCM_STATE_RUNNING || s === SNDRV_PCM_STATE_PAUSED;
  }

  /** The state check of pcm_sanity_check / pcm_accessible_state for a transfer. */
  private checkWritable(): void {
    switch (this.stateV) {
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

  /** The frames a transfer names: the bytes themselves, or read from the caller's memory at an address (copy_from_user). */
  private userFrames(buf: Uint8Array | number, len: number, task: Task): Uint8Array {
    if (buf instanceof Uint8Array) {
      if (buf.length < len) throw kerr('EFAULT', `writei: ${buf.length} bytes given for ${len}`);
      return buf;
    }
    if (typeof buf !== 'number' || !task.pinUserPages || !task.unpinUserPages) throw kerr('EFAULT', 'writei: bad buffer');
    const pfns = task.pinUserPages(buf, len, false);
    try {
      const out = new Uint8Array(len);
      const cpu = this.device.ctx.soc.cpu;
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

  /** Writes `len` bytes of `src` at ring offset `off`, page by page, with the ring's memory type. */
  private copyToRing(off: number, src: Uint8Array, srcOff: number, len: number): void {
    const buf = this.buf!;
    const cpu = this.device.ctx.soc.cpu;
    let done = 0;
    while (done < len) {
      const at = off + done;
      const page = Math.floor(at / PAGE_SIZE);
      const inPage = at % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - inPage, len - done);
      cpu.store(buf.pfns[page]! * PAGE_SIZE + inPage, src, srcOff + done, n, buf.memType);
      done += n;
    }
    this.stats.cpuCopyBytes += len;
  }

  /**
   * Maps the ring into a process (snd_pcm_mmap): the data area at offset
   * SNDRV_PCM_MMAP_OFFSET_DATA through dma_mmap_attrs, write-combined as
   * the buffer is. The status and control pages are ENXIO, as on ARM.
   * EBADFD before HW_PARAMS, EINVAL for RW access or a range past the ring.
   */
  private mmap(vma: VmArea): void {
    const off = vma.pgoff * PAGE_SIZE;
    if (off === SNDRV_PCM_MMAP_OFFSET_STATUS || off === SNDRV_PCM_MMAP_OFFSET_CONTROL || off === SNDRV_PCM_MMAP_OFFSET_STATUS_NEW || off === SNDRV_PCM_MMAP_OFFSET_CONTROL_NEW)
      throw kerr('ENXIO', 'status/control mmap not supported on a non-coherent CPU: use SYNC_PTR');
    if (!(vma.flags & (VM_READ | VM_WRITE))) throw kerr('EINVAL', 'pcm mmap: neither read nor write');
    if (this.stateV === SNDRV_PCM_STATE_OPEN || !this.cfg || !this.buf) throw kerr('EBADFD', 'pcm mmap: no hw_params');
    if (!(this.hw.info & SNDRV_PCM_INFO_MMAP)) throw kerr('ENXIO', 'pcm mmap: not mmapable');
    if (this.cfg.access === SNDRV_PCM_ACCESS_RW_INTERLEAVED || this.cfg.access === SNDRV_PCM_ACCESS_RW_NONINTERLEAVED) throw kerr('EINVAL', 'pcm mmap: RW access');
    const dmaBytes = alignUp(this.cfg.bufferSize * this.cfg.frameBytes, PAGE_SIZE);
    if (vma.length > dmaBytes || off > dmaBytes - vma.length) throw kerr('EINVAL', 'pcm mmap: past the ring');
    const { pfns, memType } = dmaMmapAttrs(this.device, this.buf, vma.pgoff, vma.length);
    vma.memType = memType;
    let i = 0;
    while (i < pfns.length) {
      let n = 1;
      while (i + n < pfns.length && pfns[i + n] === pfns[i]! + n) n++;
      vma.remapPfnRange(vma.start + i * PAGE_SIZE, pfns[i]!, n * PAGE_SIZE);
      i += n;
    }
    this.mmapCount++;
    vma.vmOps = {
      open: () => void this.mmapCount++,
      close: () => void this.mmapCount--,
    };
  }

  /** Reports POLLOUT when avail_min frames are free, POLLERR when the stream is not usable (snd_pcm_poll). */
  private poll(file: File, pt: PollTable | null): number {
    pollWait(file, this.sleepWq, pt);
    const ok = POLLOUT | POLLWRNORM;
    switch (this.stateV) {
      case SNDRV_PCM_STATE_RUNNING:
      case SNDRV_PCM_STATE_PREPARED:
      case SNDRV_PCM_STATE_PAUSED:
        return this.avail() >= this.availMin ? ok : 0;
      case SNDRV_PCM_STATE_DRAINING:
        return 0;
      default:
        return ok | POLLERR;
    }
  }

  private bufferNs(): number {
    return this.cfg ? (this.cfg.bufferSize * 1e9) / this.cfg.rate : 0;
  }

  /** Starts the period engine: fetch the period at hw_ptr, interrupt at its end (the trigger START). */
  private startDma(): void {
    this.dac.start();
    this.periodStartNs = this.clock.now;
    this.periodIndex = 0;
    this.fetchPeriod();
    this.armTimer();
  }

  /** Stops the period engine (trigger STOP); a fetch in flight is discarded. */
  private stopDma(): void {
    this.dac.stop();
    if (this.timer) {
      this.timer.cancel();
      this.timer = null;
    }
  }

  private armTimer(): void {
    const cfg = this.cfg!;
    this.periodIndex++;
    const at = this.periodStartNs + Math.round((this.periodIndex * cfg.periodSize * 1e9) / cfg.rate);
    this.timer = this.clock.at(at, () => this.periodElapsed());
  }

  /** The audio DMA reads the period at hw_ptr into the DAC's FIFO, taking its time on the port. */
  private fetchPeriod(): void {
    const cfg = this.cfg!;
    const buf = this.buf!;
    const bytes = this.dac.periodBytes;
    const off = (this.hwPtr % cfg.bufferSize) * cfg.frameBytes;
    const ringBytes = cfg.bufferSize * cfg.frameBytes;
    const first = Math.min(bytes, ringBytes - off);
    // a period that wraps around the ring is two descriptors
    const segs = [{ addr: buf.dmaAddr + off, len: first }];
    if (first < bytes) segs.push({ addr: buf.dmaAddr, len: bytes - first });
    this.dac.fetch(segs, () => {
      this.stats.dmaReadBytes += bytes;
    });
  }

  /**
   * The period-elapsed interrupt (snd_pcm_period_elapsed): the DAC has
   * played the fetched period; hw_ptr moves on; an empty ring is an
   * underrun (XRUN) or, while draining, the end (SETUP); otherwise the
   * next period is fetched. Wakes writers and pollers.
   */
  private periodElapsed(): void {
    this.timer = null;
    const cfg = this.cfg!;
    if (!this.dac.ready) this.stats.lateFetches++;
    const played = this.dac.play(cfg.periodSize);
    this.stats.periods++;
    this.onPeriod?.(played);
    this.hwPtr = (this.hwPtr + cfg.periodSize) % this.boundary;
    const avail = this.avail();
    if (avail > this.availMax) this.availMax = avail;
    if (this.stateV === SNDRV_PCM_STATE_DRAINING && avail >= cfg.bufferSize) {
      this.stopDma();
      this.stateV = SNDRV_PCM_STATE_SETUP;
      this.triggerNs = this.clock.now;
    } else if (avail >= this.stopThreshold) {
      this.stopDma();
      this.stateV = SNDRV_PCM_STATE_XRUN;
      this.triggerNs = this.clock.now;
      this.stats.xruns++;
    } else {
      this.fetchPeriod();
      this.armTimer();
    }
    this.sleepWq.wakeUp(POLLOUT);
  }
}

/**
 * Registers a playback PCM for the audio block (snd_pcm_new with one
 * playback substream + snd_card_register): creates /dev/snd/pcmC<card>D<dev>p.
 * EEXIST when the node exists.
 */
export function registerPcmPlayback(opts: PcmPlaybackOptions): PcmDevice {
  return new PcmDevice(opts);
}

/** The driver table's row for audio blocks: a sound card each with one playback PCM. */
export const pcmPlaybackPlatformDriver = platformDriver({
  kind: 'audio',
  name: 'unimem-pcm',
  description: 'audio block: an ALSA sound card with one playback PCM on a DMA ring',
  probe: (ctx) => {
    const pcm = registerPcmPlayback({ vfs: ctx.vfs, clock: ctx.clock, device: ctx.device, card: sndCardFreeIndex(ctx.vfs), dev: 0 });
    return { nodes: [{ path: pcm.path, role: 'pcm-playback' }], data: pcm };
  },
  settle: (pcm) => pcm.settle(),
});
