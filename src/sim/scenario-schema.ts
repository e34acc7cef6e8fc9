import { z } from 'zod';

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

/** The schema of a scenario file. */
export const scenarioSchema = z.strictObject({
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
  pipeline: z.array(stage).min(2),
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

export type ScenarioSpec = z.output<typeof scenarioSchema>;
