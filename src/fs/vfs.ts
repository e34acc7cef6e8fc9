import { KernelBug, type FaultAttr } from '../lib/index.ts';
import { S_IFDIR } from '../uapi/index.ts';
import type { File, FileTracker } from './file.ts';
import { Inode, SuperBlock } from './inode.ts';

/** Identity of a pseudo filesystem mount: mount id, device minor, first inode number. */
export interface MountOptions {
  /** Mount id fdinfo prints (mnt_id); a free one is chosen when absent. */
  mntId?: number;
  /** Minor of the anonymous device (major 0) st_dev and maps report. */
  devMinor?: number;
  /** First inode number handed out. */
  firstIno?: number;
}

/**
 * The VFS of one simulated kernel: the mounted filesystems, the path tree
 * (/, /tmp, /dev, /sys/kernel/debug), every open file, and the releases
 * still running. Layers above create files through it (anon inodes, pseudo
 * filesystems, device nodes) without knowing about processes or fds.
 */
export class Vfs implements FileTracker {
  /** The root directory. */
  readonly root: Inode;
  readonly rootfs: SuperBlock;
  readonly devtmpfs: SuperBlock;
  readonly debugfs: SuperBlock;
  readonly anonInodeFs: SuperBlock;
  /** The one inode every anon_inode file shares (anon_inode_inode). */
  readonly anonInode: Inode;
  /** The failslab fault point for the kernel objects the VFS and its users allocate; null injects nothing. */
  failslab: FaultAttr | null = null;
  private readonly mounts = new Map<number, SuperBlock>();
  private readonly minors = new Set<number>();
  private readonly live = new Set<File>();
  private readonly releasing = new Set<Promise<void>>();
  private readonly releaseFailures: unknown[] = [];
  private fileSerial = 0;
  /** Files released so far (for leak accounting). */
  releasedCount = 0;

  constructor() {
    this.rootfs = this.mountPseudo('tmpfs', { mntId: 21, devMinor: 0x1a });
    this.devtmpfs = this.mountPseudo('devtmpfs', { mntId: 23, devMinor: 5 });
    this.debugfs = this.mountPseudo('debugfs', { mntId: 25, devMinor: 7 });
    this.anonInodeFs = this.mountPseudo('anon_inodefs', { mntId: 14, devMinor: 0x0e });
    this.anonInode = new Inode(this.anonInodeFs, { mode: 0o600, uid: 0, gid: 0 });
    this.root = new Inode(this.rootfs, { mode: S_IFDIR | 0o755 });
    this.mkdirKernel('/tmp', 0o1777, this.rootfs);
    this.mkdirKernel('/dev', 0o755, this.devtmpfs);
    this.mkdirKernel('/sys', 0o555, this.rootfs);
    this.mkdirKernel('/sys/kernel', 0o755, this.rootfs);
    this.mkdirKernel('/sys/kernel/debug', 0o700, this.debugfs);
  }

  /**
   * Mounts a pseudo filesystem (kern_mount of a pseudo fs): dma-buf's, sockfs.
   * KernelBug when the requested mount id or device minor is taken.
   */
  mountPseudo(name: string, opts: MountOptions = {}): SuperBlock {
    let mntId = opts.mntId;
    if (mntId === undefined) for (mntId = 30; this.mounts.has(mntId); mntId++);
    else if (this.mounts.has(mntId)) throw new KernelBug(`mount id ${mntId} is taken by ${this.mounts.get(mntId)!.name}`);
    let minor = opts.devMinor;
    if (minor === undefined) for (minor = 0x30; this.minors.has(minor); minor++);
    else if (this.minors.has(minor)) throw new KernelBug(`anonymous device 0:${minor} is taken`);
    const sb = new SuperBlock(name, mntId, minor, opts.firstIno ?? 1);
    this.mounts.set(mntId, sb);
    this.minors.add(minor);
    return sb;
  }

  /** The mounted filesystems by mount id. */
  get superBlocks(): ReadonlyMap<number, SuperBlock> {
    return this.mounts;
  }

  /**
   * Creates a directory and its missing parents as the kernel does for
   * devtmpfs and debugfs (no permission checks); returns the directory.
   */
  mkdirKernel(path: string, mode = 0o755, sb?: SuperBlock): Inode {
    let dir = this.root;
    for (const name of splitPath(path)) {
      let next = dir.children!.get(name);
      if (!next) {
        next = new Inode(sb ?? dir.sb, { mode: S_IFDIR | (mode & 0o7777) });
        dir.children!.set(name, next);
        dir.nlink++;
      } else if (!next.isDir) throw new KernelBug(`${path}: ${name} is not a directory`);
      dir = next;
    }
    return dir;
  }

  /** Registers a new open file; returns its serial number. */
  fileOpened(file: File): number {
    this.live.add(file);
    return ++this.fileSerial;
  }

  /** Forgets a released file and keeps its asynchronous release until it ends. */
  fileReleased(file: File, release: Promise<void> | undefined): void {
    if (!this.live.delete(file)) throw new KernelBug(`release of untracked file #${file.id}`);
    this.releasedCount++;
    if (!release) return;
    this.releasing.add(release);
    release.then(
      () => this.releasing.delete(release),
      (e: unknown) => {
        this.releasing.delete(release);
        this.releaseFailures.push(e);
      },
    );
  }

  /** Files that have not been released, oldest first. */
  openFiles(): File[] {
    return [...this.live];
  }

  /** Number of files not yet released. */
  get openFileCount(): number {
    return this.live.size;
  }

  /**
   * Waits until every release that sleeps has finished (flush_delayed_fput)
   * and rethrows the first that failed.
   */
  async flushDelayedFput(): Promise<void> {
    while (this.releasing.size > 0) await Promise.allSettled([...this.releasing]);
    if (this.releaseFailures.length > 0) throw this.releaseFailures.shift();
  }
}

/**
 * Splits a path into its names, resolving "." and ".."; a relative path
 * starts at / (every task's cwd here).
 */
export function splitPath(path: string): string[] {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out;
}
