import { z } from 'zod';
import type { StageDescriptor } from './pipeline/descriptor.ts';

// Spelled out rather than /i so that the JSON Schema pattern, which has no flags, accepts the same names.
const name = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'must be a name of letters, digits, - and _');

// Each field's .describe() text is its one-line meaning in docs/scenario.md and in editors (scripts/reference.ts).

const stage = z
  .strictObject({
    role: z.enum(['capture', 'overlay', 'scanout']).describe('What the stage does: capture writes frames, overlay draws on them with the CPU, scanout shows them.'),
    device: name.default('cpu').describe('The platform device that does it (the CPU for overlay).'),
    sync: z.boolean().default(true).describe('overlay: bracket the CPU\'s writes with begin/end_cpu_access (DMA_BUF_IOCTL_SYNC), as a correct writer does.'),
    rows: z.number().int().min(1).max(4096).default(16).describe('overlay: lines at the top of the frame the CPU draws; at most the frame height.'),
    overrun: z.number().int().min(0).max(1 << 24).default(0).describe('capture: a buggy device that writes this many bytes past the end of each frame buffer.'),
  })
  .describe('One stage of a kernel-level pipeline: a device (or the CPU) doing a job on each frame.');

/**
 * One process of a process pipeline: a program that drives its device
 * through the device's ioctls, takes frames (dma-buf fds) from the process
 * before it over a Unix socket and passes its own on to the next.
 */
const processStageFields = {
  name: name.describe('The process name (comm), for ps, traces and the report; unique in the scenario.'),
  stage: z.string().describe('What it does: a row of the stage table (see the stages below).'),
  device: name.optional().describe('The platform device it drives (default: the platform\'s first device of the kind its stage drives).'),
  heap: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default('auto')
    .describe(
      "Where its output buffers come from: 'auto' (the dma-heap the next stage's device needs: a CMA heap for a device without an IOMMU that needs contiguous memory, else system), a heap under /dev/dma_heap, or 'driver' (the device's own MMAP buffers exported with EXPBUF).",
    ),
  buffers: z.number().int().min(2).max(32).optional().describe('Output buffers it circulates (default: the scenario\'s `buffers`).'),
  fourcc: z.enum(['XR24', 'YUYV', 'NV12']).optional().describe('capture: the sensor output (YUYV or XR24); convert: the output format.'),
  scale: z.union([z.literal(1), z.literal(2)]).default(1).describe('convert: downscale by 1 or 2.'),
  sync: z.boolean().default(true).describe('cpu: bracket the CPU\'s access with DMA_BUF_IOCTL_SYNC, as a correct user does.'),
  rows: z.number().int().min(0).max(4096).default(0).describe('cpu: lines at the top of the frame it draws over (0: it only reads and checks the frame).'),
  gop: z.number().int().min(1).max(1000).default(30).describe('decode: frames between I-frames of the stream.'),
  rate: z.number().int().min(8000).max(48000).default(48000).describe('audio: sample rate in frames per second.'),
  channels: z.number().int().min(1).max(2).default(2).describe('audio: channels per frame.'),
  periodFrames: z.number().int().min(16).max(65536).default(1024).describe('audio: frames per period of the ring buffer.'),
  periods: z.number().int().min(2).max(64).default(4).describe('audio: periods in the ring buffer.'),
  order: z
    .enum(['signal-first', 'wait-first'])
    .default('signal-first')
    .describe("fence-peer: when it signals its own fence: 'signal-first' before waiting for its peer's, 'wait-first' only after (two wait-first peers deadlock)."),
};

/** A process entry on a stage table: `stage` names one of its rows, whose own fields it may set. */
function processStageFor(stages: readonly StageDescriptor[]) {
  const names = stages.map((d) => d.name) as [string, ...string[]];
  const extra: z.ZodRawShape = Object.assign({}, ...stages.map((d) => d.schema ?? {}));
  return z
    .strictObject({ ...processStageFields, stage: z.enum(names).describe(processStageFields.stage.description!), ...extra })
    .describe('One process of a process pipeline: a program that drives its device through its ioctls and passes frames to the next process as dma-buf fds over a Unix socket.');
}

/** The schema of a scenario file whose processes name the stages of `stages`. */
export function scenarioSchemaFor(stages: readonly StageDescriptor[]) {
  return z
    .strictObject({
      name: name.describe('Name of the scenario, as `unimem run` gives it.'),
      description: z.string().default('').describe('One line for `unimem scenarios`: what the scenario shows.'),
      platform: z.string().default('armv7-mobile').describe('The platform it runs on unless `--platform` names another: a built-in name or a file.'),
      frames: z.number().int().min(1).max(100_000).default(60).describe('Frames to run, unless `--frames` says otherwise.'),
      fps: z.number().positive().max(1000).default(60).describe('Frame rate in frames per second: the period of each frame.'),
      seed: z.number().int().min(0).default(1).describe('Seed of every random choice, unless `--seed` says otherwise.'),
      format: z
        .strictObject({
          width: z.number().int().min(1).max(16384).describe('Frame width in pixels (even for YUYV).'),
          height: z.number().int().min(1).max(16384).describe('Frame height in pixels.'),
          fourcc: z.enum(['XR24', 'YUYV', 'NV12']).default('XR24').describe('Pixel format of the frames (DRM fourcc).'),
        })
        .prefault({ width: 1280, height: 720 })
        .describe('The frames the pipeline moves (default: 1280x720 XR24).'),
      buffers: z.number().int().min(2).max(32).default(3).describe('Buffers circulating between the stages.'),
      pipeline: z.array(stage).min(2).optional().describe('A kernel-level pipeline: devices sharing buffers without processes; capture first, scanout last, overlays between.'),
      processes: z.array(processStageFor(stages)).min(1).optional().describe('A process pipeline: one process per stage, buffers passed as fds over Unix sockets.'),
      kill: z
        .strictObject({
          process: name.describe('The process to kill.'),
          afterFrames: z.number().int().min(1).describe('Frames the last stage consumes before the kill.'),
        })
        .optional()
        .describe('Kills a process (SIGKILL) once the last stage has consumed this many frames: a crash mid-stream (process pipelines).'),
      faultHandler: z
        .enum(['none', 'map-scratch'])
        .default('none')
        .describe("Kernel-level pipeline: what the capture device's IOMMU fault handler does: 'none' keeps the camera driver's own, which lets the SMMU terminate the transaction; 'map-scratch' maps a scratch page at the faulting address and retries. (A process pipeline sets the camera driver's debugfs hooks instead: the capture process's dmaOverrun and faultScratch.)"),
      onFault: z.enum(['continue', 'stop']).default('continue').describe("Kernel-level pipeline: after a frame's DMA is terminated, drop the frame and go on, or stop the pipeline."),
      scanoutAttachAfter: z
        .number()
        .int()
        .min(0)
        .default(0)
        .describe('Kernel-level pipeline: the scanout device attaches only after this many frames (0: from the start), so the exporter must move buffers placed for the capture device alone.'),
      memoryPressure: z.number().min(0).max(0.95).default(0).describe('Background memory load at boot: the fraction of free memory filled with movable pages.'),
    })
    .describe('A scenario file: a pipeline to run on a platform.');
}

/** A validated scenario file. */
export type ScenarioSpec = Omit<z.output<ReturnType<typeof scenarioSchemaFor>>, 'processes'> & { processes?: ProcessStageSpec[] };
/** One process entry: the common fields, and whatever fields its stage's descriptor adds. */
export type ProcessStageSpec = z.output<z.ZodObject<typeof processStageFields>> & { [field: string]: unknown };
