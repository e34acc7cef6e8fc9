import { Dac, type Clock, type Timer } from '../../../hw/index.ts';
import { DMA_ATTR_NO_KERNEL_MAPPING, DMA_ATTR_WRITE_COMBINE, type Device } from '../../../dma/index.ts';
import type { Vfs } from '../../../fs/index.ts';
import { PAGE_SIZE } from '../../../lib/index.ts';
import {
  SNDRV_PCM_ACCESS_MMAP_INTERLEAVED,
  SNDRV_PCM_ACCESS_RW_INTERLEAVED,
  SNDRV_PCM_FORMAT_S16_LE,
  SNDRV_PCM_FORMAT_S32_LE,
  SNDRV_PCM_INFO_BATCH,
  SNDRV_PCM_INFO_BLOCK_TRANSFER,
  SNDRV_PCM_INFO_INTERLEAVED,
  SNDRV_PCM_INFO_MMAP,
  SNDRV_PCM_INFO_MMAP_VALID,
  SNDRV_PCM_INFO_PAUSE,
} from '../../../uapi/index.ts';
import type { PcmConfig, PcmHardware } from '../core/pcm-hw-params.ts';
import { pcmPeriodElapsed } from '../core/pcm-lib.ts';
import { pcmNew } from '../core/pcm-native.ts';
import { SNDRV_PCM_TRIGGER_PAUSE_RELEASE, SNDRV_PCM_TRIGGER_START, type PcmDevice, type PcmOps } from '../core/pcm.ts';
import { platformDriver } from '../../base/platform-driver.ts';
import { sndCardFreeIndex } from '../core/sound-card.ts';

/** Flags the ring buffer is allocated with: userspace maps it, the kernel never does. */
export const PCM_BUFFER_ATTRS = DMA_ATTR_NO_KERNEL_MAPPING | DMA_ATTR_WRITE_COMBINE;

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

/**
 * The audio block's period engine: while started, its DMA reads the
 * period at the hardware position into the DAC's FIFO, and the DAC
 * raises an interrupt when it has played it.
 */
interface AudioChip {
  clock: Clock;
  /** The DAC with its FIFO and the DMA that fills it. */
  dac: Dac;
  timer: Timer | null;
  periodStartNs: number;
  periodIndex: number;
  /** The hardware position in the ring, frames. */
  pos: number;
}

function chipOf(pcm: PcmDevice): AudioChip {
  return pcm.privateData as AudioChip;
}

/** Starts the period engine at the core's hw_ptr: fetch that period, interrupt at its end. */
function startDma(pcm: PcmDevice): void {
  const chip = chipOf(pcm);
  const rt = pcm.runtime;
  chip.dac.start();
  chip.pos = rt.hwPtr % rt.config!.bufferSize;
  chip.periodStartNs = chip.clock.now;
  chip.periodIndex = 0;
  fetchPeriod(pcm);
  armTimer(pcm);
}

/** Stops the period engine; a fetch in flight is discarded. */
function stopDma(pcm: PcmDevice): void {
  const chip = chipOf(pcm);
  chip.dac.stop();
  if (chip.timer) {
    chip.timer.cancel();
    chip.timer = null;
  }
}

function armTimer(pcm: PcmDevice): void {
  const chip = chipOf(pcm);
  const cfg = pcm.runtime.config!;
  chip.periodIndex++;
  const at = chip.periodStartNs + Math.round((chip.periodIndex * cfg.periodSize * 1e9) / cfg.rate);
  chip.timer = chip.clock.at(at, () => periodInterrupt(pcm));
}

/** The audio DMA reads the period at the hardware position into the DAC's FIFO, taking its time on the port. */
function fetchPeriod(pcm: PcmDevice): void {
  const chip = chipOf(pcm);
  const cfg = pcm.runtime.config!;
  const buf = pcm.runtime.dmaBuffer!;
  const bytes = chip.dac.periodBytes;
  const off = chip.pos * cfg.frameBytes;
  const ringBytes = cfg.bufferSize * cfg.frameBytes;
  const first = Math.min(bytes, ringBytes - off);
  // a period that wraps around the ring is two descriptors
  const segs = [{ addr: buf.dmaAddr + off, len: first }];
  if (first < bytes) segs.push({ addr: buf.dmaAddr, len: bytes - first });
  chip.dac.fetch(segs, () => {
    pcm.stats.dmaReadBytes += bytes;
  });
}

