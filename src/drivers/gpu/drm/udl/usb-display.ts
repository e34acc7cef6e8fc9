import { KernelBug, KernelError, kerr } from '../../../../lib/index.ts';
import { DMA_FROM_DEVICE } from '../../../../dma/index.ts';
import { dmaBufBeginCpuAccess, dmaBufEndCpuAccess, dmaBufTrackRef, dmaBufUntrackRef, dmaBufVmap, dmaBufVunmap } from '../../../../dmabuf/index.ts';
import { userArg } from '../../../../fs/index.ts';
import {
  DRM_FORMAT_XRGB8888,
  DRM_IOCTL_MODE_DIRTYFB,
  DRM_MODE_FB_DIRTY_ANNOTATE_COPY,
  DRM_MODE_FB_DIRTY_FLAGS,
  DRM_MODE_FB_DIRTY_MAX_CLIPS,
  type DrmClipRect,
  type DrmModeFbDirtyCmd,
} from '../../../../uapi/index.ts';
import {
  DRIVER_GEM,
  DRIVER_MODESET,
  DRM_MASTER,
  DRM_SIMPLE_KMS_IOCTLS,
  KMS_MAX_HEIGHT,
  KMS_MAX_WIDTH,
  SimpleDisplayPipe,
  drmSimpleKmsPostclose,
  gemPrimeImportNoMap,
  registerDrmDevice,
  simpleDisplayPipeOf,
  userU32,
  waitFbWriters,
  type DrmDevice,
  type DrmDeviceOptions,
  type DrmDriver,
  type KmsFramebuffer,
  type SimplePipeStats,
  type SimpleDisplayPipeFuncs,
} from '../core/index.ts';
import { drmProbedNodes } from '../core/index.ts';
import { UsbTransferEngine, type UsbDamage } from './usb-display-transfer.ts';
import { platformDriver } from '../../../base/platform-driver.ts';

/** Names an update job's hold on a framebuffer: `udl update of framebuffer 36`. */
const usbUpdateName = (h: { fb: KmsFramebuffer }) => `${h.fb.obj.dev.driver.name} update of framebuffer ${h.fb.id}`;
/** What an update job holds its buffer through: the framebuffer's GEM object. */
const usbUpdateVia = (h: { fb: KmsFramebuffer }) => `gem object ${h.fb.obj.id} of ${h.fb.obj.dev.driver.name}`;

/** What the panel showed after an update, for tests and scenario checks. */
export interface UsbFrame {
  /** The dongle's frame memory (width * height * 4 bytes of XRGB8888). */
  bytes: Uint8Array;
  /** The framebuffer the update came from. */
  fbId: number;
  /** Simulated time the update reached the panel. */
  time: number;
}

/** What the USB display sent. */
export interface UsbDisplayStats extends SimplePipeStats {
  /** Updates that reached the panel: whole frames after flips and DIRTYFB damage. */
  frames: number;
  /** Bytes the CPU read from framebuffers. */
  cpuReadBytes: number;
  /** Bytes the USB host moved (compressed payload and headers). */
  compressedBytes: number;
  /** Bytes dmabounce copied because a transfer buffer lay beyond the host's mask. */
  bounceBytes: number;
  /** Rectangles sent. */
  damageRects: number;
  /** Updates lost because the host could not map a transfer (the URB error udl logs). */
  errors: number;
}

/**
 * The USB display's pipe funcs: nothing is fetched per vsync -- the dongle
 * keeps the last image in its own memory -- so the vblank interrupt runs
 * only for a ready flip, and the whole frame is sent when a flip takes
 * effect. Any pitch works (the CPU gathers the lines), but an import must
 * be one the CPU can vmap.
 */
const usbPipeFuncs: SimpleDisplayPipeFuncs<UsbDisplay> = {
  fetchesEveryFrame: false,
  check(_u, fb) {
    const imp = fb.obj.importAttach?.dmabuf;
    if (imp && !imp.ops.vmap) throw kerr('EINVAL', `${imp.expName} buffers cannot be vmapped for the CPU copy`);
  },
  update(u, latched) {
    if (latched) void u.update(u.current!, u.fullFrame());
  },
};

