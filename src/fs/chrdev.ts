import { kerr } from '../lib/index.ts';
import { S_IFCHR, makedev } from '../uapi/index.ts';
import type { FileOperations } from './file.ts';
import { Inode } from './inode.ts';
import type { Vfs } from './vfs.ts';
import { splitPath } from './vfs.ts';
import { sysfsAddChrdev, type ChrdevSysfs, type SysfsDevice } from './sysfs.ts';

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
  /**
   * The node's device in sysfs (the class and parent given to
   * device_create). Every node gets /sys/dev/char/<major>:<minor>; with a
   * class also /sys/class/<class>/<name>.
   */
  sysfs?: ChrdevSysfs;
}

/** The device numbers registered on each VFS (the kernel's cdev_map: which dev_t are taken). */
const devtInUse = new WeakMap<Vfs, Set<number>>();

function devtSet(vfs: Vfs): Set<number> {
  let set = devtInUse.get(vfs);
  if (!set) devtInUse.set(vfs, (set = new Set()));
  return set;
}

/**
 * The first free minor of `major` in [from, end), wrapping to [0, from)
 * when none is (how video_register_device and drm_minor_alloc pick a
 * number: the driver's wish when free, else the next free one). ENFILE
 * when every minor is taken, as __video_register_device returns.
 */
export function chrdevFindFreeMinor(vfs: Vfs, major: number, from: number, end: number): number {
  const used = devtSet(vfs);
  for (let m = from; m < end; m++) if (!used.has(makedev(major, m))) return m;
  for (let m = 0; m < from; m++) if (!used.has(makedev(major, m))) return m;
  throw kerr('ENFILE', `no free minor of major ${major} in [0, ${end})`);
}

/** Whether a node with this device number is registered (the dev_t is in cdev_map). */
export function chrdevMinorInUse(vfs: Vfs, major: number, minor: number): boolean {
  return devtSet(vfs).has(makedev(major, minor));
}

/** A registered character device node. */
export class DeviceNode {
  readonly path: string;
  readonly inode: Inode;
  private readonly dir: Inode;
  private readonly name: string;

  private readonly vfs: Vfs;
  /** The node's device in sysfs. */
  readonly sysfs: SysfsDevice;

  constructor(vfs: Vfs, path: string, inode: Inode, dir: Inode, name: string, sysfs: SysfsDevice) {
    this.vfs = vfs;
    this.sysfs = sysfs;
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
   * Removes the node and its sysfs entries (device_destroy): later opens
   * get ENOENT; files already open keep working until their driver says
   * otherwise.
   */
  unregister(): void {
    if (!this.registered) return;
    this.dir.children!.delete(this.name);
    this.sysfs.remove();
    devtSet(this.vfs).delete(this.inode.rdev);
  }
}

/**
 * Creates a character device node with its owner, group and mode, and its
 * device in sysfs (cdev_add + device_create, devtmpfs making the node).
 * EEXIST when the path is taken or sysfs already has the device.
 */
export function registerChrdev(vfs: Vfs, opts: ChrdevOptions): DeviceNode {
  const names = splitPath(opts.path);
  const name = names.pop();
  if (!name || names[0] !== 'dev') throw kerr('EINVAL', `device node ${opts.path} is not under /dev`);
  const dir = vfs.mkdirKernel('/' + names.join('/'), 0o755, vfs.devtmpfs);
  if (dir.children!.has(name)) throw kerr('EEXIST', opts.path);
  const sysfs = sysfsAddChrdev(vfs, opts.major, opts.minor, [...names.slice(1), name].join('/'), opts.sysfs);
  const inode = new Inode(vfs.devtmpfs, {
    mode: S_IFCHR | ((opts.mode ?? 0o600) & 0o7777),
    uid: opts.uid ?? 0,
    gid: opts.gid ?? 0,
    rdev: makedev(opts.major, opts.minor),
    fops: opts.fops,
    privateData: opts.privateData,
  });
  dir.children!.set(name, inode);
  devtSet(vfs).add(inode.rdev);
  return new DeviceNode(vfs, '/' + [...names, name].join('/'), inode, dir, name, sysfs);
}
