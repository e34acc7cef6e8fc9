import { _IOW, _IOWR } from './ioctl.ts';

/**
 * sw_sync's debugfs interface (drivers/dma-buf/sw_sync.c, Linux 6.1; the
 * kernel keeps these definitions in the driver, not in a uapi header, and
 * the selftests and IGT repeat them). Opening /sys/kernel/debug/sync/sw_sync
 * creates a timeline; these two ioctls act on it.
 */
export const SW_SYNC_IOC_MAGIC = 'W';

/**
 * struct sw_sync_create_fence_data (40 bytes): the seqno of the new fence,
 * a name (unused by 6.1), and the sync_file fd the kernel writes back.
 */
export interface SwSyncCreateFenceData {
  value: number;
  name: string;
  fence: number;
}

/** Creates a fence on the timeline at `value`; writes a sync_file fd (O_CLOEXEC) to `fence`. */
export const SW_SYNC_IOC_CREATE_FENCE = _IOWR(SW_SYNC_IOC_MAGIC, 0, 40 /* struct sw_sync_create_fence_data */);
/** Advances the timeline by a __u32 (an int pointer: `{ value }`), signalling what it reaches. */
export const SW_SYNC_IOC_INC = _IOW(SW_SYNC_IOC_MAGIC, 1, 4 /* __u32 */);