/**
 * The USB display's KMS state (struct udl_device's modeset part): the
 * simple pipe (one fixed pipeline at one mode, the framebuffers, the shown
 * and the pending one, the vblank timer) and the transfer engine. The
 * driver sends only what changed -- the whole frame when a flip takes
 * effect, the damaged rectangles on DIRTYFB -- one update after another.
 */
export class UsbDisplay extends SimpleDisplayPipe<UsbDisplayStats> {
  readonly engine: UsbTransferEngine;
  /** Called after each update reached the panel (the bytes are the panel's own, valid during the call). */
  onFrame?: (shot: UsbFrame) => void;
  private last: UsbFrame | null = null;
  /** The update in flight, the tail of the send queue. */
  private tail: Promise<void> = Promise.resolve();
  private inFlight = 0;

  /** Creates the state, attaches it to the device and allocates the transfer engine (udl_modeset_init + udl_alloc_urb_list). */
  constructor(dev: DrmDevice, width: number, height: number, refreshHz: number) {
    const stats: UsbDisplayStats = { frames: 0, cpuReadBytes: 0, compressedBytes: 0, bounceBytes: 0, damageRects: 0, flips: 0, cancelledFlips: 0, errors: 0 };
    super(dev, { width, height, refreshHz, formats: [DRM_FORMAT_XRGB8888], stats, funcs: usbPipeFuncs });
    this.engine = new UsbTransferEngine(dev.device, dev.mm, width, height);
  }

  /** What the panel showed after the last update (a copy), or null before the first. */
  lastFrame(): UsbFrame | null {
    return this.last ? { ...this.last, bytes: this.last.bytes.slice() } : null;
  }

  /** Waits until no update is being sent. */
  async idle(): Promise<void> {
    while (this.inFlight > 0) await this.tail;
  }

  /**
   * Queues an update of `fb`'s `rects` (the plane's atomic_update): it
   * starts when the updates before it finished and resolves when this one
   * reached the panel. The framebuffer's object is held meanwhile.
   */
  update(fb: KmsFramebuffer, rects: UsbDamage[]): Promise<void> {
    const obj = fb.obj.get();
    // the update job's hold on the framebuffer's buffer, named in the reference views until it is sent
    const hold = { fb };
    if (fb.refBuf) dmaBufTrackRef(fb.refBuf, 'device-job', hold, usbUpdateName, 'udl_handle_damage', usbUpdateVia);
    const prev = this.tail;
    this.inFlight++;
    const job = this.dev.dbs.soc.cores.spawn(`kworker/${this.dev.driver.name}`, async () => {
      await prev;
      try {
        await this.send(fb, rects);
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        this.stats.errors++;
      } finally {
        this.inFlight--;
        if (fb.refBuf) dmaBufUntrackRef(fb.refBuf, 'device-job', hold);
        const p = obj.put();
        if (p) this.dev.track(p);
      }
    });
    this.tail = job.catch(() => undefined);
    return job;
  }

