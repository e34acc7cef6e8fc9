import { averageReference } from '../../reference/blend.ts';
import { composeStage } from '../../stages/compose.ts';
import { uiLayerInto } from '../../stages/ui-layer.ts';
import { stageDescriptor } from '../descriptor.ts';

/** A compositor process: the GPU blends each frame with the compositor's UI layer and gives a fence. */
export const composeDescriptor = stageDescriptor({
  name: 'compose',
  description: 'GPU compose: takes XR24, gives it blended with its UI layer, plus a fence',
  device: { kind: 'gpu', node: 'card' },
  role: 'filter',
  program: composeStage,
  plan: ({ prev, fail }) => {
    if (prev!.fourcc !== 'XR24') fail('stage', `the GPU composes XR24 frames, and gets ${prev!.fourcc} here`);
    return { inFmt: prev, outFmt: prev };
  },
  expect: (x, n) => {
    // drawn into the checker's own memory, where the blend runs on it in place
    const ui = x.once(() => {
      const layer = x.alloc(x.outFmt!.size);
      uiLayerInto(x.outFmt!, x.seed, layer);
      return layer;
    });
    const out = x.alloc(x.outFmt!.size);
    averageReference(x.input(n), ui, out);
    return out;
  },
});
