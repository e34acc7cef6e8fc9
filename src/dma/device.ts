import type { CachePolicy } from './cache-policy.ts';
import type { DmaDebug } from './dma-debug.ts';
import type { DmaMapOps } from './ops.ts';
import type { BouncePool } from './bounce-pool.ts';
import type { CmaArea, Mm } from '../mm/index.ts';
import type { DmaMaster, Soc } from '../hw/index.ts';

/**
 * What the DMA API needs from a device's IOMMU, whatever driver sits
 * behind it: IOVA space and page-table updates. The platform builder
 * adapts the IOMMU layer's domain and IOVA allocator to this.
 */
export interface IommuMapper {
  /** Allocates `size` bytes of IOVA space below `limit` (alloc_iova_fast); KernelError ENOMEM when full. */
  allocIova(size: number, limit: number): number;
  /** Returns IOVA space (free_iova_fast); KernelBug when it was not allocated. */
  freeIova(iova: number, size: number): void;
  /** Maps [iova, iova+size) to [pa, pa+size) (iommu_map); throws KernelError. */
  map(iova: number, pa: number, size: number, prot: { read: boolean; write: boolean; cached: boolean }): void;
  /** Maps 4 KiB pages `pas[0..count)` at consecutive IOVAs from `iova` under one update (iommu_map_sg). */
  mapPages?(iova: number, pas: ArrayLike<number>, count: number, prot: { read: boolean; write: boolean; cached: boolean }): void;
  /** Unmaps; returns the bytes unmapped (iommu_unmap). */
  unmap(iova: number, size: number): number;
  /** The physical address an IOVA translates to, or -1 (iommu_iova_to_phys). */
  iovaToPhys(iova: number): number;
}

/** Counters of the DMA layer for one system. */
export interface DmaStats {
  maps: number;
  unmaps: number;
  syncs: number;
  allocs: number;
  allocBytes: number;
  bounceBytes: number;
  bounceMaps: number;
  mappingErrors: number;
}

/** Shared state of the DMA layer of one system. */
export interface DmaContext {
  soc: Soc;
  mm: Mm;
  debug: DmaDebug;
  policy: CachePolicy;
  stats: DmaStats;
}

/**
 * struct device, as far as DMA is concerned: masks, segment limits,
 * coherency, the ops table chosen from the platform, and the resources the
 * ops use (CMA area, IOMMU, bounce pool).
 */
export interface Device {
  name: string;
  kind: string;
  master: DmaMaster;
  /** Bits of the streaming DMA mask (dma_set_mask); addresses must be below 2^bits. */
  dmaMaskBits: number;
  /** Bits of the coherent DMA mask (dma_set_coherent_mask). */
  coherentMaskBits: number;
  /** dma_get_max_seg_size */
  maxSegmentSize: number;
  /** dma_get_seg_boundary + 1: no segment may cross a multiple of this. */
  segmentBoundary: number;
  /** dev_is_dma_coherent: DMA snoops the CPU cache. */
  coherent: boolean;
  /** The device cannot scatter-gather and has no IOMMU: buffers must be physically contiguous. */
  needsContiguous: boolean;
  alignment: number;
  cma: CmaArea | null;
  iommu: IommuMapper | null;
  bounce: BouncePool | null;
  ops: DmaMapOps;
  ctx: DmaContext;
  /** Set by device removal; later calls are dma-debug findings. */
  removed: boolean;
  /**
   * Mappings refused because the memory lay beyond the DMA mask with
   * nothing to bounce through (what report_addr logs once): the first
   * refused range, when, and how many were refused. Absent while none was.
   */
  overflow?: DmaOverflow;
}

/** The mappings a direct device refused for lying beyond its mask: the first one, and the count. */
export interface DmaOverflow {
  pa: number;
  size: number;
  /** Simulated ns of the first refusal. */
  timeNs: number;
  count: number;
}

/** 2^bits as an exclusive address limit (DMA_BIT_MASK(bits) + 1). */
export function dmaMaskLimit(bits: number): number {
  return 2 ** bits;
}

/** True when a device can address [addr, addr+size) directly (dma_capable). */
export function dmaCapable(dev: Device, addr: number, size: number): boolean {
  return addr + size <= dmaMaskLimit(dev.dmaMaskBits);
}

/** True when [addr, addr+size) crosses the device's segment boundary. */
export function crossesBoundary(dev: Device, addr: number, size: number): boolean {
  if (size === 0) return false;
  const b = dev.segmentBoundary;
  return Math.floor(addr / b) !== Math.floor((addr + size - 1) / b);
}
