import type { Interruptible, VmArea } from '../fs/index.ts';
import { KernelBug, PAGE_SIZE, kerr } from '../lib/index.ts';
import { archSyncDmaForDevice, DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, dmaSyncSgForCpu, dmaSyncSgForDevice, sgPhys, validDmaDirection, type Device, type DmaDirection, type SgTable } from '../dma/index.ts';
import type { DmaBuf } from './dma-buf.ts';
import { MAX_SCHEDULE_TIMEOUT } from './dma-fence.ts';
import { dmaResvUsageRw } from './dma-resv.ts';

function checkDir(dir: number, call: string): asserts dir is DmaDirection {
  if (!validDmaDirection(dir)) throw new KernelBug(`${call}: invalid DMA direction ${dir}`);
}

/**
 * Prepares the CPU to access the buffer (dma_buf_begin_cpu_access): the
 * exporter's cache maintenance first (invalidating what non-coherent
 * devices wrote), then a wait for the fences the access conflicts with: a
 * reader waits for writers, a writer for everyone. With a `task` the wait
 * is interruptible (EINTR). May sleep.
 */
export async function dmaBufBeginCpuAccess(dmabuf: DmaBuf, dir: DmaDirection, task?: Interruptible): Promise<void> {
  checkDir(dir, 'dma_buf_begin_cpu_access');
  if (dmabuf.released) throw new KernelBug('dma_buf_begin_cpu_access on a released buffer');
  const write = dir === DMA_BIDIRECTIONAL || dir === DMA_TO_DEVICE;
  if (dmabuf.ops.beginCpuAccess) await dmabuf.costScope(() => dmabuf.ops.beginCpuAccess!(dmabuf, dir));
  await dmabuf.resv.waitTimeout(dmaResvUsageRw(write), MAX_SCHEDULE_TIMEOUT, task);
}

/**
 * Ends CPU access (dma_buf_end_cpu_access): the exporter writes dirty CPU
 * cache lines back so non-coherent devices see them. May sleep.
 */
export async function dmaBufEndCpuAccess(dmabuf: DmaBuf, dir: DmaDirection): Promise<void> {
  checkDir(dir, 'dma_buf_end_cpu_access');
  if (dmabuf.released) throw new KernelBug('dma_buf_end_cpu_access on a released buffer');
  if (dmabuf.ops.endCpuAccess) await dmabuf.costScope(() => dmabuf.ops.endCpuAccess!(dmabuf, dir));
}

/**
 * Maps the whole buffer into the kernel's address space and returns the
 * address (dma_buf_vmap). Counted: the exporter maps once and later
 * callers share the mapping; the vmalloc space it takes shows in
 * vmallocUsed. EINVAL when the exporter cannot vmap. Takes the buffer's
 * lock in Linux, so it may sleep; the exporter may sleep too.
 */
export async function dmaBufVmap(dmabuf: DmaBuf): Promise<number> {
  if (!dmabuf.ops.vmap) throw kerr('EINVAL', `${dmabuf.expName} buffers cannot be vmapped`);
  if (dmabuf.released) throw new KernelBug('dma_buf_vmap on a released buffer');
  if (dmabuf.vmappingCounter > 0) {
    if (dmabuf.vmapPtr === null) throw new KernelBug('dma_buf_vmap: counter set without a mapping');
    dmabuf.vmappingCounter++;
    return dmabuf.vmapPtr;
  }
  const va = await dmabuf.ops.vmap(dmabuf);
  if (dmabuf.vmappingCounter > 0) {
    // another caller mapped it while the exporter slept: share theirs
    dmabuf.ops.vunmap?.(dmabuf, va);
    dmabuf.vmappingCounter++;
    return dmabuf.vmapPtr!;
  }
  dmabuf.vmapPtr = va;
  dmabuf.vmappingCounter = 1;
  return va;
}

/**
 * Drops one use of the kernel mapping (dma_buf_vunmap); the last one
 * unmaps it. KernelBug when `vaddr` is not the buffer's mapping or it is
 * not mapped.
 */
