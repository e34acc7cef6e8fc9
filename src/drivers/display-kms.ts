import { KernelBug, PAGE_SIZE, kerr } from '../lib/index.ts';
import type { Timer } from '../hw/index.ts';
import { dmaAllocWc, dmaFreeAttrs, type DmaBuffer, type SgTable } from '../dma/index.ts';
import { DmaResvUsage, type DmaBuf, type DmaFence } from '../dmabuf/index.ts';
import { userArg } from '../fs/index.ts';
import {
  DRM_EVENT_FLIP_COMPLETE,
  DRM_FORMAT_ARGB8888,
  DRM_FORMAT_XRGB8888,
  DRM_IOCTL_MODE_ADDFB2,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_GETRESOURCES,
  DRM_IOCTL_MODE_PAGE_FLIP,
  DRM_IOCTL_MODE_RMFB,
  DRM_MODE_FB_MODIFIERS,
  DRM_MODE_PAGE_FLIP_ASYNC,
  DRM_MODE_PAGE_FLIP_EVENT,
  DRM_MODE_PAGE_FLIP_FLAGS,
  DRM_MODE_PAGE_FLIP_TARGET,
  type DrmModeCardRes,
  type DrmModeCreateDumb,
  type DrmModeCrtcPageFlip,
  type DrmModeFbCmd2,
} from '../uapi/index.ts';
import {
  DRIVER_GEM,
  DRIVER_MODESET,
  DRM_MASTER,
  GemObject,
  drmSendEvent,
  gemHandleCreate,
  gemObjectLookup,
  gemObjectSize,
  gemPrimeImport,
  registerDrmDevice,
  type DrmDevice,
  type DrmDeviceOptions,
  type DrmDriver,
  type DrmFile,
} from './drm/index.ts';
import { ScanoutEngine } from './display.ts';
import { frameFormat } from './pixel-format.ts';

/** Mode object ids of the fixed pipeline (one plane, CRTC, encoder, connector); framebuffers get ids after them. */
export const KMS_PLANE_ID = 31;
export const KMS_CRTC_ID = 32;
export const KMS_ENCODER_ID = 33;
export const KMS_CONNECTOR_ID = 34;
export const FIRST_FB_ID = 35;
/** Limits of the controller (mode_config.min/max_width/height). */
export const KMS_MAX_WIDTH = 4096;
export const KMS_MAX_HEIGHT = 4096;

/**
 * A GEM object in one physically contiguous, write-combined buffer from
 * the DMA API (struct drm_gem_dma_object): what a display without an IOMMU
 * can scan out. Its pages are the DMA buffer's, so mmap, vmap and PRIME
 * export work as for any GEM object; the last reference hands the buffer
 * back to dma_free.
 */
export class DmaGemObject extends GemObject {
  /** The DMA buffer, null once freed. */
  buf: DmaBuffer | null;

  /** Wraps a buffer from dmaAllocWc on the device's struct device (drm_gem_dma_create). */
  constructor(dev: DrmDevice, buf: DmaBuffer) {
    super(dev, gemObjectSize(buf.size));
    if (!buf.contiguous || buf.pfns.length !== this.numPages) throw new KernelBug(`drm_gem_dma object over a non-contiguous or short buffer`);
    this.buf = buf;
    this.pages = buf.pfns;
    dev.stats.pagesAllocated += this.numPages;
  }

  /** The address the display fetches from (dma_addr). */
  get dmaAddr(): number {
    if (!this.buf) throw new KernelBug(`drm_gem_dma object ${this.id} used after free`);
    return this.buf.dmaAddr;
  }

  /** Says what holds the bytes, for the debug view (drm_gem_dma_print_info): the contiguous DMA buffer and where it came from. */
  override backing(): string {
    const b = this.buf;
    if (!b) return `DMA-contiguous memory (freed, ${this.numPages} pages)`;
    const from = b.source.kind === 'cma' ? `cma:${b.source.area.name}` : b.source.kind === 'exact' ? 'alloc_pages_exact' : 'pages through the IOMMU';
    return `DMA-contiguous memory (${this.numPages} pages at dma 0x${b.dmaAddr.toString(16)}, ${from})`;
  }

  /** Drops a reference (drm_gem_object_put); the last gives the buffer back (drm_gem_dma_free) before the core frees the rest. */
  override put(): Promise<void> | undefined {
    if (this.refcount === 1 && this.handleCount === 0 && this.vmapUseCount === 0 && this.buf) {
      this.pages = null;
      this.dev.stats.pagesAllocated -= this.numPages;
      dmaFreeAttrs(this.dev.device, this.buf);
      this.buf = null;
    }
    return super.put();
  }
}

