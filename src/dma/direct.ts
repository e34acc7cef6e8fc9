import type { CmaArea } from '../mm/index.ts';
import { hex, kerr, PAGE_SIZE } from '../lib/index.ts';
import { dmaMaskLimit, type Device } from './device.ts';
import { DMA_ATTR_FORCE_CONTIGUOUS, DMA_ATTR_SKIP_CPU_SYNC, type DmaDirection } from './direction.ts';
import type { DmaBuffer, DmaMapOps } from './ops.ts';
import { dropCpuView, makeCpuView } from './remap.ts';
import { sgPhys } from './scatterlist.ts';

/**
 * Allocates physically contiguous pages below the device's coherent mask:
 * from its CMA area (or the default one) when there is one, else from the
 * buddy allocator (dma_alloc_contiguous, then alloc_pages). May sleep.
 * KernelError ENOMEM when neither has such pages.
 */
export async function allocContiguousPages(dev: Device, size: number, attrs: number): Promise<{ pfns: Uint32Array; source: DmaBuffer['source'] }> {
  const { mm } = dev.ctx;
  const count = Math.ceil(size / PAGE_SIZE);
  const limit = dmaMaskLimit(dev.coherentMaskBits);
  const alignPages = Math.max(1, Math.ceil(dev.alignment / PAGE_SIZE));
  const alignOrder = Math.min(Math.ceil(Math.log2(alignPages)), 8);
  const area: CmaArea | undefined = dev.cma ?? mm.defaultCma;
  if (area && (count > 1 || attrs & DMA_ATTR_FORCE_CONTIGUOUS)) {
    const pfn = await area.tryAlloc(count, alignOrder);
    if (pfn !== null && (pfn + count) * PAGE_SIZE <= limit) return { pfns: seq(pfn, count), source: { kind: 'cma', area } };
    if (pfn !== null) area.release(pfn, count);
  }
  // alloc_pages_exact: the power-of-two block is aligned to its own size,
  // which covers the device's alignment up to that size.
  const pfn = mm.pages.allocPagesExact(Math.max(count, alignPages), { maxPa: limit, highmem: true });
  const got = Math.max(count, alignPages);
  return { pfns: seq(pfn, count), source: { kind: 'exact', pfn, count: got } };
}

/** Frees pages that allocContiguousPages or the IOMMU allocator took. EINVAL when CMA does not know the buffer. */
export function freeBufferPages(dev: Device, buf: DmaBuffer): void {
  if (buf.source.kind === 'cma') {
    if (!buf.source.area.release(buf.pfns[0]!, buf.pfns.length)) throw kerr('EINVAL', 'CMA release failed');
  } else if (buf.source.kind === 'exact') {
    dev.ctx.mm.pages.freePagesExact(buf.source.pfn, buf.source.count);
  } else {
    for (const [pfn, order] of buf.source.blocks) dev.ctx.mm.pages.freePages(pfn, order);
  }
}

/** Page frames pfn, pfn+1, ... pfn+count-1. */
export function seq(pfn: number, count: number): Uint32Array {
  const a = new Uint32Array(count);
  for (let i = 0; i < count; i++) a[i] = pfn + i;
  return a;
}

/**
 * Cache maintenance before the device touches [pa, pa+size), unless
 * coherent or skipped (arch_sync_dma_for_device). Not a DMA API call:
 * dma-debug does not see it.
 */
export function archSyncDmaForDevice(dev: Device, pa: number, size: number, dir: DmaDirection, attrs = 0): void {
  if (dev.coherent || attrs & DMA_ATTR_SKIP_CPU_SYNC) return;
  dev.ctx.policy.cpuToDevice(pa, size, dir);
}

/** Cache maintenance before the CPU looks at what the device wrote, unless coherent or skipped (arch_sync_dma_for_cpu). */
export function archSyncDmaForCpu(dev: Device, pa: number, size: number, dir: DmaDirection, attrs = 0): void {
  if (dev.coherent || attrs & DMA_ATTR_SKIP_CPU_SYNC) return;
  dev.ctx.policy.deviceToCpu(pa, size, dir);
}

