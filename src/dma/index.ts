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
export * from './direction.ts';
export * from './scatterlist.ts';
export * from './device.ts';
export * from './ops.ts';
export * from './cache-policy.ts';
export * from './dma-debug.ts';
export * from './mapping.ts';
export * from './setup.ts';
export { BouncePool } from './bounce-pool.ts';
export { pfnRuns } from './remap.ts';
export { syncForDevice as archSyncDmaForDevice } from './direct.ts';
export { iommuDmaMapper } from './dma-iommu.ts';