/** A framebuffer (struct drm_framebuffer): one plane of a GEM object, owned by the file that added it. */
export class KmsFramebuffer {
  readonly id: number;
  readonly width: number;
  readonly height: number;
  readonly format: number;
  readonly pitch: number;
  readonly offset: number;
  /** The object it holds a reference to. */
  readonly obj: GemObject;
  /** The file that added it (fb->filp_head); its close removes it. */
  readonly owner: DrmFile;

  /** Creates the framebuffer; the caller gives it one object reference. */
  constructor(id: number, a: { width: number; height: number; format: number; pitch: number; offset: number }, obj: GemObject, owner: DrmFile) {
    this.id = id;
    this.width = a.width;
    this.height = a.height;
    this.format = a.format;
    this.pitch = a.pitch;
    this.offset = a.offset;
    this.obj = obj;
    this.owner = owner;
  }
}

/** A flip waiting for its fences and then for a vsync (the CRTC's pending commit). */
interface PendingFlip {
  fb: KmsFramebuffer;
  file: DrmFile;
  event: boolean;
  userData: bigint;
  /** The framebuffer's implicit write fences have all signalled. */
  ready: boolean;
}

/** What the last scanout showed, for tests and scenario checks. */
export interface KmsScanout {
  /** The bytes the CRTC fetched (width * height * 4). */
  bytes: Uint8Array;
  fbId: number;
  /** The vblank counter at that scanout. */
  vblank: number;
  /** Simulated time of the vsync. */
  time: number;
}

/** How long the vblank interrupt stays on after the last flip (drm's vblank_offdelay, 5000 ms). */
export const KMS_VBLANK_OFFDELAY_NS = 5e9;

/**
 * The display controller's KMS state: the mode it drives, the
 * framebuffers, the CRTC's current and pending framebuffer, and the vblank
 * machinery. The vblank interrupt is on only while it is needed, as
 * drm_vblank_get/put and the off-delay keep it: while a flip whose fences
 * have signalled waits for its vsync, and for KMS_VBLANK_OFFDELAY_NS after
 * the last flip request or completion while a framebuffer is shown. Each
 * vsync it is on, the shown framebuffer is fetched (ScanoutEngine), so an
 * idle display stops costing simulated events and simulated time settles.
 * The vblank counter follows the hardware frame counter (vsyncs since
 * time 0), so it stays right across interrupt-off periods, as
 * drm_update_vblank_count makes it.
 */
export class KmsDisplay {
  readonly dev: DrmDevice;
  readonly width: number;
  readonly height: number;
  /** Nanoseconds between vsyncs. */
  readonly periodNs: number;
  readonly engine: ScanoutEngine;
  readonly fbs = new Map<number, KmsFramebuffer>();
  current: KmsFramebuffer | null = null;
  pending: PendingFlip | null = null;
  /** The frame counter at the last vsync handled (drm_crtc_vblank_count). */
  vblankCount = 0;
  /** Simulated time of the last flip request or completion (the last vblank reference dropped). */
  lastActivity = 0;
  /** Flips that completed, and flips whose framebuffer went away before they took effect. */
  readonly stats = { flips: 0, cancelledFlips: 0, scanouts: 0 };
  /** Called with each completed scanout (the bytes are the engine's, valid during the call): the hook scenario checks use. */
  onScanout: ((shot: KmsScanout) => void) | null = null;
  private last: KmsScanout | null = null;
  private timer: Timer | null = null;
  private scanning: Promise<void> | null = null;

  /** Creates the state for a display of `width` x `height` at `refreshHz`. */
  constructor(dev: DrmDevice, width: number, height: number, refreshHz: number) {
    this.dev = dev;
    this.width = width;
    this.height = height;
    this.periodNs = Math.round(1e9 / refreshHz);
    this.engine = new ScanoutEngine(dev.device, frameFormat(width, height, 'XR24'));
  }

  /** What the last scanout showed (a copy), or null before the first; the hook tests and scenarios read. */
  lastScanout(): KmsScanout | null {
    return this.last ? { ...this.last, bytes: this.last.bytes.slice() } : null;
  }

  /** Waits until no scanout is in flight. */
  async idle(): Promise<void> {
    while (this.scanning) await this.scanning;
  }

