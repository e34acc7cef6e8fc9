import { kerr } from '../lib/index.ts';
import { S_IFCHR, makedev } from '../uapi/index.ts';
import type { FileOperations } from './file.ts';
import { Inode } from './inode.ts';
import type { Vfs } from './vfs.ts';
import { splitPath } from './vfs.ts';

/** A character device node to register (what device_create and cdev_add take together). */
export interface ChrdevOptions {
  /** Absolute path of the node, e.g. /dev/dri/card0; parents are created. */
  path: string;
  major: number;
  minor: number;
  /**
   * The operations every open of the node gets; `fops.open` is the open
   * hook, run with the opener's task after the permission check.
   */
  fops: FileOperations;
  /** Permission bits (default 0600, devtmpfs's default). */
  mode?: number;
  uid?: number;
  gid?: number;
  /** The driver's per-device data (inode->i_private / the cdev's container). */
  privateData?: unknown;
}

/** A registered character device node. */
export class DeviceNode {
  readonly path: string;
  readonly inode: Inode;
  private readonly dir: Inode;
  private readonly name: string;

  constructor(path: string, inode: Inode, dir: Inode, name: string) {
    this.path = path;
    this.inode = inode;
    this.dir = dir;
    this.name = name;
  }

  /** True while the node is in /dev. */
  get registered(): boolean {
    return this.dir.children!.get(this.name) === this.inode;
  }

  /**
   * Removes the node (device_destroy): later opens get ENOENT; files
   * already open keep working until their driver says otherwise.
   */
  unregister(): void {
    if (this.registered) this.dir.children!.delete(this.name);
  }
}

/**
 * Creates a character device node with its owner, group and mode
 * (cdev_add + device_create under devtmpfs). EEXIST when the path is taken.
 */
export function registerChrdev(vfs: Vfs, opts: ChrdevOptions): DeviceNode {
  const names = splitPath(opts.path);
  const name = names.pop();
  if (!name || names[0] !== 'dev') throw kerr('EINVAL', `device node ${opts.path} is not under /dev`);
  const dir = vfs.mkdirKernel('/' + names.join('/'), 0o755, vfs.devtmpfs);
  if (dir.children!.has(name)) throw kerr('EEXIST', opts.path);
  const inode = new Inode(vfs.devtmpfs, {
    mode: S_IFCHR | ((opts.mode ?? 0o600) & 0o7777),
    uid: opts.uid ?? 0,
    gid: opts.gid ?? 0,
    rdev: makedev(opts.major, opts.minor),
    fops: opts.fops,
    privateData: opts.privateData,
  });
  dir.children!.set(name, inode);
  return new DeviceNode('/' + [...names, name].join('/'), inode, dir, name);
}
