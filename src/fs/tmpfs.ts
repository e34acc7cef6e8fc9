import { kerr } from '../lib/index.ts';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, O_APPEND } from '../uapi/index.ts';
import { SHMEM_FALLOC_MODES } from './fallocate.ts';
import type { File, FileOperations, FilePos } from './file.ts';
import type { Iattr, Inode, InodeOperations } from './inode.ts';
import { genericFileLlseek } from './llseek.ts';

/** Largest regular file the in-memory filesystem holds (s_maxbytes). */
export const TMPFS_MAX_BYTES = 1 << 30;

/** Bytes a block of a file's data holds: a run of shmem's pages. */
const BLOCK_SHIFT = 16;
const BLOCK = 1 << BLOCK_SHIFT;

/**
 * The bytes of a regular file in the in-memory filesystem (shmem's page
 * cache): blocks of BLOCK bytes, each made when first written, so a hole
 * costs nothing and a growing file is never copied. Not simulated DRAM:
 * these files are for programs' own data, streams, logs and fd-passing
 * tests, not for devices.
 */
export class TmpfsData {
  private readonly blocks: (Uint8Array | undefined)[] = [];

  /** Bytes start..end, a new array (zeros where nothing was written). */
  read(start: number, end: number): Uint8Array {
    const out = new Uint8Array(end - start);
    for (let at = start; at < end; ) {
      const bi = at >> BLOCK_SHIFT;
      const bo = at - bi * BLOCK;
      const n = Math.min(end - at, BLOCK - bo);
      const b = this.blocks[bi];
      if (b) out.set(n === BLOCK ? b : b.subarray(bo, bo + n), at - start);
      at += n;
    }
    return out;
  }

  /** Writes `data` at `pos`. */
  write(pos: number, data: Uint8Array): void {
    for (let done = 0; done < data.length; ) {
      const at = pos + done;
      const bi = at >> BLOCK_SHIFT;
      const bo = at - bi * BLOCK;
      const n = Math.min(data.length - done, BLOCK - bo);
      const b = (this.blocks[bi] ??= new Uint8Array(BLOCK));
      b.set(n === data.length ? data : data.subarray(done, done + n), bo);
      done += n;
    }
  }

  /** Zeros start..end: a block wholly inside goes, as a hole. */
  zero(start: number, end: number): void {
    for (let at = start; at < end; ) {
      const bi = at >> BLOCK_SHIFT;
      const bo = at - bi * BLOCK;
      const n = Math.min(end - at, BLOCK - bo);
      if (n === BLOCK) this.blocks[bi] = undefined;
      else this.blocks[bi]?.fill(0, bo, bo + n);
      at += n;
    }
  }
}

function dataOf(inode: Inode): TmpfsData {
  if (!(inode.privateData instanceof TmpfsData)) inode.privateData = new TmpfsData();
  return inode.privateData as TmpfsData;
}

/** Sets a regular file's size, zeroing what it exposes anew (shmem_setattr / truncate). */
export function tmpfsTruncate(inode: Inode, size: number): void {
  if (size < 0 || size > TMPFS_MAX_BYTES) throw kerr(size < 0 ? 'EINVAL' : 'EFBIG', `size ${size}`);
  if (size < inode.size) dataOf(inode).zero(size, inode.size);
  inode.size = size;
}

/** File operations of regular files in the in-memory filesystem (shmem_file_operations). */
export const tmpfsFileOps: FileOperations = {
  name: 'tmpfs',
  /** Copies bytes out from the position (shmem_file_read_iter). */
  read(file: File, len: number, ppos: FilePos): Uint8Array {
    const size = file.inode.size;
    const start = Math.min(ppos.pos, size);
    const end = Math.min(size, start + len);
    const out = dataOf(file.inode).read(start, end);
    ppos.pos = end > start ? end : ppos.pos;
    return out;
  },
  /** Copies bytes in, growing the file; O_APPEND writes at the end (generic_perform_write). */
  write(file: File, data: Uint8Array, ppos: FilePos): number {
    const inode = file.inode;
    if (file.flags & O_APPEND) ppos.pos = inode.size;
    const end = ppos.pos + data.length;
    if (end > TMPFS_MAX_BYTES) throw kerr('EFBIG', `file would exceed ${TMPFS_MAX_BYTES} bytes`);
    dataOf(inode).write(ppos.pos, data);
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
      if (offset < inode.size) dataOf(inode).zero(offset, Math.min(end, inode.size));
      return;
    }
    if (end > TMPFS_MAX_BYTES) throw kerr('EFBIG', `offset ${offset} + length ${len}`);
    // the range reads as zeros until written: nothing to make ahead of it
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
