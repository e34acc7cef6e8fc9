import { cpuOverlayReference } from '../../reference/overlay.ts';
import { cpuStage } from '../../stages/cpu.ts';
import { cpuOverlayValue } from '../../stages/ui-layer.ts';
import { stageDescriptor } from '../descriptor.ts';

/** A process that draws on (or only reads) each frame through its mmap of the buffer. */
export const cpuDescriptor = stageDescriptor({
  name: 'cpu',
  description: 'CPU through its mmap: takes any frame, gives the same buffer (`rows` it draws, or 0 to read; `sync`)',
  device: null,
  role: 'filter',
  mayEnd: true,
  program: cpuStage,
  plan: ({ st, prev, fail }) => {
    if (st.rows > prev!.height) fail('rows', `exceeds the frame height ${prev!.height}`);
    return { inFmt: prev, outFmt: prev };
  },
  expect: (x, n) => {
    const input = x.input(n);
    if (x.st.rows === 0) return input;
    const drawn = x.alloc(input.length);
    drawn.set(input);
    cpuOverlayReference(drawn, x.st.rows, x.inFmt!.stride, cpuOverlayValue(n));
    return drawn;
  },
  passesThrough: (st) => st.rows === 0,
  placement: (st) => `${st.name}: cpu, no buffers of its own to share`,
});
