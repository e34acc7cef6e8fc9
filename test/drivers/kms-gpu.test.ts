import { describe, expect, it } from 'vitest';
import {
  DRM_FORMAT_XRGB8888,
  DRM_IOCTL_GPU_COMPOSE,
  GPU_COMPOSE_FENCE_OUT,
  KMS_CRTC_ID,
  registerGpu,
  registerKmsDisplay,
  type DrmDevice,
  type KmsDisplay,
} from '../../src/drivers/index.ts';
import { DmaFence, DmaResvUsage } from '../../src/dmabuf/index.ts';
import type { PollFd, Sys } from '../../src/proc/index.ts';
import { DRM_EVENT_FLIP_COMPLETE, DRM_IOCTL_MODE_ADDFB2, DRM_IOCTL_MODE_PAGE_FLIP, DRM_MODE_PAGE_FLIP_EVENT, O_RDWR, POLLIN } from '../../src/uapi/index.ts';
import { errno, pattern, run, testSystem, type TestSystem } from '../dmabuf/helpers.ts';
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

async function addFb(sys: Sys, fd: number, handle: number, width = W, height = H, pitch = W * 4, format = DRM_FORMAT_XRGB8888): Promise<number> {
  const a = { fb_id: 0, width, height, pixel_format: format, flags: 0, handles: [handle, 0, 0, 0], pitches: [pitch, 0, 0, 0], offsets: [0, 0, 0, 0], modifier: [0, 0, 0, 0] };
  await sys.ioctl(fd, DRM_IOCTL_MODE_ADDFB2, a);
  return a.fb_id;
}

async function flip(sys: Sys, fd: number, fbId: number, userData: number, flags = DRM_MODE_PAGE_FLIP_EVENT): Promise<void> {
  await sys.ioctl(fd, DRM_IOCTL_MODE_PAGE_FLIP, { crtc_id: KMS_CRTC_ID, fb_id: fbId, flags, reserved: 0, user_data: userData });
}

async function compose(sys: Sys, fd: number, dst: number, s0: number, s1: number, flags = GPU_COMPOSE_FENCE_OUT): Promise<number> {
  const a = { dst_handle: dst, src_handles: [s0, s1], op: 0, flags, out_fence: 0 };
  await sys.ioctl(fd, DRM_IOCTL_GPU_COMPOSE, a);
  return a.out_fence;
}

function parseEvent(b: Uint8Array) {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    type: v.getUint32(0, true),
    length: v.getUint32(4, true),
    userData: Number(v.getBigUint64(8, true)),
    us: v.getUint32(16, true) * 1e6 + v.getUint32(20, true),
    sequence: v.getUint32(24, true),
    crtc: v.getUint32(28, true),
  };
}

function average(a: Uint8Array, b: Uint8Array): Uint8Array {
  const o = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) o[i] = (a[i]! + b[i]!) >> 1;
  return o;
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
    // a writer the GPU must wait for: 50 ms of some other engine on the display buffer
    const blocker = new DmaFence(s.soc.clock, { getDriverName: () => 'test', getTimelineName: () => 'blocker' }, s.dbs.fctx.alloc(1), 1);
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
      const resv = s.kms.dev.files.values().next().value!.objects.get(scan.handle)!.resv;
      await resv.lock();
      resv.reserveFences(1);
      resv.addFence(blocker, DmaResvUsage.WRITE);
      resv.unlock();
      s.soc.clock.after(50e6, () => blocker.signal());
      const fbId = await addFb(sys, card, scan.handle);
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
