import { describe, expect, it } from 'vitest';
import type { DrmDevice, KmsDisplay } from '../../src/drivers/index.ts';
import { KMS_CRTC_ID } from '../../src/drivers/gpu/drm/core/drm-simple-kms.ts';
import { registerGpu } from '../../src/drivers/gpu/drm/gpu/gpu.ts';
import { registerKmsDisplay } from '../../src/drivers/gpu/drm/kms-display/display-kms.ts';
import type { PollFd, Sys } from '../../src/proc/index.ts';
import {
  DRM_CAP_DUMB_BUFFER,
  DRM_EVENT_FLIP_COMPLETE,
  DRM_FORMAT_XRGB8888,
  DRM_IOCTL_GET_CAP,
  DRM_IOCTL_GPU_COMPOSE,
  DRM_IOCTL_MODE_ADDFB2,
  DRM_IOCTL_MODE_GETRESOURCES,
  DRM_IOCTL_MODE_PAGE_FLIP,
  DRM_IOCTL_MODE_RMFB,
  DRM_MODE_FB_MODIFIERS,
  DRM_MODE_PAGE_FLIP_ASYNC,
  DRM_MODE_PAGE_FLIP_TARGET_RELATIVE,
  GPU_COMPOSE_FENCE_OUT,
  O_NONBLOCK,
  O_RDWR,
  POLLIN,
} from '../../src/uapi/index.ts';
import { errno, fragmentHighmem, heapAlloc, pattern, run, testSystem, type TestSystem } from '../dmabuf/helpers.ts';
import { addFb, average, blockWrites, flip, parseEvent } from './kms-helpers.ts';
import { dumb, mapDumb, toFd, toHandle } from './vgem-helpers.ts';

const W = 64;
const H = 32;
const SIZE = W * H * 4;
const VSYNC = Math.round(1e9 / 60);

interface KmsGpuSystem extends TestSystem {
  disp0: DrmDevice;
  kms: KmsDisplay;
  gpu0: DrmDevice;
}

/** The dma-buf test SoC with the display (card0, contiguous, no IOMMU) and the GPU (card1/renderD129, behind the IOMMU). */
function kmsGpuSystem(): KmsGpuSystem {
  const s = testSystem();
  const { dev, kms } = registerKmsDisplay({ dbs: s.dbs, mm: s.mm, device: s.disp, index: 0, width: W, height: H });
  const gpu0 = registerGpu({ dbs: s.dbs, mm: s.mm, device: s.gpu, index: 1 });
  return { ...s, disp0: dev, kms, gpu0 };
}

async function compose(sys: Sys, fd: number, dst: number, s0: number, s1: number, flags = GPU_COMPOSE_FENCE_OUT): Promise<number> {
  const a = { dst_handle: dst, src_handles: [s0, s1], op: 0, flags, out_fence: 0 };
  await sys.ioctl(fd, DRM_IOCTL_GPU_COMPOSE, a);
  return a.out_fence;
}

async function signalled(sys: Sys, fd: number): Promise<boolean> {
  const p: PollFd[] = [{ fd, events: POLLIN }];
  await sys.poll(p, 0);
  return ((p[0]!.revents ?? 0) & POLLIN) !== 0;
}

