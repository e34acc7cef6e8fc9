import { PAGE_SIZE, kerr } from '../../../../lib/index.ts';
import { userArg, type Task } from '../../../../fs/index.ts';
import {
  DRM_CAP_ADDFB2_MODIFIERS,
  DRM_CAP_ASYNC_PAGE_FLIP,
  DRM_CAP_CRTC_IN_VBLANK_EVENT,
  DRM_CAP_CURSOR_HEIGHT,
  DRM_CAP_CURSOR_WIDTH,
  DRM_CAP_DUMB_BUFFER,
  DRM_CAP_DUMB_PREFERRED_DEPTH,
  DRM_CAP_DUMB_PREFER_SHADOW,
  DRM_CAP_PAGE_FLIP_TARGET,
  DRM_CAP_PRIME,
  DRM_CAP_SYNCOBJ,
  DRM_CAP_SYNCOBJ_TIMELINE,
  DRM_CAP_TIMESTAMP_MONOTONIC,
  DRM_CAP_VBLANK_HIGH_CRTC,
  DRM_CLOEXEC,
  DRM_COMMAND_BASE,
  DRM_COMMAND_END,
  DRM_IOCTL_AUTH_MAGIC,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_GEM_FLINK,
  DRM_IOCTL_GEM_OPEN,
  DRM_IOCTL_GET_CAP,
  DRM_IOCTL_GET_CLIENT,
  DRM_IOCTL_GET_MAGIC,
  DRM_IOCTL_GET_UNIQUE,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_DESTROY_DUMB,
  DRM_IOCTL_MODE_MAP_DUMB,
  DRM_IOCTL_PRIME_FD_TO_HANDLE,
  DRM_IOCTL_PRIME_HANDLE_TO_FD,
  DRM_IOCTL_SET_VERSION,
  DRM_IOCTL_VERSION,
  DRM_PRIME_CAP_EXPORT,
  DRM_PRIME_CAP_IMPORT,
  DRM_RDWR,
  type DrmAuth,
  type DrmClient,
  type DrmGemClose,
  type DrmGemFlink,
  type DrmGemOpen,
  type DrmGetCap,
  type DrmModeCreateDumb,
  type DrmModeDestroyDumb,
  type DrmModeMapDumb,
  type DrmPrimeHandle,
  type DrmSetVersion,
  type DrmUnique,
  type DrmVersion,
} from '../../../../uapi/index.ts';
import { GemObject, gemHandleCreate, gemHandleDelete, gemObjectLookup, gemObjectSize } from './drm-gem.ts';
import { gemPrimeFdToHandle, gemPrimeHandleToFd } from './drm-prime.ts';
import { DRIVER_GEM, DRIVER_MODESET, DRIVER_SYNCOBJ, DRIVER_SYNCOBJ_TIMELINE, type DrmDevice, type DrmFile } from './drm-device.ts';

/** Ioctl permission flags (enum drm_ioctl_flags). */
export const DRM_AUTH = 0x1;
export const DRM_MASTER = 0x2;
export const DRM_ROOT_ONLY = 0x4;
export const DRM_RENDER_ALLOW = 0x20;

/** The handler of one DRM ioctl: `arg` is the uapi struct object; returns the ioctl's value. */
export type DrmIoctlFunc = (dev: DrmDevice, arg: unknown, file: DrmFile, task: Task) => number | Promise<number>;

/** One entry of an ioctl table (struct drm_ioctl_desc). */
export interface DrmIoctlDesc {
  /** The request number as userspace spells it (its nr picks the entry). */
  readonly cmd: number;
  /** DRM_AUTH, DRM_MASTER, DRM_ROOT_ONLY, DRM_RENDER_ALLOW. */
  readonly flags: number;
  readonly func: DrmIoctlFunc;
  readonly name: string;
}

const U32_MAX = 0xffffffff;

/** Reads a __u32 field of an ioctl argument as copy_from_user gives it: a bigint is truncated, anything not an integer is EFAULT. */
export function userU32(v: unknown, what: string): number {
  if (typeof v === 'bigint') v = Number(BigInt.asUintN(32, v));
  if (typeof v !== 'number' || !Number.isInteger(v)) throw kerr('EFAULT', `${what} is not an integer`);
  return v >>> 0;
}

function u64(v: unknown, what: string): bigint {
  if (typeof v === 'bigint') return BigInt.asUintN(64, v);
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt.asUintN(64, BigInt(v));
  throw kerr('EFAULT', `${what} is not an integer`);
}

