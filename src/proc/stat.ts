import { kerr } from '../lib/index.ts';
import { inodePermission, lookupInode, splitPath, type Inode } from '../fs/index.ts';
import {
  AT_EACCESS,
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_NO_AUTOMOUNT,
  AT_STATX_SYNC_TYPE,
  AT_SYMLINK_NOFOLLOW,
  S_IRWXO,
  type Stat,
} from '../uapi/index.ts';
import type { ProcKernel } from './kernel.ts';
import type { Process } from './process.ts';
import { parseProcPath } from './procfs.ts';
import { procLookup } from './procfs-nodes.ts';

/** Flags fstatat takes (vfs_statx): the rest are EINVAL. */
const STAT_FLAGS = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE;
/** Flags faccessat2 takes. */
const ACCESS_FLAGS = AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH;

/**
 * Resolves `path` relative to `dirfd` to an inode (user_path_at):
 * absolute paths ignore dirfd; a relative one starts at AT_FDCWD (/, every
 * task's cwd here) or at the directory `dirfd` refers to (EBADF, ENOTDIR
 * for a file that is not one). An empty path is the dirfd's own inode with
 * AT_EMPTY_PATH (`emptyOk`), else ENOENT. Symlinks (/proc/self,
 * /proc/<pid>/fd/N) are followed unless `follow` is false; a trailing
 * slash follows them and needs a directory (ENOTDIR).
 */
export function userPathAt(k: ProcKernel, p: Process, dirfd: number, path: string, follow: boolean, emptyOk: boolean): Inode {
  if (typeof path !== 'string') throw kerr('EFAULT', 'path is not a string');
  if (path === '') {
    if (!emptyOk) throw kerr('ENOENT', 'empty path');
    return dirfd === AT_FDCWD ? k.vfs.root : p.files.lookup(dirfd).inode;
  }
  let full = path;
  if (!path.startsWith('/') && dirfd !== AT_FDCWD) {
    const f = p.files.lookup(dirfd);
    if (!f.inode.isDir) throw kerr('ENOTDIR', `fd ${dirfd} is not a directory`);
    full = `${f.pathName()}/${path}`;
  }
  const slash = full.endsWith('/');
  const names = splitPath(full);
  const pp = parseProcPath(names, p.pid);
  const inode = pp ? procLookup(k, p, names, pp, follow || slash) : lookupInode(k.vfs, p, full, follow || slash);
  if (slash && !inode.isDir) throw kerr('ENOTDIR', full);
  return inode;
}

/**
 * fstatat(2) (newfstatat): the status of what `path` names relative to
 * `dirfd`, in fstat's shape. `flags`: AT_SYMLINK_NOFOLLOW (the link
 * itself), AT_EMPTY_PATH (the dirfd itself with an empty path),
 * AT_NO_AUTOMOUNT and the AT_STATX_SYNC bits (no effect); others EINVAL.
 * stat(2) and lstat(2) are this with AT_FDCWD.
 */
export function sysFstatat(k: ProcKernel, p: Process, dirfd: number, path: string, flags: number): Stat {
  if (typeof path !== 'string') throw kerr('EFAULT', 'path is not a string');
  // the name is taken before the flags are looked at (getname_flags, then vfs_statx)
  if (path === '' && !(flags & AT_EMPTY_PATH)) throw kerr('ENOENT', 'empty path');
  if (!Number.isInteger(flags) || flags & ~STAT_FLAGS) throw kerr('EINVAL', `flags 0x${flags.toString(16)}`);
  return userPathAt(k, p, dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), (flags & AT_EMPTY_PATH) !== 0).stat();
}

/**
 * faccessat2(2): whether the caller may read, write or execute (R_OK,
 * W_OK, X_OK) what `path` names, or whether it exists (F_OK), checked
 * against mode, owner and group as open checks them (root passes read
 * and write, and exec when any exec bit is set). EINVAL for mode bits
 * beyond R_OK|W_OK|X_OK or flags beyond AT_EACCESS, AT_SYMLINK_NOFOLLOW
 * and AT_EMPTY_PATH; EACCES when denied; lookup errors as for stat.
 * access(2) and faccessat(2) are this with no flags.
 */
export function sysFaccessat(k: ProcKernel, p: Process, dirfd: number, path: string, mode: number, flags: number): void {
  if (!Number.isInteger(mode) || mode & ~S_IRWXO) throw kerr('EINVAL', `mode ${mode}`);
  if (!Number.isInteger(flags) || flags & ~ACCESS_FLAGS) throw kerr('EINVAL', `flags 0x${flags.toString(16)}`);
  const inode = userPathAt(k, p, dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), (flags & AT_EMPTY_PATH) !== 0);
  // the "other" bits R_OK|W_OK|X_OK are MAY_READ|MAY_WRITE|MAY_EXEC
  if (mode) inodePermission(inode, p.cred, mode);
}
