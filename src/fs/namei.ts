import { kerr } from '../lib/index.ts';
import {
  O_ACCMODE,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_LARGEFILE,
  O_NOCTTY,
  O_NOFOLLOW,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
  S_IFREG,
} from '../uapi/index.ts';
import { File, FMODE_LSEEK, FMODE_PREAD, FMODE_PWRITE, type FileOperations } from './file.ts';
import { dcacheEntries, dirEmitList, dirLlseek, type DirContext } from './readdir.ts';
import { Inode, MAY_EXEC, MAY_READ, MAY_WRITE, inodePermission } from './inode.ts';
import type { Task } from './task.ts';
import { tmpfsFileOps, tmpfsInodeOps, tmpfsTruncate } from './tmpfs.ts';
import type { Vfs } from './vfs.ts';

/** The umask every task has here (current_umask). */
export const UMASK = 0o022;

/**
 * Operations of an opened in-memory directory (simple_dir_operations):
 * nothing to read (EISDIR), entries through getdents64. The file's
 * privateData is the parent directory it was looked up in, for "..".
 */
const dirFileOps: FileOperations = {
  name: 'dir',
  /** Directories have no bytes to read (generic_read_dir). */
  read(): Uint8Array {
    throw kerr('EISDIR', 'is a directory');
  },
  /** ".", "..", then the children newest first (dcache_readdir). */
  iterateShared(file: File, ctx: DirContext): void {
    dirEmitList(ctx, dcacheEntries(file.inode, file.privateData as Inode));
  },
  /** SEEK_SET and SEEK_CUR only (dcache_dir_lseek). */
  llseek: dirLlseek,
  /** An in-memory directory has nothing to write back (noop_fsync of simple_dir_operations). */
  fsync(): void {},
};

/** A looked-up path: the inode, its parent and the normalised path. */
export interface PathLookup {
  inode: Inode | undefined;
  dir: Inode;
  name: string;
  path: string;
}

/** Symbolic links one lookup may follow before it gives up with ELOOP (MAXSYMLINKS). */
export const MAXSYMLINKS = 40;

/**
 * Walks `path` down to its last component (path_lookupat): every directory
 * on the way needs search (exec) permission; a missing directory is
 * ENOENT, a file used as one ENOTDIR. Symbolic links on the way are
 * followed, relative ones from the directory that holds them, and ".."
 * goes up from where a link led, as the kernel walks; the last component
 * is followed too unless `follow` is false (lstat, readlink, O_NOFOLLOW).
 * More than MAXSYMLINKS links is ELOOP. The last component may be missing.
 */
export function lookupPath(vfs: Vfs, task: Task, path: string, follow = true): PathLookup {
  if (path === '') throw kerr('ENOENT', 'empty path');
  const todo = path.split('/').reverse();
  const stack: { name: string; inode: Inode }[] = [];
  const here = (): Inode => stack.at(-1)?.inode ?? vfs.root;
  const norm = (): string => '/' + stack.map((e) => e.name).join('/');
  let links = 0;
  let missing: string | undefined;
  while (todo.length > 0) {
    const name = todo.pop()!;
    if (name === '' || name === '.') continue;
    if (missing !== undefined) throw kerr('ENOENT', `${norm()}/${missing}`);
    const dir = here();
    if (!dir.isDir) throw kerr('ENOTDIR', norm());
    inodePermission(dir, task.cred, MAY_EXEC);
    if (name === '..') {
      stack.pop();
      continue;
    }
    const next = dir.children!.get(name);
    if (!next) {
      missing = name;
      continue;
    }
    const last = todo.every((n) => n === '' || n === '.');
    if (next.symlink !== undefined && (follow || !last || path.endsWith('/'))) {
      if (++links > MAXSYMLINKS) throw kerr('ELOOP', path);
      if (next.symlink.startsWith('/')) stack.length = 0;
      todo.push(...next.symlink.split('/').reverse());
      continue;
    }
    stack.push({ name, inode: next });
  }
  if (missing !== undefined) return { inode: undefined, dir: here(), name: missing, path: `${norm() === '/' ? '' : norm()}/${missing}` };
  if (stack.length === 0) return { inode: vfs.root, dir: vfs.root, name: '', path: '/' };
  const leaf = stack.pop()!;
  const parent = here();
  stack.push(leaf);
  if (!leaf.inode.isDir && path.endsWith('/') && leaf.inode.symlink === undefined) throw kerr('ENOTDIR', norm());
  return { inode: leaf.inode, dir: parent, name: leaf.name, path: norm() };
}

