import { z } from 'zod';
import type { StageDescriptor } from './pipeline/descriptor.ts';

const name = z.string().regex(/^[a-z][a-z0-9_-]*$/i, 'must be a name of letters, digits, - and _');

/** One stage of a pipeline: a device (or the CPU) doing a job on each frame. */
const stage = z.strictObject({
  /** What the stage does: capture writes frames, overlay draws on them with the CPU, scanout shows them. */
  role: z.enum(['capture', 'overlay', 'scanout']),
  /** The platform device that does it (the CPU for overlay). */
  device: name.default('cpu'),
  /** overlay: bracket the CPU's writes with begin/end_cpu_access (DMA_BUF_IOCTL_SYNC), as a correct writer does. */
  sync: z.boolean().default(true),
  /** overlay: how many lines at the top of the frame the CPU draws. */
  rows: z.number().int().min(1).max(4096).default(16),
  /** capture: a buggy device that writes this many bytes past the end of each frame buffer. */
  overrun: z.number().int().min(0).max(1 << 24).default(0),
});

/**
 * One process of a process pipeline: a program that drives its device
 * through the device's ioctls, takes frames (dma-buf fds) from the process
 * before it over a Unix socket and passes its own on to the next.
 */
const processStageFields = {
  /** The process name (comm), for ps, traces and the report. */
  name,
  /** What it does: a row of the stage table (src/sim/pipeline/stage-table.ts). */
  stage: z.string(),
  /** The platform device it drives (default: the platform's first device of the kind its stage drives). */
  device: name.optional(),
  /**
   * Where its output buffers come from: 'auto' picks the dma-heap the next
   * stage's device needs (a CMA heap for a device without an IOMMU that
   * needs contiguous memory, else the system heap); or a heap name under
   * /dev/dma_heap; or 'driver' for the device's own MMAP buffers exported with EXPBUF.
   */
  heap: z.string().regex(/^[a-z0-9_-]+$/i).default('auto'),
  /** Output buffers it circulates (default: the scenario's `buffers`). */
  buffers: z.number().int().min(2).max(32).optional(),
  /** capture: the sensor output (YUYV or XR24); convert: the output format. */
  fourcc: z.enum(['XR24', 'YUYV', 'NV12']).optional(),
  /** convert: downscale by 1 or 2. */
  scale: z.union([z.literal(1), z.literal(2)]).default(1),
  /** cpu: bracket the CPU's access with DMA_BUF_IOCTL_SYNC, as a correct user does. */
  sync: z.boolean().default(true),
  /** cpu: lines at the top of the frame it draws over (0: it only reads and checks the frame). */
  rows: z.number().int().min(0).max(4096).default(0),
  /** decode: frames between I-frames of the stream. */
  gop: z.number().int().min(1).max(1000).default(30),
  /** audio: sample rate, channels and the ring's period size and periods. */
  rate: z.number().int().min(8000).max(48000).default(48000),
  channels: z.number().int().min(1).max(2).default(2),
  periodFrames: z.number().int().min(16).max(65536).default(1024),
  periods: z.number().int().min(2).max(64).default(4),
};

/** A process entry on a stage table: `stage` names one of its rows, whose own fields it may set. */
function processStageFor(stages: readonly StageDescriptor[]) {
  const names = stages.map((d) => d.name) as [string, ...string[]];
  const extra: z.ZodRawShape = Object.assign({}, ...stages.map((d) => d.schema ?? {}));
  return z.strictObject({ ...processStageFields, stage: z.enum(names), ...extra });
}

/** The schema of a scenario file whose processes name the stages of `stages`. */
export function scenarioSchemaFor(stages: readonly StageDescriptor[]) {
  return z.strictObject({
    name,
    description: z.string().default(''),
    /** The platform it runs on unless the command line names another. */
    platform: z.string().default('armv7-mobile'),
    frames: z.number().int().min(1).max(100_000).default(60),
    fps: z.number().positive().max(1000).default(60),
    seed: z.number().int().min(0).default(1),
    format: z
      .strictObject({
        width: z.number().int().min(1).max(16384),
        height: z.number().int().min(1).max(16384),
        fourcc: z.enum(['XR24', 'YUYV', 'NV12']).default('XR24'),
      })
      .prefault({ width: 1280, height: 720 }),
    /** Buffers circulating between the stages. */
    buffers: z.number().int().min(2).max(32).default(3),
    /** A kernel-level pipeline: devices sharing buffers without processes (see run.ts). */
    pipeline: z.array(stage).min(2).optional(),
    /** A process pipeline: one process per stage, buffers passed as fds over Unix sockets (see run-processes.ts). */
    processes: z.array(processStageFor(stages)).min(1).optional(),
    /** Kills a process (SIGKILL) once the last stage has consumed this many frames: a crash mid-stream. */
    kill: z.strictObject({ process: name, afterFrames: z.number().int().min(1) }).optional(),
    /**
     * What the capture device's IOMMU fault handler does: 'none' leaves the
     * SMMU to warn and terminate the transaction; 'map-scratch' maps a scratch
     * page at the faulting address and retries, so the DMA completes harmlessly.
     */
    faultHandler: z.enum(['none', 'map-scratch']).default('none'),
    /** After a frame's DMA is terminated: drop the frame and go on, or stop the pipeline. */
    onFault: z.enum(['continue', 'stop']).default('continue'),
    /**
     * The scanout device attaches only after this many frames (0: from the
     * start). Until then the capture device maps each buffer per frame, as
     * videobuf2 does at QBUF/DQBUF, and the buffers are placed for it alone;
     * the late, stricter attach then makes the exporter move them.
     */
    scanoutAttachAfter: z.number().int().min(0).default(0),
    /** Background memory load at boot: the fraction of free memory filled with movable pages. */
    memoryPressure: z.number().min(0).max(0.95).default(0),
  });
}

/** A validated scenario file. */
export type ScenarioSpec = Omit<z.output<ReturnType<typeof scenarioSchemaFor>>, 'processes'> & { processes?: ProcessStageSpec[] };
/** One process entry: the common fields, and whatever fields its stage's descriptor adds. */
export type ProcessStageSpec = z.output<z.ZodObject<typeof processStageFields>> & { [field: string]: unknown };
