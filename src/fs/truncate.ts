import { kerr } from '../lib/index.ts';
import { FMODE_WRITE, type File } from './file.ts';
import type { Inode } from './inode.ts';

/**
 * Sets an inode's size (do_truncate -> notify_change): through the
 * filesystem's setattr, which checks its own limits and seals, or, for an
 * inode without one, by changing i_size alone (simple_setattr). May sleep.
 */
export async function doTruncate(inode: Inode, length: number): Promise<void> {
  if (!Number.isSafeInteger(length) || length < 0) throw kerr('EINVAL', `length ${length}`);
  if (inode.iop?.setattr) await inode.iop.setattr(inode, { size: length });
  else inode.size = length;
}

/**
 * Truncates or extends an open file (do_sys_ftruncate once the fd is
 * looked up): EINVAL for a negative length, for a file that is not a
 * regular file (a dma-buf, a pipe, a device) and for one not open for
 * writing; then the filesystem's own errors (EPERM for a seal, EFBIG
 * beyond its limit). The caller checks the length before the fd, as Linux
 * does.
 */
export async function vfsFtruncate(file: File, length: number): Promise<void> {
  if (!Number.isSafeInteger(length) || length < 0) throw kerr('EINVAL', `length ${length}`);
  if (!file.inode.isReg) throw kerr('EINVAL', `${file.pathName()} is not a regular file`);
  if (!(file.mode & FMODE_WRITE)) throw kerr('EINVAL', `${file.pathName()} is not open for writing`);
  await doTruncate(file.inode, length);
}
