import { z } from 'zod';
import type { KmsDisplay } from '../../../drivers/index.ts';
import { displayStage, REFRESH_HZ } from '../../stages/display.ts';
import { stageDescriptor, type PlanContext } from '../descriptor.ts';

/** A display server takes XR24 frames, whichever KMS driver shows them. */
export function planScanout({ prev, fail }: PlanContext) {
  if (prev!.fourcc !== 'XR24') fail('stage', `the display scans out XR24, and gets ${prev!.fourcc} here`);
  return { inFmt: prev, outFmt: null };
}

/** A display server: each frame as a framebuffer, flipped at vsync; checked at the CRTC's scanout. */
export const displayDescriptor = stageDescriptor({
  name: 'display',
  description: 'display server on KMS: takes XR24, checked at the scanout',
  device: { kind: 'display', node: 'card' },
  role: 'sink',
  schema: {
    attachAfter: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('display: frames it hands back unshown before it first imports one (a display that comes up late, after the producer placed its buffers for itself alone).'),
  },
  program: displayStage,
  plan: planScanout,
  setsDisplayMode: true,
  // The CRTC fetches the frame it shows at every vsync, whatever the stream's rate.
  deviceRate: (f) => ({ bytesPerSecond: f.inFmt!.size * REFRESH_HZ, because: `a ${f.inFmt!.width}x${f.inFmt!.height} frame of ${(f.inFmt!.size / 2 ** 20).toFixed(1)} MiB fetched at each of ${REFRESH_HZ} vsyncs a second` }),
  // What the CRTC fetched, not what the process asked for: the first fetch of each frame is checked.
  watch: (x) => {
    (x.device.data as { kms: KmsDisplay }).kms.onScanout = (shot) => x.firstFetch(shot);
  },
});
