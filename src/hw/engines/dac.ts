import type { Clock } from '../clock.ts';
import type { DmaMaster } from '../dma-master.ts';
import { sgDmaRead, type SgSegment } from './sg-dma.ts';

/** FNV-1a offset basis: the hash of nothing played yet. */
export const PCM_HASH_INIT = 0x811c9dc5;

/**
 * Folds `bytes` into a running 32-bit FNV-1a hash: what the simulated DAC
 * keeps of every byte it converted, so a test can compare a whole stream
 * with the samples it meant to play without storing them.
 */
export function pcmHash(hash: number, bytes: Uint8Array, off = 0, len = bytes.length - off): number {
  let h = hash >>> 0;
  for (let i = off; i < off + len; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  return h;
}

/** What the DAC has converted so far: frames and the running hash of their bytes. */
export interface PcmPlayed {
  frames: number;
  hash: number;
}

/**
 * An audio block's DAC with its FIFO: its DMA fetches one period into
 * the FIFO ahead of time, and at each period boundary the DAC converts
 * whatever the FIFO holds. A stop discards a fetch still in flight.
 */
export class Dac {
  readonly master: DmaMaster;
  readonly clock: Clock;
  /** What the DAC has converted since power-on. */
  readonly played: PcmPlayed = { frames: 0, hash: PCM_HASH_INIT };
  /** One period of samples, the next to be converted. */
  private fifo = new Uint8Array(0);
  /** Whether the last fetch completed (and was not discarded). */
  private filled = false;
  /** Bumped by every start and stop, so a stale fetch knows it is stale. */
  private gen = 0;

  constructor(master: DmaMaster, clock: Clock) {
    this.master = master;
    this.clock = clock;
  }

  /** Sizes the FIFO for periods of `bytes` bytes; empties it. */
  setPeriodBytes(bytes: number): void {
    this.fifo = new Uint8Array(bytes);
  }

  /** Bytes of one period. */
  get periodBytes(): number {
    return this.fifo.length;
  }

  /** Whether the FIFO holds a whole fetched period. */
  get ready(): boolean {
    return this.filled;
  }

  /** Starts a new run of periods: any fetch in flight is now stale. */
  start(): void {
    this.gen++;
  }

  /** Stops: a fetch in flight is discarded and the FIFO counts as empty. */
  stop(): void {
    this.gen++;
    this.filled = false;
  }

  /**
   * Fetches the next period from `segs` into the FIFO in the background,
   * one descriptor per segment (each waits its own latency), as a DMA
   * that wraps around a ring does. `done` runs when the period has
   * arrived, unless a start or stop came first.
   */
  fetch(segs: readonly SgSegment[], done?: () => void): void {
    const gen = this.gen;
    const fifo = this.fifo;
    this.filled = false;
    void this.clock.spawn(async () => {
      // stopped before the transfer began: the engine never issues it
      if (gen !== this.gen) return;
      let off = 0;
      for (const seg of segs) {
        await sgDmaRead(this.master, this.clock, [seg], fifo, seg.len, 'dma read', { dstOff: off });
        off += seg.len;
      }
      if (gen !== this.gen) return;
      this.filled = true;
      done?.();
    });
  }

  /** Converts the FIFO's period of `frames` frames: hashed into `played`; returns the bytes played (the FIFO, valid until the next fetch lands). */
  play(frames: number): Uint8Array {
    this.played.hash = pcmHash(this.played.hash, this.fifo);
    this.played.frames += frames;
    return this.fifo;
  }
}
