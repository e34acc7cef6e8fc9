import { describe, expect, it } from 'vitest';
import { KMS_CRTC_ID } from '../../src/drivers/gpu/drm/core/drm-simple-kms.ts';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import { bootSystem, loadPlatform } from '../../src/sim/index.ts';
import {
  DRM_IOCTL_GPU_COMPOSE,
  DRM_IOCTL_MODE_PAGE_FLIP,
  DRM_MODE_PAGE_FLIP_EVENT,
  GPU_COMPOSE_FENCE_OUT,
  O_RDWR,
} from '../../src/uapi/index.ts';
import { pattern, run } from '../dmabuf/helpers.ts';
import { addFb } from './kms-helpers.ts';
import { dumb, mapDumb, toFd, toHandle } from './vgem-helpers.ts';

const W = 320;
const H = 240;
const SIZE = W * H * 4;

describe('display and GPU on armv7-mobile (display without IOMMU below 2 GiB, GPU behind smmu0, non-coherent)', () => {
  it('a GPU blend through the SMMU into a display dumb buffer from the display CMA area is what the CRTC scans out', async () => {
    // The boot registers the platform's display (card1) and GPU (card2).
    const sys0 = bootSystem(loadPlatform('armv7-mobile'), { seed: 3, kmsMode: { width: W, height: H } });
    const { dev: disp, kms } = sys0.kms!;
    const gpu = sys0.gpu!;
    const s = { soc: sys0.soc, k: sys0.proc };
    const a = pattern(SIZE, 11);
    const b = pattern(SIZE, 12);
    const pt = sys0.domains.get('gpu')!.pgtable;
    const free0 = sys0.mm.pages.freeCount() + pt.tableBytes / PAGE_SIZE;
    let scanPa = 0;
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card1', O_RDWR);
      const g = await sys.open('/dev/dri/card2', O_RDWR);
      const srcs: number[] = [];
      for (const bytes of [a, b]) {
        const bo = await dumb(sys, g, W, H);
        const m = await sys.mmap(0, bo.size, 3, 1, g, await mapDumb(sys, g, bo.handle));
        await sys.store(m, bytes);
        srcs.push(bo.handle);
      }
      const scan = await dumb(sys, card, W, H);
      scanPa = disp.files.values().next().value!.objects.get(scan.handle)!.pages![0]! * PAGE_SIZE;
      const dst = await toHandle(sys, g, await toFd(sys, card, scan.handle));
      const fb = await addFb(sys, card, scan.handle, W, H);
      const c = { dst_handle: dst, src_handles: srcs, op: 0, flags: GPU_COMPOSE_FENCE_OUT, out_fence: 0 };
      await sys.ioctl(g, DRM_IOCTL_GPU_COMPOSE, c);
      await sys.ioctl(card, DRM_IOCTL_MODE_PAGE_FLIP, { crtc_id: KMS_CRTC_ID, fb_id: fb, flags: DRM_MODE_PAGE_FLIP_EVENT, reserved: 0, user_data: 1 });
      expect((await sys.read(card, 64)).length).toBe(32);
    });
    const area = sys0.mm.cma.get('display')!;
    expect(scanPa).toBeGreaterThanOrEqual(area.basePfn * PAGE_SIZE);
    expect(scanPa + SIZE).toBeLessThanOrEqual(2 ** 31);
    const expected = new Uint8Array(SIZE);
    for (let i = 0; i < SIZE; i++) expected[i] = (a[i]! + b[i]!) >> 1;
    expect(Buffer.compare(kms.lastScanout()!.bytes, expected)).toBe(0);
    await disp.settle();
    await gpu.settle();
    expect(disp.stats.objects + gpu.stats.objects).toBe(0);
    expect(sys0.dma.debug.liveMappings(sys0.devices.get('display')!)).toBe(0);
    // every page comes back except those the GPU's SMMU keeps for its page tables
    expect(sys0.mm.pages.freeCount() + Math.ceil(pt.tableBytes / PAGE_SIZE)).toBe(free0);
  });
});
