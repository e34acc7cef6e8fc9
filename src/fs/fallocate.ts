import { kerr } from '../lib/index.ts';
import {
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_INSERT_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_SUPPORTED_MASK,
  FALLOC_FL_UNSHARE_RANGE,
  FALLOC_FL_ZERO_RANGE,
  S_IFBLK,
  S_IFDIR,
  S_IFIFO,
  S_IFMT,
  S_IFREG,
} from '../uapi/index.ts';
import { FMODE_WRITE, type File } from './file.ts';

/**
 * Allocates or frees file space (vfs_fallocate), with Linux's checks in
 * its order: EINVAL for a negative offset or a length not above zero;
 * EOPNOTSUPP for unknown mode bits, PUNCH_HOLE with ZERO_RANGE, or
 * PUNCH_HOLE without KEEP_SIZE; EINVAL for COLLAPSE_RANGE or INSERT_RANGE
 * with other bits, or UNSHARE_RANGE with anything but KEEP_SIZE; EBADF
 * for a file not open for writing; ESPIPE for a pipe, EISDIR for a
 * directory, ENODEV for anything but a regular file or block device (a
 * dma-buf, whose anonymous inode has no type bits, a socket, a device
 * node); EFBIG past the filesystem's largest file; EOPNOTSUPP when the
 * file has no fallocate op. Then the file's op. May sleep.
 */
export async function vfsFallocate(file: File, mode: number, offset: number, len: number): Promise<void> {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(len) || offset < 0 || len <= 0) throw kerr('EINVAL', `offset ${offset} length ${len}`);
  if (!Number.isInteger(mode) || mode & ~FALLOC_FL_SUPPORTED_MASK) throw kerr('EOPNOTSUPP', `mode 0x${mode.toString(16)}`);
  if ((mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) === (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
    throw kerr('EOPNOTSUPP', 'PUNCH_HOLE and ZERO_RANGE together');
  }
  if (mode & FALLOC_FL_PUNCH_HOLE && !(mode & FALLOC_FL_KEEP_SIZE)) throw kerr('EOPNOTSUPP', 'PUNCH_HOLE without KEEP_SIZE');
  if (mode & FALLOC_FL_COLLAPSE_RANGE && mode & ~FALLOC_FL_COLLAPSE_RANGE) throw kerr('EINVAL', 'COLLAPSE_RANGE with other modes');
  if (mode & FALLOC_FL_INSERT_RANGE && mode & ~FALLOC_FL_INSERT_RANGE) throw kerr('EINVAL', 'INSERT_RANGE with other modes');
  if (mode & FALLOC_FL_UNSHARE_RANGE && mode & ~(FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE)) throw kerr('EINVAL', 'UNSHARE_RANGE with other modes');
  if (!(file.mode & FMODE_WRITE)) throw kerr('EBADF', `${file.pathName()} is not open for writing`);
  const type = file.inode.mode & S_IFMT;
  if (type === S_IFIFO) throw kerr('ESPIPE', `${file.pathName()} is a pipe`);
  if (type === S_IFDIR) throw kerr('EISDIR', `${file.pathName()} is a directory`);
  if (type !== S_IFREG && type !== S_IFBLK) throw kerr('ENODEV', `${file.pathName()} is not a regular file`);
  if (offset + len > file.inode.sb.maxBytes) throw kerr('EFBIG', `offset ${offset} + length ${len}`);
  if (!file.fOp.fallocate) throw kerr('EOPNOTSUPP', `${file.pathName()} has no fallocate`);
  await file.fOp.fallocate(file, mode, offset, len);
}

/** The only modes shmem's fallocate takes (shmem_fallocate): plain allocation, KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE. */
export const SHMEM_FALLOC_MODES = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE;
