import type { FrameFormat } from '../../formats/index.ts';
import type { Sys } from '../../proc/index.ts';
import type { ProcessStageSpec } from '../scenario-schema.ts';

/**
 * What the scenario runner watches from outside the processes (the
 * harness, not part of the data path): which frame each source made, what
 * each sink consumed, which framebuffer shows which frame.
 */
export interface PipelineProbe {
  /** A source made frame `frame`. */
  produced(frame: number): void;
  /** A sink stage consumed frame `frame` as `bytes` (the runner checks them). */
  consumed(stage: string, frame: number, bytes: Uint8Array): void;
  /** The display process asks to show framebuffer `fbId`, which now holds frame `frame`. */
  presenting(fbId: number, frame: number): void;
  /** A device failed frame `frame` (it flagged the buffer as an error). */
  failed(stage: string, frame: number, why: string): void;
  /** A source's stream is over before frame `frame`: frames it skipped before that one were lost at the source. */
  ended(stage: string, frame: number): void;
}

/** What one stage process is given when it is forked. */
export interface StageContext {
  spec: ProcessStageSpec;
  /** The device node it drives. */
  devicePath: string;
  /** The socket to the previous process, or -1 for a source. */
  upFd: number;
  /** Slots the previous process circulates (buffer indexes it sends). */
  upSlots: number;
  /** The socket to the next process, or -1 for a sink. */
  downFd: number;
  /** Output buffers it circulates. */
  slots: number;
  /** The frames it takes in, and the frames it gives out (null for none). */
  inFmt: FrameFormat | null;
  outFmt: FrameFormat | null;
  /** Where its output buffers come from: a heap name, or 'driver' (MMAP + EXPBUF). */
  heap: string;
  /** Frames a source makes (a camera: the sensor frames it streams for, some lost when it has no free buffer). */
  frames: number;
  fps: number;
  seed: number;
  /** A file the stage reads its input from (decode: the stream; jpeg-decode: a directory), or ''. */
  input: string;
  probe: PipelineProbe;
}

/** A stage's program: runs in its own process until its stream ends; returns the exit code. */
export type StageProgram = (sys: Sys, ctx: StageContext) => Promise<number>;
