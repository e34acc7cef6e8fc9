import { KernelBug, kerr } from '../lib/index.ts';
import { S_IFDIR, S_IFLNK, S_IFREG } from '../uapi/index.ts';
import { Inode, type SuperBlock } from './inode.ts';
import { seqFileOps, type SeqShow } from './seq-file.ts';
import type { Vfs } from './vfs.ts';

/**
 * How a character device appears in sysfs (the struct device that
 * device_create makes for it): its class, its name there, its parent, and
 * the attributes its class or driver adds.
 */
export interface ChrdevSysfs {
  /**
   * The device's class (/sys/class/<class>): drm, video4linux, dma_heap,
   * misc, sound. Without one the device is reachable only as
   * /sys/dev/char/<major>:<minor>.
   */
  class?: string;
  /** The device's name (dev_name); default the node's file name. */
  name?: string;
  /**
   * The parent device's directory below /sys/devices, e.g. "platform/vgem";
   * the class device then lives in <parent>/<class>/<name>, as device_add's
   * glue directory puts it. Default: a virtual device, virtual/<class>/<name>.
   */
  parent?: string;
  /** The device type's name, printed as DEVTYPE in uevent (drm_minor for DRM nodes). */
  devtype?: string;
  /** Extra read-only attributes of the device, by file name (video4linux's `name`, ...). */
  attrs?: Readonly<Record<string, SeqShow>>;
}

/** The sysfs mount of each VFS, made on the first device. */
const sysfsOf = new WeakMap<Vfs, SuperBlock>();

function sysfsSb(vfs: Vfs): SuperBlock {
  let sb = sysfsOf.get(vfs);
  if (!sb) {
    // mount id and anonymous device chosen clear of every other fixed mount
    sb = vfs.mountPseudo('sysfs', { mntId: 24, devMinor: 0x16 });
    sysfsOf.set(vfs, sb);
  }
  return sb;
}

/** A device's entries in sysfs, removable as one (device_del). */
export class SysfsDevice {
  /** Where the device's directory lives: /sys/devices/..., or /sys/dev/char/M:m for a device without a class. */
  readonly path: string;
  /** The device's directory; /sys/class/<class>/<name> and /sys/dev/char/<M:m> are symbolic links to it. */
  readonly dir: Inode;
  private readonly entries: [Inode, string][];

  constructor(path: string, dir: Inode, entries: [Inode, string][]) {
    this.path = path;
    this.dir = dir;
    this.entries = entries;
  }

  /** Removes the device's directory and the links that lead to it (device_del). */
  remove(): void {
    for (const [parent, name] of this.entries) parent.children!.delete(name);
  }
}

/** The relative path from directory `from` to `to`, both absolute, as sysfs writes its links (sysfs_create_link). */
export function sysfsRelative(from: string, to: string): string {
  const f = from.split('/').filter(Boolean);
  const t = to.split('/').filter(Boolean);
  // kernfs_get_target_path climbs until it reaches an ancestor of the target's parent, so the link always names the target
  let i = 0;
  while (i < f.length && i < t.length - 1 && f[i] === t[i]) i++;
  return [...Array<string>(f.length - i).fill('..'), ...t.slice(i)].join('/');
}

/** Adds `name` in `dir` as a symbolic link to `target` (kernfs_create_link); EEXIST when the name is taken. */
function addLink(sb: SuperBlock, dir: Inode, name: string, target: string): void {
  if (dir.children!.has(name)) throw kerr('EEXIST', name);
  dir.children!.set(name, new Inode(sb, { mode: S_IFLNK | 0o777, symlink: target }));
}

/**
 * The parent device's directory below /sys/devices, made on first use
 * with what a platform device has (platform_device_add): its `subsystem`
 * link to /sys/bus/platform, the bus's link back to it, and `uevent`
 * with the modalias udev and libdrm read.
 */
