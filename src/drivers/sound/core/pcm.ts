import type { Clock } from '../../../hw/index.ts';
import type { Device, DmaBuffer } from '../../../dma/index.ts';
import { WaitQueueHead, type DeviceNode, type File } from '../../../fs/index.ts';
import { SNDRV_PCM_STATE_OPEN } from '../../../uapi/index.ts';
import { PCM_HASH_INIT, type PcmPlayed } from '../../../hw/index.ts';
import type { PcmConfig, PcmHardware } from './pcm-hw-params.ts';

/** Major number of ALSA device nodes (CONFIG_SND_MAJOR). */
export const SND_MAJOR = 116;
/** Minor of a card's first playback PCM without dynamic minors (SNDRV_MINOR_PCM_PLAYBACK). */
export const SNDRV_MINOR_PCM_PLAYBACK = 16;
/** Minors each card owns (SNDRV_MINOR_DEVICES). */
export const SNDRV_MINOR_DEVICES = 32;
/** The group udev gives /dev/snd nodes on Debian ("audio"). */
export const AUDIO_GID = 29;

/** Trigger commands the core gives a driver's trigger op (SNDRV_PCM_TRIGGER_*, include/sound/pcm.h). */
export const SNDRV_PCM_TRIGGER_STOP = 0;
export const SNDRV_PCM_TRIGGER_START = 1;
export const SNDRV_PCM_TRIGGER_PAUSE_PUSH = 3;
export const SNDRV_PCM_TRIGGER_PAUSE_RELEASE = 4;

/**
 * What a PCM driver does for the core (struct snd_pcm_ops). The core
 * keeps the state machine, the pointers and the ring; the driver moves
 * the hardware. trigger and pointer run where Linux holds the stream
 * lock, so they must not sleep.
 */
export interface PcmOps {
  /** The substream is opened (open). */
  open?(pcm: PcmDevice): void;
  /** The substream is released (close). */
  close?(pcm: PcmDevice): void;
  /** The ring is allocated and the configuration chosen (hw_params). */
  hwParams(pcm: PcmDevice, cfg: PcmConfig): void;
  /** The ring is about to be freed (hw_free). */
  hwFree(pcm: PcmDevice): void;
  /** The pointers went back to 0 (prepare). */
  prepare(pcm: PcmDevice): void;
  /** Starts, stops, pauses or resumes the hardware (trigger): one of SNDRV_PCM_TRIGGER_*. */
  trigger(pcm: PcmDevice, cmd: number): void;
  /** The hardware's position in the ring, in frames (pointer). */
  pointer(pcm: PcmDevice): number;
  /** Writes `len` bytes of `src` at byte `pos` of the ring with the CPU (copy). */
  copy(pcm: PcmDevice, pos: number, src: Uint8Array, srcOff: number, len: number): void;
}

/** The substream's runtime (struct snd_pcm_runtime with its status and control records). */
export interface PcmRuntime {
  /** status->state. */
  state: number;
  /** The configuration HW_PARAMS chose, or null. */
  config: PcmConfig | null;
  /** The ring while hw_params are set (dma_buffer_p). */
  dmaBuffer: DmaBuffer | null;
  /** status->hw_ptr, frames. */
  hwPtr: number;
  /** control->appl_ptr, frames. */
  applPtr: number;
  /** Where both pointers wrap: a power-of-two multiple of the buffer size. */
  boundary: number;
  availMin: number;
  startThreshold: number;
  stopThreshold: number;
  /** The largest avail seen since the last STATUS. */
  availMax: number;
  /** Simulated time of the last state change (trigger_tstamp). */
  triggerNs: number;
  /** Live mappings of the ring (mmap_count). */
  mmapCount: number;
  /** The protocol version userspace announced (user_pversion). */
  userPversion: number;
  /** Woken on period elapsed and state changes (runtime->sleep). */
  readonly sleep: WaitQueueHead;
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

/** What pcmNew takes: where the node goes and what the driver supplies. */
export interface PcmNewOptions {
  clock: Clock;
  /** The device whose dma ops allocate the ring (the managed buffer's device). */
  device: Device;
  card: number;
  dev: number;
  name: string;
  /** The hardware's limits (snd_pcm_hardware). */
  hw: PcmHardware;
  /** DMA attributes the ring is allocated with (snd_pcm_set_managed_buffer). */
  bufferAttrs: number;
  ops: PcmOps;
}

/**
 * One ALSA PCM with a single playback substream (struct snd_pcm, its
 * snd_pcm_substream and runtime): /dev/snd/pcmC<card>D<dev>p. Plain data:
 * pcm_native works the ioctls, pcm_lib the pointers and transfers, the
 * driver's ops the hardware.
 */
export class PcmDevice {
  readonly card: number;
  readonly dev: number;
  readonly name: string;
  readonly path: string;
  readonly device: Device;
  readonly clock: Clock;
  readonly hw: PcmHardware;
  readonly bufferAttrs: number;
  readonly ops: PcmOps;
  /** The node, once registered. */
  node!: DeviceNode;
  /** The driver's own data (private_data). */
  privateData: unknown = null;
  readonly runtime: PcmRuntime = {
    state: SNDRV_PCM_STATE_OPEN,
    config: null,
    dmaBuffer: null,
    hwPtr: 0,
    applPtr: 0,
    boundary: 0,
    availMin: 1,
    startThreshold: 1,
    stopThreshold: 0,
    availMax: 0,
    triggerNs: 0,
    mmapCount: 0,
    userPversion: 0,
    sleep: new WaitQueueHead(),
  };
  /** The file that has the substream open, or null. */
  owner: File | null = null;
  /** Woken when the substream is released (pcm->open_wait). */
  readonly openWait = new WaitQueueHead();
  /** What the card's DAC has converted since registration. */
  played: PcmPlayed = { frames: 0, hash: PCM_HASH_INIT };
  /** Test hook: called with each period's bytes as the DAC plays them. */
  onPeriod?: (bytes: Uint8Array) => void;
  readonly stats: PcmStats = { periods: 0, xruns: 0, dmaReadBytes: 0, cpuCopyBytes: 0, bufferAllocs: 0, bufferFrees: 0, lateFetches: 0 };
  /** Releases that went asynchronous. */
  readonly releases: Promise<void>[] = [];

  constructor(opts: PcmNewOptions) {
    this.card = opts.card;
    this.dev = opts.dev;
    this.name = opts.name;
    this.device = opts.device;
    this.clock = opts.clock;
    this.hw = opts.hw;
    this.bufferAttrs = opts.bufferAttrs;
    this.ops = opts.ops;
    this.path = `/dev/snd/pcmC${opts.card}D${opts.dev}p`;
  }

  /** The stream state (runtime->status->state). */
  get state(): number {
    return this.runtime.state;
  }

  /** The ring buffer while hw_params are set, else null (runtime->dma_buffer_p). */
  get buffer(): DmaBuffer | null {
    return this.runtime.dmaBuffer;
  }

  /** The configuration HW_PARAMS chose, or null. */
  get config(): PcmConfig | null {
    return this.runtime.config;
  }

  /** hw_ptr and appl_ptr in frames (status->hw_ptr, control->appl_ptr). */
  get pointers(): { hw: number; appl: number } {
    return { hw: this.runtime.hwPtr, appl: this.runtime.applPtr };
  }

  /** Removes the node (snd_card_disconnect of this PCM); open files keep working. */
  unregister(): void {
    this.node.unregister();
  }

  /** Waits for releases that went asynchronous. */
  async settle(): Promise<void> {
    while (this.releases.length) await this.releases.shift();
  }
}