/**
 * Copies a driver string into the caller's buffer (drm_copy_field): at most
 * the length the caller gave, and the full length written back so the
 * caller can ask again with room enough.
 */
function copyField(v: DrmVersion, field: 'name' | 'date' | 'desc', value: string): void {
  const lenKey = `${field}_len` as const;
  const given = typeof v[lenKey] === 'number' && v[lenKey] > 0 ? Math.floor(v[lenKey]) : 0;
  v[field] = value.slice(0, given);
  v[lenKey] = value.length;
}

/** DRM_IOCTL_VERSION (drm_version): version numbers, then name, date and description. */
function drmVersion(dev: DrmDevice, arg: unknown): number {
  const v = userArg<DrmVersion>(arg);
  const d = dev.driver;
  v.version_major = d.major;
  v.version_minor = d.minor;
  v.version_patchlevel = d.patchlevel;
  copyField(v, 'name', d.name);
  copyField(v, 'date', d.date);
  copyField(v, 'desc', d.desc);
  return 0;
}

/**
 * DRM_IOCTL_GET_CAP (drm_getcap): value 0 first; the timestamp, PRIME and
 * syncobj capabilities for every driver; the rest only for modesetting
 * drivers (EOPNOTSUPP otherwise, with value left 0); EINVAL for unknown.
 */
function drmGetCap(dev: DrmDevice, arg: unknown): number {
  const req = userArg<DrmGetCap>(arg);
  const cap = u64(req.capability, 'capability');
  req.value = 0;
  const d = dev.driver;
  switch (cap) {
    case BigInt(DRM_CAP_TIMESTAMP_MONOTONIC):
      req.value = 1;
      return 0;
    case BigInt(DRM_CAP_PRIME):
      req.value = DRM_PRIME_CAP_IMPORT | DRM_PRIME_CAP_EXPORT;
      return 0;
    case BigInt(DRM_CAP_SYNCOBJ):
      req.value = d.features & DRIVER_SYNCOBJ ? 1 : 0;
      return 0;
    case BigInt(DRM_CAP_SYNCOBJ_TIMELINE):
      req.value = d.features & DRIVER_SYNCOBJ_TIMELINE ? 1 : 0;
      return 0;
  }
  if (!(d.features & DRIVER_MODESET)) throw kerr('EOPNOTSUPP', `capability ${cap} needs a modesetting driver`);
  const mc = d.modeConfig ?? {};
  switch (cap) {
    case BigInt(DRM_CAP_DUMB_BUFFER):
      req.value = 1;
      break;
    case BigInt(DRM_CAP_VBLANK_HIGH_CRTC):
      req.value = 1;
      break;
    case BigInt(DRM_CAP_DUMB_PREFERRED_DEPTH):
      req.value = mc.preferredDepth ?? 0;
      break;
    case BigInt(DRM_CAP_DUMB_PREFER_SHADOW):
      req.value = mc.preferShadow ? 1 : 0;
      break;
    case BigInt(DRM_CAP_ASYNC_PAGE_FLIP):
      req.value = mc.asyncPageFlip ? 1 : 0;
      break;
    case BigInt(DRM_CAP_PAGE_FLIP_TARGET):
      req.value = mc.pageFlipTarget ? 1 : 0;
      break;
    case BigInt(DRM_CAP_CURSOR_WIDTH):
      req.value = mc.cursorWidth ?? 64;
      break;
    case BigInt(DRM_CAP_CURSOR_HEIGHT):
      req.value = mc.cursorHeight ?? 64;
      break;
    case BigInt(DRM_CAP_ADDFB2_MODIFIERS):
      req.value = mc.fbModifiers ? 1 : 0;
      break;
    case BigInt(DRM_CAP_CRTC_IN_VBLANK_EVENT):
      req.value = 1;
      break;
    default:
      throw kerr('EINVAL', `unknown capability ${cap}`);
  }
  return 0;
}

/** DRM_IOCTL_GEM_CLOSE (drm_gem_close_ioctl): EINVAL for a handle the file does not have. */
async function drmGemClose(_dev: DrmDevice, arg: unknown, file: DrmFile): Promise<number> {
  const a = userArg<DrmGemClose>(arg);
  await gemHandleDelete(file, userU32(a.handle, 'handle'));
  return 0;
}

