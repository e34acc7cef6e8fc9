import { KernelBug, PAGE_SIZE, kerr } from '../../../../lib/index.ts';
import { dmaAllocWc, dmaFreeAttrs, sgDmaSegments, type DmaBuffer, type SgTable } from '../../../../dma/index.ts';
import { ScanoutEngine, type SgSegment } from '../../../../hw/index.ts';
import type { DmaBuf } from '../../../../dmabuf/index.ts';
import { userArg } from '../../../../fs/index.ts';
import { DRM_FORMAT_ARGB8888, DRM_FORMAT_XRGB8888, DRM_IOCTL_MODE_CREATE_DUMB, type DrmModeCreateDumb } from '../../../../uapi/index.ts';
import {
  DRIVER_GEM,
  DRIVER_MODESET,
  DRM_SIMPLE_KMS_IOCTLS,
  GemObject,
  KMS_MAX_HEIGHT,
  KMS_MAX_WIDTH,
  SimpleDisplayPipe,
  drmSimpleKmsPostclose,
  gemHandleCreate,
  gemObjectSize,
  gemPrimeImport,
  registerDrmDevice,
  simpleDisplayPipeOf,
  userU32,
  type DrmDevice,
  type DrmDeviceOptions,
  type DrmDriver,
  type DrmFile,
  type KmsFramebuffer,
  type SimpleDisplayPipeFuncs,
  type SimplePipeStats,
} from '../core/index.ts';
import { drmProbedNodes } from '../core/index.ts';
import { frameFormat, type FrameBytes } from '../../../../formats/index.ts';

// the mode objects, framebuffers and flip event of the shared KMS core, under the names the display has always exported
export {
  FIRST_FB_ID,
  KMS_CONNECTOR_ID,
  KMS_CRTC_ID,
  KMS_ENCODER_ID,
  KMS_MAX_HEIGHT,
  KMS_MAX_WIDTH,
  KMS_PLANE_ID,
  KMS_VBLANK_OFFDELAY_NS,
  KmsFramebuffer,
  fillIds,
  flipEvent,
  type PendingFlip,
} from '../core/index.ts';
import { platformDriver } from '../../../base/platform-driver.ts';

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
  /** drm_gem_dma_mmap remaps the buffer with no COW check, so a private mapping works. */
  override readonly cowMappable = true;

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

/** What the last scanout showed, for tests and scenario checks. */
export interface KmsScanout {
  /** The bytes the CRTC fetched (width * height * 4), as one array. */
  readonly bytes: Uint8Array;
  /** The same bytes, lent where they lie (no copy): what a check that reads them once takes. */
  readonly frame: FrameBytes;
  fbId: number;
  /** The vblank counter at that scanout. */
  vblank: number;
  /** Simulated time of the vsync. */
  time: number;
}

/** What the display counts: the core's flips and cancelled flips, and completed scanouts. */
export interface KmsDisplayStats extends SimplePipeStats {
  scanouts: number;
}

/**
 * The display controller's pipe funcs: the CRTC fetches the shown
 * framebuffer every frame, so the vblank interrupt stays on while one is
 * shown, and it fetches whole lines from offset 0, so a flip's
 * framebuffer must be line-packed at the mode's width.
 */
const kmsPipeFuncs: SimpleDisplayPipeFuncs<KmsDisplay> = {
  fetchesEveryFrame: true,
  check(k, fb) {
    if (fb.pitch !== fb.width * 4 || fb.offset !== 0 || fb.width !== k.width) throw kerr('EINVAL', `framebuffer ${fb.id} is not line-packed at offset 0 for the mode`);
  },
  update(k) {
    k.fetchCurrent();
  },
};

/**
 * The display controller's KMS state: the simple pipe (mode, framebuffers,
 * current and pending flip, vblank on/off-delay) and the scanout engine.
 * Each vsync the vblank interrupt is on, the shown framebuffer is fetched
 * (ScanoutEngine), so an idle display stops costing simulated events and
 * simulated time settles.
 */
export class KmsDisplay extends SimpleDisplayPipe<KmsDisplayStats> {
  readonly engine: ScanoutEngine;
  /** Called with each completed scanout (the bytes are the engine's, valid during the call): the hook scenario checks use. */
  onScanout: ((shot: KmsScanout) => void) | null = null;
  private last: KmsScanout | null = null;
  private scanning: Promise<void> | null = null;

