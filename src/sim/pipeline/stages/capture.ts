import { z } from 'zod';
import { frameFormat } from '../../../formats/index.ts';
import { captureStage } from '../../stages/capture.ts';
import { stageDescriptor } from '../descriptor.ts';

/** A camera process: the sensor's frames, YUYV or XR24, from the V4L2 capture node. */
export const captureDescriptor = stageDescriptor({
  name: 'capture',
  description: 'camera: V4L2 capture, gives YUYV or XR24 (`fourcc`)',
  device: { kind: 'camera', node: 'video' },
  role: 'source',
  schema: {
    dmaOverrun: z
      .number()
      .int()
      .min(0)
      .max(1 << 24)
      .default(0)
      .describe("capture: bytes the camera's DMA writes past the end of each buffer, set through the driver's debugfs test hook (dma_overrun) before streaming: a frame whose overrun the IOMMU catches comes back with V4L2_BUF_FLAG_ERROR."),
    faultScratch: z
      .boolean()
      .default(false)
      .describe("capture: the camera driver's IOMMU fault handler maps a scratch page at the faulting address and retries (debugfs fault_scratch), so frames survive and only the faults are counted."),
    movableBuffers: z
      .enum(['off', 'movable', 'pinned'])
      .default('off')
      .describe(
        "capture with heap: driver: the camera's MMAP buffers (debugfs movable_buffers): 'off' in fixed pages; 'movable' allocated at first use and exported as a dynamic dma-buf the camera maps only while a buffer is queued, so a stricter importer that comes later makes the exporter move it; 'pinned' the same, but the camera keeps it pinned, so such an importer is refused with EBUSY.",
      ),
  },
  program: captureStage,
  plan: ({ st, scenario, fail }) => {
    if (st.movableBuffers !== 'off' && st.heap !== 'driver') fail('movableBuffers', 'movable buffers are the camera driver\'s own: set heap: driver');
    const fourcc = st.fourcc ?? scenario.format.fourcc;
    if (fourcc === 'NV12') fail('fourcc', 'the camera gives YUYV or XR24');
    return { inFmt: null, outFmt: frameFormat(scenario.format.width, scenario.format.height, fourcc) };
  },
  expect: (x, n) => x.pattern(n),
  makesPattern: true,
});
