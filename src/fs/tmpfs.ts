import { kerr } from '../lib/index.ts';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, O_APPEND } from '../uapi/index.ts';
import { SHMEM_FALLOC_MODES } from './fallocate.ts';
import type { File, FileOperations, FilePos } from './file.ts';
import type { Iattr, Inode, InodeOperations } from './inode.ts';
import { genericFileLlseek } from './llseek.ts';

/** Largest regular file the in-memory filesystem holds (s_maxbytes). */
export const TMPFS_MAX_BYTES = 1 << 30;

/**
 * The bytes of a regular file in the in-memory filesystem (shmem's page
 * cache), grown by doubling. Not simulated DRAM: these files are for
 * programs' own data, logs and fd-passing tests, not for devices.
 */
export class TmpfsData {
  buf = new Uint8Array(0);
}

function dataOf(inode: Inode): TmpfsData {
  if (!(inode.privateData instanceof TmpfsData)) inode.privateData = new TmpfsData();
  return inode.privateData as TmpfsData;
}

/** Sets a regular file's size, zeroing what it exposes anew (shmem_setattr / truncate). */
export function tmpfsTruncate(inode: Inode, size: number): void {
  if (size < 0 || size > TMPFS_MAX_BYTES) throw kerr(size < 0 ? 'EINVAL' : 'EFBIG', `size ${size}`);
  const d = dataOf(inode);
  if (size > d.buf.length) grow(d, size);
  if (size < inode.size) d.buf.fill(0, size, inode.size);
  inode.size = size;
}

function grow(d: TmpfsData, need: number): void {
  let cap = Math.max(4096, d.buf.length);
  while (cap < need) cap *= 2;
  const nb = new Uint8Array(Math.min(cap, TMPFS_MAX_BYTES));
  nb.set(d.buf);
  d.buf = nb;
}

/** File operations of regular files in the in-memory filesystem (shmem_file_operations). */
export const tmpfsFileOps: FileOperations = {
  name: 'tmpfs',
  /** Copies bytes out from the position (shmem_file_read_iter). */
  read(file: File, len: number, ppos: FilePos): Uint8Array {
    const size = file.inode.size;
    const start = Math.min(ppos.pos, size);
    const end = Math.min(size, start + len);
    const out = dataOf(file.inode).buf.slice(start, end);
    ppos.pos = end > start ? end : ppos.pos;
    return out;
  },
  /** Copies bytes in, growing the file; O_APPEND writes at the end (generic_perform_write). */
  write(file: File, data: Uint8Array, ppos: FilePos): number {
    const inode = file.inode;
    if (file.flags & O_APPEND) ppos.pos = inode.size;
    const end = ppos.pos + data.length;
    if (end > TMPFS_MAX_BYTES) throw kerr('EFBIG', `file would exceed ${TMPFS_MAX_BYTES} bytes`);
    const d = dataOf(inode);
    if (end > d.buf.length) grow(d, end);
    d.buf.set(data, ppos.pos);
    if (end > inode.size) inode.size = end;
    ppos.pos = end;
    return data.length;
  },
  /** Moves the position against the file size (generic_file_llseek). */
  llseek(file: File, offset: number, whence: number): number {
    return genericFileLlseek(file, offset, whence, file.inode.size);
  },
  /** Nothing to write back: the bytes live only in memory (noop_fsync). */
  fsync(): void {},
  /**
   * Allocates or punches (shmem_fallocate): EOPNOTSUPP for modes beyond
   * KEEP_SIZE and PUNCH_HOLE; EFBIG past the largest file. Allocation
   * extends i_size unless KEEP_SIZE; a hole reads back as zeros.
   */
  fallocate(file: File, mode: number, offset: number, len: number): void {
    if (mode & ~SHMEM_FALLOC_MODES) throw kerr('EOPNOTSUPP', `mode 0x${mode.toString(16)} on tmpfs`);
    const inode = file.inode;
    const end = offset + len;
    if (mode & FALLOC_FL_PUNCH_HOLE) {
      if (offset < inode.size) dataOf(inode).buf.fill(0, offset, Math.min(end, inode.size));
      return;
    }
    if (end > TMPFS_MAX_BYTES) throw kerr('EFBIG', `offset ${offset} + length ${len}`);
    const d = dataOf(inode);
    if (end > d.buf.length) grow(d, end);
    if (!(mode & FALLOC_FL_KEEP_SIZE) && end > inode.size) inode.size = end;
  },
};

/** Inode operations of regular files in the in-memory filesystem (shmem_inode_operations). */
export const tmpfsInodeOps: InodeOperations = {
  /** Truncates or extends (shmem_setattr); a tmpfs file carries F_SEAL_SEAL only, so no seal stops it. */
  setattr(inode: Inode, attr: Iattr): void {
    if (attr.size !== undefined) tmpfsTruncate(inode, attr.size);
  },
};