  /**
   * Sends rectangles of a framebuffer (udl_primary_plane_helper_atomic_update):
   * the kernel mapping (the shmem vmap, or dma_buf_vmap of an import) is
   * taken, an import is bracketed with begin/end_cpu_access(DMA_FROM_DEVICE)
   * as drm_gem_fb_begin_cpu_access does, and each rectangle goes through
   * the transfer engine.
   */
  private async send(fb: KmsFramebuffer, rects: UsbDamage[]): Promise<void> {
    const obj = fb.obj;
    const imp = obj.importAttach?.dmabuf ?? null;
    const base = imp ? await dmaBufVmap(imp) : obj.vmap();
    try {
      if (imp) await dmaBufBeginCpuAccess(imp, DMA_FROM_DEVICE);
      try {
        for (const r of rects) {
          const c = await this.engine.sendDamage(base + fb.offset, fb.pitch, r);
          this.stats.cpuReadBytes += c.cpuReadBytes;
          this.stats.compressedBytes += c.compressedBytes;
          this.stats.bounceBytes += c.bounceBytes;
          this.stats.damageRects++;
        }
      } finally {
        if (imp) await dmaBufEndCpuAccess(imp, DMA_FROM_DEVICE);
      }
    } finally {
      if (imp) dmaBufVunmap(imp, base);
      else obj.vunmap();
    }
    this.stats.frames++;
    this.last = { bytes: this.engine.panel, fbId: fb.id, time: this.dev.dbs.soc.clock.now };
    this.onFrame?.(this.last);
  }

  /** The whole mode as one rectangle. */
  fullFrame(): UsbDamage[] {
    return [{ x1: 0, y1: 0, x2: this.width, y2: this.height }];
  }
}

/** The USB display state of a device; ENODEV for another driver's. */
export function usbDisplayOf(dev: DrmDevice): UsbDisplay {
  const d = simpleDisplayPipeOf(dev);
  if (!(d instanceof UsbDisplay)) throw kerr('ENODEV', `${dev.driver.name} is not a USB display`);
  return d;
}

/** Clips user rectangles to the mode (the damage iterator's clip to the plane), dropping empty ones; none given is the whole mode. */
function damageRects(u: UsbDisplay, clips: DrmClipRect[] | null, n: number): UsbDamage[] {
  if (!clips) return u.fullFrame();
  const out: UsbDamage[] = [];
  for (let i = 0; i < n; i++) {
    const c = clips[i];
    if (!c || typeof c !== 'object') throw kerr('EFAULT', `clip ${i} is not readable`);
    const x1 = Math.max(0, userU32(c.x1, 'x1') & 0xffff);
    const y1 = Math.max(0, userU32(c.y1, 'y1') & 0xffff);
    const x2 = Math.min(u.width, userU32(c.x2, 'x2') & 0xffff);
    const y2 = Math.min(u.height, userU32(c.y2, 'y2') & 0xffff);
    if (x2 > x1 && y2 > y1) out.push({ x1, y1, x2, y2 });
  }
  return out;
}

/**
 * DRM_IOCTL_MODE_DIRTYFB (drm_mode_dirtyfb_ioctl + drm_atomic_helper_dirtyfb):
 * ENOENT for an unknown framebuffer; EINVAL when num_clips and clips_ptr
 * disagree (one given without the other), for more than
 * DRM_MODE_FB_DIRTY_MAX_CLIPS clips, or an odd count with ANNOTATE_COPY;
 * EFAULT for unreadable clips. Unknown flag bits are ignored, and the
 * annotations are only hints. When the framebuffer is shown (or its flip
 * is pending, which the commit waits for), the clips -- clipped to the
 * mode, empty ones dropped; none means the whole frame -- are sent after
 * the framebuffer's write fences signalled, and the ioctl returns once
 * they reached the panel (a blocking commit). Otherwise nothing is sent.
 */