describe('GPU composes into a display buffer shared by PRIME; the flip waits for the GPU fence', () => {
  it('the scanned-out bytes are the average of the two sources, shown at the first vsync after the fence', async () => {
    const s = kmsGpuSystem();
    const free0 = s.mm.pages.freeCount();
    const a = pattern(SIZE, 1);
    const b = pattern(SIZE, 2);
    let eventAtNs = -1;
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const g = await sys.open('/dev/dri/card1', O_RDWR);
      const s0 = await dumb(sys, g, W, H);
      const s1 = await dumb(sys, g, W, H);
      for (const [bo, bytes] of [[s0, a], [s1, b]] as const) {
        const m = await sys.mmap(0, bo.size, 3, 1, g, await mapDumb(sys, g, bo.handle));
        await sys.store(m, bytes);
        await sys.munmap(m, bo.size);
      }
      const scan = await dumb(sys, card, W, H);
      expect(scan.pitch).toBe(W * 4);
      const bufFd = await toFd(sys, card, scan.handle);
      const dst = await toHandle(sys, g, bufFd);
      // a writer the GPU must wait for: 50 ms of some other engine on the first source, so the display buffer's only writer is the GPU job that waits for it
      const resv = s.gpu0.files.values().next().value!.objects.get(s0.handle)!.resv;
      await blockWrites(s, resv, 50e6);
      const fbId = await addFb(sys, card, scan.handle, W, H);
      const out = await compose(sys, g, dst, s0.handle, s1.handle);
      expect(out).toBeGreaterThan(2);
      expect(await signalled(sys, out)).toBe(false);
      await flip(sys, card, fbId, 0x1234);
      // the CRTC is still unbound: nothing shown before the fences signal
      expect(await errno(flip(sys, card, fbId, 1))).toBe('EBUSY');
      const ev = parseEvent(await sys.read(card, 64));
      eventAtNs = s.soc.clock.now;
      expect(await signalled(sys, out)).toBe(true);
      expect(ev).toMatchObject({ type: DRM_EVENT_FLIP_COMPLETE, length: 32, userData: 0x1234, crtc: KMS_CRTC_ID });
      expect(ev.us * 1000).toBeGreaterThanOrEqual(50e6);
      // one more vsync so that the flipped frame has been fetched
      await sys.poll([{ fd: card, events: POLLIN }], 20);
    });
    // the flip took effect at the first vsync after 50 ms plus the compose time (vsync 3 at 50.000001 ms is too early)
    const gpuDoneNs = 50e6 + s.gpu.master.timeFor(2 * SIZE) + s.gpu.master.timeFor(SIZE);
    expect(eventAtNs).toBe(Math.ceil(gpuDoneNs / VSYNC) * VSYNC);
    expect(eventAtNs).toBe(4 * VSYNC);
    const shown = s.kms.lastScanout();
    expect(shown).not.toBeNull();
    // vsyncs 4 and 5 fetched the new frame; the close at 86.7 ms unbound it
    expect([shown!.time, shown!.vblank]).toEqual([5 * VSYNC, 5]);
    expect(s.kms.stats.scanouts).toBe(2);
    expect(Buffer.compare(shown!.bytes, average(a, b))).toBe(0);
    expect(s.kms.stats.flips).toBe(1);
    // no leaks at exit
    await s.disp0.settle();
    await s.gpu0.settle();
    expect(s.disp0.stats).toEqual({ objects: 0, bytes: 0, pagesAllocated: 0 });
    expect(s.gpu0.stats).toEqual({ objects: 0, bytes: 0, pagesAllocated: 0 });
    expect(s.dbs.buffers).toHaveLength(0);
    expect(s.k.vfs.openFileCount).toBe(0);
    expect(s.ctx.debug.liveMappings()).toBe(0);
    expect(s.mm.pages.freeCount()).toBe(free0);
    expect(s.kms.current).toBeNull();
    expect(s.soc.findings.findings).toEqual([]);
  });
});

