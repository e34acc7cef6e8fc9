import { KernelBug, kerr } from '../../../../lib/index.ts';
import type { Device } from '../../../../dma/index.ts';
import type { DmaBuf, DmaBufSystem } from '../../../../dmabuf/index.ts';
import {
  WaitQueueHead,
  pollWait,
  chrdevFindFreeMinor,
  registerChrdev,
  waitEvent,
  type ChrdevSysfs,
  type DeviceNode,
  type File,
  type FileOperations,
  type PollTable,
  type Task,
  type VmArea,
} from '../../../../fs/index.ts';
import { O_NONBLOCK, POLLIN, POLLRDNORM } from '../../../../uapi/index.ts';
import type { Mm } from '../../../../mm/index.ts';
import type { ProbedNode } from '../../../base/platform-driver.ts';
import { GemObject, gemObjectSize, gemReleaseHandle } from './drm-gem.ts';
import { drmDebugfsInit } from './drm-debugfs.ts';
import { drmIoctl, type DrmIoctlDesc } from './drm-ioctl.ts';
import { DrmVmaOffsetManager } from './drm-vma-manager.ts';

/** Driver feature bits (enum drm_driver_feature). */
export const DRIVER_GEM = 1 << 0;
export const DRIVER_MODESET = 1 << 1;
export const DRIVER_RENDER = 1 << 3;
export const DRIVER_ATOMIC = 1 << 4;
export const DRIVER_SYNCOBJ = 1 << 5;
export const DRIVER_SYNCOBJ_TIMELINE = 1 << 6;

/** The character-device major of every DRM node (DRM_MAJOR). */
export const DRM_MAJOR = 226;

/** Primary (card) minors DRM hands out before the render range at 128 (64 per type in drm_minor_alloc). */
const DRM_MAX_CARDS = 64;

/** What a modesetting driver reports through GET_CAP (struct drm_mode_config, the parts GET_CAP reads). */
export interface DrmModeConfigCaps {
  preferredDepth?: number;
  preferShadow?: boolean;
  asyncPageFlip?: boolean;
  pageFlipTarget?: boolean;
  cursorWidth?: number;
  cursorHeight?: number;
  fbModifiers?: boolean;
}

/** A DRM driver (struct drm_driver): its identity, features, private ioctls and per-file hooks. */
export interface DrmDriver {
  readonly name: string;
  readonly desc: string;
  readonly date: string;
  readonly major: number;
  readonly minor: number;
  readonly patchlevel: number;
  /** DRIVER_* bits. */
  readonly features: number;
  /** Driver-private ioctls, numbered from DRM_COMMAND_BASE. */
  readonly ioctls: readonly DrmIoctlDesc[];
  /** Extra core-range ioctls (a modesetting driver's KMS requests); they take precedence over the core's. */
  readonly coreIoctls?: readonly DrmIoctlDesc[];
  /** The driver has dumb buffers (dumb_create, the shmem helper's). */
  readonly dumbCreate?: boolean;
  /** GEM objects are mapped write-combined (the object's map_wc). */
  readonly mapWc?: boolean;
  readonly modeConfig?: DrmModeConfigCaps;
  /**
   * Imports a dma-buf as a GEM object of `dev` (drm_driver.gem_prime_import),
   * for PRIME_FD_TO_HANDLE once the file's own cache missed; default
   * gemPrimeImport (drm_gem_prime_import: attach and map for the device).
   * A buffer this device exported must give back its own object; any other
   * an object whose importAttach is an attachment to it, so that its
   * reservation object is the buffer's. Returns one reference for the
   * caller; may sleep.
   */
  gemPrimeImport?(dev: DrmDevice, dmabuf: DmaBuf): Promise<GemObject>;
  /** Sets up the driver's part of a new open file (drm_driver.open); a throw fails the open. */
  open?(dev: DrmDevice, file: DrmFile): void | Promise<void>;
  /** Tears down the driver's part of a file on its last close (drm_driver.postclose). */
  postclose?(dev: DrmDevice, file: DrmFile): void | Promise<void>;
}

/** Which node a file was opened through (enum drm_minor_type). */
export type DrmMinorType = 'primary' | 'render';

/** A device node of a DRM device (struct drm_minor). */
export interface DrmMinor {
  readonly type: DrmMinorType;
  /** The node's minor number: card N is N, renderD(128+N) is 128+N. */
  readonly index: number;
  readonly node: DeviceNode;
}

