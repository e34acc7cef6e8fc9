import { kerr } from '../../../../lib/index.ts';
import type { Timer } from '../../../../hw/index.ts';
import { DmaFence, DmaResvUsage, dmaResvUsageRw, type DmaFenceOps } from '../../../../dmabuf/index.ts';
import { userArg } from '../../../../fs/index.ts';
import {
  DRM_IOCTL_VGEM_FENCE_ATTACH,
  DRM_IOCTL_VGEM_FENCE_SIGNAL,
  VGEM_FENCE_WRITE,
  type DrmVgemFenceAttach,
  type DrmVgemFenceSignal,
} from '../../../../uapi/index.ts';
import {
  DRIVER_GEM,
  DRIVER_RENDER,
  DRM_RENDER_ALLOW,
  gemObjectLookup,
  registerDrmDevice,
  type DrmDevice,
  type DrmDeviceOptions,
  type DrmDriver,
  type DrmFile,
} from '../core/index.ts';

/** How long a vgem fence may stay unsignalled before its timer signals it (VGEM_FENCE_TIMEOUT, 10 s). */
export const VGEM_FENCE_TIMEOUT_NS = 10e9;

/**
 * A fence userspace attaches to a vgem object and signals itself (struct
 * vgem_fence): its own context, seqno 1, driver "vgem", timeline
 * "unbound"; a timer signals it after VGEM_FENCE_TIMEOUT_NS so that a
 * forgotten fence cannot block other users for ever.
 */
export class VgemFence extends DmaFence {
  /** The timeout (fence->timer); cancelled on release. */
  timer: Timer | null = null;
}

const vgemFenceOps: DmaFenceOps = {
  getDriverName: () => 'vgem',
  getTimelineName: () => 'unbound',
  release(f) {
    (f as VgemFence).timer?.cancel();
  },
};

/**
 * vgem's per-file data (struct vgem_file): the fences the file attached,
 * by id. Signalling empties an id but never frees it, as idr_replace does,
 * so ids are not reused while the file is open.
 */
export class VgemFile {
  readonly fences = new Map<number, VgemFence | null>();
}

function vgemFileOf(file: DrmFile): VgemFile {
  return file.driverPriv as VgemFile;
}

function u32(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw kerr('EFAULT', `${what} is not an integer`);
  return v >>> 0;
}

/** Creates a fence on a new context whose timer signals it after the timeout (vgem_fence_create). */
function vgemFenceCreate(dev: DrmDevice): VgemFence {
  const fctx = dev.dbs.fctx;
  const f = new VgemFence(fctx.clock, vgemFenceOps, fctx.alloc(1), 1);
  f.timer = fctx.clock.after(VGEM_FENCE_TIMEOUT_NS, () => {
    f.timer = null;
    f.signal();
  });
  return f;
}

/**
 * DRM_IOCTL_VGEM_FENCE_ATTACH (vgem_fence_attach_ioctl): flags other than
 * VGEM_FENCE_WRITE, or a non-zero pad, are EINVAL; an unknown handle is
 * ENOENT. A new fence is made (using up a context even if the attach then
 * fails), and refused with EBUSY while a conflicting fence is pending: any
 * unsignalled fence for a write, an unsignalled writer for a read.
 * Otherwise it joins the object's reservation object as a write or read
 * fence, where dma-buf poll and EXPORT_SYNC_FILE see it, and its id is
 * written to out_fence.
 */