describe('display KMS ioctls', () => {
  it('GETRESOURCES: one CRTC, encoder and connector; only the caller\'s framebuffers; ids copied up to the counts given', async () => {
    const s = kmsGpuSystem();
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const other = await sys.open('/dev/dri/card0', O_RDWR);
      const cap = { capability: DRM_CAP_DUMB_BUFFER, value: 0 };
      await sys.ioctl(card, DRM_IOCTL_GET_CAP, cap);
      expect(cap.value).toBe(1);
      const bo = await dumb(sys, card, W, H);
      const f1 = await addFb(sys, card, bo.handle, W, H);
      const f2 = await addFb(sys, card, bo.handle, W, H);
      const ob = await dumb(sys, other, W, H);
      await addFb(sys, other, ob.handle, W, H);
      const probe = { fb_id_ptr: [] as number[], crtc_id_ptr: [] as number[], connector_id_ptr: [] as number[], encoder_id_ptr: [] as number[], count_fbs: 0, count_crtcs: 0, count_connectors: 0, count_encoders: 0, min_width: 0, max_width: 0, min_height: 0, max_height: 0 };
      await sys.ioctl(card, DRM_IOCTL_MODE_GETRESOURCES, probe);
      expect([probe.count_fbs, probe.count_crtcs, probe.count_connectors, probe.count_encoders]).toEqual([2, 1, 1, 1]);
      expect(probe.fb_id_ptr).toEqual([]);
      const res = { ...probe, fb_id_ptr: [] as number[], crtc_id_ptr: [] as number[], connector_id_ptr: [] as number[], encoder_id_ptr: [] as number[], count_fbs: 1 };
      await sys.ioctl(card, DRM_IOCTL_MODE_GETRESOURCES, res);
      expect(res.fb_id_ptr).toEqual([f1]);
      expect(res.crtc_id_ptr).toEqual([KMS_CRTC_ID]);
      expect(res.count_fbs).toBe(2);
      expect([res.min_width, res.max_width, res.min_height, res.max_height]).toEqual([1, 4096, 1, 4096]);
      expect(f2).toBe(f1 + 1);
    });
    expect(s.disp0.stats.objects).toBe(0);
  });

  it('ADDFB2 and RMFB errnos; dumb buffers are one contiguous DMA allocation', async () => {
    const s = kmsGpuSystem();
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const other = await sys.open('/dev/dri/card0', O_RDWR);
      const bo = await dumb(sys, card, W, H);
      const obj = s.disp0.files.values().next().value!.objects.get(bo.handle)!;
      const pages = obj.pages!;
      for (let i = 1; i < pages.length; i++) expect(pages[i]).toBe(pages[0]! + i);
      expect(s.ctx.debug.liveMappings(s.disp)).toBe(1);
      expect(await errno(addFb(sys, card, bo.handle, W, H, W * 4, 0x34325659))).toBe('EINVAL');
      expect(await errno(addFb(sys, card, bo.handle, W, H, W * 4 - 4))).toBe('EINVAL');
      expect(await errno(addFb(sys, card, bo.handle, W, H + 1))).toBe('EINVAL');
      expect(await errno(addFb(sys, card, bo.handle, 0, H))).toBe('EINVAL');
      expect(await errno(addFb(sys, card, 99, W, H))).toBe('ENOENT');
      const mod = { fb_id: 0, width: W, height: H, pixel_format: DRM_FORMAT_XRGB8888, flags: DRM_MODE_FB_MODIFIERS, handles: [bo.handle, 0, 0, 0], pitches: [W * 4, 0, 0, 0], offsets: [0, 0, 0, 0], modifier: [0, 0, 0, 0] };
      expect(await errno(sys.ioctl(card, DRM_IOCTL_MODE_ADDFB2, mod))).toBe('EINVAL');
      const fb = await addFb(sys, card, bo.handle, W, H);
      expect(await errno(sys.ioctl(other, DRM_IOCTL_MODE_RMFB, fb))).toBe('ENOENT');
      expect(await errno(sys.ioctl(card, DRM_IOCTL_MODE_RMFB, fb + 7))).toBe('ENOENT');
      expect(await errno(sys.ioctl(card, DRM_IOCTL_MODE_RMFB, fb))).toBe('ok');
      expect(await errno(sys.ioctl(card, DRM_IOCTL_MODE_RMFB, fb))).toBe('ENOENT');
    });
    expect(s.ctx.debug.liveMappings(s.disp)).toBe(0);
    expect(s.disp0.stats).toEqual({ objects: 0, bytes: 0, pagesAllocated: 0 });
  });

  it('PAGE_FLIP errnos: flags, reserved, CRTC, framebuffer, size, master, pending', async () => {
    const s = kmsGpuSystem();
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const other = await sys.open('/dev/dri/card0', O_RDWR);
      const bo = await dumb(sys, card, W, H);
      const fb = await addFb(sys, card, bo.handle, W, H);
      const small = await addFb(sys, card, bo.handle, W, H / 2);
      const pf = (a: Record<string, unknown>, fd = card) => errno(sys.ioctl(fd, DRM_IOCTL_MODE_PAGE_FLIP, { crtc_id: KMS_CRTC_ID, fb_id: fb, flags: 0, reserved: 0, user_data: 0, ...a }));
      expect(await pf({ flags: 0x80 })).toBe('EINVAL');
      expect(await pf({ flags: DRM_MODE_PAGE_FLIP_ASYNC })).toBe('EINVAL');
      expect(await pf({ flags: DRM_MODE_PAGE_FLIP_TARGET_RELATIVE })).toBe('EINVAL');
      expect(await pf({ reserved: 1 })).toBe('EINVAL');
      expect(await pf({ crtc_id: KMS_CRTC_ID + 1 })).toBe('ENOENT');
      expect(await pf({ fb_id: 999 })).toBe('ENOENT');
      expect(await pf({ fb_id: small })).toBe('ENOSPC');
      expect(await pf({}, other)).toBe('EACCES');
      expect(await pf({})).toBe('ok');
      expect(await pf({})).toBe('EBUSY');
      // no event asked for: nothing to read
      const nb = await sys.open('/dev/dri/card0', O_RDWR | O_NONBLOCK);
      expect(await errno(sys.read(nb, 64))).toBe('EAGAIN');
    });
    expect(s.kms.stats.flips).toBe(0);
  });

  it('a CPU-drawn dumb buffer is scanned out; RMFB of the shown framebuffer turns the CRTC off and the vblank interrupt with it', async () => {
    const s = kmsGpuSystem();
    const img = pattern(SIZE, 5);
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const bo = await dumb(sys, card, W, H);
      const m = await sys.mmap(0, bo.size, 3, 1, card, await mapDumb(sys, card, bo.handle));
      await sys.store(m, img);
      const fb = await addFb(sys, card, bo.handle, W, H);
      await flip(sys, card, fb, 7);
      expect(parseEvent(await sys.read(card, 64))).toMatchObject({ userData: 7, sequence: 1 });
      await sys.poll([{ fd: card, events: POLLIN }], 40);
      expect(s.kms.current?.id).toBe(fb);
      await sys.ioctl(card, DRM_IOCTL_MODE_RMFB, fb);
      expect(s.kms.current).toBeNull();
      const t = s.soc.clock.now;
      await sys.poll([{ fd: card, events: POLLIN }], 100);
      expect(s.kms.vblankCount).toBe(Math.floor(t / VSYNC));
    });
    const shown = s.kms.lastScanout()!;
    expect(Buffer.compare(shown.bytes, img)).toBe(0);
    expect(s.kms.stats.scanouts).toBe(3);
  });

  it('PRIME import: a CMA heap buffer is scanned out; scattered GPU pages are refused with EINVAL and leave nothing behind', async () => {
    const s = kmsGpuSystem();
    fragmentHighmem(s.mm);
    const img = pattern(SIZE, 9);
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const g = await sys.open('/dev/dri/card1', O_RDWR);
      const gb = await dumb(sys, g, W, H);
      const gfd = await toFd(sys, g, gb.handle);
      const gp = s.gpu0.files.values().next().value!.objects.get(gb.handle)!.getPages();
      expect(gp.some((pfn, i) => i > 0 && pfn !== gp[i - 1]! + 1)).toBe(true);
      expect(await errno(toHandle(sys, card, gfd))).toBe('EINVAL');
      expect(s.disp0.stats.objects).toBe(0);
      // scattered system-heap pages: refused, whether by the exporter or by the contiguity check
      const sfd = await heapAlloc(sys, 'system', SIZE);
      await sys.mmap(0, SIZE, 3, 1, sfd, 0).then((m) => sys.store(m, img).then(() => sys.munmap(m, SIZE)));
      expect(await errno(toHandle(sys, card, sfd))).toBe('EINVAL');
      await sys.close(sfd);
      const cfd = await heapAlloc(sys, 'reserved', SIZE);
      const m = await sys.mmap(0, SIZE, 3, 1, cfd, 0);
      await sys.store(m, img);
      await sys.munmap(m, SIZE);
      const h = await toHandle(sys, card, cfd);
      // the refused imports left no handle behind
      expect(h).toBe(1);
      expect(await toHandle(sys, card, cfd)).toBe(h);
      expect(await errno(mapDumb(sys, card, h))).toBe('EINVAL');
      const imported = s.disp0.files.values().next().value!.objects.get(h)!;
      expect(imported.resv).toBe(imported.importAttach!.dmabuf.resv);
      await flip(sys, card, await addFb(sys, card, h, W, H), 1);
      await sys.read(card, 64);
    });
    expect(Buffer.compare(s.kms.lastScanout()!.bytes, img)).toBe(0);
    expect(s.dbs.buffers).toHaveLength(0);
    expect(s.disp0.stats.objects).toBe(0);
    expect(s.ctx.debug.liveMappings()).toBe(0);
  });

  it('the vblank interrupt is off while a flip waits for its fences and after the 5 s off-delay; the frame counter stays right', async () => {
    const s = kmsGpuSystem();
    let scanoutsWhileWaiting = -1;
    let scanoutsAfterIdle = -1;
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const bo = await dumb(sys, card, W, H);
      const fb = await addFb(sys, card, bo.handle, W, H);
      await flip(sys, card, fb, 1);
      expect(parseEvent(await sys.read(card, 64)).sequence).toBe(1);
      // shown and left alone for 10 s: fetched each vsync for 5 s, then the interrupt goes off
      await sys.poll([{ fd: card, events: 0 }], 10_000);
      scanoutsAfterIdle = s.kms.stats.scanouts;
      const resv = s.disp0.files.values().next().value!.objects.get(bo.handle)!.resv;
      await blockWrites(s, resv, 2e9);
      const t0 = s.soc.clock.now;
      await flip(sys, card, fb, 2);
      await sys.poll([{ fd: card, events: 0 }], 1900);
      scanoutsWhileWaiting = s.kms.stats.scanouts;
      const ev = parseEvent(await sys.read(card, 64));
      expect(ev.sequence).toBe(Math.ceil((t0 + 2e9) / VSYNC));
    });
    // 1 + 300 vsyncs (16.7 ms .. 5.0167 s) fetched the frame
    expect(scanoutsAfterIdle).toBe(301);
    // the shown frame is not fetched again while the flip waits: the off-delay had run out
    expect(scanoutsWhileWaiting).toBe(301);
  });
});
