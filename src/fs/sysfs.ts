import { KernelBug, kerr } from '../lib/index.ts';
import { S_IFDIR, S_IFREG } from '../uapi/index.ts';
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
  /** The device's directory; /sys/class/<class>/<name> and /sys/dev/char/<M:m> lead to it too. */
  readonly dir: Inode;
  private readonly links: [Inode, string][];

  constructor(path: string, dir: Inode, links: [Inode, string][]) {
    this.path = path;
    this.dir = dir;
    this.links = links;
  }

  /** Removes the device's directory and the entries that lead to it (device_del). */
  remove(): void {
    for (const [parent, name] of this.links) if (parent.children!.get(name) === this.dir) parent.children!.delete(name);
  }
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
 * `uevent` and the class's attributes, reachable also as
 * /sys/class/<class>/<name> and /sys/dev/char/<major>:<minor>. Linux
 * makes those two symbolic links; here they are the same directory
 * entered twice, which reads the same. EEXIST when the class already has
 * a device of that name or the number is in sysfs.
 */
export function sysfsAddChrdev(vfs: Vfs, major: number, minor: number, devname: string, opts: ChrdevSysfs = {}): SysfsDevice {
  const sb = sysfsSb(vfs);
  const name = opts.name ?? devname.slice(devname.lastIndexOf('/') + 1);
  if (!name || name.includes('/')) throw new KernelBug(`bad sysfs device name ${JSON.stringify(name)}`);
  const devt = `${major}:${minor}`;
  const charDir = vfs.mkdirKernel('/sys/dev/char', 0o755, sb);
  if (charDir.children!.has(devt)) throw kerr('EEXIST', `/sys/dev/char/${devt}`);
  const links: [Inode, string][] = [[charDir, devt]];
  let devPath = `/sys/dev/char/${devt}`;
  if (opts.class) {
    devPath = opts.parent ? `/sys/devices/${opts.parent}/${opts.class}/${name}` : `/sys/devices/virtual/${opts.class}/${name}`;
    const home = vfs.mkdirKernel(devPath.slice(0, devPath.lastIndexOf('/')), 0o755, sb);
    const classDir = vfs.mkdirKernel(`/sys/class/${opts.class}`, 0o755, sb);
    if (classDir.children!.has(name)) throw kerr('EEXIST', `/sys/class/${opts.class}/${name}`);
    if (home.children!.has(name)) throw kerr('EEXIST', devPath);
    links.unshift([home, name], [classDir, name]);
  }
  const dir = new Inode(sb, { mode: S_IFDIR | 0o755 });
  const uevent = chrdevUevent(major, minor, devname, opts.devtype);
  dir.children!.set('dev', attrFile(sb, () => `${devt}\n`));
  dir.children!.set('uevent', attrFile(sb, () => uevent));
  for (const [file, show] of Object.entries(opts.attrs ?? {})) dir.children!.set(file, attrFile(sb, show));
  for (const [parent, entry] of links) parent.children!.set(entry, dir);
  return new SysfsDevice(devPath, dir, links);
}
