import { frameFormat } from '../../../formats/index.ts';
import { convertReference } from '../../reference/yuv.ts';
import { convertStage } from '../../stages/convert.ts';
import { stageDescriptor } from '../descriptor.ts';

/** An ISP process: colour conversion and scaling through the mem-to-mem node. */
export const convertDescriptor = stageDescriptor({
  name: 'convert',
  description: 'ISP: takes YUYV or NV12, gives NV12 or XR24 (`fourcc`, `scale: 1 or 2`)',
  device: { kind: 'isp', node: 'video' },
  role: 'filter',
  program: convertStage,
  plan: ({ st, prev, fail }) => {
    const src = prev!;
    if (src.fourcc === 'XR24') fail('stage', 'the ISP takes YUYV or NV12, and gets XR24 here');
    const fourcc = st.fourcc ?? 'XR24';
    if (fourcc === 'YUYV') fail('fourcc', 'the ISP gives NV12 or XR24');
    if (src.width % (4 * st.scale) !== 0 || src.height % (4 * st.scale) !== 0) fail('scale', `the ISP needs sizes in multiples of ${4 * st.scale} for scale ${st.scale} (have ${src.width}x${src.height})`);
    return { inFmt: src, outFmt: frameFormat(src.width / st.scale, src.height / st.scale, fourcc) };
  },
  expect: (x, n) => {
    const out = x.alloc(x.outFmt!.size);
    convertReference(x.input(n), x.inFmt!, x.outFmt!, x.st.scale, out);
    return out;
  },
});
