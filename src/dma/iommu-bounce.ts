import { alignUp, isKernelError, kerr, PAGE_SIZE } from '../lib/index.ts';
import type { Device } from './device.ts';
import { DMA_ATTR_SKIP_CPU_SYNC, DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaDirection } from './direction.ts';
import { bounceCopy, bouncePoolOf } from './direct-bounce.ts';
import { iommuMapRange, iommuOps, iommuUnmapRange } from './iommu-ops.ts';
import type { DmaMapOps } from './ops.ts';
import { sgPhys, type SgTable } from './scatterlist.ts';

/** Tables mapped entry by entry because some entry had to be bounced. */
const mappedPerEntry = new WeakSet<SgTable>();

/** True when mapping [pa, pa+size) through the IOMMU would expose other data sharing its pages. */
export function isSubPage(pa: number, size: number): boolean {
  return pa % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0;
}

/**
 * Maps a sub-page buffer through whole bounce pages so the device sees
 * nothing else (swiotlb for untrusted devices). KernelError ENOMEM when
 * bounce or IOVA space runs out, EIO when the IOMMU cannot map the pages.
 */
function mapBounced(dev: Device, pa: number, size: number, dir: DmaDirection, attrs: number): number {
  const pool = bouncePoolOf(dev);
  const len = alignUp(size, PAGE_SIZE);
  const b = pool.alloc(len, PAGE_SIZE);
  dev.ctx.debug.internal(() => dev.ctx.soc.mem.fill(b, len, 0));
  if (dir !== DMA_FROM_DEVICE) bounceCopy(dev, pa, b, size, true);
  // The bounce pages are non-cacheable: no maintenance needed for them.
  let iova: number;
  try {
    iova = iommuMapRange(dev, b, len, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
  } catch (e) {
    if (!isKernelError(e)) throw e;
    pool.free(b, len);
    throw e;
  }
  pool.live.set(iova, { origPa: pa, size, dir });
  dev.ctx.stats.bounceMaps++;
  return iova;
}

function unmapMaybeBounced(dev: Device, dmaAddr: number, size: number, dir: DmaDirection, attrs: number): void {
  const pool = bouncePoolOf(dev);
  const e = pool.live.get(dmaAddr);
  if (!e) {
    iommuUnmapRange(dev, dmaAddr, size, dir, attrs);
    return;
  }
  const len = alignUp(e.size, PAGE_SIZE);
  const b = iommuUnmapRange(dev, dmaAddr, len, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
  if (e.dir !== DMA_TO_DEVICE) bounceCopy(dev, b, e.origPa, e.size, false);
  pool.live.delete(dmaAddr);
  pool.free(b, len);
}

function syncBounced(dev: Device, dmaAddr: number, size: number, dir: DmaDirection, toCpu: boolean): void {
  const pool = bouncePoolOf(dev);
  for (const [iova, e] of pool.live) {
    if (dmaAddr < iova || dmaAddr + size > iova + e.size) continue;
    const off = dmaAddr - iova;
    const b = dev.iommu!.iovaToPhys(dmaAddr);
    if (toCpu && e.dir !== DMA_TO_DEVICE) bounceCopy(dev, b, e.origPa + off, size, false);
    if (!toCpu && e.dir !== DMA_FROM_DEVICE) bounceCopy(dev, e.origPa + off, b, size, true);
    return;
  }
  if (toCpu) iommuOps.syncSingleForCpu(dev, dmaAddr, size, dir);
  else iommuOps.syncSingleForDevice(dev, dmaAddr, size, dir);
}

/**
 * IOMMU with bounce buffers (dma-iommu's swiotlb path for untrusted
 * devices): an IOMMU maps whole pages, so mapping a buffer that does not
 * fill its pages would let the device see, and write, whatever shares them.
 * Such buffers are copied into whole bounce pages first. map_sg of a list
 * with such an entry maps entry by entry and gives EIO when one fails
 * (iommu_dma_map_sg_swiotlb); otherwise it is iommu_dma_map_sg.
 */
export const iommuBounceOps: DmaMapOps = {
  ...iommuOps,
  name: 'iommu-bounce',
  mapPage(dev, pa, size, dir, attrs) {
    return isSubPage(pa, size) ? mapBounced(dev, pa, size, dir, attrs) : iommuMapRange(dev, pa, size, dir, attrs);
  },
  unmapPage: unmapMaybeBounced,
  mapSg(dev, sgt, dir, attrs) {
    if (!sgt.sgl.slice(0, sgt.origNents).some((sg) => isSubPage(sgPhys(sg), sg.length))) return iommuOps.mapSg(dev, sgt, dir, attrs);
    for (let i = 0; i < sgt.origNents; i++) {
      const sg = sgt.sgl[i]!;
      let a: number;
      try {
        a = iommuBounceOps.mapPage(dev, sgPhys(sg), sg.length, dir, attrs);
      } catch (e) {
        if (!isKernelError(e)) throw e;
        for (let j = 0; j < i; j++) unmapMaybeBounced(dev, sgt.sgl[j]!.dmaAddress, sgt.sgl[j]!.length, dir, attrs);
        throw kerr('EIO', `${dev.name}: dma_map_sg: entry ${i} of ${sgt.origNents} could not be mapped (${e.message})`);
      }
      sg.dmaAddress = a;
      sg.dmaLength = sg.length;
    }
    sgt.nents = sgt.origNents;
    mappedPerEntry.add(sgt);
    return sgt.nents;
  },
  unmapSg(dev, sgt, dir, attrs) {
    if (!mappedPerEntry.has(sgt)) return iommuOps.unmapSg(dev, sgt, dir, attrs);
    mappedPerEntry.delete(sgt);
    for (let i = 0; i < sgt.origNents; i++) unmapMaybeBounced(dev, sgt.sgl[i]!.dmaAddress, sgt.sgl[i]!.length, dir, attrs);
  },
  syncSingleForCpu(dev, dmaAddr, size, dir) {
    syncBounced(dev, dmaAddr, size, dir, true);
  },
  syncSingleForDevice(dev, dmaAddr, size, dir) {
    syncBounced(dev, dmaAddr, size, dir, false);
  },
  syncSgForCpu(dev, sgt, dir) {
    for (let i = 0; i < sgt.nents; i++) syncBounced(dev, sgt.sgl[i]!.dmaAddress, sgt.sgl[i]!.dmaLength, dir, true);
  },
  syncSgForDevice(dev, sgt, dir) {
    for (let i = 0; i < sgt.nents; i++) syncBounced(dev, sgt.sgl[i]!.dmaAddress, sgt.sgl[i]!.dmaLength, dir, false);
  },
};