  /** Allocates the lowest free framebuffer id (idr_alloc over the mode objects). */
  allocFbId(): number {
    let id = FIRST_FB_ID;
    while (this.fbs.has(id)) id++;
    return id;
  }

  /** Turns the vblank interrupt on for the next vsync when something needs it (drm_crtc_vblank_get, or off after the off-delay). */
  armVblank(): void {
    if (this.timer) return;
    const clock = this.dev.dbs.soc.clock;
    const flipReady = this.pending?.ready === true;
    const showing = this.current !== null && clock.now - this.lastActivity < KMS_VBLANK_OFFDELAY_NS;
    if (!flipReady && !showing) return;
    const next = (Math.floor(clock.now / this.periodNs) + 1) * this.periodNs;
    this.timer = clock.at(next, () => this.vblank());
  }

  /**
   * The vblank interrupt (drm_crtc_handle_vblank): latches a flip whose
   * fences have signalled and sends its event (drm_crtc_send_vblank_event),
   * then starts fetching the current framebuffer for the coming frame.
   */
  private vblank(): void {
    this.timer = null;
    const clock = this.dev.dbs.soc.clock;
    this.vblankCount = Math.round(clock.now / this.periodNs);
    const p = this.pending;
    if (p && p.ready) {
      this.pending = null;
      this.current = p.fb;
      this.lastActivity = clock.now;
      this.stats.flips++;
      if (p.event) drmSendEvent(p.file, flipEvent(p.userData, clock.now, this.vblankCount));
    }
    const fb = this.current;
    if (fb && !this.scanning) {
      const sgt = scanoutSgt(fb);
      const vblank = this.vblankCount;
      const time = clock.now;
      const job = clock.spawn(async () => {
        const bytes = await this.engine.scanout(sgt);
        this.stats.scanouts++;
        this.last = { bytes, fbId: fb.id, vblank, time };
        this.onScanout?.(this.last);
      });
      this.scanning = job.finally(() => {
        this.scanning = null;
      });
    }
    this.armVblank();
  }

  /** Marks a flip ready once its fences signalled and turns the vblank interrupt on for it. */
  flipReady(flip: PendingFlip): void {
    flip.ready = true;
    if (this.pending !== flip) return;
    this.lastActivity = this.dev.dbs.soc.clock.now;
    this.armVblank();
  }

  /** Takes `fb` off the CRTC and cancels a flip to it (the plane disable drm_framebuffer_remove commits). */
  unbind(fb: KmsFramebuffer): void {
    if (this.current === fb) this.current = null;
    if (this.pending?.fb === fb) {
      this.pending = null;
      this.stats.cancelledFlips++;
    }
    if (!this.current && !this.pending && this.timer) {
      this.timer.cancel();
      this.timer = null;
    }
  }

  /** Removes a framebuffer: off the CRTC, out of the table, its object reference dropped (drm_framebuffer_remove). */
  removeFb(fb: KmsFramebuffer): void {
    this.unbind(fb);
    this.fbs.delete(fb.id);
    const p = fb.obj.put();
    if (p) this.dev.track(p);
  }
}

const displays = new WeakMap<DrmDevice, KmsDisplay>();

/** The KMS state of a display device. */
export function kmsDisplayOf(dev: DrmDevice): KmsDisplay {
  const d = displays.get(dev);
  if (!d) throw kerr('ENODEV', `${dev.driver.name} is not a KMS display`);
  return d;
}

/** Builds a struct drm_event_vblank of type FLIP_COMPLETE (32 bytes, little-endian), as drm_crtc_send_vblank_event fills it. */
export function flipEvent(userData: bigint, nowNs: number, sequence: number): Uint8Array {
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  v.setUint32(0, DRM_EVENT_FLIP_COMPLETE, true);
  v.setUint32(4, 32, true);
  v.setBigUint64(8, BigInt.asUintN(64, userData), true);
  const us = Math.floor(nowNs / 1000);
  v.setUint32(16, Math.floor(us / 1e6) >>> 0, true);
  v.setUint32(20, us % 1e6, true);
  v.setUint32(24, sequence >>> 0, true);
  v.setUint32(28, KMS_CRTC_ID, true);
  return b;
}

