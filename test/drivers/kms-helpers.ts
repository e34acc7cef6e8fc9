import { DmaFence, DmaResvUsage, type DmaResv } from '../../src/dmabuf/index.ts';
import type { Sys } from '../../src/proc/index.ts';
import { KMS_CRTC_ID } from '../../src/drivers/gpu/drm/core/drm-simple-kms.ts';
import { DRM_FORMAT_XRGB8888, DRM_IOCTL_MODE_ADDFB2, DRM_IOCTL_MODE_PAGE_FLIP, DRM_MODE_PAGE_FLIP_EVENT } from '../../src/uapi/index.ts';
import type { TestSystem } from '../dmabuf/helpers.ts';

/** ADDFB2 of one plane over a GEM handle (XRGB8888, lines packed unless `pitch` says otherwise); returns the new fb_id. */
export async function addFb(sys: Sys, fd: number, handle: number, width: number, height: number, pitch = width * 4, format = DRM_FORMAT_XRGB8888): Promise<number> {
  const a = { fb_id: 0, width, height, pixel_format: format, flags: 0, handles: [handle, 0, 0, 0], pitches: [pitch, 0, 0, 0], offsets: [0, 0, 0, 0], modifier: [0, 0, 0, 0] };
  await sys.ioctl(fd, DRM_IOCTL_MODE_ADDFB2, a);
  return a.fb_id;
}

/** PAGE_FLIP of the one CRTC to `fbId`, by default asking for the FLIP_COMPLETE event carrying `userData`. */
export async function flip(sys: Sys, fd: number, fbId: number, userData: number, flags = DRM_MODE_PAGE_FLIP_EVENT): Promise<void> {
  await sys.ioctl(fd, DRM_IOCTL_MODE_PAGE_FLIP, { crtc_id: KMS_CRTC_ID, fb_id: fbId, flags, reserved: 0, user_data: userData });
}

/** Decodes a struct drm_event_vblank read from a card (time in microseconds). */
export function parseEvent(b: Uint8Array) {
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

/** The per-byte floor average of two buffers: what the GPU's compose writes. */
export function average(a: Uint8Array, b: Uint8Array): Uint8Array {
  const o = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) o[i] = (a[i]! + b[i]!) >> 1;
  return o;
}

/** Puts a write fence of some other engine on `resv` that signals `afterNs` from now; returns the fence. */
export async function blockWrites(s: Pick<TestSystem, 'soc' | 'dbs'>, resv: DmaResv, afterNs: number): Promise<DmaFence> {
  const blocker = new DmaFence(s.soc.clock, { getDriverName: () => 'test', getTimelineName: () => 'blocker' }, s.dbs.fctx.alloc(1), 1);
  await resv.lock();
  resv.reserveFences(1);
  resv.addFence(blocker, DmaResvUsage.WRITE);
  resv.unlock();
  s.soc.clock.after(afterNs, () => blocker.signal());
  return blocker;
}