/** DRM_IOCTL_PRIME_HANDLE_TO_FD: flags other than DRM_CLOEXEC|DRM_RDWR are EINVAL; writes `fd`. */
function drmPrimeHandleToFd(_dev: DrmDevice, arg: unknown, file: DrmFile, task: Task): number {
  const a = userArg<DrmPrimeHandle>(arg);
  const flags = userU32(a.flags, 'flags');
  if (flags & ~(DRM_CLOEXEC | DRM_RDWR)) throw kerr('EINVAL', `PRIME_HANDLE_TO_FD flags 0x${flags.toString(16)}`);
  a.fd = gemPrimeHandleToFd(file, userU32(a.handle, 'handle'), flags, task);
  return 0;
}

/** DRM_IOCTL_PRIME_FD_TO_HANDLE: writes `handle`. */
async function drmPrimeFdToHandle(dev: DrmDevice, arg: unknown, file: DrmFile, task: Task): Promise<number> {
  const a = userArg<DrmPrimeHandle>(arg);
  const fd = typeof a.fd === 'number' && Number.isInteger(a.fd) ? a.fd | 0 : -1;
  a.handle = await gemPrimeFdToHandle(dev, file, fd, task);
  return 0;
}

/**
 * DRM_IOCTL_MODE_CREATE_DUMB (drm_mode_create_dumb + the shmem helper's
 * dumb_create): EINVAL for a zero width, height or bpp, or a size that
 * overflows 32 bits; pitch is width * bpp rounded up to bytes, size the
 * page-aligned pitch * height (a larger pitch or size the caller asks for
 * is kept). Writes handle, pitch and size.
 */
function drmModeCreateDumb(dev: DrmDevice, arg: unknown, file: DrmFile): number {
  const a = userArg<DrmModeCreateDumb>(arg);
  const width = userU32(a.width, 'width');
  const height = userU32(a.height, 'height');
  const bpp = userU32(a.bpp, 'bpp');
  if (!dev.driver.dumbCreate) throw kerr('ENOSYS', `${dev.driver.name} has no dumb buffers`);
  if (!width || !height || !bpp) throw kerr('EINVAL', `dumb buffer ${width}x${height}x${bpp}`);
  if (bpp > U32_MAX - 8) throw kerr('EINVAL', `bpp ${bpp}`);
  const cpp = Math.ceil(bpp / 8);
  if (cpp > Math.floor(U32_MAX / width)) throw kerr('EINVAL', `${width} pixels of ${cpp} bytes overflow`);
  const stride = cpp * width;
  if (height > Math.floor(U32_MAX / stride)) throw kerr('EINVAL', `${height} lines of ${stride} bytes overflow`);
  const size = height * stride;
  // PAGE_ALIGN of a 32-bit size wraps to 0 above the last page boundary
  if (size > 2 ** 32 - PAGE_SIZE) throw kerr('EINVAL', `size ${size} wraps when page aligned`);
  const askedPitch = userU32(a.pitch ?? 0, 'pitch');
  const askedSize = Number(u64(a.size ?? 0, 'size'));
  a.handle = 0;
  a.pitch = 0;
  a.size = 0;
  // the helper multiplies in 32 bits
  const minPitch = Math.ceil(Number(BigInt.asUintN(32, BigInt(width) * BigInt(bpp))) / 8);
  let pitch: number;
  let bytes: number;
  if (!askedPitch || !askedSize) {
    pitch = minPitch;
    bytes = gemObjectSize(pitch * height);
  } else {
    pitch = Math.max(askedPitch, minPitch);
    bytes = askedSize < pitch * height ? gemObjectSize(pitch * height) : gemObjectSize(askedSize);
  }
  const obj = dev.createObject(bytes);
  let handle: number;
  try {
    handle = gemHandleCreate(file, obj);
  } finally {
    void obj.put();
  }
  a.handle = handle;
  a.pitch = pitch;
  a.size = bytes;
  return 0;
}

/**
 * DRM_IOCTL_MODE_MAP_DUMB (drm_gem_dumb_map_offset): writes the object's
 * fake mmap offset. ENOENT for an unknown handle, EINVAL for an imported
 * object (map those through their dma-buf).
 */