  /** Creates the state for a display of `width` x `height` at `refreshHz` and attaches it to the device. */
  constructor(dev: DrmDevice, width: number, height: number, refreshHz: number) {
    super(dev, { width, height, refreshHz, formats: [DRM_FORMAT_XRGB8888, DRM_FORMAT_ARGB8888], stats: { flips: 0, cancelledFlips: 0, scanouts: 0 }, funcs: kmsPipeFuncs });
    this.engine = new ScanoutEngine(dev.device.master, dev.dbs.soc.clock, frameFormat(width, height, 'XR24'));
  }

  /** What the last scanout showed (a copy), or null before the first; the hook tests and scenarios read. */
  lastScanout(): KmsScanout | null {
    if (!this.last) return null;
    const bytes = this.last.bytes.slice();
    return { ...this.last, bytes, frame: bytes };
  }

  /** Waits until no scanout is in flight. */
  async idle(): Promise<void> {
    while (this.scanning) await this.scanning;
  }

  /** Starts fetching the shown framebuffer for the coming frame, unless the last fetch is still running (the CRTC's scanout at a vsync). */
  fetchCurrent(): void {
    const fb = this.current;
    if (!fb || this.scanning) return;
    const clock = this.dev.dbs.soc.clock;
    const segs = scanoutSegments(fb);
    const vblank = this.vblankCount;
    const time = clock.now;
    const job = clock.spawn(async () => {
      const picture = await this.engine.scanout(segs);
      this.stats.scanouts++;
      // the picture is copied out only for a caller that wants it as one array
      const shot: KmsScanout = {
        get bytes() {
          return picture.bytes();
        },
        frame: picture,
        fbId: fb.id,
        vblank,
        time,
      };
      this.last = shot;
      this.onScanout?.(shot);
    });
    this.scanning = job.finally(() => {
      this.scanning = null;
    });
  }
}

/** The KMS state of a display device; ENODEV for another driver's. */
export function kmsDisplayOf(dev: DrmDevice): KmsDisplay {
  const d = simpleDisplayPipeOf(dev);
  if (!(d instanceof KmsDisplay)) throw kerr('ENODEV', `${dev.driver.name} is not a KMS display`);
  return d;
}

/** The device range a framebuffer's object covers, as the CRTC fetches it: its own contiguous buffer, or an import's segments. */
function scanoutSegments(fb: KmsFramebuffer): SgSegment[] {
  const obj = fb.obj;
  if (obj instanceof DmaGemObject) return [{ addr: obj.dmaAddr, len: obj.size }];
  if (obj.importSgt) return sgDmaSegments(obj.importSgt);
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

/**
 * DRM_IOCTL_MODE_CREATE_DUMB (drm_mode_create_dumb + drm_gem_dma_dumb_create):
 * EINVAL for a zero or overflowing geometry; pitch is width * bpp rounded
 * up to bytes, the buffer pitch * height from the DMA API on the display's
 * device (contiguous, write-combined). ENOMEM when no contiguous memory the
 * display reaches is left. Writes handle, pitch and size.
 */
async function kmsCreateDumb(dev: DrmDevice, arg: unknown, file: DrmFile): Promise<number> {
  const a = userArg<DrmModeCreateDumb>(arg);
  const width = userU32(a.width, 'width');
  const height = userU32(a.height, 'height');
  const bpp = userU32(a.bpp, 'bpp');
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
    ...DRM_SIMPLE_KMS_IOCTLS,
  ],
  postclose: drmSimpleKmsPostclose,
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
  return { dev, kms };
}

/** The driver table's row for display controllers: a KMS card each, the next free /dev/dri/cardN. */
export const kmsDisplayPlatformDriver = platformDriver({
  kind: 'display',
  name: 'unimem-kms',
  description: 'display controller: DRM/KMS with one plane, scanout DMA every vsync',
  probe: (ctx) => {
    const data = registerKmsDisplay({ dbs: ctx.dbs, mm: ctx.mm, device: ctx.device, width: ctx.params.kmsMode.width, height: ctx.params.kmsMode.height });
    return { nodes: drmProbedNodes(data.dev), data };
  },
  settle: (data) => data.dev.settle(),
});