export function dmaBufVunmap(dmabuf: DmaBuf, vaddr: number): void {
  if (dmabuf.vmapPtr === null || dmabuf.vmappingCounter === 0) throw new KernelBug('dma_buf_vunmap: buffer is not vmapped');
  if (dmabuf.vmapPtr !== vaddr) throw new KernelBug(`dma_buf_vunmap: 0x${vaddr.toString(16)} is not the buffer's mapping`);
  if (--dmabuf.vmappingCounter === 0) {
    dmabuf.ops.vunmap?.(dmabuf, vaddr);
    dmabuf.vmapPtr = null;
    dmabuf.mapWq.wakeUp();
  }
}

/**
 * Lets another driver's mmap map the buffer (dma_buf_mmap), from page
 * `pgoff` on: EINVAL without an exporter mmap or beyond the size,
 * EOVERFLOW when the range wraps. The VMA keeps the caller's file (the fs
 * VMA's file is fixed at creation), so /proc/<pid>/maps names the caller's
 * node, not /dmabuf:.
 */
export function dmaBufMmap(dmabuf: DmaBuf, vma: VmArea, pgoff: number): void | Promise<void> {
  if (!dmabuf.ops.mmap) throw kerr('EINVAL', `${dmabuf.expName} buffers cannot be mapped`);
  if (!Number.isSafeInteger(pgoff + vma.pages)) throw kerr('EOVERFLOW', 'dma_buf_mmap: page offset wraps');
  if (pgoff < 0 || pgoff + vma.pages > Math.floor(dmabuf.size / PAGE_SIZE)) throw kerr('EINVAL', `dma_buf_mmap: pages ${pgoff}+${vma.pages} beyond the buffer`);
  vma.pgoff = pgoff;
  return dmabuf.ops.mmap(dmabuf, vma);
}

/** A device mapping an exporter keeps: what begin/end_cpu_access must sync. */
export interface ExporterMapping {
  dev: Device;
  sgt: SgTable;
  dir: DmaDirection;
}

/**
 * Syncs an exporter's device mappings for the CPU at begin_cpu_access.
 * Each mapping is synced with the direction it was mapped with, so
 * dma-debug sees consistent calls and a device that wrote (FROM_DEVICE)
 * has its lines invalidated for the CPU; every mapping becomes the CPU's.
 */
export function syncMappingsForCpu(maps: Iterable<ExporterMapping>): void {
  for (const m of maps) dmaSyncSgForCpu(m.dev, m.sgt, m.dir);
}

/**
 * Hands an exporter's device mappings back at end_cpu_access, readers
 * first: their sync cleans what the CPU wrote to memory, so that the
 * invalidate a writer's (FROM_DEVICE) sync does afterwards cannot throw the
 * CPU's data away. When the CPU wrote (`cpuDir` is not FROM_DEVICE) and
 * only writers are mapped, no sync would clean: Linux's heaps sync with
 * the CPU's direction there (dma_sync_sgtable_for_device(..., direction)),
 * which cleans. The same clean is done here through the architecture's
 * cache maintenance, so the CPU's lines reach memory without a DMA API
 * sync in a direction the mapping was not made with.
 */
export function syncMappingsForDevice(maps: Iterable<ExporterMapping>, cpuDir: DmaDirection = DMA_BIDIRECTIONAL): void {
  const all = [...maps];
  if (cpuDir !== DMA_FROM_DEVICE && all.length > 0 && all.every((m) => m.dir === DMA_FROM_DEVICE)) {
    const m = all[0]!;
    for (let i = 0; i < m.sgt.origNents; i++) {
      const sg = m.sgt.sgl[i]!;
      archSyncDmaForDevice(m.dev, sgPhys(sg), sg.length, DMA_TO_DEVICE);
    }
  }
  for (const m of all) if (m.dir !== DMA_FROM_DEVICE) dmaSyncSgForDevice(m.dev, m.sgt, m.dir);
  for (const m of all) if (m.dir === DMA_FROM_DEVICE) dmaSyncSgForDevice(m.dev, m.sgt, m.dir);
}

