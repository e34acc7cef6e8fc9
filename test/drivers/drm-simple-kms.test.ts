import { describe, expect, it } from 'vitest';
import { KMS_CONNECTOR_ID, KMS_CRTC_ID, KMS_ENCODER_ID } from '../../src/drivers/gpu/drm/core/drm-simple-kms.ts';
import { kmsDisplayOf, registerKmsDisplay } from '../../src/drivers/gpu/drm/kms-display/display-kms.ts';
import { registerGpu } from '../../src/drivers/gpu/drm/gpu/gpu.ts';
import { registerUsbDisplay, usbDisplayOf } from '../../src/drivers/gpu/drm/udl/usb-display.ts';
import type { Sys } from '../../src/proc/index.ts';
import { DRM_IOCTL_MODE_GETRESOURCES, DRM_IOCTL_MODE_RMFB, O_NONBLOCK, O_RDWR } from '../../src/uapi/index.ts';
import { errno, run, testSystem } from '../dmabuf/helpers.ts';
import { addFb, blockWrites, flip, parseEvent } from './kms-helpers.ts';
import { dumb } from './vgem-helpers.ts';

const W = 32;
const H = 16;

/** The dma-buf test SoC with the KMS display as card0, the USB display (on dma0) as card1 and the GPU as card2. */
function bothDisplays() {
  const s = testSystem();
  const kms = registerKmsDisplay({ dbs: s.dbs, mm: s.mm, device: s.disp, index: 0, width: W, height: H });
  const usb = registerUsbDisplay({ dbs: s.dbs, mm: s.mm, device: s.dma0, index: 1, width: W, height: H });
  const gpu = registerGpu({ dbs: s.dbs, mm: s.mm, device: s.gpu, index: 2 });
  return { ...s, kms, usb, gpu };
}

async function resources(sys: Sys, fd: number) {
  const res = { fb_id_ptr: [] as number[], crtc_id_ptr: [] as number[], connector_id_ptr: [] as number[], encoder_id_ptr: [] as number[], count_fbs: 4, count_crtcs: 4, count_connectors: 4, count_encoders: 4, min_width: 0, max_width: 0, min_height: 0, max_height: 0 };
  await sys.ioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, res);
  return res;
}

describe('the simple-KMS core under both display drivers', () => {
  it('both show the same mode objects and number framebuffers from the same first id; each lookup refuses the other driver with ENODEV', async () => {
    const s = bothDisplays();
    expect(kmsDisplayOf(s.kms.dev)).toBe(s.kms.kms);
    expect(usbDisplayOf(s.usb.dev)).toBe(s.usb.usb);
    expect(await errno(() => kmsDisplayOf(s.usb.dev))).toBe('ENODEV');
    expect(await errno(() => usbDisplayOf(s.kms.dev))).toBe('ENODEV');
    expect(await errno(() => kmsDisplayOf(s.gpu))).toBe('ENODEV');
    await run(s, async (sys) => {
      const ids: number[][] = [];
      for (const path of ['/dev/dri/card0', '/dev/dri/card1']) {
        const card = await sys.open(path, O_RDWR);
        const bo = await dumb(sys, card, W, H);
        const fb = await addFb(sys, card, bo.handle, W, H);
        const res = await resources(sys, card);
        expect([res.crtc_id_ptr, res.encoder_id_ptr, res.connector_id_ptr]).toEqual([[KMS_CRTC_ID], [KMS_ENCODER_ID], [KMS_CONNECTOR_ID]]);
        ids.push([fb, ...res.fb_id_ptr]);
      }
      // framebuffer ids are per device: each starts after the mode objects
      expect(ids).toEqual([
        [KMS_CONNECTOR_ID + 1, KMS_CONNECTOR_ID + 1],
        [KMS_CONNECTOR_ID + 1, KMS_CONNECTOR_ID + 1],
      ]);
    });
  });

  it('the vblank interrupt: the display that fetches every frame keeps it for the 5 s off-delay, the USB display drops it at the flip', async () => {
    const s = bothDisplays();
    const counts: number[][] = [];
    await run(s, async (sys) => {
      const cards = [await sys.open('/dev/dri/card0', O_RDWR), await sys.open('/dev/dri/card1', O_RDWR)];
      for (const card of cards) {
        const bo = await dumb(sys, card, W, H);
        await flip(sys, card, await addFb(sys, card, bo.handle, W, H), 1);
      }
      for (const card of cards) expect(parseEvent(await sys.read(card, 64)).sequence).toBe(1);
      // both flips took effect at vsync 1; in the second after it only the KMS display counted vsyncs
      await sys.poll([{ fd: cards[0]!, events: 0 }], 1000);
      counts.push([s.kms.kms.vblankCount, s.usb.usb.vblankCount]);
      await sys.poll([{ fd: cards[0]!, events: 0 }], 9000);
      counts.push([s.kms.kms.vblankCount, s.usb.usb.vblankCount]);
    });
    // vsyncs 2 .. 60 in that second (61 lands just after it), 301 when the 5 s off-delay ran out; the USB display's stayed at its flip
    expect(counts).toEqual([
      [60, 1],
      [301, 1],
    ]);
    expect(s.kms.kms.stats).toMatchObject({ flips: 1, cancelledFlips: 0, scanouts: 301 });
    expect(s.usb.usb.stats).toMatchObject({ flips: 1, cancelledFlips: 0, frames: 1 });
  });

  it('RMFB of a framebuffer whose flip waits for its fences waits for that flip to land on either driver (a blocking commit after the pending one), then takes the plane off', async () => {
    const s = bothDisplays();
    await run(s, async (sys) => {
      for (const [path, pipe] of [
        ['/dev/dri/card0', s.kms.kms],
        ['/dev/dri/card1', s.usb.usb],
      ] as const) {
        const card = await sys.open(path, O_RDWR | O_NONBLOCK);
        const bo = await dumb(sys, card, W, H);
        const fb = await addFb(sys, card, bo.handle, W, H);
        const dev = path.endsWith('0') ? s.kms.dev : s.usb.dev;
        await blockWrites(s, dev.files.values().next().value!.objects.get(bo.handle)!.resv, 1e9);
        await flip(sys, card, fb, 5);
        const pending = pipe.pending!;
        expect(pending.fb.id).toBe(fb);
        expect(await errno(sys.ioctl(card, DRM_IOCTL_MODE_RMFB, fb))).toBe('ok');
        // RMFB returned only once the fence signalled and the flip took effect
        expect(pipe.pending).toBeNull();
        await pending.done;
        expect(pipe.current).toBeNull();
        expect(pipe.stats).toMatchObject({ flips: 1, cancelledFlips: 0 });
        // the flip's own event was sent when it landed
        expect(await errno(sys.read(card, 64))).toBe('ok');
        expect(await errno(sys.read(card, 64))).toBe('EAGAIN');
      }
    });
  });
});