/**
 * The DAC has played the fetched period: its bytes go to the output, the
 * hardware position moves on and the engine goes on with the next
 * period, as a cyclic DMA does; then the core hears of it and may stop
 * the engine (underrun, end of drain).
 */
function periodInterrupt(pcm: PcmDevice): void {
  const chip = chipOf(pcm);
  const cfg = pcm.runtime.config!;
  chip.timer = null;
  if (!chip.dac.ready) pcm.stats.lateFetches++;
  const played = chip.dac.play(cfg.periodSize);
  pcm.stats.periods++;
  pcm.onPeriod?.(played);
  chip.pos = (chip.pos + cfg.periodSize) % cfg.bufferSize;
  fetchPeriod(pcm);
  armTimer(pcm);
  pcmPeriodElapsed(pcm);
}

/** The audio block's PCM operations (its struct snd_pcm_ops). */
const audioPcmOps: PcmOps = {
  hwParams(pcm: PcmDevice, cfg: PcmConfig): void {
    chipOf(pcm).dac.setPeriodBytes(cfg.periodSize * cfg.frameBytes);
  },
  hwFree(): void {
    // the core stops the engine before it frees the ring
  },
  prepare(pcm: PcmDevice): void {
    chipOf(pcm).pos = 0;
  },
  trigger(pcm: PcmDevice, cmd: number): void {
    if (cmd === SNDRV_PCM_TRIGGER_START || cmd === SNDRV_PCM_TRIGGER_PAUSE_RELEASE) startDma(pcm);
    else stopDma(pcm);
  },
  pointer(pcm: PcmDevice): number {
    return chipOf(pcm).pos;
  },
  /** Writes through a short-lived write-combined mapping of each page, never a kernel mapping of the whole ring. */
  copy(pcm: PcmDevice, pos: number, src: Uint8Array, srcOff: number, len: number): void {
    const buf = pcm.runtime.dmaBuffer!;
    const cpu = pcm.device.ctx.soc.cpu;
    let done = 0;
    while (done < len) {
      const at = pos + done;
      const page = Math.floor(at / PAGE_SIZE);
      const inPage = at % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - inPage, len - done);
      cpu.store(buf.pfns[page]! * PAGE_SIZE + inPage, src, srcOff + done, n, buf.memType);
      done += n;
    }
    pcm.stats.cpuCopyBytes += len;
  },
};

/**
 * Registers a playback PCM for the audio block (the card driver's probe:
 * snd_pcm_new with one playback substream + snd_card_register): creates
 * /dev/snd/pcmC<card>D<dev>p, whose ring is a NO_KERNEL_MAPPING |
 * WRITE_COMBINE buffer the audio DMA reads a period at a time.
 * EEXIST when the node exists.
 */
export function registerPcmPlayback(opts: PcmPlaybackOptions): PcmDevice {
  const pcm = pcmNew(opts.vfs, {
    clock: opts.clock,
    device: opts.device,
    card: opts.card,
    dev: opts.dev,
    name: opts.name ?? `audio PCM ${opts.card}:${opts.dev}`,
    hw: { ...audioHardware(opts.device), ...opts.hardware },
    bufferAttrs: PCM_BUFFER_ATTRS,
    ops: audioPcmOps,
  });
  const dac = new Dac(opts.device.master, opts.clock);
  const chip: AudioChip = { clock: opts.clock, dac, timer: null, periodStartNs: 0, periodIndex: 0, pos: 0 };
  pcm.privateData = chip;
  // What the DAC converted is what the PCM played.
  pcm.played = dac.played;
  return pcm;
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