/** Looks up an existing path (kern_path); ENOENT when it is missing. `follow` false leaves a final symlink unfollowed. */
export function lookupInode(vfs: Vfs, task: Task, path: string, follow = true): Inode {
  const l = lookupPath(vfs, task, path, follow);
  if (!l.inode) throw kerr('ENOENT', l.path);
  return l.inode;
}

/**
 * Opens a path in the tree (do_filp_open): /dev nodes, regular files,
 * generated files and directories. Checks permissions against the task's
 * credentials (EACCES), creates with O_CREAT (mode & ~umask), honours
 * O_EXCL, O_TRUNC, O_DIRECTORY and O_NOFOLLOW (ELOOP on a final
 * symlink), then runs the node's open hook. A node
 * without operations is ENXIO. The caller gets the one reference; fd
 * installation and O_CLOEXEC are the caller's.
 */
export async function vfsOpen(vfs: Vfs, task: Task, path: string, flags: number, mode = 0o666): Promise<File> {
  const l = lookupPath(vfs, task, path, !(flags & O_NOFOLLOW));
  if (l.inode?.symlink !== undefined) throw kerr('ELOOP', `${l.path} is a symlink (O_NOFOLLOW)`);
  let inode = l.inode;
  let created = false;
  const acc = flags & O_ACCMODE;
  if (!inode) {
    if (!(flags & O_CREAT)) throw kerr('ENOENT', l.path);
    if (l.name === '') throw kerr('EISDIR', l.path);
    inodePermission(l.dir, task.cred, MAY_WRITE | MAY_EXEC);
    inode = new Inode(l.dir.sb, {
      mode: S_IFREG | (mode & 0o7777 & ~UMASK),
      uid: task.cred.uid,
      gid: task.cred.gid,
      fops: tmpfsFileOps,
      iop: tmpfsInodeOps,
    });
    l.dir.children!.set(l.name, inode);
    created = true;
  } else if (flags & O_CREAT && flags & O_EXCL) {
    throw kerr('EEXIST', l.path);
  }
  if (inode.isDir) {
    if (flags & O_CREAT || acc !== O_RDONLY) throw kerr('EISDIR', l.path);
  } else if (flags & O_DIRECTORY) {
    throw kerr('ENOTDIR', l.path);
  }
  if (!created) {
    let mask = acc === O_RDONLY ? MAY_READ : acc === O_WRONLY ? MAY_WRITE : MAY_READ | MAY_WRITE;
    if (acc === O_ACCMODE) mask = MAY_READ | MAY_WRITE;
    if (flags & O_TRUNC) mask |= MAY_WRITE;
    inodePermission(inode, task.cred, mask);
  }
  const fops = inode.isDir ? dirFileOps : inode.fops;
  if (!fops) throw kerr('ENXIO', `${l.path} has no driver`);
  if (flags & O_TRUNC && inode.isReg && (acc === O_WRONLY || acc === O_RDWR) && fops === tmpfsFileOps) {
    tmpfsTruncate(inode, 0);
  }
  const fflags = (flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)) | O_LARGEFILE;
  const file = new File(vfs, {
    inode,
    fops,
    flags: fflags,
    cred: task.cred,
    fmode: FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE,
    name: l.path,
    privateData: inode.isDir ? l.dir : undefined,
  });
  try {
    await fops.open?.(inode, file, task);
  } catch (e) {
    file.abortOpen();
    throw e;
  }
  return file;
}