/** The contiguous device range a framebuffer's object covers, as the CRTC fetches it. */
function scanoutSgt(fb: KmsFramebuffer): SgTable {
  const obj = fb.obj;
  if (obj instanceof DmaGemObject) {
    return { sgl: [{ pfn: obj.pages![0]!, offset: 0, length: obj.size, dmaAddress: obj.dmaAddr, dmaLength: obj.size }], origNents: 1, nents: 1 };
  }
  if (obj.importSgt) return obj.importSgt;
  throw new KernelBug(`framebuffer ${fb.id} on gem object ${obj.id} with no device address`);
}

/** Whether a mapping is one contiguous run in the device's address space (drm_prime_get_contiguous_size covers it all). */
function isDmaContiguous(sgt: SgTable, size: number): boolean {
  let expect = -1;
  let total = 0;
  for (let i = 0; i < sgt.nents; i++) {
    const s = sgt.sgl[i]!;
    if (expect >= 0 && s.dmaAddress !== expect) return false;
    expect = s.dmaAddress + s.dmaLength;
    total += s.dmaLength;
  }
  return total >= size;
}

function u32(v: unknown, what: string): number {
  if (typeof v === 'bigint') v = Number(BigInt.asUintN(32, v));
  if (typeof v !== 'number' || !Number.isInteger(v)) throw kerr('EFAULT', `${what} is not an integer`);
  return v >>> 0;
}

/**
 * DRM_IOCTL_MODE_CREATE_DUMB (drm_mode_create_dumb + drm_gem_dma_dumb_create):
 * EINVAL for a zero or overflowing geometry; pitch is width * bpp rounded
 * up to bytes, the buffer pitch * height from the DMA API on the display's
 * device (contiguous, write-combined). ENOMEM when no contiguous memory the
 * display reaches is left. Writes handle, pitch and size.
 */
async function kmsCreateDumb(dev: DrmDevice, arg: unknown, file: DrmFile): Promise<number> {
  const a = userArg<DrmModeCreateDumb>(arg);
  const width = u32(a.width, 'width');
  const height = u32(a.height, 'height');
  const bpp = u32(a.bpp, 'bpp');
  if (!width || !height || !bpp) throw kerr('EINVAL', `dumb buffer ${width}x${height}x${bpp}`);
  const pitch = Math.ceil((width * bpp) / 8);
  if (pitch > 0xffffffff || pitch * height > 2 ** 32 - PAGE_SIZE) throw kerr('EINVAL', `dumb buffer ${width}x${height}x${bpp} overflows`);
  const size = gemObjectSize(pitch * height);
  const buf = await dmaAllocWc(dev.device, size);
  let obj: DmaGemObject;
  try {
    obj = new DmaGemObject(dev, buf);
  } catch (e) {
    dmaFreeAttrs(dev.device, buf);
    throw e;
  }
  let handle: number;
  try {
    obj.createMmapOffset();
    handle = gemHandleCreate(file, obj);
  } finally {
    const p = obj.put();
    if (p) dev.track(p);
  }
  a.handle = handle;
  a.pitch = pitch;
  a.size = size;
  return 0;
}

/**
 * Imports a dma-buf for the display (drm_gem_prime_import with
 * drm_gem_dma_prime_import_sg_table): the exporter's attach and map may
 * already refuse (EBUSY, EINVAL); a mapping that is not one contiguous
 * device range is refused with EINVAL, since the CRTC cannot fetch it.
 */
async function kmsPrimeImport(dev: DrmDevice, d: DmaBuf): Promise<GemObject> {
  const obj = await gemPrimeImport(dev, d);
  if (obj.importSgt && !isDmaContiguous(obj.importSgt, obj.size)) {
    const nents = obj.importSgt.nents;
    await obj.put();
    throw kerr('EINVAL', `dma-buf ino ${d.ino} maps to ${nents} discontiguous segments for ${dev.device.name}`);
  }
  return obj;
}

/**
 * DRM_IOCTL_MODE_ADDFB2 (drm_mode_addfb2 + drm_gem_fb_create): one plane
 * of XRGB8888 or ARGB8888. EINVAL for other formats, modifiers, a size
 * outside the controller's limits, a pitch short of a line, or a plane
 * running past its object; ENOENT for an unknown handle. Writes fb_id.
 */