function drmModeMapDumb(dev: DrmDevice, arg: unknown, file: DrmFile): number {
  const a = userArg<DrmModeMapDumb>(arg);
  if (!dev.driver.dumbCreate) throw kerr('ENOSYS', `${dev.driver.name} has no dumb buffers`);
  const obj: GemObject | null = gemObjectLookup(file, userU32(a.handle, 'handle'));
  if (!obj) throw kerr('ENOENT', `no gem handle ${a.handle}`);
  try {
    if (obj.importAttach) throw kerr('EINVAL', `gem object ${obj.id} is imported`);
    obj.createMmapOffset();
    a.offset = obj.vmaNode.offsetAddr;
  } finally {
    void obj.put();
  }
  return 0;
}

/** DRM_IOCTL_MODE_DESTROY_DUMB (drm_mode_destroy_dumb): deletes the handle; EINVAL when absent. */
async function drmModeDestroyDumb(dev: DrmDevice, arg: unknown, file: DrmFile): Promise<number> {
  const a = userArg<DrmModeDestroyDumb>(arg);
  if (!dev.driver.dumbCreate) throw kerr('ENOSYS', `${dev.driver.name} has no dumb buffers`);
  await gemHandleDelete(file, userU32(a.handle, 'handle'));
  return 0;
}

/** The DRM interface version the core speaks (DRM_IF_MAJOR, DRM_IF_MINOR). */
const DRM_IF_MAJOR = 1;
const DRM_IF_MINOR = 4;

/** The uid GET_CLIENT reports, as the kernel hides it (overflowuid). */
const OVERFLOW_UID = 65534;

/** An int field of an ioctl struct; anything not an integer is EFAULT. */
function userInt(v: unknown, what: string): number {
  if (typeof v === 'bigint') v = Number(BigInt.asIntN(32, v));
  if (typeof v !== 'number' || !Number.isInteger(v)) throw kerr('EFAULT', `${what} is not an integer`);
  return v | 0;
}

/**
 * DRM_IOCTL_SET_VERSION (drm_setversion), master only: a wanted interface
 * version must be 1.0 to 1.4 and a wanted driver version the driver's
 * major with a minor it has, else EINVAL; asking for 1.1 or later ties
 * the master to the device (its unique becomes the device's, as
 * drm_set_busid does for a platform device). -1 as a major asks nothing.
 * The versions the kernel has are written back either way.
 */
function drmSetVersion(dev: DrmDevice, arg: unknown, file: DrmFile): number {
  const sv = userArg<DrmSetVersion>(arg);
  const diMajor = userInt(sv.drm_di_major, 'drm_di_major');
  const diMinor = userInt(sv.drm_di_minor, 'drm_di_minor');
  const ddMajor = userInt(sv.drm_dd_major, 'drm_dd_major');
  const ddMinor = userInt(sv.drm_dd_minor, 'drm_dd_minor');
  let err: string | null = null;
  if (diMajor !== -1) {
    if (diMajor !== DRM_IF_MAJOR || diMinor < 0 || diMinor > DRM_IF_MINOR) err = `interface version ${diMajor}.${diMinor}`;
    else if (diMinor >= 1 && file.drmMaster) file.drmMaster.unique = dev.device.name;
  }
  if (!err && ddMajor !== -1 && (ddMajor !== dev.driver.major || ddMinor < 0 || ddMinor > dev.driver.minor)) {
    err = `driver version ${ddMajor}.${ddMinor}`;
  }
  sv.drm_di_major = DRM_IF_MAJOR;
  sv.drm_di_minor = DRM_IF_MINOR;
  sv.drm_dd_major = dev.driver.major;
  sv.drm_dd_minor = dev.driver.minor;
  if (err) throw kerr('EINVAL', `SET_VERSION: ${err} not supported`);
  return 0;
}

/**
 * DRM_IOCTL_GET_UNIQUE (drm_getunique): the master's unique id, copied
 * when the caller's length holds it; the length always written.
 */
function drmGetUnique(_dev: DrmDevice, arg: unknown, file: DrmFile): number {
  const u = userArg<DrmUnique>(arg);
  const given = typeof u.unique_len === 'bigint' ? Number(u.unique_len) : userInt(u.unique_len ?? 0, 'unique_len');
  const unique = file.drmMaster?.unique ?? '';
  if (given >= unique.length) u.unique = unique;
  u.unique_len = unique.length;
  return 0;
}

/** DRM_IOCTL_GET_CLIENT (drm_getclient): index 0 describes the caller (pid, authentication); any other is EINVAL. */
function drmGetClient(_dev: DrmDevice, arg: unknown, file: DrmFile, task: Task): number {
  const c = userArg<DrmClient>(arg);
  if (userInt(c.idx, 'idx') !== 0) throw kerr('EINVAL', `GET_CLIENT index ${c.idx}`);
  c.auth = file.authenticated ? 1 : 0;
  c.pid = task.pid;
  c.uid = OVERFLOW_UID;
  c.magic = 0;
  c.iocs = 0;
  return 0;
}

