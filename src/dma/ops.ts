import type { MemType } from '../hw/index.ts';
import type { CmaArea } from '../mm/index.ts';
import type { Device } from './device.ts';
import type { DmaDirection } from './direction.ts';
import type { SgTable } from './scatterlist.ts';

/**
 * A buffer from dma_alloc_attrs: the pages, the address the device uses,
 * the kernel's mapping of it (none with NO_KERNEL_MAPPING) and the memory
 * type every CPU mapping of it must use.
 */
export interface DmaBuffer {
  dev: Device;
  size: number;
  attrs: number;
  dmaAddr: number;
  /** Kernel virtual address, or null when allocated with DMA_ATTR_NO_KERNEL_MAPPING. */
  cpuAddr: number | null;
  /** Page frame of every page, in order. */
  pfns: Uint32Array;
  contiguous: boolean;
  /** Memory type of CPU mappings: non-cacheable for coherent buffers of non-coherent devices. */
  memType: MemType;
  /** Where the pages came from, for freeing them. */
  source: { kind: 'cma'; area: CmaArea } | { kind: 'exact'; pfn: number; count: number } | { kind: 'pages'; blocks: [number, number][] };
  /** Runs [pfn, count] taken out of the kernel's cacheable linear map. */
  aliasRemoved: [number, number][];
  /** Bytes of vmalloc space the kernel mapping uses. */
  vmallocBytes: number;
}

/**
 * struct dma_map_ops: one table per device, chosen from the platform. alloc
 * may sleep (it may migrate pages for CMA); the map, unmap and sync calls
 * must not sleep, as in Linux, and are synchronous here.
 */
export interface DmaMapOps {
  readonly name: 'direct' | 'direct-bounce' | 'iommu' | 'iommu-bounce';
  alloc(dev: Device, size: number, attrs: number): Promise<DmaBuffer>;
  free(dev: Device, buf: DmaBuffer): void;
  /**
   * Maps a physically contiguous range; returns the device address. Where
   * Linux returns DMA_MAPPING_ERROR this throws KernelError: ENOMEM when
   * IOVA or bounce space ran out, EIO for anything else (unreachable
   * memory, a failed page-table update).
   */
  mapPage(dev: Device, pa: number, size: number, dir: DmaDirection, attrs: number): number;
  unmapPage(dev: Device, dmaAddr: number, size: number, dir: DmaDirection, attrs: number): void;
  /**
   * Maps every entry; returns the number of device segments (at least 1).
   * Fails as Linux's map_sg returns a negative errno: KernelError EINVAL,
   * ENOMEM or EIO, with nothing left mapped.
   */
  mapSg(dev: Device, sgt: SgTable, dir: DmaDirection, attrs: number): number;
  unmapSg(dev: Device, sgt: SgTable, dir: DmaDirection, attrs: number): void;
  syncSingleForCpu(dev: Device, dmaAddr: number, size: number, dir: DmaDirection): void;
  syncSingleForDevice(dev: Device, dmaAddr: number, size: number, dir: DmaDirection): void;
  syncSgForCpu(dev: Device, sgt: SgTable, dir: DmaDirection): void;
  syncSgForDevice(dev: Device, sgt: SgTable, dir: DmaDirection): void;
}
