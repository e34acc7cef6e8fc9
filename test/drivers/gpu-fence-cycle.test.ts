import { describe, expect, it } from 'vitest';
import { registerGpu } from '../../src/drivers/gpu/drm/gpu/gpu.ts';
import { DMA_BUF_IOCTL_IMPORT_SYNC_FILE, DMA_BUF_SYNC_WRITE, DRM_IOCTL_GPU_COMPOSE, GPU_COMPOSE_FENCE_OUT, O_RDWR, POLLIN, SW_SYNC_IOC_CREATE_FENCE, SW_SYNC_IOC_INC } from '../../src/uapi/index.ts';
import { run, testSystem } from '../dmabuf/helpers.ts';
import { dumb, toFd } from './vgem-helpers.ts';

// A GPU job's fence is signalled by the ring's scheduler thread, which first
// waits for the job's dependencies (the implicit fences of its buffers). A
// process that makes one of those dependencies itself and then waits for the
// job, before signalling, closes a cycle through the device.

const W = 64;
const H = 32;

describe('a GPU job waiting for a fence of the process that waits for the job', () => {
  it('is a fence-deadlock through drm-sched: the process waits for the job fence, whose scheduler thread waits for the process\'s sw_sync fence', async () => {
    const s = testSystem();
    registerGpu({ dbs: s.dbs, mm: s.mm, device: s.gpu, index: 0 });
    let waitedOut = -1;
    await run(s, async (sys) => {
      const g = await sys.open('/dev/dri/card0', O_RDWR);
      const [dst, s0, s1] = [await dumb(sys, g, W, H), await dumb(sys, g, W, H), await dumb(sys, g, W, H)];
      // the destination's writer is a sw_sync point this process will signal
      const tl = await sys.open('/sys/kernel/debug/sync/sw_sync', O_RDWR);
      const pt = { value: 1, name: 'cpu writes', fence: -1 };
      await sys.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, pt);
      await sys.ioctl(await toFd(sys, g, dst.handle), DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: DMA_BUF_SYNC_WRITE, fd: pt.fence });
      const job = { dst_handle: dst.handle, src_handles: [s0.handle, s1.handle], op: 0, flags: GPU_COMPOSE_FENCE_OUT, out_fence: -1 };
      await sys.ioctl(g, DRM_IOCTL_GPU_COMPOSE, job);
      // the bug: waiting for the job before signalling what the job waits for (a timed wait, so the test goes on)
      waitedOut = await sys.poll([{ fd: job.out_fence, events: POLLIN }], 100);
      await sys.ioctl(tl, SW_SYNC_IOC_INC, { value: 1 });
      await sys.poll([{ fd: job.out_fence, events: POLLIN }], -1);
    });
    expect(waitedOut).toBe(0);
    const found = s.soc.findings.findings.filter((f) => f.kind.startsWith('fence-'));
    expect(found.map((f) => f.kind)).toEqual(['fence-deadlock']);
    const m = found[0]!.message;
    expect(m).toMatch(/^2 threads wait for each other's fences in a cycle: [\w.-]+ \(pid 1\) in poll › sync_file_poll \(test\/drivers\/gpu-fence-cycle\.test\.ts:\d+:\d+\) waits for /);
    // the job's fence: made by the process's compose ioctl, signalled by the ring's scheduler thread
    expect(m).toMatch(/fence \d+:1 \(gpu timeline [^,]+, created by [\w.-]+ \(pid 1\) in ioctl DRM_IOCTL_GPU_COMPOSE \(test\/drivers\/gpu-fence-cycle\.test\.ts:\d+:\d+\)\) signalled by drm-sched\/gpu/);
    // which waits for the sw_sync point, signalled by the process
    expect(m).toMatch(/drm-sched\/gpu[^;]* waits for fence \d+:1 \(sw_sync timeline [^,]+, created by [\w.-]+ \(pid 1\) in ioctl SW_SYNC_IOC_CREATE_FENCE \(test\/drivers\/gpu-fence-cycle\.test\.ts:\d+:\d+\)\) signalled by [\w.-]+ \(pid 1\)/);
  });
});