/** dma_alloc for devices that see physical addresses. */
async function directAlloc(dev: Device, size: number, attrs: number): Promise<DmaBuffer> {
  const { pfns, source } = await allocContiguousPages(dev, size, attrs);
  const view = makeCpuView(dev, pfns, attrs);
  return { dev, size, attrs, dmaAddr: pfns[0]! * PAGE_SIZE, pfns, contiguous: true, source, ...view };
}

function directFree(dev: Device, buf: DmaBuffer): void {
  dropCpuView(dev, buf, buf.pfns);
  freeBufferPages(dev, buf);
}

/**
 * EIO for memory beyond the device's DMA mask (dma_direct_map_page's
 * "overflow" mapping error); the first such range is kept on the device,
 * as report_addr logs it once, so a run can say which buffer it was.
 */
function unreachable(dev: Device, pa: number, size: number): never {
  const o = dev.overflow;
  // a new object, not a count bumped in place: test devices copied with spread share the old one
  dev.overflow = o ? { ...o, count: o.count + 1 } : { pa, size, timeNs: dev.ctx.soc.clock.now, count: 1 };
  throw kerr('EIO', `${dev.name}: ${hex(pa)}+${hex(size)} is beyond its ${dev.dmaMaskBits}-bit DMA mask`);
}

/**
 * dma-direct: bus address = physical address. Mapping is cache
 * maintenance plus a reachability check; a buffer the device cannot reach
 * is a mapping error (there is nothing to bounce through): EIO, from
 * map_page and map_sg alike (dma_direct_map_sg).
 */
export const directOps: DmaMapOps = {
  name: 'direct',
  alloc: directAlloc,
  free: directFree,
  mapPage(dev, pa, size, dir, attrs) {
    if (pa + size > dmaMaskLimit(dev.dmaMaskBits)) unreachable(dev, pa, size);
    archSyncDmaForDevice(dev, pa, size, dir, attrs);
    return pa;
  },
  unmapPage(dev, dmaAddr, size, dir, attrs) {
    archSyncDmaForCpu(dev, dmaAddr, size, dir, attrs);
  },
  mapSg(dev, sgt, dir, attrs) {
    for (let i = 0; i < sgt.origNents; i++) {
      const sg = sgt.sgl[i]!;
      const pa = sgPhys(sg);
      if (pa + sg.length > dmaMaskLimit(dev.dmaMaskBits)) unreachable(dev, pa, sg.length);
      archSyncDmaForDevice(dev, pa, sg.length, dir, attrs);
      sg.dmaAddress = pa;
      sg.dmaLength = sg.length;
    }
    sgt.nents = sgt.origNents;
    return sgt.nents;
  },
  unmapSg(dev, sgt, dir, attrs) {
    for (let i = 0; i < sgt.origNents; i++) archSyncDmaForCpu(dev, sgPhys(sgt.sgl[i]!), sgt.sgl[i]!.length, dir, attrs);
  },
  syncSingleForCpu(dev, dmaAddr, size, dir) {
    archSyncDmaForCpu(dev, dmaAddr, size, dir);
  },
  syncSingleForDevice(dev, dmaAddr, size, dir) {
    archSyncDmaForDevice(dev, dmaAddr, size, dir);
  },
  syncSgForCpu(dev, sgt, dir) {
    for (let i = 0; i < sgt.origNents; i++) archSyncDmaForCpu(dev, sgPhys(sgt.sgl[i]!), sgt.sgl[i]!.length, dir);
  },
  syncSgForDevice(dev, sgt, dir) {
    for (let i = 0; i < sgt.origNents; i++) archSyncDmaForDevice(dev, sgPhys(sgt.sgl[i]!), sgt.sgl[i]!.length, dir);
  },
};
