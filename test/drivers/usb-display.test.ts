import { describe, expect, it } from 'vitest';
import { createDevice, createDmaContext, type Device } from '../../src/dma/index.ts';
import { createDmaBufSystem } from '../../src/dmabuf/index.ts';
import { USB_DAMAGE_HEADER } from '../../src/hw/index.ts';
import type { DrmDevice, UsbDisplay } from '../../src/drivers/index.ts';
import { KMS_CONNECTOR_ID, KMS_CRTC_ID, KMS_ENCODER_ID } from '../../src/drivers/gpu/drm/core/drm-simple-kms.ts';
import { USB_TRANSFER_SIZE } from '../../src/drivers/gpu/drm/udl/usb-display-transfer.ts';
import { registerGpu } from '../../src/drivers/gpu/drm/gpu/gpu.ts';
import { registerUsbDisplay } from '../../src/drivers/gpu/drm/udl/usb-display.ts';
import { Soc } from '../../src/hw/index.ts';
import { MiB, PAGE_SIZE } from '../../src/lib/index.ts';
import { bootMm } from '../../src/mm/index.ts';
import { createProcSystem, type Sys } from '../../src/proc/index.ts';
import { bootSystem } from '../../src/sim/boot.ts';
import { loadPlatform } from '../../src/sim/platform.ts';
import {
  DRM_EVENT_FLIP_COMPLETE,
  DRM_FORMAT_ARGB8888,
  DRM_IOCTL_GPU_COMPOSE,
  DRM_IOCTL_MODE_DIRTYFB,
  DRM_IOCTL_MODE_GETRESOURCES,
  DRM_IOCTL_MODE_PAGE_FLIP,
  DRM_IOCTL_MODE_RMFB,
  DRM_IOCTL_VERSION,
  DRM_MODE_FB_DIRTY_ANNOTATE_COPY,
  GPU_COMPOSE_FENCE_OUT,
  O_RDWR,
  type DrmClipRect,
} from '../../src/uapi/index.ts';
import { errno, run, testSystem, type TestSystem } from '../dmabuf/helpers.ts';
import { addFb, average, blockWrites, flip, parseEvent } from './kms-helpers.ts';
import { dumb, mapDumb, toFd, toHandle } from './vgem-helpers.ts';

const W = 160;
const H = 120;
const STRIDE = W * 4;
const SIZE = STRIDE * H;
const VSYNC = Math.round(1e9 / 60);

