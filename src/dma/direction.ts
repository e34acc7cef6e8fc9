/**
 * enum dma_data_direction: who writes the buffer while it is mapped.
 * The numeric values are Linux's.
 */
export const DMA_BIDIRECTIONAL = 0;
export const DMA_TO_DEVICE = 1;
export const DMA_FROM_DEVICE = 2;
export const DMA_NONE = 3;
export type DmaDirection = typeof DMA_BIDIRECTIONAL | typeof DMA_TO_DEVICE | typeof DMA_FROM_DEVICE | typeof DMA_NONE;

/** Returns the name Linux's dma-debug prints for a direction (dir2name). */
export function dirName(dir: DmaDirection): string {
  return ['DMA_BIDIRECTIONAL', 'DMA_TO_DEVICE', 'DMA_FROM_DEVICE', 'DMA_NONE'][dir]!;
}

/** True for a valid streaming direction (valid_dma_direction). */
export function validDmaDirection(dir: number): dir is DmaDirection {
  return dir === DMA_BIDIRECTIONAL || dir === DMA_TO_DEVICE || dir === DMA_FROM_DEVICE;
}

/**
 * DMA attributes (include/linux/dma-mapping.h), one bit each, passed to
 * alloc/free/mmap/map instead of separate coherent/writecombine/noncoherent
 * functions, as the Budapest summit decided.
 */
export const DMA_ATTR_WEAK_ORDERING = 1 << 1;
export const DMA_ATTR_WRITE_COMBINE = 1 << 2;
/** Linux 3.x's attribute for dma_alloc_noncoherent; later kernels made it a separate call, here it stays an attr. */
export const DMA_ATTR_NON_CONSISTENT = 1 << 3;
export const DMA_ATTR_NO_KERNEL_MAPPING = 1 << 4;
export const DMA_ATTR_SKIP_CPU_SYNC = 1 << 5;
export const DMA_ATTR_FORCE_CONTIGUOUS = 1 << 6;
export const DMA_ATTR_ALLOC_SINGLE_PAGES = 1 << 7;
export const DMA_ATTR_NO_WARN = 1 << 8;
export const DMA_ATTR_PRIVILEGED = 1 << 9;

/** Returns the attribute names set in `attrs`, for debug output. */
export function attrNames(attrs: number): string[] {
  const names: [number, string][] = [
    [DMA_ATTR_WEAK_ORDERING, 'WEAK_ORDERING'],
    [DMA_ATTR_WRITE_COMBINE, 'WRITE_COMBINE'],
    [DMA_ATTR_NON_CONSISTENT, 'NON_CONSISTENT'],
    [DMA_ATTR_NO_KERNEL_MAPPING, 'NO_KERNEL_MAPPING'],
    [DMA_ATTR_SKIP_CPU_SYNC, 'SKIP_CPU_SYNC'],
    [DMA_ATTR_FORCE_CONTIGUOUS, 'FORCE_CONTIGUOUS'],
    [DMA_ATTR_ALLOC_SINGLE_PAGES, 'ALLOC_SINGLE_PAGES'],
    [DMA_ATTR_NO_WARN, 'NO_WARN'],
    [DMA_ATTR_PRIVILEGED, 'PRIVILEGED'],
  ];
  return names.filter(([bit]) => attrs & bit).map(([, n]) => n);
}
