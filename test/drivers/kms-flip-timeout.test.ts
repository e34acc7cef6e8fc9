import { describe, expect, it } from 'vitest';
import { KMS_COMMIT_TIMEOUT_NS } from '../../src/drivers/gpu/drm/core/drm-simple-kms.ts';
import { registerKmsDisplay } from '../../src/drivers/gpu/drm/kms-display/display-kms.ts';
import type { Sys } from '../../src/proc/index.ts';
import { DMA_BUF_IOCTL_IMPORT_SYNC_FILE, DMA_BUF_SYNC_WRITE, DRM_IOCTL_MODE_RMFB, O_RDWR, SW_SYNC_IOC_CREATE_FENCE, SW_SYNC_IOC_INC } from '../../src/uapi/index.ts';
import { run, testSystem } from '../dmabuf/helpers.ts';
import { addFb, flip } from './kms-helpers.ts';
import { dumb, toFd } from './vgem-helpers.ts';

// A page flip waits for its framebuffer's implicit write fences in the commit
// worker. Removing the framebuffer while that flip waits is a blocking
// commit, which waits up to 10 s for the pending commit's hw_done and as long
// for its flip_done (drm_atomic_helper_wait_for_dependencies) and says so
// with drm_err when they do not come: here a fence-timeout finding carrying
// the fence wait-for graph of that moment.

const W = 64;
const H = 32;

/** Flips to a framebuffer whose write fence is a sw_sync point nobody signals yet; returns the card, fb and timeline fds. */
async function flipBehindFence(sys: Sys) {
  const card = await sys.open('/dev/dri/card0', O_RDWR);
  const bo = await dumb(sys, card, W, H);
  const fb = await addFb(sys, card, bo.handle, W, H);
  const buf = await toFd(sys, card, bo.handle);
  const tl = await sys.open('/sys/kernel/debug/sync/sw_sync', O_RDWR);
  const pt = { value: 1, name: 'render done', fence: -1 };
  await sys.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, pt);
  await sys.ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: DMA_BUF_SYNC_WRITE, fd: pt.fence });
  await flip(sys, card, fb, 1);
  return { card, fb, tl };
}

describe('RMFB of a framebuffer whose flip waits for a fence', () => {
  it('a fence that never comes: hw_done and flip_done each time out after 10 s, reported with the graph (the commit worker waits for the sw_sync fence its opener holds)', async () => {
    const s = testSystem();
    registerKmsDisplay({ dbs: s.dbs, mm: s.mm, device: s.disp, index: 0, width: W, height: H });
    let took = 0;
    await run(s, async (sys) => {
      const { card, fb, tl } = await flipBehindFence(sys);
      const t0 = s.soc.clock.now;
      await sys.ioctl(card, DRM_IOCTL_MODE_RMFB, { fb_id: fb });
      took = s.soc.clock.now - t0;
      // the fence still signals later; the worker that waited for it finds its flip gone
      await sys.ioctl(tl, SW_SYNC_IOC_INC, { value: 1 });
    });
    expect(took).toBeGreaterThanOrEqual(2 * KMS_COMMIT_TIMEOUT_NS);
    expect(took).toBeLessThan(2 * KMS_COMMIT_TIMEOUT_NS + 1e9);
    const found = s.soc.findings.findings.filter((f) => f.kind.startsWith('fence-'));
    expect(found.map((f) => f.kind)).toEqual(['fence-timeout', 'fence-timeout']);
    expect(found[0]!.message).toMatch(/^\[CRTC:32:crtc-0\] hw_done timed out after 10 s; fence waits now: /);
    expect(found[1]!.message).toMatch(/^\[CRTC:32:crtc-0\] flip_done timed out after 10 s; fence waits now: /);
    for (const f of found) {
      expect(f.call).toBe('drm_atomic_helper_wait_for_dependencies');
      // the graph at that moment: the commit worker waits for the sw_sync point, which its opener (the caller) signals
      expect(f.message).toMatch(/kworker\/[\w-]+-commit in dma_fence_wait_timeout waits for fence \d+:1 \(sw_sync timeline [^,]+, created by [\w.-]+ \(pid 1\) in ioctl SW_SYNC_IOC_CREATE_FENCE \(test\/drivers\/kms-flip-timeout\.test\.ts:\d+:\d+\)\) signalled by [\w.-]+ \(pid 1\)$/);
    }
  });

  it('a fence that signals within the 10 s: RMFB waits for the flip to land and nothing is reported', async () => {
    const s = testSystem();
    registerKmsDisplay({ dbs: s.dbs, mm: s.mm, device: s.disp, index: 0, width: W, height: H });
    let took = 0;
    await run(s, async (sys) => {
      const { card, fb, tl } = await flipBehindFence(sys);
      const child = await sys.fork(async (c) => {
        await c.nanosleep({ tv_sec: 1, tv_nsec: 0 });
        await c.ioctl(tl, SW_SYNC_IOC_INC, { value: 1 });
      });
      const t0 = s.soc.clock.now;
      await sys.ioctl(card, DRM_IOCTL_MODE_RMFB, { fb_id: fb });
      took = s.soc.clock.now - t0;
      await sys.wait(child);
    });
    expect(took).toBeGreaterThanOrEqual(1e9);
    expect(took).toBeLessThan(1.1e9);
    expect(s.soc.findings.findings.filter((f) => f.kind.startsWith('fence-'))).toEqual([]);
  });
});