/** Bytes that barely compress (an LCG), so that a frame spans more than one transfer. */
function noise(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** The USB host of armv7-mobile: 30-bit mask, dmabounce, 60 MB/s, non-coherent. */
function usbHost(s: Pick<TestSystem, 'soc' | 'ctx'>): Device {
  const master = s.soc.addMaster({ name: 'usb', coherent: false, bandwidth: 60e6, latencyNs: 1000 });
  return createDevice(s.ctx, master, {
    name: 'usb',
    kind: 'usb',
    dmaMaskBits: 30,
    maxSegmentSize: 64 * 1024,
    segmentBoundary: 0xffff_ffff,
    coherent: false,
    needsContiguous: false,
    alignment: PAGE_SIZE,
    cma: null,
    iommu: null,
    bounce: true,
  });
}

interface UsbSystem extends TestSystem {
  usbDev: Device;
  card: DrmDevice;
  usb: UsbDisplay;
  gpu0: DrmDevice;
}

/** The dma-buf test SoC (lowmem below 1 GiB) with the USB display as card0 and the GPU as card2. */
function usbSystem(): UsbSystem {
  const s = testSystem();
  const usbDev = usbHost(s);
  const { dev, usb } = registerUsbDisplay({ dbs: s.dbs, mm: s.mm, device: usbDev, index: 0, width: W, height: H });
  const gpu0 = registerGpu({ dbs: s.dbs, mm: s.mm, device: s.gpu, index: 2 });
  return { ...s, usbDev, card: dev, usb, gpu0 };
}

async function dirty(sys: Sys, fd: number, fbId: number, clips: DrmClipRect[] | null, flags = 0): Promise<void> {
  await sys.ioctl(fd, DRM_IOCTL_MODE_DIRTYFB, { fb_id: fbId, flags, color: 0, num_clips: clips ? clips.length : 0, clips_ptr: clips ?? 0 });
}

/** Maps a dumb buffer of the card and stores `bytes` at `offset` through the process's mapping. */
async function draw(sys: Sys, fd: number, bo: { handle: number; size: number }, bytes: Uint8Array, offset = 0): Promise<number> {
  const m = await sys.mmap(0, bo.size, 3, 1, fd, await mapDumb(sys, fd, bo.handle));
  await sys.store(m + offset, bytes);
  return m;
}

/** Nothing left behind: GEM objects, dma-bufs, open files, streaming mappings, pages. */
async function expectNoLeaks(s: TestSystem & { card: DrmDevice }, free0: number, others: DrmDevice[] = []): Promise<void> {
  for (const d of [s.card, ...others]) await d.settle();
  for (const d of [s.card, ...others]) expect(d.stats).toEqual({ objects: 0, bytes: 0, pagesAllocated: 0 });
  expect(s.dbs.buffers).toHaveLength(0);
  expect(s.k.vfs.openFileCount).toBe(0);
  expect(s.ctx.debug.liveMappings()).toBe(0);
  expect(s.mm.pages.freeCount()).toBe(free0);
  expect(s.soc.findings.findings).toEqual([]);
}

describe('USB display: flips send the whole frame by CPU copy, compression and USB DMA', () => {
  it('a CPU-drawn dumb buffer reaches the panel after the flip event; the transfer buffer is below the mask, so nothing bounces', async () => {
    const s = usbSystem();
    const free0 = s.mm.pages.freeCount();
    const img = noise(SIZE, 1);
    let eventAt = -1;
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const v = { version_major: 0, version_minor: 0, version_patchlevel: 0, name_len: 64, name: '', date_len: 64, date: '', desc_len: 64, desc: '' };
      await sys.ioctl(card, DRM_IOCTL_VERSION, v);
      expect([v.name, v.desc]).toEqual(['unimem-usb-display', 'USB display (DisplayLink-style)']);
      const bo = await dumb(sys, card, W, H);
      expect(bo.pitch).toBe(STRIDE);
      // shmem pages, cached: the CPU is their only reader
      const obj = s.card.files.values().next().value!.objects.get(bo.handle)!;
      expect(obj.mapWc).toBe(false);
      await draw(sys, card, bo, img);
      const fb = await addFb(sys, card, bo.handle, W, H);
      const res = { fb_id_ptr: [] as number[], crtc_id_ptr: [] as number[], connector_id_ptr: [] as number[], encoder_id_ptr: [] as number[], count_fbs: 4, count_crtcs: 4, count_connectors: 4, count_encoders: 4, min_width: 0, max_width: 0, min_height: 0, max_height: 0 };
      await sys.ioctl(card, DRM_IOCTL_MODE_GETRESOURCES, res);
      expect([res.fb_id_ptr, res.crtc_id_ptr, res.encoder_id_ptr, res.connector_id_ptr]).toEqual([[fb], [KMS_CRTC_ID], [KMS_ENCODER_ID], [KMS_CONNECTOR_ID]]);
      await flip(sys, card, fb, 0xbeef);
      const ev = parseEvent(await sys.read(card, 64));
      eventAt = s.soc.clock.now;
      expect(ev).toMatchObject({ type: DRM_EVENT_FLIP_COMPLETE, length: 32, userData: 0xbeef, crtc: KMS_CRTC_ID, sequence: 1 });
      // the event comes at the vsync; the frame is still on its way over USB
      expect(s.usb.lastFrame()).toBeNull();
      await s.usb.idle();
    });
    expect(eventAt).toBe(VSYNC);
    const shot = s.usb.lastFrame()!;
    expect(Buffer.compare(shot.bytes, img)).toBe(0);
    const st = s.usb.stats;
    expect(st).toMatchObject({ frames: 1, flips: 1, damageRects: 1, cpuReadBytes: SIZE, bounceBytes: 0, errors: 0 });
    // noise does not compress: the header and more than one 64 KiB transfer
    expect(st.compressedBytes).toBeGreaterThan(SIZE + USB_DAMAGE_HEADER);
    expect(st.compressedBytes).toBeGreaterThan(USB_TRANSFER_SIZE);
    expect(s.usb.engine.pa + USB_TRANSFER_SIZE).toBeLessThanOrEqual(2 ** 30);
    // two transfers at 60 MB/s, each with the host's latency, after the vsync
    expect(shot.time - VSYNC).toBeGreaterThanOrEqual(s.usbDev.master.timeFor(USB_TRANSFER_SIZE) + s.usbDev.master.timeFor(st.compressedBytes - USB_TRANSFER_SIZE));
    await expectNoLeaks(s, free0, [s.gpu0]);
  });

  it('DIRTYFB of a rectangle sends only its lines; without clips the whole frame; nothing for a framebuffer not shown', async () => {
    const s = usbSystem();
    const free0 = s.mm.pages.freeCount();
    const img = noise(SIZE, 2);
    const expected = img.slice();
    const before: Record<string, number> = {};
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const bo = await dumb(sys, card, W, H);
      const m = await draw(sys, card, bo, img);
      const fb = await addFb(sys, card, bo.handle, W, H);
      const other = await addFb(sys, card, (await dumb(sys, card, W, H)).handle, W, H);
      await flip(sys, card, fb, 1);
      await sys.read(card, 64);
      await s.usb.idle();
      Object.assign(before, s.usb.stats);
      // redraw x 10..50, y 20..40, and also a line outside any clip
      const patch = noise(40 * 4, 3);
      for (let y = 20; y < 40; y++) {
        await sys.store(m + y * STRIDE + 10 * 4, patch);
        expected.set(patch, y * STRIDE + 10 * 4);
      }
      const stray = new Uint8Array(STRIDE).fill(0xee);
      await sys.store(m + 100 * STRIDE, stray);
      await dirty(sys, card, fb, [{ x1: 10, y1: 20, x2: 50, y2: 40 }]);
      // DIRTYFB is a blocking commit: the damage is on the panel when it returns
      const afterRect = s.usb.lastFrame()!;
      expect(Buffer.compare(afterRect.bytes, expected)).toBe(0);
      expect(s.usb.stats.cpuReadBytes - before.cpuReadBytes!).toBe(40 * 20 * 4);
      expect(s.usb.stats.damageRects - before.damageRects!).toBe(1);
      expect(s.usb.stats.frames - before.frames!).toBe(1);
      // clips are clipped to the mode; empty ones are dropped; two clips are two rectangles
      await dirty(sys, card, fb, [
        { x1: 150, y1: 110, x2: 400, y2: 300 },
        { x1: 5, y1: 5, x2: 5, y2: 9 },
        { x1: 0, y1: 0, x2: 1, y2: 1 },
      ]);
      expect(s.usb.stats.cpuReadBytes - before.cpuReadBytes!).toBe(40 * 20 * 4 + 10 * 10 * 4 + 4);
      expect(s.usb.stats.damageRects - before.damageRects!).toBe(3);
      // a framebuffer that is not shown: nothing is sent
      const mid = { ...s.usb.stats };
      await dirty(sys, card, other, null);
      expect(s.usb.stats).toEqual(mid);
      // no clips: the whole frame, stray line included
      expected.set(stray, 100 * STRIDE);
      await dirty(sys, card, fb, null);
      expect(s.usb.stats.cpuReadBytes - mid.cpuReadBytes).toBe(SIZE);
    });
    expect(Buffer.compare(s.usb.lastFrame()!.bytes, expected)).toBe(0);
    await expectNoLeaks(s, free0, [s.gpu0]);
  });

  it('a GPU buffer imported by PRIME: the flip waits for the GPU fence, the panel shows the GPU output, the host never maps the buffer', async () => {
    const s = usbSystem();
    const free0 = s.mm.pages.freeCount();
    const a = noise(SIZE, 4);
    const b = noise(SIZE, 5);
    let eventUs = -1;
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const g = await sys.open('/dev/dri/card2', O_RDWR);
      const s0 = await dumb(sys, g, W, H);
      const s1 = await dumb(sys, g, W, H);
      await draw(sys, g, s0, a);
      await draw(sys, g, s1, b);
      const dst = await dumb(sys, g, W, H);
      const bufFd = await toFd(sys, g, dst.handle);
      const h = await toHandle(sys, card, bufFd);
      expect(await toHandle(sys, card, bufFd)).toBe(h);
      const obj = s.card.files.values().next().value!.objects.get(h)!;
      const gpuObj = s.gpu0.files.values().next().value!.objects.get(dst.handle)!;
      // the driver's gem_prime_import attached the buffer and shares its reservation object; no mapping, no pages
      expect(obj.importAttach?.dmabuf.ino).toBe(gpuObj.dmaBuf!.ino);
      expect(obj.importAttach?.dev).toBe(s.usbDev);
      expect(obj.importSgt).toBeNull();
      expect(obj.resv).toBe(gpuObj.resv);
      expect(obj.backing()).toMatch(/attached, not mapped for usb/);
      // attached, never mapped for the 30-bit host
      expect(s.ctx.debug.liveMappings(s.usbDev)).toBe(0);
      // Linux's drm_gem_dumb_map_offset refuses imported objects
      expect(await errno(mapDumb(sys, card, h))).toBe('EINVAL');
      // another engine writes the first source for 50 ms; the GPU job waits for it
      const resv = s.gpu0.files.values().next().value!.objects.get(s0.handle)!.resv;
      await blockWrites(s, resv, 50e6);
      const fb = await addFb(sys, card, h, W, H);
      const c = { dst_handle: dst.handle, src_handles: [s0.handle, s1.handle], op: 0, flags: GPU_COMPOSE_FENCE_OUT, out_fence: 0 };
      await sys.ioctl(g, DRM_IOCTL_GPU_COMPOSE, c);
      await flip(sys, card, fb, 9);
      expect(await errno(flip(sys, card, fb, 10))).toBe('EBUSY');
      eventUs = parseEvent(await sys.read(card, 64)).us;
      await s.usb.idle();
      expect(s.ctx.debug.liveMappings(s.usbDev)).toBe(0);
    });
    const gpuDone = 50e6 + s.gpu.master.timeFor(2 * SIZE) + s.gpu.master.timeFor(SIZE);
    expect(eventUs * 1000).toBe(Math.floor((Math.ceil(gpuDone / VSYNC) * VSYNC) / 1000) * 1000);
    expect(Buffer.compare(s.usb.lastFrame()!.bytes, average(a, b))).toBe(0);
    expect(s.usb.stats).toMatchObject({ frames: 1, flips: 1, cpuReadBytes: SIZE });
    await expectNoLeaks(s, free0, [s.gpu0]);
  });

  it('errnos: ADDFB2 of a format other than XRGB8888, flips and DIRTYFB to unknown framebuffers, bad clip arguments, non-master', async () => {
    const s = usbSystem();
    const free0 = s.mm.pages.freeCount();
    expect(DRM_IOCTL_MODE_DIRTYFB).toBe(0xc01864b1);
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const other = await sys.open('/dev/dri/card0', O_RDWR);
      const bo = await dumb(sys, card, W, H);
      expect(await errno(addFb(sys, card, bo.handle, W, H, STRIDE, DRM_FORMAT_ARGB8888))).toBe('EINVAL');
      expect(await errno(addFb(sys, card, bo.handle, W, H, STRIDE, 0x34325659))).toBe('EINVAL');
      expect(await errno(addFb(sys, card, bo.handle, W, H, STRIDE - 4))).toBe('EINVAL');
      expect(await errno(addFb(sys, card, bo.handle, W, H + 2))).toBe('EINVAL');
      expect(await errno(addFb(sys, card, 77, W, H))).toBe('ENOENT');
      const fb = await addFb(sys, card, bo.handle, W, H);
      const small = await addFb(sys, card, bo.handle, W, H / 2);
      expect(await errno(flip(sys, card, fb + 50, 0))).toBe('ENOENT');
      expect(await errno(sys.ioctl(card, DRM_IOCTL_MODE_PAGE_FLIP, { crtc_id: KMS_CRTC_ID + 1, fb_id: fb, flags: 0, reserved: 0, user_data: 0 }))).toBe('ENOENT');
      expect(await errno(flip(sys, card, small, 0))).toBe('ENOSPC');
      expect(await errno(flip(sys, other, fb, 0))).toBe('EACCES');
      expect(await errno(dirty(sys, card, fb + 50, null))).toBe('ENOENT');
      expect(await errno(dirty(sys, other, fb, null))).toBe('EACCES');
      const clip = { x1: 0, y1: 0, x2: 4, y2: 4 };
      expect(await errno(sys.ioctl(card, DRM_IOCTL_MODE_DIRTYFB, { fb_id: fb, flags: 0, color: 0, num_clips: 1, clips_ptr: 0 }))).toBe('EINVAL');
      expect(await errno(sys.ioctl(card, DRM_IOCTL_MODE_DIRTYFB, { fb_id: fb, flags: 0, color: 0, num_clips: 0, clips_ptr: [clip] }))).toBe('EINVAL');
      expect(await errno(dirty(sys, card, fb, new Array<DrmClipRect>(257).fill(clip)))).toBe('EINVAL');
      expect(await errno(dirty(sys, card, fb, [clip], DRM_MODE_FB_DIRTY_ANNOTATE_COPY))).toBe('EINVAL');
      expect(await errno(dirty(sys, card, fb, [clip, clip], DRM_MODE_FB_DIRTY_ANNOTATE_COPY))).toBe('ok');
      expect(await errno(sys.ioctl(other, DRM_IOCTL_MODE_RMFB, fb))).toBe('ENOENT');
      expect(await errno(sys.ioctl(card, DRM_IOCTL_MODE_RMFB, fb))).toBe('ok');
      expect(await errno(flip(sys, card, fb, 0))).toBe('ENOENT');
    });
    expect(s.usb.stats.frames).toBe(0);
    await expectNoLeaks(s, free0, [s.gpu0]);
  });

  it('closing the card with a flip pending cancels it and frees everything; the panel keeps its last image', async () => {
    const s = usbSystem();
    const free0 = s.mm.pages.freeCount();
    const img = noise(SIZE, 6);
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const bo = await dumb(sys, card, W, H);
      await draw(sys, card, bo, img);
      const fb = await addFb(sys, card, bo.handle, W, H);
      await flip(sys, card, fb, 1);
      await sys.read(card, 64);
      const bo2 = await dumb(sys, card, W, H);
      const fb2 = await addFb(sys, card, bo2.handle, W, H);
      const resv = s.card.files.values().next().value!.objects.get(bo2.handle)!.resv;
      await blockWrites(s, resv, 1e9);
      await flip(sys, card, fb2, 2);
      // exit with the flip waiting for its fence
    });
    expect(s.usb.stats).toMatchObject({ flips: 1, cancelledFlips: 1, frames: 1 });
    expect(s.usb.current).toBeNull();
    expect(Buffer.compare(s.usb.lastFrame()!.bytes, img)).toBe(0);
    await expectNoLeaks(s, free0, [s.gpu0]);
  });
});

