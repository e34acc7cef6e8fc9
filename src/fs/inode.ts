import { KernelBug, kerr } from '../lib/index.ts';
import { S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, makedev, type Stat } from '../uapi/index.ts';
import { inGroup, type Cred } from './cred.ts';
import type { FileOperations } from './file.ts';

/** A symlink's size is its target's length in UTF-8 bytes. */
const utf8 = new TextEncoder();

/** Permission masks for inodePermission (MAY_EXEC, MAY_WRITE, MAY_READ). */
export const MAY_EXEC = 1;
export const MAY_WRITE = 2;
export const MAY_READ = 4;

/**
 * A mounted filesystem instance (struct super_block + its vfsmount): the
 * device number st_dev reports, the mount id fdinfo prints, and the inode
 * number counter. Pseudo filesystems (anon_inodefs, dmabuf, sockfs) have an
 * anonymous device, major 0.
 */
export class SuperBlock {
  readonly name: string;
  readonly mntId: number;
  readonly devMajor: number;
  readonly devMinor: number;
  /** Largest file the filesystem holds (s_maxbytes); MAX_LFS_FILESIZE unless the filesystem says less. */
  maxBytes = Number.MAX_SAFE_INTEGER;
  private nextIno: number;

  constructor(name: string, mntId: number, devMinor: number, firstIno = 1, devMajor = 0) {
    this.name = name;
    this.mntId = mntId;
    this.devMajor = devMajor;
    this.devMinor = devMinor;
    this.nextIno = firstIno;
  }

  /** Hands out the next inode number of this filesystem (get_next_ino). */
  allocIno(): number {
    return this.nextIno++;
  }

  /** st_dev of this filesystem's inodes (sb->s_dev). */
  get dev(): number {
    return makedev(this.devMajor, this.devMinor);
  }

  /** "MM:mm" as /proc/<pid>/maps prints the device. */
  get devString(): string {
    const h = (n: number) => n.toString(16).padStart(2, '0');
    return `${h(this.devMajor)}:${h(this.devMinor)}`;
  }
}

/** Attribute changes setattr applies (struct iattr); only the size is modelled. */
export interface Iattr {
  /** New i_size (ATTR_SIZE): truncate or extend. */
  size?: number;
}

/**
 * What a filesystem does to its inodes (struct inode_operations); only
 * setattr, which truncation goes through. May sleep.
 */
export interface InodeOperations {
  /**
   * Changes the inode's attributes (i_op->setattr): for a size, checks
   * what the filesystem allows (seals, limits), then truncates or extends.
   */
  setattr?(inode: Inode, attr: Iattr): void | Promise<void>;
}

/** The fields a new inode starts with. */
export interface InodeInit {
  mode: number;
  uid?: number;
  gid?: number;
  /** Device number of a character device node (i_rdev). */
  rdev?: number;
  size?: number;
  /** The file operations opening this inode gives (i_fop / the cdev's ops). */
  fops?: FileOperations | null;
  /** The filesystem's inode operations (i_op). */
  iop?: InodeOperations | null;
  privateData?: unknown;
  /** A symbolic link's target (S_IFLNK); the link's size is the target's length. */
  symlink?: string;
}

/**
 * An inode (struct inode): identity (filesystem + number), type and
 * permission bits, owner, size, and what opening it does. Directories hold
 * their entries by name.
 */
export class Inode {
  readonly sb: SuperBlock;
  readonly ino: number;
  mode: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  nlink: number;
  fops: FileOperations | null;
  iop: InodeOperations | null;
  /** i_blocks (512-byte units) for filesystems that count what they allocated; null: derived from the size. */
  blocks: number | null = null;
  privateData: unknown;
  /** Entries of a directory; null for every other type. */
  readonly children: Map<string, Inode> | null;
  /** What a symbolic link points to (i_link); undefined for every other type and for procfs's links. */
  readonly symlink: string | undefined;

  constructor(sb: SuperBlock, init: InodeInit) {
    this.sb = sb;
    this.ino = sb.allocIno();
    this.mode = init.mode;
    this.uid = init.uid ?? 0;
    this.gid = init.gid ?? 0;
    this.rdev = init.rdev ?? 0;
    this.size = init.size ?? 0;
    this.fops = init.fops ?? null;
    this.iop = init.iop ?? null;
    this.privateData = init.privateData;
    const dir = (init.mode & S_IFMT) === S_IFDIR;
    this.nlink = dir ? 2 : 1;
    this.children = dir ? new Map() : null;
    // procfs's links have no stored target: theirs is made when they are read (proc_pid_readlink)
    if (init.symlink !== undefined) {
      if ((init.mode & S_IFMT) !== S_IFLNK) throw new KernelBug('a symlink target on an inode that is not a symlink');
      this.symlink = init.symlink;
      this.size = utf8.encode(init.symlink).length;
    }
  }

  /** True for a directory (S_ISDIR). */
  get isDir(): boolean {
    return (this.mode & S_IFMT) === S_IFDIR;
  }

  /** True for a regular file (S_ISREG). */
  get isReg(): boolean {
    return (this.mode & S_IFMT) === S_IFREG;
  }

  /** True for a character device node (S_ISCHR). */
  get isChr(): boolean {
    return (this.mode & S_IFMT) === S_IFCHR;
  }

  /** What fstat reports for this inode (generic_fillattr). */
  stat(): Stat {
    return {
      st_dev: this.sb.dev,
      st_ino: this.ino,
      st_mode: this.mode,
      st_nlink: this.nlink,
      st_uid: this.uid,
      st_gid: this.gid,
      st_rdev: this.rdev,
      st_size: this.size,
      st_blksize: 4096,
      st_blocks: this.blocks ?? Math.ceil(this.size / 512),
    };
  }
}

/**
 * Checks `mask` (MAY_READ|MAY_WRITE|MAY_EXEC) against the inode's owner,
 * group and other bits for `cred` (inode_permission, generic_permission).
 * Root passes read and write always and exec when any exec bit is set
 * (CAP_DAC_OVERRIDE). Throws EACCES.
 */
export function inodePermission(inode: Inode, cred: Cred, mask: number): void {
  modePermission(inode.mode, inode.uid, inode.gid, cred, mask);
}

/**
 * The check inodePermission makes, on the mode and owner alone
 * (generic_permission), for nodes that are made up as they are looked up
 * (procfs). Throws EACCES.
 */
export function modePermission(mode: number, uid: number, gid: number, cred: Cred, mask: number): void {
  if (mask & ~(MAY_READ | MAY_WRITE | MAY_EXEC)) throw new KernelBug(`bad permission mask ${mask}`);
  if (cred.uid === 0) {
    if (!(mask & MAY_EXEC) || (mode & S_IFMT) === S_IFDIR || mode & 0o111) return;
    throw kerr('EACCES', 'no exec bit set');
  }
  let bits: number;
  if (cred.uid === uid) bits = (mode >> 6) & 7;
  else if (inGroup(cred, gid)) bits = (mode >> 3) & 7;
  else bits = mode & 7;
  if ((bits & mask) !== mask) throw kerr('EACCES', `mode 0${(mode & 0o7777).toString(8)} uid ${uid} gid ${gid}`);
}
