/**
 * DOC: dma — the DMA mapping API
 *
 * Drivers never touch caches, IOMMUs or bounce buffers; they call this API
 * and the device's dma_map_ops (direct, direct+bounce, iommu, iommu+bounce,
 * chosen from the platform) does the rest. Allocation (dmaAllocAttrs) may
 * sleep, because CMA may migrate pages; map, unmap and sync never sleep.
 * A streaming mapping belongs to the device from map (or sync_for_device)
 * until unmap (or sync_for_cpu); the CPU must not touch it in between, and
 * dma-debug reports it when it does. Buffers are freed only by their
 * owner, with the size and direction they were mapped with.
 */
export { dmaMaskLimit, type Device, type DmaContext, type DmaOverflow, type IommuMapper } from './device.ts';
export { archSyncDmaForDevice } from './direct.ts';
export {
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_ATTR_WRITE_COMBINE,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_NONE,
  DMA_TO_DEVICE,
  dirName,
  validDmaDirection,
  type DmaDirection,
} from './direction.ts';
export { iommuDmaMapper } from './dma-iommu.ts';
export {
  dmaAllocAttrs,
  dmaAllocWc,
  dmaFreeAttrs,
  dmaMapPage,
  dmaMapSg,
  dmaMapSgtable,
  dmaMapSingle,
  dmaMmapAttrs,
  dmaSyncSgForCpu,
  dmaSyncSgForDevice,
  dmaUnmapPage,
  dmaUnmapSg,
  dmaUnmapSingle,
} from './mapping.ts';
export type { DmaBuffer } from './ops.ts';
export { pfnRuns } from './remap.ts';
export { sgAllocTableFromPages, sgDmaSegments, sgPhys, sgTotalLength, type Scatterlist, type SgTable } from './scatterlist.ts';
export { createDevice, createDmaContext, type DeviceDmaConfig } from './setup.ts';
