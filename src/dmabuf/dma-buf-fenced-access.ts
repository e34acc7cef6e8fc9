import { hex } from '../lib/index.ts';
import type { VmArea } from '../fs/index.ts';
import type { DmaFence } from './dma-fence.ts';
import type { DmaBuf } from './dma-buf.ts';
import { dmaResvUsageName, dmaResvUsageRw } from './dma-resv.ts';

/*
 * Implicit sync from the CPU's side. A dma-buf's reservation holds the
 * fences of device work on it: a write fence until a job writing it is
 * done, read fences while devices read it. Userspace orders its own
 * accesses through the buffer's mmap against that work with
 * DMA_BUF_IOCTL_SYNC (DMA_BUF_SYNC_START waits for the fences a CPU access
 * conflicts with, as dma_buf_begin_cpu_access does) or with poll() on the
 * buffer. A CPU access while such a fence is still unsignalled races the
 * device, whatever the mapping's caching: a write-combined buffer (vgem's,
 * a GPU's) has no stale lines, but the job may still be writing it. The
 * kernel does not check this; unimem reports it, once per fence and
 * buffer, as a missing-sync.
 */

/** The fences of each buffer a racing access was already reported for. */
const reported = new WeakMap<DmaBuf, WeakSet<DmaFence>>();

/** The first unsignalled fence a CPU access (a write when `write`) must wait for (dma_resv_test_signaled with dma_resv_usage_rw), or null. */
function blockingFence(d: DmaBuf, write: boolean): { fence: DmaFence; usage: string } | null {
  // most buffers hold no fence most of the time: no iterator for them on the access path
  if (d.resv.numFences === 0) return null;
  for (const { fence, usage } of d.resv.fencesUnlocked(dmaResvUsageRw(write))) {
    if (!fence.isSignaled()) return { fence, usage: dmaResvUsageName(usage) };
  }
  return null;
}

/**
 * Watches the CPU accesses through a user mapping of `d` (no kernel
 * counterpart; set by dma_buf_mmap_internal): one made while a fence it
 * conflicts with is unsignalled is a missing-sync finding naming the
 * fence, its driver and timeline.
 */
export function watchFencedAccess(d: DmaBuf, vma: VmArea): void {
  const ops = vma.vmOps;
  const inner = ops?.cpuAccess;
  vma.vmOps = {
    ...ops,
    cpuAccess(v, addr, len, write) {
      inner?.(v, addr, len, write);
      const b = blockingFence(d, write);
      if (!b) return;
      let seen = reported.get(d);
      if (!seen) reported.set(d, (seen = new WeakSet()));
      if (seen.has(b.fence)) return;
      seen.add(b.fence);
      const f = b.fence;
      d.system.soc.findings.report(
        'missing-sync',
        'cpu access',
        `CPU ${write ? 'writes' : 'reads'} ${hex(addr)} (+${len}) of dma-buf ino ${d.ino} (${d.expName}) while its ${b.usage} fence ${f.getDriverName()} ${f.getTimelineName()} seq ${f.seqno} is unsignalled: no DMA_BUF_IOCTL_SYNC with DMA_BUF_SYNC_START (which waits for it) or poll on the buffer before the access, which races the device's work`,
      );
    },
  };
}