function kmsAddFb2(dev: DrmDevice, arg: unknown, file: DrmFile): number {
  const a = userArg<DrmModeFbCmd2>(arg);
  const k = kmsDisplayOf(dev);
  const width = u32(a.width, 'width');
  const height = u32(a.height, 'height');
  const format = u32(a.pixel_format, 'pixel_format');
  const flags = u32(a.flags, 'flags');
  if (flags & ~DRM_MODE_FB_MODIFIERS) throw kerr('EINVAL', `bad framebuffer flags 0x${flags.toString(16)}`);
  if (flags & DRM_MODE_FB_MODIFIERS) throw kerr('EINVAL', 'driver does not support fb modifiers');
  if (format !== DRM_FORMAT_XRGB8888 && format !== DRM_FORMAT_ARGB8888) throw kerr('EINVAL', `unsupported pixel format 0x${format.toString(16)}`);
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
  const fb = new KmsFramebuffer(k.allocFbId(), { width, height, format, pitch, offset }, obj, file);
  k.fbs.set(fb.id, fb);
  a.fb_id = fb.id;
  return 0;
}

/** DRM_IOCTL_MODE_RMFB (drm_mode_rmfb): ENOENT unless the file added that framebuffer; a shown one goes off the CRTC. */
function kmsRmFb(dev: DrmDevice, arg: unknown, file: DrmFile): number {
  const k = kmsDisplayOf(dev);
  const id = typeof arg === 'object' && arg !== null && 'fb_id' in arg ? u32((arg as { fb_id: unknown }).fb_id, 'fb_id') : u32(arg, 'fb_id');
  const fb = k.fbs.get(id);
  if (!fb || fb.owner !== file) throw kerr('ENOENT', `no framebuffer ${id} of this file`);
  k.removeFb(fb);
  return 0;
}

/** Writes up to `given` ids into a user array and returns how many there are (the count/copy pairs of drm_mode_getresources). */
export function fillIds(ptr: number[] | number, given: number, ids: number[]): number {
  if (Array.isArray(ptr)) for (let i = 0; i < ids.length && i < given; i++) ptr[i] = ids[i]!;
  return ids.length;
}

/** DRM_IOCTL_MODE_GETRESOURCES (drm_mode_getresources): the file's framebuffers, one CRTC, one encoder, one connector, the size limits. */
function kmsGetResources(dev: DrmDevice, arg: unknown, file: DrmFile): number {
  const a = userArg<DrmModeCardRes>(arg);
  const k = kmsDisplayOf(dev);
  const fbIds = [...k.fbs.values()].filter((f) => f.owner === file).map((f) => f.id);
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
 * TARGET flips (the controller only flips at vsync) or a format change;
 * ENOENT for an unknown CRTC or framebuffer; ENOSPC when the framebuffer
 * is smaller than the mode; EBUSY while a flip is pending. The flip takes
 * the framebuffer objects' implicit write fences (the plane's prepare_fb),
 * waits for them off the caller's path, then takes effect at the first
 * vsync after; with DRM_MODE_PAGE_FLIP_EVENT a FLIP_COMPLETE event carrying
 * user_data is queued on the file then. The CRTC is on from boot (there is
 * no SETCRTC here), so the first flip also binds the first framebuffer.
 * The CRTC fetches whole lines: a framebuffer with a pitch other than
 * width * 4, or an offset, is EINVAL.
 */
function kmsPageFlip(dev: DrmDevice, arg: unknown, file: DrmFile): number {
  const a = userArg<DrmModeCrtcPageFlip>(arg);
  const k = kmsDisplayOf(dev);
  const flags = u32(a.flags, 'flags');
  if (flags & ~DRM_MODE_PAGE_FLIP_FLAGS || u32(a.reserved ?? 0, 'reserved')) throw kerr('EINVAL', `page flip flags 0x${flags.toString(16)}`);
  if (flags & DRM_MODE_PAGE_FLIP_ASYNC) throw kerr('EINVAL', 'async page flips are not supported');
  if (flags & DRM_MODE_PAGE_FLIP_TARGET) throw kerr('EINVAL', 'page flip targets are not supported');
  if (u32(a.crtc_id, 'crtc_id') !== KMS_CRTC_ID) throw kerr('ENOENT', `no CRTC ${a.crtc_id}`);
  const fb = k.fbs.get(u32(a.fb_id, 'fb_id'));
  if (!fb) throw kerr('ENOENT', `no framebuffer ${a.fb_id}`);
  if (k.current && k.current.format !== fb.format) throw kerr('EINVAL', 'page flip may not change the framebuffer format');
  if (fb.width < k.width || fb.height < k.height) throw kerr('ENOSPC', `framebuffer ${fb.width}x${fb.height} smaller than the ${k.width}x${k.height} mode`);
  if (fb.pitch !== fb.width * 4 || fb.offset !== 0 || fb.width !== k.width) throw kerr('EINVAL', `framebuffer ${fb.id} is not line-packed at offset 0 for the mode`);
  if (k.pending) throw kerr('EBUSY', 'a page flip is already pending');
  const userData = typeof a.user_data === 'bigint' ? a.user_data : BigInt(u32(a.user_data ?? 0, 'user_data'));
  const flip: PendingFlip = { fb, file, event: (flags & DRM_MODE_PAGE_FLIP_EVENT) !== 0, userData, ready: false };
  const fences: DmaFence[] = fb.obj.resv.getFences(DmaResvUsage.WRITE);
  k.pending = flip;
  k.lastActivity = dev.dbs.soc.clock.now;
  if (fences.length === 0) {
    k.flipReady(flip);
  } else {
    // the commit tail waits for the plane's fences (drm_atomic_helper_wait_for_fences), with no vblank reference held
    void dev.dbs.soc.clock.spawn(async () => {
      try {
        for (const f of fences) await f.wait();
      } finally {
        for (const f of fences) f.put();
      }
      k.flipReady(flip);
    });
  }
  return 0;
}

