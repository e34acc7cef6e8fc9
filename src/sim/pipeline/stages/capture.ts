import { frameFormat } from '../../../formats/index.ts';
import { captureStage } from '../../stages/capture.ts';
import { stageDescriptor } from '../descriptor.ts';

/** A camera process: the sensor's frames, YUYV or XR24, from the V4L2 capture node. */
export const captureDescriptor = stageDescriptor({
  name: 'capture',
  description: 'camera: V4L2 capture, gives YUYV or XR24 (`fourcc`)',
  device: { kind: 'camera', node: 'video' },
  role: 'source',
  program: captureStage,
  plan: ({ st, scenario, fail }) => {
    const fourcc = st.fourcc ?? scenario.format.fourcc;
    if (fourcc === 'NV12') fail('fourcc', 'the camera gives YUYV or XR24');
    return { inFmt: null, outFmt: frameFormat(scenario.format.width, scenario.format.height, fourcc) };
  },
  expect: (x, n) => x.pattern(n),
  makesPattern: true,
});
