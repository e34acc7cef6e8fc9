import type { MemType } from '../hw/index.ts';
import { PAGE_SIZE } from '../lib/index.ts';
import type { Device } from './device.ts';
import { DMA_ATTR_NO_KERNEL_MAPPING, DMA_ATTR_NON_CONSISTENT } from './direction.ts';

/** The CPU side of a freshly allocated DMA buffer. */
export interface CpuView {
  memType: MemType;
  cpuAddr: number | null;
  aliasRemoved: [number, number][];
  vmallocBytes: number;
}

/** Groups page frames into runs of consecutive frames: [first pfn, count]. */
export function pfnRuns(pfns: ArrayLike<number>): [number, number][] {
  const runs: [number, number][] = [];
  for (let i = 0; i < pfns.length; i++) {
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === pfns[i]) last[1]++;
    else runs.push([pfns[i]!, 1]);
  }
  return runs;
}

/**
 * Gives the CPU a view of newly allocated DMA pages (the remap half of
 * arm_dma_alloc / dma_direct_alloc). For a non-coherent device the buffer
 * must be non-cacheable, and the pages' cacheable alias in the linear map
 * must go: leaving it unused is not enough, because the core may prefetch
 * through it at any time (the aliasing rule). Stale lines from the pages'
 * previous life are flushed first, then the buffer is zeroed in memory.
 * The kernel mapping, unless NO_KERNEL_MAPPING, costs vmalloc space.
 */
export function makeCpuView(dev: Device, pfns: Uint32Array, attrs: number): CpuView {
  const { soc, mm, policy } = dev.ctx;
  const runs = pfnRuns(pfns);
  const coherent = dev.coherent;
  const cacheable = coherent || (attrs & DMA_ATTR_NON_CONSISTENT) !== 0;
  // ARMv7 maps both coherent and write-combine buffers as Normal non-cacheable (pgprot_dmacoherent).
  const memType: MemType = cacheable ? 'wb' : 'wc';
  const aliasRemoved: [number, number][] = [];
  dev.ctx.debug.internal(() => {
    for (const [pfn, n] of runs) {
      if (!coherent) policy.flush(pfn * PAGE_SIZE, n * PAGE_SIZE);
      soc.mem.fill(pfn * PAGE_SIZE, n * PAGE_SIZE, 0);
      if (!cacheable) {
        const lowRuns = lowmemRuns(dev, pfn, n);
        for (const r of lowRuns) {
          mm.kas.removeLinearAlias(r[0], r[1]);
          aliasRemoved.push(r);
        }
      }
    }
  });
  let cpuAddr: number | null = null;
  let vmallocBytes = 0;
  if (!(attrs & DMA_ATTR_NO_KERNEL_MAPPING)) {
    const linear = cacheable && runs.length === 1 && mm.kas.isLowmem(runs[0]![0]) && mm.kas.isLowmem(runs[0]![0] + runs[0]![1] - 1);
    if (linear) {
      cpuAddr = mm.kas.pfnToVirt(runs[0]![0]);
    } else {
      const before = mm.kas.vmallocUsed();
      try {
        cpuAddr = mm.kas.vmap(Array.from(pfns), memType);
      } catch (e) {
        for (const [pfn, n] of aliasRemoved) mm.kas.restoreLinearAlias(pfn, n);
        throw e;
      }
      // What the vmalloc area really lost, guard page included.
      vmallocBytes = mm.kas.vmallocUsed() - before;
    }
  }
  return { memType, cpuAddr, aliasRemoved, vmallocBytes };
}

/** Undoes makeCpuView before the pages go back (the unmap half of arm_dma_free). */
export function dropCpuView(dev: Device, view: CpuView, pfns: Uint32Array): void {
  const { mm, policy } = dev.ctx;
  if (view.vmallocBytes > 0 && view.cpuAddr !== null) mm.kas.vunmap(view.cpuAddr);
  if (!dev.coherent && view.memType === 'wb') {
    for (const [pfn, n] of pfnRuns(pfns)) policy.flush(pfn * PAGE_SIZE, n * PAGE_SIZE);
  }
  for (const [pfn, n] of view.aliasRemoved) mm.kas.restoreLinearAlias(pfn, n);
}

function lowmemRuns(dev: Device, pfn: number, n: number): [number, number][] {
  const kas = dev.ctx.mm.kas;
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    if (!kas.isLowmem(pfn + i)) continue;
    const last = out[out.length - 1];
    if (last && last[0] + last[1] === pfn + i) last[1]++;
    else out.push([pfn + i, 1]);
  }
  return out;
}
