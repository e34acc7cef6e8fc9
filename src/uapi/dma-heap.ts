import { O_ACCMODE, O_CLOEXEC } from './fcntl.ts';
import { _IOWR } from './ioctl.ts';

/** dma-heap uapi (include/uapi/linux/dma-heap.h, Linux 6.1). */
export const DMA_HEAP_VALID_FD_FLAGS = O_CLOEXEC | O_ACCMODE;
/** No heap flags are defined. */
export const DMA_HEAP_VALID_HEAP_FLAGS = 0;
export const DMA_HEAP_IOC_MAGIC = 'H';

/** struct dma_heap_allocation_data (24 bytes); the kernel writes `fd`. */
export interface DmaHeapAllocationData {
  len: number | bigint;
  fd: number;
  fd_flags: number;
  heap_flags: number | bigint;
}

export const DMA_HEAP_IOCTL_ALLOC = _IOWR(DMA_HEAP_IOC_MAGIC, 0x0, 24 /* struct dma_heap_allocation_data */);