async function vgemFenceAttach(dev: DrmDevice, arg: unknown, file: DrmFile): Promise<number> {
  const a = userArg<DrmVgemFenceAttach>(arg);
  const flags = u32(a.flags, 'flags');
  if (flags & ~VGEM_FENCE_WRITE) throw kerr('EINVAL', `fence flags 0x${flags.toString(16)}`);
  if (u32(a.pad ?? 0, 'pad')) throw kerr('EINVAL', 'pad must be zero');
  const obj = gemObjectLookup(file, u32(a.handle, 'handle'));
  if (!obj) throw kerr('ENOENT', `no gem handle ${a.handle}`);
  const write = (flags & VGEM_FENCE_WRITE) !== 0;
  const fence = vgemFenceCreate(dev);
  try {
    const resv = obj.resv;
    if (!resv.testSignaled(dmaResvUsageRw(write))) throw kerr('EBUSY', `gem object ${obj.id} has a conflicting fence pending`);
    await resv.lock();
    try {
      resv.reserveFences(1);
      resv.addFence(fence, write ? DmaResvUsage.WRITE : DmaResvUsage.READ);
    } finally {
      resv.unlock();
    }
    const vf = vgemFileOf(file);
    let id = 1;
    while (vf.fences.has(id)) id++;
    vf.fences.set(id, fence);
    a.out_fence = id;
    return 0;
  } catch (e) {
    fence.signal();
    fence.put();
    throw e;
  } finally {
    const p = obj.put();
    if (p) dev.track(p);
  }
}

/**
 * DRM_IOCTL_VGEM_FENCE_SIGNAL (vgem_fence_signal_ioctl): non-zero flags are
 * EINVAL; an id never attached or already signalled through this ioctl is
 * ENOENT. Signals the fence and drops the file's reference; ETIMEDOUT when
 * its timer had already signalled it.
 */
function vgemFenceSignal(_dev: DrmDevice, arg: unknown, file: DrmFile): number {
  const a = userArg<DrmVgemFenceSignal>(arg);
  if (u32(a.flags, 'flags')) throw kerr('EINVAL', `signal flags 0x${a.flags.toString(16)}`);
  const vf = vgemFileOf(file);
  const id = u32(a.fence, 'fence');
  const fence = vf.fences.get(id);
  if (!fence) throw kerr('ENOENT', `no pending vgem fence ${id}`);
  vf.fences.set(id, null);
  const timedOut = fence.isSignaled();
  fence.timer?.cancel();
  fence.timer = null;
  fence.signal();
  fence.put();
  if (timedOut) throw kerr('ETIMEDOUT', `vgem fence ${id} had already timed out`);
  return 0;
}

/**
 * The vgem driver (vgem_driver): a GEM-only device with dumb buffers in
 * write-combined shmem pages, PRIME import and export, a render node, and
 * the two fence ioctls.
 */
export const vgemDriver: DrmDriver = {
  name: 'vgem',
  desc: 'Virtual GEM provider',
  date: '20190303',
  major: 1,
  minor: 0,
  patchlevel: 0,
  features: DRIVER_GEM | DRIVER_RENDER,
  dumbCreate: true,
  mapWc: true,
  ioctls: [
    { cmd: DRM_IOCTL_VGEM_FENCE_ATTACH, flags: DRM_RENDER_ALLOW, func: vgemFenceAttach, name: 'DRM_IOCTL_VGEM_FENCE_ATTACH' },
    { cmd: DRM_IOCTL_VGEM_FENCE_SIGNAL, flags: DRM_RENDER_ALLOW, func: vgemFenceSignal, name: 'DRM_IOCTL_VGEM_FENCE_SIGNAL' },
  ],
  open(_dev, file) {
    file.driverPriv = new VgemFile();
  },
  postclose(_dev, file) {
    // vgem_fence_close: every fence still held is signalled and dropped
    const vf = vgemFileOf(file);
    for (const f of vf.fences.values()) {
      if (!f) continue;
      f.timer?.cancel();
      f.timer = null;
      f.signal();
      f.put();
    }
    vf.fences.clear();
  },
};

/** What registerVgem needs: the dma-buf core, the mm for shmem pages, vgem's struct device (64-bit DMA mask in Linux), and optionally the card index. */
export type VgemOptions = Omit<DrmDeviceOptions, 'driver'>;

/**
 * Creates the vgem device and its nodes /dev/dri/card<index> and
 * /dev/dri/renderD<128+index> (vgem_init).
 */
export function registerVgem(opts: VgemOptions): DrmDevice {
  return registerDrmDevice({ ...opts, driver: vgemDriver });
}