describe('USB display: the transfer buffer beyond the 30-bit mask is bounced', () => {
  it('with lowmem reaching above 1 GiB every transfer goes through dmabounce, and the panel is still right', async () => {
    // one bank across the 1 GiB line: the transfer buffer lands above it, the bounce pool below
    const soc = new Soc({
      seed: 3,
      banks: [{ name: 'dram0', base: 0x3800_0000, size: 256 * MiB, kind: 'dram' }],
      cache: { size: 64 * 1024, ways: 4 },
      prefetchProbability: 0,
      masters: [],
    });
    const mm = bootMm(soc, { lowmem: 256 * MiB, vmalloc: 64 * MiB, cma: { default: 16 * MiB } });
    const ctx = createDmaContext(soc, mm, { flushThreshold: 1 << 30 });
    const k = createProcSystem({ soc, mm });
    const dbs = createDmaBufSystem({ vfs: k.vfs, soc });
    const usbDev = usbHost({ soc, ctx });
    const { dev, usb } = registerUsbDisplay({ dbs, mm, device: usbDev, index: 0, width: W, height: H });
    expect(usb.engine.pa).toBeGreaterThanOrEqual(2 ** 30);
    const img = noise(SIZE, 7);
    await run({ soc, k }, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const bo = await dumb(sys, card, W, H);
      await draw(sys, card, bo, img);
      await flip(sys, card, await addFb(sys, card, bo.handle, W, H), 1);
      await sys.read(card, 64);
      await usb.idle();
    });
    expect(Buffer.compare(usb.lastFrame()!.bytes, img)).toBe(0);
    expect(usb.stats.bounceBytes).toBeGreaterThan(0);
    expect(usb.stats.bounceBytes).toBe(usb.stats.compressedBytes);
    await dev.settle();
    expect(dev.stats).toEqual({ objects: 0, bytes: 0, pagesAllocated: 0 });
    expect(ctx.debug.liveMappings()).toBe(0);
    expect(soc.findings.findings).toEqual([]);
  });
});

describe('USB display at boot', () => {
  it('armv7-mobile registers its USB host as /dev/dri/card3 at the KMS mode', async () => {
    const sys0 = bootSystem(loadPlatform('armv7-mobile'), { seed: 1, kmsMode: { width: 320, height: 240 } });
    const u = sys0.usbDisplay!;
    expect(u.dev.driver.name).toBe('unimem-usb-display');
    expect([u.usb.width, u.usb.height]).toEqual([320, 240]);
    expect(u.dev.device.dmaMaskBits).toBe(30);
    expect(u.dev.primary.node.path).toBe('/dev/dri/card3');
  });
});
