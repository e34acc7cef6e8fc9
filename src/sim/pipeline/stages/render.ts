import { frameFormat } from '../../../formats/index.ts';
import { averageReference } from '../../reference/blend.ts';
import { renderStage } from '../../stages/render.ts';
import { RENDER_TEXTURES } from '../../stages/ui-layer.ts';
import { stageDescriptor } from '../descriptor.ts';

/** A game or UI process: the GPU blends two of its textures into each frame and gives a fence. */
export const renderDescriptor = stageDescriptor({
  name: 'render',
  description: 'GPU render: XR24 blended from textures, plus a fence',
  device: { kind: 'gpu', node: 'card' },
  role: 'source',
  program: renderStage,
  plan: ({ scenario, fail }) => {
    if (scenario.format.fourcc !== 'XR24') fail('stage', 'the GPU renders XR24 (set format.fourcc)');
    return { inFmt: null, outFmt: frameFormat(scenario.format.width, scenario.format.height, 'XR24') };
  },
  // Textures n and n+1 (modulo their count), which are pattern frames.
  expect: (x, n) => {
    const out = x.alloc(x.outFmt!.size);
    const [a, b] = [x.pattern(n % RENDER_TEXTURES), x.pattern((n + 1) % RENDER_TEXTURES)];
    averageReference(a, b, out);
    x.free(a);
    x.free(b);
    return out;
  },
});
