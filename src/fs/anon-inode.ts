import { kerr, shouldFail } from '../lib/index.ts';
import { O_ACCMODE, O_NONBLOCK } from '../uapi/index.ts';
import { ROOT_CRED, type Cred } from './cred.ts';
import { File, type FileOperations } from './file.ts';
import { Inode, type SuperBlock } from './inode.ts';
import type { Vfs } from './vfs.ts';

/**
 * Creates a file on the shared anonymous inode (anon_inode_getfile), as
 * sync_file and fence fds are: readlink shows "anon_inode:<name>", every
 * such file reports the same st_ino, and only O_ACCMODE and O_NONBLOCK of
 * `flags` are kept. The caller owns the one reference.
 */
export function anonInodeGetFile(
  vfs: Vfs,
  name: string,
  fops: FileOperations,
  privateData: unknown,
  flags: number,
  cred: Cred = ROOT_CRED,
): File {
  const link = `anon_inode:${name}`;
  failFileAlloc(vfs, 'anon_inode_getfile');
  return new File(vfs, { inode: vfs.anonInode, fops, flags: flags & (O_ACCMODE | O_NONBLOCK), cred, privateData, name: link });
}

/**
 * Creates an inode on a pseudo filesystem (alloc_anon_inode), e.g. one per
 * dma-buf. Linux gives such inodes mode 0600 with no file-type bits, so
 * they are not S_ISREG (FIONREAD goes to the file's ioctl, ENOTTY).
 */
export function allocAnonInode(sb: SuperBlock, size = 0, privateData?: unknown, mode = 0o600): Inode {
  return new Inode(sb, { mode, size, privateData, uid: 0, gid: 0 });
}

/** How allocFilePseudo sets up the file. */
export interface PseudoFileOptions {
  /** open flags; O_CLOEXEC is the fd's and is dropped. */
  flags: number;
  privateData?: unknown;
  cred?: Cred;
  /** readlink's text, fixed or computed each time (d_dname), e.g. "/dmabuf:" + name. */
  name: string | ((file: File) => string);
}

/**
 * Creates a file on an inode of a pseudo filesystem (alloc_file_pseudo), as
 * dma-buf does. Such files have no FMODE_LSEEK/FMODE_PREAD: pread is
 * ESPIPE; lseek works only through the ops' llseek. The caller owns the one
 * reference.
 */
export function allocFilePseudo(vfs: Vfs, inode: Inode, fops: FileOperations, opts: PseudoFileOptions): File {
  failFileAlloc(vfs, 'alloc_file_pseudo');
  return new File(vfs, {
    inode,
    fops,
    flags: opts.flags,
    cred: opts.cred ?? ROOT_CRED,
    privateData: opts.privateData,
    name: opts.name,
  });
}

/** The struct file allocation (alloc_empty_file's kmem_cache_zalloc) failing under failslab: ENOMEM. */
function failFileAlloc(vfs: Vfs, call: string): void {
  if (shouldFail(vfs.failslab, FILE_OBJECT_SIZE, call)) throw kerr('ENOMEM', `${call}: struct file allocation failed by failslab`);
}

/** Bytes of a struct file on a 32-bit kernel, what failslab's space knob counts. */
const FILE_OBJECT_SIZE = 128;