async function usbDirtyFb(dev: DrmDevice, arg: unknown): Promise<number> {
  const a = userArg<DrmModeFbDirtyCmd>(arg);
  const u = usbDisplayOf(dev);
  const fb = u.fbs.get(userU32(a.fb_id, 'fb_id'));
  if (!fb) throw kerr('ENOENT', `no framebuffer ${a.fb_id}`);
  const n = userU32(a.num_clips ?? 0, 'num_clips');
  const ptr = a.clips_ptr;
  const hasPtr = Array.isArray(ptr) || (ptr !== undefined && ptr !== 0 && ptr !== 0n);
  if (!n !== !hasPtr) throw kerr('EINVAL', `num_clips ${n} with ${hasPtr ? 'a' : 'no'} clips_ptr`);
  const flags = userU32(a.flags ?? 0, 'flags') & DRM_MODE_FB_DIRTY_FLAGS;
  if (flags & DRM_MODE_FB_DIRTY_ANNOTATE_COPY && n % 2) throw kerr('EINVAL', `ANNOTATE_COPY with ${n} clips`);
  if (n > DRM_MODE_FB_DIRTY_MAX_CLIPS) throw kerr('EINVAL', `${n} clips > ${DRM_MODE_FB_DIRTY_MAX_CLIPS}`);
  if (n && !Array.isArray(ptr)) throw kerr('EFAULT', 'clips_ptr is not readable');
  const rects = damageRects(u, n ? (ptr as DrmClipRect[]) : null, n);
  const obj = fb.obj.get();
  try {
    if (u.pending?.fb === fb) await u.pending.done;
    if (u.current !== fb || rects.length === 0) return 0;
    await waitFbWriters(fb);
    if (u.current !== fb) return 0;
    await u.update(fb, rects);
  } finally {
    const p = obj.put();
    if (p) dev.track(p);
  }
  return 0;
}

/**
 * The USB display driver (udl's drm_driver, ours): a modesetting GEM
 * device with shmem dumb buffers mapped cacheable (the CPU is their only
 * reader), PRIME export and a no-map import, one fixed pipeline at a
 * fixed mode, and DIRTYFB for damage.
 */
export const usbDisplayDriver: DrmDriver = {
  name: 'unimem-usb-display',
  desc: 'USB display (DisplayLink-style)',
  date: '20261201',
  major: 1,
  minor: 0,
  patchlevel: 0,
  features: DRIVER_GEM | DRIVER_MODESET,
  dumbCreate: true,
  mapWc: false,
  modeConfig: { preferredDepth: 24, preferShadow: false, asyncPageFlip: false, pageFlipTarget: false },
  ioctls: [],
  gemPrimeImport: gemPrimeImportNoMap,
  coreIoctls: [
    ...DRM_SIMPLE_KMS_IOCTLS,
    { cmd: DRM_IOCTL_MODE_DIRTYFB, flags: DRM_MASTER, func: usbDirtyFb, name: 'DRM_IOCTL_MODE_DIRTYFB' },
  ],
  postclose: drmSimpleKmsPostclose,
};

/** What registerUsbDisplay needs: the DRM device options (the USB host's struct device) and the mode. */
export interface UsbDisplayOptions extends Omit<DrmDeviceOptions, 'driver'> {
  width: number;
  height: number;
  /** Refresh rate (default 60 Hz). */
  refreshHz?: number;
}

/** Creates the USB display and its node /dev/dri/card<index> (udl_usb_probe + drm_dev_register). */
export function registerUsbDisplay(opts: UsbDisplayOptions): { dev: DrmDevice; usb: UsbDisplay } {
  const { width, height, refreshHz, ...rest } = opts;
  if (!(width > 0 && width <= KMS_MAX_WIDTH && height > 0 && height <= KMS_MAX_HEIGHT)) throw new KernelBug(`usb display mode ${width}x${height}`);
  const dev = registerDrmDevice({ ...rest, driver: usbDisplayDriver });
  const usb = new UsbDisplay(dev, width, height, refreshHz ?? 60);
  return { dev, usb };
}

/** The driver table's row for USB hosts: the USB display behind each, a DRM/KMS card. */
export const usbDisplayPlatformDriver = platformDriver({
  kind: 'usb',
  name: 'unimem-usb-display',
  description: 'USB host with a DisplayLink-style display: DRM/KMS with DIRTYFB, frames compressed by the CPU',
  probe: (ctx) => {
    const data = registerUsbDisplay({ dbs: ctx.dbs, mm: ctx.mm, device: ctx.device, width: ctx.params.kmsMode.width, height: ctx.params.kmsMode.height });
    return { nodes: drmProbedNodes(data.dev), data };
  },
  settle: (data) => data.dev.settle(),
});