/**
 * A master's state (struct drm_master): made when a primary open finds the
 * device without a master, shared by every later primary open while that
 * master lasts. `unique` is the bus id SET_VERSION 1.1+ stores and
 * GET_UNIQUE reports; `magicMap` the magic tokens handed out by GET_MAGIC
 * (a token AUTH_MAGIC consumed stays taken, mapped to null).
 */
export class DrmMaster {
  unique: string | null = null;
  readonly magicMap = new Map<number, DrmFile | null>();
}

/**
 * One open of a DRM node (struct drm_file): its GEM handles, its PRIME
 * cache (which dma-buf each handle was exported as or imported from, so
 * a buffer maps to one handle per file), its master state, and the
 * driver's per-file data.
 */
export class DrmFile {
  readonly dev: DrmDevice;
  readonly minor: DrmMinor;
  readonly pid: number;
  /** GEM handles (object_idr). */
  readonly objects = new Map<number, GemObject>();
  /** PRIME cache by buffer (prime.dmabufs); each entry holds a buffer reference. */
  readonly primeByBuf = new Map<DmaBuf, number>();
  /** PRIME cache by handle (prime.handles). */
  readonly primeByHandle = new Map<number, DmaBuf>();
  /** The file holds the device's master (is_master). */
  isMaster = false;
  /** Authenticated (authenticated): the master and root openers are from the start, others once AUTH_MAGIC names them. */
  authenticated = false;
  /** The master this primary-node file belongs to (file_priv->master); null for render clients. */
  drmMaster: DrmMaster | null = null;
  /** The magic token GET_MAGIC gave this file, 0 before (magic). */
  magic = 0;
  /** The opener's name and effective uid, as the clients debugfs file prints them. */
  comm = '';
  uid = 0;
  /** The driver's per-file data (driver_priv). */
  driverPriv: unknown = undefined;
  /** False once the last close ran. */
  open = true;
  /** Events queued for read(), each a complete struct drm_event (event_list). */
  readonly events: Uint8Array[] = [];
  /** Readers and pollers wait here for events (event_wait). */
  readonly eventWait = new WaitQueueHead();

  /** Creates the state of one open (drm_file_alloc); the open hook installs it. */
  constructor(dev: DrmDevice, minor: DrmMinor, pid: number) {
    this.dev = dev;
    this.minor = minor;
    this.pid = pid;
  }

  /** Opened through the render node (drm_is_render_client). */
  get isRenderClient(): boolean {
    return this.minor.type === 'render';
  }

  /** Holds the device's current master (drm_is_current_master). */
  get isCurrentMaster(): boolean {
    return this.isMaster && this.dev.master === this;
  }
}

/** What a DRM device is built on. */
export interface DrmDeviceOptions {
  driver: DrmDriver;
  dbs: DmaBufSystem;
  mm: Mm;
  /** The device's struct device, used to attach imported dma-bufs. */
  device: Device;
  /**
   * Card index: nodes /dev/dri/card<index> and, with DRIVER_RENDER,
   * /dev/dri/renderD<128+index>. Default: the first free one, as
   * drm_minor_alloc gives (cards probe in order: card0, card1, ...).
   */
  index?: number;
  /** Mode of the primary node (default 0660, the usual udev rule). */
  cardMode?: number;
  /** Group of the primary node (default 44, "video"). */
  cardGid?: number;
  /** Mode of the render node (default 0666). */
  renderMode?: number;
  /** Group of the render node (default 0). */
  renderGid?: number;
}

/**
 * A DRM device (struct drm_device): its driver, its fake-offset space for
 * GEM mappings, its master, its nodes. Frees that sleep (imports detaching
 * from their exporter) are tracked so that tests and teardown can wait.
 */
export class DrmDevice {
  readonly driver: DrmDriver;
  readonly dbs: DmaBufSystem;
  readonly mm: Mm;
  readonly device: Device;
  readonly vmaManager = new DrmVmaOffsetManager();
  /** Driver ioctls by nr. */
  readonly driverIoctls: ReadonlyMap<number, DrmIoctlDesc>;
  readonly minors: DrmMinor[] = [];
  /** The current master (dev->master), the first opener of the primary node while it stays open. */
  master: DrmFile | null = null;
  /** Open files, oldest first (filelist). */
  readonly files = new Set<DrmFile>();
  /** Global names of objects given by GEM_FLINK (object_name_idr). */
  readonly objectNames = new Map<number, GemObject>();
  /** Live objects and their bytes, pages allocated, and frees still running. */
  readonly stats = { objects: 0, bytes: 0, pagesAllocated: 0 };
  /** @internal serial numbers of objects. */
  objectSerial = 0;
  private readonly pending = new Set<Promise<void>>();

