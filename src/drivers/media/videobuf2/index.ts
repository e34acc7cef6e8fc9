/**
 * videobuf2 for drivers: queues (vb2-core, videobuf2-core.c), their V4L2
 * structs and ioctl handlers (vb2-v4l2, videobuf2-v4l2.c) and three allocators
 * (vmalloc for CPU-filled buffers, dma-contig for buffers a device fills
 * by DMA at one address, dma-sg for devices behind an IOMMU or with
 * scatter-gather DMA).
 * Plane memory is reference counted: the queue, every user mapping and
 * every exported dma-buf hold it, so freeing buffers orphans memory still
 * in use. Imported dma-bufs are held from QBUF until the buffer is freed
 * or given another fd. The file that allocates buffers (or starts read()
 * emulation) owns the queue until it frees them or closes; while read()
 * emulation runs, the streaming ioctls are EBUSY. USERPTR needs a Task that
 * can pin its pages (UserPagesTask). REQBUFS, QBUF, DQBUF, STREAMON/OFF,
 * read and release may sleep; poll, QUERYBUF, EXPBUF and mmap do not.
 */
export { vb2DmaContigMemops } from './vb2-dma-contig.ts';
export type { Vb2MemOps } from './vb2-memops.ts';
export { VB2_DMABUF, VB2_MMAP, VB2_READ, VB2_USERPTR, Vb2Buffer, Vb2Queue, type Vb2QueueConfig } from './vb2-core.ts';
export { vb2VmallocMemops } from './vb2-vmalloc.ts';
