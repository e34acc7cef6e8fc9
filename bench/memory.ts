import { Soc } from '../src/hw/index.ts';
import { MiB } from '../src/lib/index.ts';
import { copySpeeds, type BenchResult } from './harness.ts';

/**
 * A 64 MiB device copy (memory to memory by a DMA engine) through the
 * hardware layer, against the fastest plain copy of the same size
 * (Buffer.copy, TypedArray.set, copyWithin), measured in turns with it.
 */
export default async function benchMemory(): Promise<BenchResult[]> {
  const size = 64 * MiB;
  const soc = new Soc({
    seed: 1,
    banks: [{ name: 'dram', base: 0x8000_0000, size: 256 * MiB, kind: 'dram' }],
    masters: [{ name: 'dma0', coherent: false, bandwidth: 2e9, latencyNs: 100 }],
  });
  const src = 0x8000_0000;
  const dst = 0x8000_0000 + 128 * MiB;
  soc.mem.fill(src, size, 0xa5);
  soc.mem.fill(dst, size, 0x00);
  const dma = soc.master('dma0');
  let simNs = 0;
  const copy = copySpeeds(size, 1000, () => {
    simNs = dma.copyNow(dst, src, size);
  });
  const devBps = copy.subjectBytesPerSec;
  return [
    {
      bench: 'memory.dma-copy-64MiB',
      metrics: {
        bytes: size,
        wallBytesPerSec: devBps,
        bufferCopyBytesPerSec: copy.bufferCopy,
        typedArraySetBytesPerSec: copy.typedArraySet,
        typedArraySetPiecesBytesPerSec: copy.typedArraySetPieces,
        copyWithinBytesPerSec: copy.copyWithin,
        simNsPerCopy: simNs,
      },
      ratios: { vsFastestCopy: devBps / copy.fastest, vsBufferCopy: devBps / copy.bufferCopy },
    },
  ];
}
