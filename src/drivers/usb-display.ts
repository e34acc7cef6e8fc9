import { KernelBug, KernelError, kerr } from '../lib/index.ts';
import type { Timer } from '../hw/index.ts';
import { DMA_FROM_DEVICE } from '../dma/index.ts';
import { DmaResvUsage, beginCpuAccess, endCpuAccess, vmap, vunmap, type DmaFence } from '../dmabuf/index.ts';
import { userArg } from '../fs/index.ts';
import {
  DRM_FORMAT_XRGB8888,
  DRM_IOCTL_MODE_ADDFB2,
  DRM_IOCTL_MODE_DIRTYFB,
  DRM_IOCTL_MODE_GETRESOURCES,
  DRM_IOCTL_MODE_PAGE_FLIP,
  DRM_IOCTL_MODE_RMFB,
  DRM_MODE_FB_DIRTY_ANNOTATE_COPY,
  DRM_MODE_FB_DIRTY_FLAGS,
  DRM_MODE_FB_DIRTY_MAX_CLIPS,
  DRM_MODE_FB_MODIFIERS,
  DRM_MODE_PAGE_FLIP_ASYNC,
  DRM_MODE_PAGE_FLIP_EVENT,
  DRM_MODE_PAGE_FLIP_FLAGS,
  DRM_MODE_PAGE_FLIP_TARGET,
  type DrmClipRect,
  type DrmModeCardRes,
  type DrmModeCrtcPageFlip,
  type DrmModeFbCmd2,
  type DrmModeFbDirtyCmd,
} from '../uapi/index.ts';
import {
  DRIVER_GEM,
  DRIVER_MODESET,
  DRM_MASTER,
  drmSendEvent,
  gemObjectLookup,
  gemPrimeImportNoMap,
  registerDrmDevice,
  type DrmDevice,
  type DrmDeviceOptions,
  type DrmDriver,
  type DrmFile,
} from './drm/index.ts';
import { FIRST_FB_ID, KMS_CONNECTOR_ID, KMS_CRTC_ID, KMS_ENCODER_ID, KMS_MAX_HEIGHT, KMS_MAX_WIDTH, KmsFramebuffer, fillIds, flipEvent } from './display-kms.ts';
import { UsbTransferEngine, type UsbDamage } from './usb-display-transfer.ts';

export * from './usb-display-transfer.ts';

/** A flip waiting for its fences and then for a vsync. */
interface UsbPendingFlip {
  fb: KmsFramebuffer;
  file: DrmFile;
  event: boolean;
  userData: bigint;
  ready: boolean;
  /** Resolves when the flip took effect or was cancelled. */
  done: Promise<void>;
  settle: () => void;
}

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
export interface UsbDisplayStats {
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
  /** Flips that took effect, and flips whose framebuffer went away first. */
  flips: number;
  cancelledFlips: number;
  /** Updates lost because the host could not map a transfer (the URB error udl logs). */
  errors: number;
}

/**
 * The USB display's KMS state (struct udl_device's modeset part): one
 * fixed pipeline at one mode, the framebuffers, the shown and the pending
 * one. Nothing is fetched per vsync: a USB display keeps the last image
 * in its own memory, so the driver sends only what changed -- the whole
 * frame when a flip takes effect, the damaged rectangles on DIRTYFB. The
 * vblank timer runs only while a flip whose fences signalled waits for
 * its vsync; the vblank counter follows the frame counter from time 0.
 * Updates are sent one after another by the transfer engine.
 */
export class UsbDisplay {
  readonly dev: DrmDevice;
  readonly width: number;
  readonly height: number;
  readonly periodNs: number;
  readonly engine: UsbTransferEngine;
  readonly fbs = new Map<number, KmsFramebuffer>();
  current: KmsFramebuffer | null = null;
  pending: UsbPendingFlip | null = null;
  vblankCount = 0;
  readonly stats: UsbDisplayStats = { frames: 0, cpuReadBytes: 0, compressedBytes: 0, bounceBytes: 0, damageRects: 0, flips: 0, cancelledFlips: 0, errors: 0 };
  /** Called after each update reached the panel (the bytes are the panel's own, valid during the call). */
  onFrame?: (shot: UsbFrame) => void;
  private last: UsbFrame | null = null;
  private timer: Timer | null = null;
  /** The update in flight, the tail of the send queue. */
  private tail: Promise<void> = Promise.resolve();
  private inFlight = 0;