function parentDevice(vfs: Vfs, sb: SuperBlock, parent: string): string {
  const path = `/sys/devices/${parent}`;
  const dir = vfs.mkdirKernel(path, 0o755, sb);
  const [bus, name] = parent.split('/');
  if (bus === 'platform' && name && !dir.children!.has('subsystem')) {
    addLink(sb, dir, 'subsystem', sysfsRelative(path, '/sys/bus/platform'));
    const devices = vfs.mkdirKernel('/sys/bus/platform/devices', 0o755, sb);
    if (!devices.children!.has(name)) addLink(sb, devices, name, sysfsRelative('/sys/bus/platform/devices', path));
    const base = name.replace(/\.\d+$/, '');
    dir.children!.set('uevent', attrFile(sb, () => `MODALIAS=platform:${base}\n`));
  }
  return path;
}

/** A read-only attribute file of a device directory (a DEVICE_ATTR_RO through kernfs). */
function attrFile(sb: SuperBlock, show: SeqShow): Inode {
  // sysfs reports a page as the size of every attribute
  return new Inode(sb, { mode: S_IFREG | 0o444, fops: seqFileOps, privateData: show, size: 4096 });
}

/**
 * The lines of a character device's uevent file (dev_uevent): MAJOR,
 * MINOR, DEVNAME (the node's path below /dev), then DEVTYPE when the
 * device type has a name.
 */
export function chrdevUevent(major: number, minor: number, devname: string, devtype?: string): string {
  let text = `MAJOR=${major}\nMINOR=${minor}\nDEVNAME=${devname}\n`;
  if (devtype) text += `DEVTYPE=${devtype}\n`;
  return text;
}

/**
 * Adds a character device to sysfs (device_add for a class device with a
 * dev_t): its directory under /sys/devices with `dev` ("major:minor"),
 * `uevent`, the class's attributes, a `subsystem` link to its class and a
 * `device` link to its parent; /sys/class/<class>/<name> and
 * /sys/dev/char/<major>:<minor> are symbolic links to it, as Linux makes
 * them. EEXIST when the class already has a device of that name or the
 * number is in sysfs.
 */
export function sysfsAddChrdev(vfs: Vfs, major: number, minor: number, devname: string, opts: ChrdevSysfs = {}): SysfsDevice {
  const sb = sysfsSb(vfs);
  const name = opts.name ?? devname.slice(devname.lastIndexOf('/') + 1);
  if (!name || name.includes('/')) throw new KernelBug(`bad sysfs device name ${JSON.stringify(name)}`);
  const devt = `${major}:${minor}`;
  const charDir = vfs.mkdirKernel('/sys/dev/char', 0o755, sb);
  if (charDir.children!.has(devt)) throw kerr('EEXIST', `/sys/dev/char/${devt}`);
  const dir = new Inode(sb, { mode: S_IFDIR | 0o755 });
  const uevent = chrdevUevent(major, minor, devname, opts.devtype);
  dir.children!.set('dev', attrFile(sb, () => `${devt}\n`));
  dir.children!.set('uevent', attrFile(sb, () => uevent));
  for (const [file, show] of Object.entries(opts.attrs ?? {})) dir.children!.set(file, attrFile(sb, show));
  if (!opts.class) {
    charDir.children!.set(devt, dir);
    return new SysfsDevice(`/sys/dev/char/${devt}`, dir, [[charDir, devt]]);
  }
  const parentPath = opts.parent ? parentDevice(vfs, sb, opts.parent) : undefined;
  const devPath = `${parentPath ?? '/sys/devices/virtual'}/${opts.class}/${name}`;
  const home = vfs.mkdirKernel(devPath.slice(0, devPath.lastIndexOf('/')), 0o755, sb);
  const classPath = `/sys/class/${opts.class}`;
  const classDir = vfs.mkdirKernel(classPath, 0o755, sb);
  if (classDir.children!.has(name)) throw kerr('EEXIST', `${classPath}/${name}`);
  if (home.children!.has(name)) throw kerr('EEXIST', devPath);
  addLink(sb, dir, 'subsystem', sysfsRelative(devPath, classPath));
  if (parentPath) addLink(sb, dir, 'device', sysfsRelative(devPath, parentPath));
  home.children!.set(name, dir);
  addLink(sb, classDir, name, sysfsRelative(classPath, devPath));
  addLink(sb, charDir, devt, sysfsRelative('/sys/dev/char', devPath));
  return new SysfsDevice(devPath, dir, [
    [home, name],
    [classDir, name],
    [charDir, devt],
  ]);
}