  /** Creates the device without nodes (drm_dev_alloc); registerDrmDevice adds them. */
  constructor(opts: DrmDeviceOptions) {
    this.driver = opts.driver;
    this.dbs = opts.dbs;
    this.mm = opts.mm;
    this.device = opts.device;
    const m = new Map<number, DrmIoctlDesc>();
    for (const d of opts.driver.ioctls) m.set(d.cmd & 0xff, d);
    this.driverIoctls = m;
  }

  /** The primary node. */
  get primary(): DrmMinor {
    const m = this.minors.find((x) => x.type === 'primary');
    if (!m) throw new KernelBug(`${this.driver.name} has no primary node`);
    return m;
  }

  /** The render node, or null without DRIVER_RENDER. */
  get render(): DrmMinor | null {
    return this.minors.find((x) => x.type === 'render') ?? null;
  }

  /**
   * Creates a shmem-backed object of at least `size` bytes with a fake
   * mmap offset (drm_gem_shmem_create); pages come on first use. The caller
   * owns the one reference.
   */
  createObject(size: number): GemObject {
    const obj = new GemObject(this, gemObjectSize(size));
    try {
      obj.createMmapOffset();
    } catch (e) {
      void obj.put();
      throw e;
    }
    return obj;
  }

  /** @internal keeps a sleeping free until it finishes; a failure is a finding. */
  track(p: Promise<void>): void {
    this.pending.add(p);
    p.then(
      () => this.pending.delete(p),
      (e: unknown) => {
        this.pending.delete(p);
        this.dbs.soc.findings.report('leak', 'drm_gem_object_free', `${this.driver.name}: gem object free failed: ${String(e)}`);
      },
    );
  }

  /** Waits for frees still running (imports detaching). */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}

/** The DrmFile behind an open DRM node. */
export function drmFileOf(file: File): DrmFile {
  const f = file.privateData;
  if (!(f instanceof DrmFile)) throw new KernelBug(`file #${file.id} (${file.pathName()}) is not a DRM file`);
  return f;
}

/**
 * Opens a node (drm_open + drm_open_helper): a primary open becomes master
 * when the device has none; then the driver's open. (drm_open_helper's
 * O_EXCL refusal never fires: the VFS clears O_EXCL before calling open.)
 */
async function drmOpen(dev: DrmDevice, minor: DrmMinor, file: File, task: Task): Promise<void> {
  const f = new DrmFile(dev, minor, task.pid);
  f.comm = task.comm;
  f.uid = task.cred.uid;
  // drm_file_alloc: capable(CAP_SYS_ADMIN) starts authenticated
  f.authenticated = task.cred.uid === 0;
  if (minor.type === 'primary') {
    if (!dev.master) {
      dev.master = f;
      f.isMaster = true;
      f.authenticated = true;
      f.drmMaster = new DrmMaster();
    } else {
      f.drmMaster = dev.master.drmMaster;
    }
  }
  try {
    await dev.driver.open?.(dev, f);
  } catch (e) {
    if (dev.master === f) dev.master = null;
    throw e;
  }
  dev.files.add(f);
  file.privateData = f;
}

/**
 * Runs on the last close of a DRM file (drm_release -> drm_file_free):
 * every handle goes (drm_gem_release), the master is dropped, then the
 * driver's postclose.
 */
async function drmRelease(file: File): Promise<void> {
  const f = drmFileOf(file);
  const dev = f.dev;
  f.open = false;
  f.events.length = 0;
  const handles = [...f.objects];
  f.objects.clear();
  for (const [h, obj] of handles) await gemReleaseHandle(f, h, obj);
  if (f.primeByBuf.size > 0) throw new KernelBug(`drm file of pid ${f.pid} released with ${f.primeByBuf.size} PRIME entries left`);
  if (f.magic && f.drmMaster) f.drmMaster.magicMap.delete(f.magic);
  if (dev.master === f) dev.master = null;
  f.isMaster = false;
  await dev.driver.postclose?.(dev, f);
  dev.files.delete(f);
}

/**
 * Maps a GEM object through the DRM fd (drm_gem_mmap): the offset must be
 * the start of an object's fake range and the length within it (EINVAL
 * otherwise); a file without a handle to the object gets EACCES.
 */
async function drmGemMmap(file: File, vma: VmArea): Promise<void> {
  const f = drmFileOf(file);
  const node = f.dev.vmaManager.exactLookup(vma.pgoff, vma.pages);
  if (!node) throw kerr('EINVAL', `no gem object at page offset 0x${vma.pgoff.toString(16)} for ${vma.pages} pages`);
  const obj = node.owner as GemObject;
  if (!node.isAllowed(f)) throw kerr('EACCES', `file has no handle to gem object ${obj.id}`);
  await obj.mmap(vma);
}

