import type { z } from 'zod';
import type { BoundDevice } from '../../drivers/index.ts';
import type { FrameBytes, FrameFormat } from '../../formats/index.ts';
import type { Sys } from '../../proc/index.ts';
import type { ProcessStageSpec, ScenarioSpec } from '../scenario-schema.ts';
import type { StageProgram } from '../stages/stage.ts';

/** The frames a stage takes in and gives out (null: none). */
export interface StageFormats {
  inFmt: FrameFormat | null;
  outFmt: FrameFormat | null;
}

/** What a stage's plan sees: its own entry, the frames the stage before it gives, and the scenario. */
export interface PlanContext {
  st: ProcessStageSpec;
  /** What the previous stage gives (null for a source). */
  prev: FrameFormat | null;
  scenario: ScenarioSpec;
  /** Rejects the pipeline, naming the field of this process entry that breaks it. */
  fail(field: string, message: string): never;
}

/** What a stage's expected transform is given, outside the simulation. */
export interface ExpectContext {
  st: ProcessStageSpec;
  inFmt: FrameFormat | null;
  outFmt: FrameFormat | null;
  seed: number;
  /** The expected frame `n` this stage takes in (the previous stage's expected output). */
  input(n: number): Uint8Array;
  /** Frame `n` of the reference test pattern in this stage's output format. */
  pattern(n: number): Uint8Array;
  /** A frame array of `size` bytes, reused across frames: the transform writes all of it. */
  alloc(size: number): Uint8Array;
  /** Gives back an array from alloc or pattern that the transform no longer needs (not one it returns: the checker gives those back). */
  free(bytes: Uint8Array): void;
  /** A value made once for this stage and kept (a compositor's UI layer). */
  once<T>(make: () => T): T;
}

/** What a stage's own check of a consumed frame is given. */
export interface CheckContext extends ExpectContext {
  /** The expected frame `n` this stage gives out. */
  output(n: number): Uint8Array;
}

/** What a stage that reads files is given to write them before any process starts. */
export interface InputContext {
  st: ProcessStageSpec;
  outFmt: FrameFormat | null;
  seed: number;
  frames: number;
}

/** What a stage that is watched from outside (a display, a DAC) is given. */
export interface WatchContext {
  st: ProcessStageSpec;
  /** The bound platform device the stage drives. */
  device: BoundDevice;
  seed: number;
  frames: number;
  /** The simulated time now (ns). */
  now(): number;
  /**
   * A display's fetch of a framebuffer: checks the first fetch of each
   * frame the display process put in it against what the stage should
   * have received.
   */
  firstFetch(shot: { fbId: number; frame: FrameBytes }): void;
  /** Records a frame the stage consumed, whether it was right, and when its source made it (ns). */
  consumed(frame: number, ok: boolean, producedAtNs?: number): void;
}

/**
 * One row of the stage table: what a process of a process pipeline does,
 * named by `stage:` in a scenario file. The plan, the runner and the
 * checker all read it: where the stage may stand, which device node its
 * program opens, the frames it takes and gives, and what it should give
 * for each frame, computed by reference code outside the simulation.
 */
export interface StageDescriptor {
  /** The `stage:` value in a scenario file. */
  name: string;
  /** One line for the README and error messages. */
  description: string;
  /** The platform device kind it drives and the role of the node it opens (a driver table row's node); null: the CPU only. */
  device: { kind: string; node: string } | null;
  /**
   * Where it stands: a source first, a sink last, a filter between (or
   * last too, with mayEnd: a CPU stage that reads and checks), alone as
   * the whole pipeline; a peer only beside other peers, which pass
   * no frames but trade with their neighbours as equals).
   */
  role: 'source' | 'filter' | 'sink' | 'alone' | 'peer';
  mayEnd?: boolean;
  /** Fields this stage adds to a process entry of a scenario file, beyond the common ones. */
  schema?: z.ZodRawShape;
  /** The userspace program each process of this stage runs. */
  program: StageProgram;
  /** The frames it takes and gives, given what the stage before it gives; fails on what it cannot take. */
  plan(x: PlanContext): StageFormats;
  /** Its expected output frame `n`, from reference code (default: its input, unchanged). */
  expect?(x: ExpectContext, n: number): Uint8Array;
  /** Its output is the reference test pattern itself, so a frame no later stage changes can be checked against the pattern directly. */
  makesPattern?: boolean;
  /** Whether a process of this stage hands its input on unchanged (a reader). */
  passesThrough?(st: ProcessStageSpec): boolean;
  /** How a frame it consumed is checked (default: it equals the expected input). */
  check?(x: CheckContext, n: number, bytes: Uint8Array): boolean;
  /** Writes the files its process reads, before any process starts; returns the path its program is given. */
  writeInput?(sys: Sys, x: InputContext): Promise<string>;
  /** Watches what its device consumed from outside the processes (a display's scanout, a DAC's output). */
  watch?(x: WatchContext): void;
  /** The device it drives boots with a display mode of the size of the frames this stage takes (a display server's mode set). */
  setsDisplayMode?: boolean;
  /** The run summary's placement line for a stage with no output buffers to share. */
  placement?(st: ProcessStageSpec): string;
  /**
   * Bytes per second its device must move to keep up, and why (default:
   * the frames it takes in and gives out, once each per frame at the
   * stream's rate); null when only a measurement can tell (a USB display
   * sends what compression leaves).
   */
  deviceRate?(f: StageFormats, fps: number): { bytesPerSecond: number; because: string } | null;
}

/** Defines a stage table row. */
export function stageDescriptor(d: StageDescriptor): StageDescriptor {
  return d;
}
