import { _IOW, _IOWR } from './ioctl.ts';

/** dma-buf uapi (include/uapi/linux/dma-buf.h, Linux 6.1). */
export const DMA_BUF_SYNC_READ = 1 << 0;
export const DMA_BUF_SYNC_WRITE = 2 << 0;
export const DMA_BUF_SYNC_RW = DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE;
export const DMA_BUF_SYNC_START = 0 << 2;
export const DMA_BUF_SYNC_END = 1 << 2;
export const DMA_BUF_SYNC_VALID_FLAGS_MASK = DMA_BUF_SYNC_RW | DMA_BUF_SYNC_END;
/** Longest name DMA_BUF_SET_NAME accepts, counting the NUL. */
export const DMA_BUF_NAME_LEN = 32;
export const DMA_BUF_BASE = 'b';

/** struct dma_buf_sync (8 bytes). `flags` is a __u64: a bigint carries bits above 2^53. */
export interface DmaBufSync {
  flags: number | bigint;
}

/** struct dma_buf_export_sync_file (8 bytes); the kernel writes `fd`. */
export interface DmaBufExportSyncFile {
  flags: number;
  fd: number;
}

/** struct dma_buf_import_sync_file (8 bytes). */
export interface DmaBufImportSyncFile {
  flags: number;
  fd: number;
}

/**
 * DMA_BUF_SET_NAME's argument is a pointer to a NUL-terminated string; here
 * the string itself (or `{ name }`); null stands for a NULL pointer.
 */
export type DmaBufSetNameArg = string | { name: string } | null;

export const DMA_BUF_IOCTL_SYNC = _IOW(DMA_BUF_BASE, 0, 8 /* struct dma_buf_sync */);
/** Declared with `const char *`: the pointer size, 8 on 64-bit, so equal to the B variant there. */
export const DMA_BUF_SET_NAME = _IOW(DMA_BUF_BASE, 1, 8 /* const char * on LP64 */);
export const DMA_BUF_SET_NAME_A = _IOW(DMA_BUF_BASE, 1, 4 /* __u32 */);
export const DMA_BUF_SET_NAME_B = _IOW(DMA_BUF_BASE, 1, 8 /* __u64 */);
export const DMA_BUF_IOCTL_EXPORT_SYNC_FILE = _IOWR(DMA_BUF_BASE, 2, 8 /* struct dma_buf_export_sync_file */);
export const DMA_BUF_IOCTL_IMPORT_SYNC_FILE = _IOW(DMA_BUF_BASE, 3, 8 /* struct dma_buf_import_sync_file */);
