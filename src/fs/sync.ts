import { kerr } from '../lib/index.ts';
import type { File } from './file.ts';

/**
 * Writes a file's data (and, unless `datasync`, its metadata) back
 * (vfs_fsync): through the file's fsync op; EINVAL for a file without
 * one, as dma-bufs, pipes and sockets are. May sleep.
 */
export async function vfsFsync(file: File, datasync: boolean): Promise<void> {
  if (!file.fOp.fsync) throw kerr('EINVAL', `${file.pathName()} cannot be synced`);
  await file.fOp.fsync(file, datasync);
}
