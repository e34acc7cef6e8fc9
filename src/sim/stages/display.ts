import type { Sys } from '../../proc/index.ts';
import {
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_SYNC_WRITE,
  DRM_FORMAT_XRGB8888,
  DRM_IOCTL_MODE_GETRESOURCES,
  DRM_IOCTL_MODE_PAGE_FLIP,
  DRM_MODE_PAGE_FLIP_EVENT,
  O_RDWR,
} from '../../uapi/index.ts';
import { Upstream, type FrameMsg } from './link.ts';
import type { StageContext } from './stage.ts';
import { addFramebuffer, primeFdToHandle } from './uapi-calls.ts';

/** The display's refresh rate: the platform's KMS driver runs at 60 Hz. */
export const REFRESH_HZ = 60;

/** The first CRTC of the card (drmModeGetResources, as a compositor finds it). */
async function firstCrtc(sys: Sys, card: number): Promise<number> {
  const res = { fb_id_ptr: [] as number[], crtc_id_ptr: [] as number[], connector_id_ptr: [] as number[], encoder_id_ptr: [] as number[], count_fbs: 0, count_crtcs: 1, count_connectors: 0, count_encoders: 0, min_width: 0, max_width: 0, min_height: 0, max_height: 0 };
  await sys.ioctl(card, DRM_IOCTL_MODE_GETRESOURCES, res);
  const crtc = res.crtc_id_ptr[0];
  if (crtc === undefined) throw new Error('the card has no CRTC');
  return crtc;
}

/**
 * A display server process on the KMS card: imports each incoming frame by
 * PRIME and makes a framebuffer of it once per buffer, hands an explicit
 * fence that came with the frame to the buffer's implicit fences
 * (DMA_BUF_IOCTL_IMPORT_SYNC_FILE, the bridge for KMS's legacy flip, which
 * waits for them), and page-flips to it at the stream's frame rate (one
 * flip every 60/fps vsyncs). The frame it replaced goes back to its
 * producer when the flip-complete event says the CRTC no longer reads it.
 */
export async function displayStage(sys: Sys, ctx: StageContext): Promise<number> {
  const fmt = ctx.inFmt!;
  const card = await sys.open(ctx.devicePath, O_RDWR);
  const crtc = await firstCrtc(sys, card);
  const fbs = new Map<number, number>();
  const up = new Upstream(sys, ctx.upFd);
  const vsyncsPerFrame = Math.max(1, Math.round(REFRESH_HZ / ctx.fps));
  const periodMs = 1000 / REFRESH_HZ;
  let shown: number | null = null;
  // A display that comes up late hands back what it is sent until then, unshown.
  const attachAfter = (ctx.spec.attachAfter as number | undefined) ?? 0;
  let received = 0;
  for (let m = await up.next(); m; m = await up.next()) {
    if (received++ < attachAfter) {
      await dropFrame(sys, up, m);
      ctx.probe.failed(ctx.spec.name, m.frame, 'the display had not attached yet');
      continue;
    }
    let handle: number;
    try {
      handle = await primeFdToHandle(sys, card, m.bufFd);
    } catch (e) {
      // The exporter cannot give this display memory it reaches (it could not move the buffer): show nothing of it.
      if ((e as { code?: string }).code !== 'EBUSY') throw e;
      await dropFrame(sys, up, m);
      ctx.probe.failed(ctx.spec.name, m.frame, 'PRIME import refused with EBUSY');
      continue;
    }
    let fb = fbs.get(handle);
    if (fb === undefined) {
      fb = await addFramebuffer(sys, card, handle, fmt.width, fmt.height, fmt.stride, DRM_FORMAT_XRGB8888);
      fbs.set(handle, fb);
    }
    if (m.fenceFd >= 0) {
      await sys.ioctl(m.bufFd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: DMA_BUF_SYNC_WRITE, fd: m.fenceFd });
      await sys.close(m.fenceFd);
    }
    await sys.close(m.bufFd);
    // A slower stream holds each frame for several vsyncs: ask for the flip
    // within the vsync period before the one it should land on.
    if (shown !== null && vsyncsPerFrame > 1) await sys.poll([], (vsyncsPerFrame - 1) * periodMs + 0.001);
    ctx.probe.presenting(fb, m.frame);
    await sys.ioctl(card, DRM_IOCTL_MODE_PAGE_FLIP, { crtc_id: crtc, fb_id: fb, flags: DRM_MODE_PAGE_FLIP_EVENT, reserved: 0, user_data: m.frame });
    await sys.read(card, 64);
    if (shown !== null) await up.release(shown);
    shown = m.slot;
  }
  // Let the last frame be fetched once more before the card closes and takes it down.
  await sys.poll([], periodMs);
  return 0;
}

/** Hands a frame back unshown: its fds closed, its slot released. */
async function dropFrame(sys: Sys, up: Upstream, m: FrameMsg): Promise<void> {
  if (m.fenceFd >= 0) await sys.close(m.fenceFd);
  await sys.close(m.bufFd);
  await up.release(m.slot);
}
