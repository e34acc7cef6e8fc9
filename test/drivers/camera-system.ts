import { addSystemHeap } from '../../src/dmabuf/index.ts';
import { createDevice } from '../../src/dma/index.ts';
import { MiB, PAGE_SIZE } from '../../src/lib/index.ts';
import { procMmSystem } from '../dmabuf/helpers.ts';

/** Test SoC with a process kernel, the camera master and the ISP master both behind the test IOMMU. */
export function mediaSystem() {
  const s0 = procMmSystem();
  addSystemHeap(s0.dbs, s0.mm);
  s0.soc.master('cam').translator = s0.iommu;
  const camDev = createDevice(s0.ctx, s0.soc.master('cam'), {
    name: 'camera',
    kind: 'camera',
    coherent: false,
    needsContiguous: false,
    alignment: PAGE_SIZE,
    segmentBoundary: 0xffff_ffff,
    dmaMaskBits: 32,
    maxSegmentSize: 64 * MiB,
    cma: null,
    iommu: s0.iommu,
    bounce: false,
  });
  return { ...s0, camDev };
}