  /** Creates the state and allocates the transfer engine (udl_modeset_init + udl_alloc_urb_list). */
  constructor(dev: DrmDevice, width: number, height: number, refreshHz: number) {
    this.dev = dev;
    this.width = width;
    this.height = height;
    this.periodNs = Math.round(1e9 / refreshHz);
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

  /** Allocates the lowest free framebuffer id. */
  allocFbId(): number {
    let id = FIRST_FB_ID;
    while (this.fbs.has(id)) id++;
    return id;
  }

  /**
   * Queues an update of `fb`'s `rects` (the plane's atomic_update): it
   * starts when the updates before it finished and resolves when this one
   * reached the panel. The framebuffer's object is held meanwhile.
   */
  update(fb: KmsFramebuffer, rects: UsbDamage[]): Promise<void> {
    const obj = fb.obj.get();
    const prev = this.tail;
    this.inFlight++;
    const job = this.dev.dbs.soc.clock.spawn(async () => {
      await prev;
      try {
        await this.send(fb, rects);
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        this.stats.errors++;
      } finally {
        this.inFlight--;
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
    const base = imp ? await vmap(imp) : obj.vmap();
    try {
      if (imp) await beginCpuAccess(imp, DMA_FROM_DEVICE);
      try {
        for (const r of rects) {
          const c = await this.engine.sendDamage(base + fb.offset, fb.pitch, r);
          this.stats.cpuReadBytes += c.cpuReadBytes;
          this.stats.compressedBytes += c.compressedBytes;
          this.stats.bounceBytes += c.bounceBytes;
          this.stats.damageRects++;
        }
      } finally {
        if (imp) await endCpuAccess(imp, DMA_FROM_DEVICE);
      }
    } finally {
      if (imp) vunmap(imp, base);
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

  /** Arms the vblank timer for the next vsync when a ready flip waits for it (drm_crtc_vblank_get). */
  armVblank(): void {
    if (this.timer || this.pending?.ready !== true) return;
    const clock = this.dev.dbs.soc.clock;
    const next = (Math.floor(clock.now / this.periodNs) + 1) * this.periodNs;
    this.timer = clock.at(next, () => this.vblank());
  }

  /** The vsync: latches the ready flip, sends its event, and queues the whole frame for the panel. */
  private vblank(): void {
    this.timer = null;
    const clock = this.dev.dbs.soc.clock;
    this.vblankCount = Math.round(clock.now / this.periodNs);
    const p = this.pending;
    if (!p || !p.ready) return;
    this.pending = null;
    this.current = p.fb;
    this.stats.flips++;
    if (p.event) drmSendEvent(p.file, flipEvent(p.userData, clock.now, this.vblankCount));
    p.settle();
    void this.update(p.fb, this.fullFrame());
  }

  /** Marks a flip ready once its fences signalled. */
  flipReady(flip: UsbPendingFlip): void {
    flip.ready = true;
    if (this.pending === flip) this.armVblank();
  }

  /** Cancels the pending flip, if any. */
  cancelPending(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    this.stats.cancelledFlips++;
    this.timer?.cancel();
    this.timer = null;
    p.settle();
  }

  /** Removes a framebuffer: off the CRTC (the panel keeps its last image), a flip to it cancelled, its object reference dropped (drm_framebuffer_remove). */
  removeFb(fb: KmsFramebuffer): void {
    if (this.current === fb) this.current = null;
    if (this.pending?.fb === fb) this.cancelPending();
    this.fbs.delete(fb.id);
    const p = fb.obj.put();
    if (p) this.dev.track(p);
  }
}

const displays = new WeakMap<DrmDevice, UsbDisplay>();

/** The USB display state of a device; ENODEV for another driver's. */
export function usbDisplayOf(dev: DrmDevice): UsbDisplay {
  const d = displays.get(dev);
  if (!d) throw kerr('ENODEV', `${dev.driver.name} is not a USB display`);
  return d;
}

function u32(v: unknown, what: string): number {
  if (typeof v === 'bigint') v = Number(BigInt.asUintN(32, v));
  if (typeof v !== 'number' || !Number.isInteger(v)) throw kerr('EFAULT', `${what} is not an integer`);
  return v >>> 0;
}

/** Waits for the write fences of a framebuffer's object (drm_gem_plane_helper_prepare_fb + drm_atomic_helper_wait_for_fences). */
async function waitWriters(fb: KmsFramebuffer): Promise<void> {
  const fences: DmaFence[] = fb.obj.resv.getFences(DmaResvUsage.WRITE);
  try {
    for (const f of fences) await f.wait();
  } finally {
    for (const f of fences) f.put();
  }
}

/**
 * DRM_IOCTL_MODE_ADDFB2 (drm_mode_addfb2 + drm_gem_fb_create_with_dirty):
 * one plane of XRGB8888, the only format the dongle takes. EINVAL for
 * other formats, modifiers, a size outside the limits, a pitch short of a
 * line, extra planes or a plane running past its object; ENOENT for an
 * unknown handle. Writes fb_id.
 */
function usbAddFb2(dev: DrmDevice, arg: unknown, file: DrmFile): number {
  const a = userArg<DrmModeFbCmd2>(arg);
  const u = usbDisplayOf(dev);
  const width = u32(a.width, 'width');
  const height = u32(a.height, 'height');
  const format = u32(a.pixel_format, 'pixel_format');
  const flags = u32(a.flags, 'flags');
  if (flags & ~DRM_MODE_FB_MODIFIERS) throw kerr('EINVAL', `bad framebuffer flags 0x${flags.toString(16)}`);
  if (flags & DRM_MODE_FB_MODIFIERS) throw kerr('EINVAL', 'driver does not support fb modifiers');
  if (format !== DRM_FORMAT_XRGB8888) throw kerr('EINVAL', `unsupported pixel format 0x${format.toString(16)}`);
  if (width < 1 || width > KMS_MAX_WIDTH || height < 1 || height > KMS_MAX_HEIGHT) throw kerr('EINVAL', `framebuffer ${width}x${height} outside limits`);
  const handle = u32(a.handles?.[0], 'handles[0]');
  const pitch = u32(a.pitches?.[0], 'pitches[0]');
  const offset = u32(a.offsets?.[0] ?? 0, 'offsets[0]');
  for (let i = 1; i < 4; i++) if (a.handles?.[i]) throw kerr('EINVAL', `no plane ${i} in a one-plane format`);
  if (pitch < width * 4) throw kerr('EINVAL', `pitch ${pitch} < ${width * 4}`);
  const obj = gemObjectLookup(file, handle);
  if (!obj) throw kerr('ENOENT', `no gem handle ${handle}`);
  const need = offset + pitch * (height - 1) + width * 4;
  if (need > obj.size) {
    const p = obj.put();
    if (p) dev.track(p);
    throw kerr('EINVAL', `framebuffer needs ${need} bytes of a ${obj.size}-byte object`);
  }
  const fb = new KmsFramebuffer(u.allocFbId(), { width, height, format, pitch, offset }, obj, file);
  u.fbs.set(fb.id, fb);
  a.fb_id = fb.id;
  return 0;
}

/** DRM_IOCTL_MODE_RMFB (drm_mode_rmfb): ENOENT unless the file added that framebuffer. */
function usbRmFb(dev: DrmDevice, arg: unknown, file: DrmFile): number {
  const u = usbDisplayOf(dev);
  const id = typeof arg === 'object' && arg !== null && 'fb_id' in arg ? u32((arg as { fb_id: unknown }).fb_id, 'fb_id') : u32(arg, 'fb_id');
  const fb = u.fbs.get(id);
  if (!fb || fb.owner !== file) throw kerr('ENOENT', `no framebuffer ${id} of this file`);
  u.removeFb(fb);
  return 0;
}

/** DRM_IOCTL_MODE_GETRESOURCES (drm_mode_getresources): the file's framebuffers, one CRTC, encoder and connector, the size limits. */
function usbGetResources(dev: DrmDevice, arg: unknown, file: DrmFile): number {
  const a = userArg<DrmModeCardRes>(arg);
  const u = usbDisplayOf(dev);
  const fbIds = [...u.fbs.values()].filter((f) => f.owner === file).map((f) => f.id);
  a.count_fbs = fillIds(a.fb_id_ptr, u32(a.count_fbs ?? 0, 'count_fbs'), fbIds);
  a.count_crtcs = fillIds(a.crtc_id_ptr, u32(a.count_crtcs ?? 0, 'count_crtcs'), [KMS_CRTC_ID]);
  a.count_connectors = fillIds(a.connector_id_ptr, u32(a.count_connectors ?? 0, 'count_connectors'), [KMS_CONNECTOR_ID]);
  a.count_encoders = fillIds(a.encoder_id_ptr, u32(a.count_encoders ?? 0, 'count_encoders'), [KMS_ENCODER_ID]);
  a.min_width = 1;
  a.max_width = KMS_MAX_WIDTH;
  a.min_height = 1;
  a.max_height = KMS_MAX_HEIGHT;
  return 0;
}

/**
 * DRM_IOCTL_MODE_PAGE_FLIP (drm_mode_page_flip_ioctl + the atomic
 * helpers): EINVAL for unknown flags, a non-zero reserved field, ASYNC or
 * TARGET flips, or an import whose exporter cannot vmap; ENOENT for an
 * unknown CRTC or framebuffer; ENOSPC when the framebuffer is smaller than
 * the mode; EBUSY while a flip is pending. The flip waits for the
 * framebuffer's implicit write fences off the caller's path, takes effect
 * at the next vsync (with DRM_MODE_PAGE_FLIP_EVENT a FLIP_COMPLETE event is
 * queued then, as the display's), and the whole frame -- the mode's
 * top-left region of the framebuffer, any pitch -- is sent to the panel.
 */
function usbPageFlip(dev: DrmDevice, arg: unknown, file: DrmFile): number {
  const a = userArg<DrmModeCrtcPageFlip>(arg);
  const u = usbDisplayOf(dev);
  const flags = u32(a.flags, 'flags');
  if (flags & ~DRM_MODE_PAGE_FLIP_FLAGS || u32(a.reserved ?? 0, 'reserved')) throw kerr('EINVAL', `page flip flags 0x${flags.toString(16)}`);
  if (flags & DRM_MODE_PAGE_FLIP_ASYNC) throw kerr('EINVAL', 'async page flips are not supported');
  if (flags & DRM_MODE_PAGE_FLIP_TARGET) throw kerr('EINVAL', 'page flip targets are not supported');
  if (u32(a.crtc_id, 'crtc_id') !== KMS_CRTC_ID) throw kerr('ENOENT', `no CRTC ${a.crtc_id}`);
  const fb = u.fbs.get(u32(a.fb_id, 'fb_id'));
  if (!fb) throw kerr('ENOENT', `no framebuffer ${a.fb_id}`);
  if (fb.width < u.width || fb.height < u.height) throw kerr('ENOSPC', `framebuffer ${fb.width}x${fb.height} smaller than the ${u.width}x${u.height} mode`);
  const imp = fb.obj.importAttach?.dmabuf;
  if (imp && !imp.ops.vmap) throw kerr('EINVAL', `${imp.expName} buffers cannot be vmapped for the CPU copy`);
  if (u.pending) throw kerr('EBUSY', 'a page flip is already pending');
  const userData = typeof a.user_data === 'bigint' ? a.user_data : BigInt(u32(a.user_data ?? 0, 'user_data'));
  let settle!: () => void;
  const done = new Promise<void>((r) => (settle = r));
  const flip: UsbPendingFlip = { fb, file, event: (flags & DRM_MODE_PAGE_FLIP_EVENT) !== 0, userData, ready: false, done, settle };
  u.pending = flip;
  void dev.dbs.soc.clock.spawn(async () => {
    await waitWriters(fb);
    u.flipReady(flip);
  });
  return 0;
}

/** Clips user rectangles to the mode (the damage iterator's clip to the plane), dropping empty ones; none given is the whole mode. */
function damageRects(u: UsbDisplay, clips: DrmClipRect[] | null, n: number): UsbDamage[] {
  if (!clips) return u.fullFrame();
  const out: UsbDamage[] = [];
  for (let i = 0; i < n; i++) {
    const c = clips[i];
    if (!c || typeof c !== 'object') throw kerr('EFAULT', `clip ${i} is not readable`);
    const x1 = Math.max(0, u32(c.x1, 'x1') & 0xffff);
    const y1 = Math.max(0, u32(c.y1, 'y1') & 0xffff);
    const x2 = Math.min(u.width, u32(c.x2, 'x2') & 0xffff);
    const y2 = Math.min(u.height, u32(c.y2, 'y2') & 0xffff);
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
  const fb = u.fbs.get(u32(a.fb_id, 'fb_id'));
  if (!fb) throw kerr('ENOENT', `no framebuffer ${a.fb_id}`);
  const n = u32(a.num_clips ?? 0, 'num_clips');
  const ptr = a.clips_ptr;
  const hasPtr = Array.isArray(ptr) || (ptr !== undefined && ptr !== 0 && ptr !== 0n);
  if (!n !== !hasPtr) throw kerr('EINVAL', `num_clips ${n} with ${hasPtr ? 'a' : 'no'} clips_ptr`);
  const flags = u32(a.flags ?? 0, 'flags') & DRM_MODE_FB_DIRTY_FLAGS;
  if (flags & DRM_MODE_FB_DIRTY_ANNOTATE_COPY && n % 2) throw kerr('EINVAL', `ANNOTATE_COPY with ${n} clips`);
  if (n > DRM_MODE_FB_DIRTY_MAX_CLIPS) throw kerr('EINVAL', `${n} clips > ${DRM_MODE_FB_DIRTY_MAX_CLIPS}`);
  if (n && !Array.isArray(ptr)) throw kerr('EFAULT', 'clips_ptr is not readable');
  const rects = damageRects(u, n ? (ptr as DrmClipRect[]) : null, n);
  const obj = fb.obj.get();
  try {
    if (u.pending?.fb === fb) await u.pending.done;
    if (u.current !== fb || rects.length === 0) return 0;
    await waitWriters(fb);
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
    { cmd: DRM_IOCTL_MODE_GETRESOURCES, flags: 0, func: usbGetResources, name: 'DRM_IOCTL_MODE_GETRESOURCES' },
    { cmd: DRM_IOCTL_MODE_ADDFB2, flags: 0, func: usbAddFb2, name: 'DRM_IOCTL_MODE_ADDFB2' },
    { cmd: DRM_IOCTL_MODE_RMFB, flags: 0, func: usbRmFb, name: 'DRM_IOCTL_MODE_RMFB' },
    { cmd: DRM_IOCTL_MODE_PAGE_FLIP, flags: DRM_MASTER, func: usbPageFlip, name: 'DRM_IOCTL_MODE_PAGE_FLIP' },
    { cmd: DRM_IOCTL_MODE_DIRTYFB, flags: DRM_MASTER, func: usbDirtyFb, name: 'DRM_IOCTL_MODE_DIRTYFB' },
  ],
  postclose(dev, file) {
    // drm_fb_release: the file's framebuffers go, off the CRTC first
    const u = usbDisplayOf(dev);
    for (const fb of [...u.fbs.values()]) if (fb.owner === file) u.removeFb(fb);
    if (u.pending?.file === file) u.cancelPending();
  },
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
  displays.set(dev, usb);
  return { dev, usb };
}
