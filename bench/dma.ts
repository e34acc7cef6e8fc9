import {
  DMA_TO_DEVICE,
  dmaMapPage,
  dmaMapSg,
  dmaUnmapPage,
  dmaUnmapSg,
  sgAllocTableFromPages,
  type Device,
} from '../src/dma/index.ts';
import { PAGE_SIZE } from '../src/lib/index.ts';
import { bootSystem, parsePlatform, type System } from '../src/sim/index.ts';
import { bufferCopyBytesPerSec, timeLoop, type BenchResult } from './harness.ts';

/** A non-coherent SoC with one device per DMA implementation; the USB host reaches only 1 GiB. */
const PLATFORM = `name: dma-bench
memory:
  - { name: dram0, base: 0x20000000, size: 512MiB }
  - { name: dram1, base: 0x80000000, size: 256MiB }
kernel: { lowmem: 512MiB, vmalloc: 128MiB }
cpu: { cache: { size: 1MiB, ways: 16 }, prefetchProbability: 0 }
cma: { default: 32MiB }
iommus:
  - { name: smmu0, tlbEntries: 64, walkNs: 150, contexts: 4 }
devices:
  - { name: dma0, kind: dma-engine, maxSegmentSize: 16MiB }
  - { name: usb, kind: usb, dmaMaskBits: 30, bounce: true }
  - { name: isp, kind: isp, iommu: smmu0, maxSegmentSize: 16MiB }
  - { name: cam, kind: camera, iommu: smmu0, bounce: true }
`;

function mapUnmapPerSec(dev: Device, pa: number, size: number): number {
  return timeLoop(() => {
    const a = dmaMapPage(dev, pa, size, DMA_TO_DEVICE);
    dmaUnmapPage(dev, a, size, DMA_TO_DEVICE);
  }, 300).opsPerSec;
}

/**
 * The DMA API's costs, with dma-debug off as in a production kernel: map+unmap of one page per second for each of the
 * four implementations; mapSg+unmapSg of a 256-page list through the
 * IOMMU; bytes bounced per second against Buffer.copy in the same run.
 */
export default async function benchDma(): Promise<BenchResult[]> {
  const sys: System = bootSystem(parsePlatform('dma-bench.yaml', PLATFORM), { seed: 1, dmaDebug: false });
  const dev = (n: string) => sys.devices.get(n)!;
  const low = sys.mm.pages.allocPages(0, {}) * PAGE_SIZE;
  const high = sys.mm.pages.allocPages(0, { highmem: true }) * PAGE_SIZE;
  const perImpl: Record<string, number> = {
    direct: mapUnmapPerSec(dev('dma0'), low, PAGE_SIZE),
    directBounce: mapUnmapPerSec(dev('usb'), high, PAGE_SIZE),
    iommu: mapUnmapPerSec(dev('isp'), low, PAGE_SIZE),
    iommuBounce: mapUnmapPerSec(dev('cam'), low + 64, 512),
  };

  const pfns = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    pfns[i] = sys.mm.pages.allocPages(0, {});
    sys.mm.pages.allocPages(0, {});
  }
  const isp = dev('isp');
  // The list is built once, as a driver keeps its scatterlist, and mapped again and again.
  const sgt = sgAllocTableFromPages(pfns, 0, 256 * PAGE_SIZE, isp.maxSegmentSize);
  const sg = timeLoop(() => {
    if (dmaMapSg(isp, sgt, DMA_TO_DEVICE) !== 1) throw new Error('256 pages did not merge into one IOVA segment');
    dmaUnmapSg(isp, sgt, DMA_TO_DEVICE);
  }, 500);

  const bounceSize = 256 * 1024;
  const hi = sys.mm.pages.allocPages(6, { highmem: true }) * PAGE_SIZE;
  const usb = dev('usb');
  const before = sys.dma.stats.bounceBytes;
  const t0 = performance.now();
  let rounds = 0;
  while (performance.now() - t0 < 400) {
    const a = dmaMapPage(usb, hi, bounceSize, DMA_TO_DEVICE);
    dmaUnmapPage(usb, a, bounceSize, DMA_TO_DEVICE);
    rounds++;
  }
  const bounced = sys.dma.stats.bounceBytes - before;
  const bounceBps = bounced / ((performance.now() - t0) / 1000);
  const copyBps = bufferCopyBytesPerSec(bounceSize, 300);
  return [
    { bench: 'dma.map-unmap-page', metrics: Object.fromEntries(Object.entries(perImpl).map(([k, v]) => [`${k}PerSec`, v])), ratios: { iommuOverDirect: perImpl.iommu! / perImpl.direct! } },
    { bench: 'dma.map-sg-256-pages-iommu', metrics: { pairsPerSec: sg.opsPerSec, target: 50_000, dmaDebug: 0 }, ratios: { overTarget: sg.opsPerSec / 50_000 } },
    { bench: 'dma.bounce', metrics: { bytesPerSec: bounceBps, rounds, bufferCopyBytesPerSec: copyBps }, ratios: { vsBufferCopy: bounceBps / copyBps } },
  ];
}