/** DRM_IOCTL_GET_MAGIC (drm_getmagic): the file's magic token, the lowest free one from 1 in its master's map on first call. */
function drmGetMagic(_dev: DrmDevice, arg: unknown, file: DrmFile): number {
  const a = userArg<DrmAuth>(arg);
  const m = file.drmMaster;
  if (!file.magic && m) {
    let magic = 1;
    while (m.magicMap.has(magic)) magic++;
    m.magicMap.set(magic, file);
    file.magic = magic;
  }
  a.magic = file.magic;
  return 0;
}

/** DRM_IOCTL_AUTH_MAGIC (drm_authmagic), master only: authenticates the file holding the token, once; EINVAL for an unknown or used token. */
function drmAuthMagic(_dev: DrmDevice, arg: unknown, file: DrmFile): number {
  const a = userArg<DrmAuth>(arg);
  const magic = userU32(a.magic, 'magic');
  const m = file.drmMaster;
  const target = m?.magicMap.get(magic) ?? null;
  if (!target) throw kerr('EINVAL', `no client with magic ${magic}`);
  target.authenticated = true;
  m!.magicMap.set(magic, null);
  return 0;
}

/**
 * DRM_IOCTL_GEM_FLINK (drm_gem_flink_ioctl): a global name for the
 * object, the lowest free from 1 on first call; ENOENT for an unknown
 * handle. The name lasts while the object has handles.
 */
function drmGemFlink(dev: DrmDevice, arg: unknown, file: DrmFile): number {
  const a = userArg<DrmGemFlink>(arg);
  if (!(dev.driver.features & DRIVER_GEM)) throw kerr('EOPNOTSUPP', `${dev.driver.name} has no GEM`);
  const obj = gemObjectLookup(file, userU32(a.handle, 'handle'));
  if (!obj) throw kerr('ENOENT', `no gem handle ${a.handle}`);
  try {
    if (obj.handleCount === 0) throw kerr('ENOENT', `gem object ${obj.id} has no handles`);
    if (!obj.name) {
      let name = 1;
      while (dev.objectNames.has(name)) name++;
      dev.objectNames.set(name, obj);
      obj.name = name;
    }
    a.name = obj.name;
  } finally {
    void obj.put();
  }
  return 0;
}

/** DRM_IOCTL_GEM_OPEN (drm_gem_open_ioctl): a new handle in this file for a flinked object; ENOENT for an unknown name. Writes handle and size. */
function drmGemOpen(dev: DrmDevice, arg: unknown, file: DrmFile): number {
  const a = userArg<DrmGemOpen>(arg);
  if (!(dev.driver.features & DRIVER_GEM)) throw kerr('EOPNOTSUPP', `${dev.driver.name} has no GEM`);
  const obj = dev.objectNames.get(userU32(a.name, 'name'));
  if (!obj) throw kerr('ENOENT', `no gem object named ${a.name}`);
  a.handle = gemHandleCreate(file, obj);
  a.size = obj.size;
  return 0;
}