/**
 * Queues an event for the file's readers and wakes them (drm_send_event):
 * `event` is a whole struct drm_event with its header. Dropped when the
 * file is already closed, as the kernel drops events of a closed file.
 */
export function drmSendEvent(file: DrmFile, event: Uint8Array): void {
  if (!file.open) return;
  file.events.push(event);
  file.eventWait.wakeUp(POLLIN | POLLRDNORM);
}

/**
 * Reads queued events (drm_read): whole events only, as many as fit in
 * `len`; when the first does not fit, nothing. Without events: EAGAIN for
 * O_NONBLOCK, else an interruptible sleep until one comes.
 */
async function drmRead(file: File, len: number, task: Task): Promise<Uint8Array> {
  const f = drmFileOf(file);
  if (f.events.length === 0) {
    if (file.flags & O_NONBLOCK) throw kerr('EAGAIN', 'no DRM events');
    await waitEvent(f.eventWait, () => f.events.length > 0, { task });
  }
  let n = 0;
  let total = 0;
  while (n < f.events.length && total + f.events[n]!.length <= len) total += f.events[n++]!.length;
  const out = new Uint8Array(total);
  let o = 0;
  for (const e of f.events.splice(0, n)) {
    out.set(e, o);
    o += e.length;
  }
  return out;
}

/** Readiness of a DRM file (drm_poll): readable while events are queued; never writable. */
function drmPoll(file: File, pt: PollTable | null): number {
  const f = drmFileOf(file);
  pollWait(file, f.eventWait, pt);
  return f.events.length > 0 ? POLLIN | POLLRDNORM : 0;
}

function drmFops(dev: DrmDevice, minor: () => DrmMinor): FileOperations {
  return {
    name: dev.driver.name,
    open: (_inode, file, task) => drmOpen(dev, minor(), file, task),
    release: (_inode, file) => drmRelease(file),
    unlockedIoctl: (file, cmd, arg, task) => drmIoctl(drmFileOf(file), cmd, arg, task),
    mmap: drmGemMmap,
    read: (file, len, _ppos, task) => drmRead(file, len, task),
    poll: drmPoll,
  };
}

/** Where a DRM node sits in sysfs (drm_sysfs_minor_alloc): class drm, below its device, type drm_minor. */
function drmSysfs(dev: DrmDevice): ChrdevSysfs {
  return { class: 'drm', parent: `platform/${dev.device.name}`, devtype: 'drm_minor' };
}

/**
 * Creates a DRM device and registers its nodes (drm_dev_alloc +
 * drm_dev_register): /dev/dri/card<index>, and /dev/dri/renderD<128+index>
 * for a driver with DRIVER_RENDER.
 */
export function registerDrmDevice(opts: DrmDeviceOptions): DrmDevice {
  const dev = new DrmDevice(opts);
  const vfs = opts.dbs.vfs;
  const index = opts.index ?? chrdevFindFreeMinor(vfs, DRM_MAJOR, 0, DRM_MAX_CARDS);
  let primary: DrmMinor | null = null;
  const cardNode = registerChrdev(vfs, {
    path: `/dev/dri/card${index}`,
    major: DRM_MAJOR,
    minor: index,
    mode: opts.cardMode ?? 0o660,
    gid: opts.cardGid ?? 44,
    privateData: dev,
    fops: drmFops(dev, () => primary!),
    sysfs: drmSysfs(dev),
  });
  primary = { type: 'primary', index, node: cardNode };
  dev.minors.push(primary);
  drmDebugfsInit(dev, primary);
  if (opts.driver.features & DRIVER_RENDER) {
    let render: DrmMinor | null = null;
    const renderNode = registerChrdev(vfs, {
      path: `/dev/dri/renderD${128 + index}`,
      major: DRM_MAJOR,
      minor: 128 + index,
      mode: opts.renderMode ?? 0o666,
      gid: opts.renderGid ?? 0,
      privateData: dev,
      fops: drmFops(dev, () => render!),
      sysfs: drmSysfs(dev),
    });
    render = { type: 'render', index: 128 + index, node: renderNode };
    dev.minors.push(render);
    drmDebugfsInit(dev, render);
  }
  return dev;
}

/** A DRM device's nodes as the driver table lists them: 'card' for the primary node, 'render' for the render node. */
export function drmProbedNodes(dev: DrmDevice): ProbedNode[] {
  return dev.minors.map((m) => ({ path: m.node.path, role: m.type === 'render' ? 'render' : 'card' }));
}
