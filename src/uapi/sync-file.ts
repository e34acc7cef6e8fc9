import { _IOWR } from './ioctl.ts';

/** sync_file uapi (include/uapi/linux/sync_file.h, Linux 6.1). */
export const SYNC_IOC_MAGIC = '>';

/** struct sync_merge_data (48 bytes); the kernel writes `fence`. */
export interface SyncMergeData {
  name: string;
  fd2: number;
  fence: number;
  flags: number;
  pad: number;
}

/** struct sync_fence_info (80 bytes), one per fence of a sync_file. */
export interface SyncFenceInfo {
  obj_name: string;
  driver_name: string;
  /** 0 active, 1 signaled, negative errno on error. */
  status: number;
  flags: number;
  timestamp_ns: number | bigint;
}

/**
 * struct sync_file_info (56 bytes). `sync_fence_info` is a user pointer in C:
 * here an array the kernel fills with `num_fences` entries when the caller
 * passes one and sets `num_fences` to its capacity; 0 asks for the count only.
 */
export interface SyncFileInfo {
  name: string;
  status: number;
  flags: number;
  num_fences: number;
  pad: number;
  sync_fence_info: SyncFenceInfo[] | number;
}

export const SYNC_IOC_MERGE = _IOWR(SYNC_IOC_MAGIC, 3, 48 /* struct sync_merge_data */);
export const SYNC_IOC_FILE_INFO = _IOWR(SYNC_IOC_MAGIC, 4, 56 /* struct sync_file_info */);