/** The core ioctls this model implements, by nr (drm_ioctls). */
export const DRM_CORE_IOCTLS: ReadonlyMap<number, DrmIoctlDesc> = new Map(
  (
    [
      { cmd: DRM_IOCTL_VERSION, flags: DRM_RENDER_ALLOW, func: drmVersion, name: 'DRM_IOCTL_VERSION' },
      { cmd: DRM_IOCTL_GET_UNIQUE, flags: 0, func: drmGetUnique, name: 'DRM_IOCTL_GET_UNIQUE' },
      { cmd: DRM_IOCTL_GET_MAGIC, flags: 0, func: drmGetMagic, name: 'DRM_IOCTL_GET_MAGIC' },
      { cmd: DRM_IOCTL_GET_CLIENT, flags: 0, func: drmGetClient, name: 'DRM_IOCTL_GET_CLIENT' },
      { cmd: DRM_IOCTL_SET_VERSION, flags: DRM_MASTER, func: drmSetVersion, name: 'DRM_IOCTL_SET_VERSION' },
      { cmd: DRM_IOCTL_AUTH_MAGIC, flags: DRM_MASTER, func: drmAuthMagic, name: 'DRM_IOCTL_AUTH_MAGIC' },
      { cmd: DRM_IOCTL_GEM_FLINK, flags: DRM_AUTH, func: drmGemFlink, name: 'DRM_IOCTL_GEM_FLINK' },
      { cmd: DRM_IOCTL_GEM_OPEN, flags: DRM_AUTH, func: drmGemOpen, name: 'DRM_IOCTL_GEM_OPEN' },
      { cmd: DRM_IOCTL_GEM_CLOSE, flags: DRM_RENDER_ALLOW, func: drmGemClose, name: 'DRM_IOCTL_GEM_CLOSE' },
      { cmd: DRM_IOCTL_GET_CAP, flags: DRM_RENDER_ALLOW, func: drmGetCap, name: 'DRM_IOCTL_GET_CAP' },
      { cmd: DRM_IOCTL_PRIME_HANDLE_TO_FD, flags: DRM_RENDER_ALLOW, func: drmPrimeHandleToFd, name: 'DRM_IOCTL_PRIME_HANDLE_TO_FD' },
      { cmd: DRM_IOCTL_PRIME_FD_TO_HANDLE, flags: DRM_RENDER_ALLOW, func: drmPrimeFdToHandle, name: 'DRM_IOCTL_PRIME_FD_TO_HANDLE' },
      { cmd: DRM_IOCTL_MODE_CREATE_DUMB, flags: 0, func: drmModeCreateDumb, name: 'DRM_IOCTL_MODE_CREATE_DUMB' },
      { cmd: DRM_IOCTL_MODE_MAP_DUMB, flags: 0, func: drmModeMapDumb, name: 'DRM_IOCTL_MODE_MAP_DUMB' },
      { cmd: DRM_IOCTL_MODE_DESTROY_DUMB, flags: 0, func: drmModeDestroyDumb, name: 'DRM_IOCTL_MODE_DESTROY_DUMB' },
    ] as DrmIoctlDesc[]
  ).map((d) => [d.cmd & 0xff, d]),
);

/** First and last+1 nr of the core's modesetting ioctls, each of which a driver without modesetting refuses. */
const KMS_NR_FIRST = 0xa0;
const KMS_NR_END = 0xd0;

/**
 * Checks that `file` may call an ioctl with `flags` (drm_ioctl_permit):
 * root-only, authenticated or render client, master, and render clients
 * only where the ioctl allows them, each EACCES.
 */
export function drmIoctlPermit(flags: number, file: DrmFile, task: Task): void {
  if (flags & DRM_ROOT_ONLY && task.cred.uid !== 0) throw kerr('EACCES', 'root only');
  if (flags & DRM_AUTH && !file.isRenderClient && !file.authenticated) throw kerr('EACCES', 'not authenticated');
  if (flags & DRM_MASTER && !file.isCurrentMaster) throw kerr('EACCES', 'not the master');
  if (!(flags & DRM_RENDER_ALLOW) && file.isRenderClient) throw kerr('EACCES', 'not allowed on a render node');
}

/**
 * Dispatches an ioctl on a DRM fd (drm_ioctl): by the request's nr, to the
 * driver's table in DRM_COMMAND_BASE..DRM_COMMAND_END or to the core's,
 * EINVAL when no entry has a handler (a driver without modesetting answers
 * the core's modesetting requests with EOPNOTSUPP); then the permission
 * check, then the handler.
 */
export async function drmIoctl(file: DrmFile, cmd: number, arg: unknown, task: Task): Promise<number> {
  const dev = file.dev;
  const nr = cmd & 0xff;
  let desc: DrmIoctlDesc | undefined;
  if (nr >= DRM_COMMAND_BASE && nr < DRM_COMMAND_END) {
    desc = dev.driverIoctls.get(nr);
  } else {
    desc = dev.driver.coreIoctls?.find((d) => (d.cmd & 0xff) === nr) ?? DRM_CORE_IOCTLS.get(nr);
    if (!desc && nr >= KMS_NR_FIRST && nr < KMS_NR_END && !(dev.driver.features & DRIVER_MODESET)) {
      throw kerr('EOPNOTSUPP', `modesetting ioctl 0x${cmd.toString(16)} on ${dev.driver.name}`);
    }
  }
  if (!desc) throw kerr('EINVAL', `no DRM ioctl with nr 0x${nr.toString(16)}`);
  drmIoctlPermit(desc.flags, file, task);
  return desc.func(dev, arg, file, task);
}