/**
 * The display driver: a modesetting GEM device without render node whose
 * dumb buffers are contiguous DMA memory (the GEM DMA helpers), PRIME
 * import limited to what one contiguous range maps, and one fixed pipeline
 * (plane, CRTC, encoder, connector) driven at a fixed mode.
 */
export const kmsDisplayDriver: DrmDriver = {
  name: 'unimem-display',
  desc: 'unimem display controller',
  date: '20261124',
  major: 1,
  minor: 0,
  patchlevel: 0,
  features: DRIVER_GEM | DRIVER_MODESET,
  dumbCreate: true,
  mapWc: true,
  modeConfig: { preferredDepth: 24, preferShadow: false, asyncPageFlip: false, pageFlipTarget: false },
  ioctls: [],
  gemPrimeImport: kmsPrimeImport,
  coreIoctls: [
    { cmd: DRM_IOCTL_MODE_CREATE_DUMB, flags: 0, func: kmsCreateDumb, name: 'DRM_IOCTL_MODE_CREATE_DUMB' },
    { cmd: DRM_IOCTL_MODE_GETRESOURCES, flags: 0, func: kmsGetResources, name: 'DRM_IOCTL_MODE_GETRESOURCES' },
    { cmd: DRM_IOCTL_MODE_ADDFB2, flags: 0, func: kmsAddFb2, name: 'DRM_IOCTL_MODE_ADDFB2' },
    { cmd: DRM_IOCTL_MODE_RMFB, flags: 0, func: kmsRmFb, name: 'DRM_IOCTL_MODE_RMFB' },
    { cmd: DRM_IOCTL_MODE_PAGE_FLIP, flags: DRM_MASTER, func: kmsPageFlip, name: 'DRM_IOCTL_MODE_PAGE_FLIP' },
  ],
  postclose(dev, file) {
    // drm_fb_release: the file's framebuffers go, off the CRTC first
    const k = kmsDisplayOf(dev);
    for (const fb of [...k.fbs.values()]) if (fb.owner === file) k.removeFb(fb);
    if (k.pending?.file === file) {
      k.pending = null;
      k.stats.cancelledFlips++;
    }
  },
};

/** What registerKmsDisplay needs: the DRM device options (the display's struct device: no IOMMU, contiguous) and the mode. */
export interface KmsDisplayOptions extends Omit<DrmDeviceOptions, 'driver'> {
  /** The fixed mode's size in pixels (hdisplay x vdisplay). */
  width: number;
  height: number;
  /** Refresh rate (default 60 Hz). */
  refreshHz?: number;
}

/** Creates the display device and its node /dev/dri/card<index> (the driver's probe and drm_dev_register). */
export function registerKmsDisplay(opts: KmsDisplayOptions): { dev: DrmDevice; kms: KmsDisplay } {
  const { width, height, refreshHz, ...rest } = opts;
  if (!(width > 0 && width <= KMS_MAX_WIDTH && height > 0 && height <= KMS_MAX_HEIGHT)) throw new KernelBug(`display mode ${width}x${height}`);
  const dev = registerDrmDevice({ ...rest, driver: kmsDisplayDriver });
  const kms = new KmsDisplay(dev, width, height, refreshHz ?? 60);
  displays.set(dev, kms);
  return { dev, kms };
}
