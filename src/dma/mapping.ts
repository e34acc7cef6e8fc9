import { isKernelError, kerr, KernelBug, PAGE_SIZE, shouldFail, type Errno } from '../lib/index.ts';
import type { MemType } from '../hw/index.ts';
import type { Device } from './device.ts';
import { DMA_ATTR_NON_CONSISTENT, DMA_ATTR_WRITE_COMBINE, validDmaDirection, type DmaDirection } from './direction.ts';
import type { DmaBuffer } from './ops.ts';
import { pfnRuns } from './remap.ts';
import { sgPhys, type SgTable } from './scatterlist.ts';

function checkDir(dir: number, call: string): asserts dir is DmaDirection {
  if (!validDmaDirection(dir)) throw new KernelBug(`${call}: invalid DMA direction ${dir}`);
}

function runsOf(buf: DmaBuffer): [number, number][] {
  return pfnRuns(buf.pfns).map(([pfn, n]) => [pfn * PAGE_SIZE, n * PAGE_SIZE]);
}

/**
 * Allocates a DMA buffer with attributes (dma_alloc_attrs). May sleep: a
 * contiguous buffer may need CMA to migrate pages out of the way.
 * KernelError EINVAL for a zero size, ENOMEM when no memory (or, behind an
 * IOMMU, no IOVA space) the device can use is left; nothing leaks.
 */
export async function dmaAllocAttrs(dev: Device, size: number, attrs = 0): Promise<DmaBuffer> {
  if (!(size > 0)) throw kerr('EINVAL', 'dma_alloc_attrs: zero size');
  const buf = await dev.ops.alloc(dev, size, attrs);
  dev.ctx.stats.allocs++;
  dev.ctx.stats.allocBytes += buf.pfns.length * PAGE_SIZE;
  dev.ctx.debug.add(dev, 'coherent', buf.dmaAddr, size, 0, runsOf(buf), 'dma_alloc_attrs');
  return buf;
}

/** Frees a buffer from dmaAllocAttrs (dma_free_attrs). KernelBug when it belongs to another device. */
export function dmaFreeAttrs(dev: Device, buf: DmaBuffer): void {
  if (buf.dev !== dev) throw new KernelBug(`dma_free_attrs: buffer belongs to ${buf.dev.name}, not ${dev.name}`);
  dev.ctx.debug.remove(dev, 'coherent', buf.dmaAddr, buf.size, 0, 'dma_free_attrs');
  dev.ops.free(dev, buf);
}

/** Allocates a coherent buffer (dma_alloc_coherent); EINVAL or ENOMEM as dmaAllocAttrs. */
export function dmaAllocCoherent(dev: Device, size: number): Promise<DmaBuffer> {
  return dmaAllocAttrs(dev, size, 0);
}

/** Allocates a write-combining buffer (dma_alloc_wc); EINVAL or ENOMEM as dmaAllocAttrs. */
export function dmaAllocWc(dev: Device, size: number): Promise<DmaBuffer> {
  return dmaAllocAttrs(dev, size, DMA_ATTR_WRITE_COMBINE);
}

/** Allocates a cacheable buffer the driver must sync itself (dma_alloc_noncoherent); EINVAL or ENOMEM as dmaAllocAttrs. */
export function dmaAllocNoncoherent(dev: Device, size: number): Promise<DmaBuffer> {
  return dmaAllocAttrs(dev, size, DMA_ATTR_NON_CONSISTENT);
}

/**
 * What a userspace mapping of part of a buffer is made of (dma_mmap_attrs):
 * its pages and the memory type, which must match the kernel's own mapping
 * of the buffer. EINVAL/ENXIO for a range outside the buffer.
 */
export function dmaMmapAttrs(dev: Device, buf: DmaBuffer, pgoff: number, len: number): { pfns: Uint32Array; memType: MemType } {
  const pages = Math.ceil(len / PAGE_SIZE);
  if (pgoff < 0 || pages <= 0 || pgoff + pages > buf.pfns.length) throw kerr('ENXIO', `dma_mmap_attrs: pages ${pgoff}+${pages} outside a ${buf.pfns.length}-page buffer`);
  void dev;
  return { pfns: buf.pfns.slice(pgoff, pgoff + pages), memType: buf.memType };
}

/** Maps [pa, pa+size) through the device's ops and records it with dma-debug as `type`. */
function mapRange(dev: Device, pa: number, size: number, dir: DmaDirection, attrs: number, type: 'page' | 'single', call: string): number {
  checkDir(dir, call);
  injectMappingError(dev, size, call);
  let addr: number;
  try {
    addr = forDevice(dev, 'dma_map_page', () => dev.ops.mapPage(dev, pa, size, dir, attrs));
  } catch (e) {
    if (isKernelError(e)) dev.ctx.stats.mappingErrors++;
    throw e;
  }
  dev.ctx.stats.maps++;
  dev.ctx.debug.add(dev, type, addr, size, dir, [[pa, size]], call);
  return addr;
}

/**
 * Fails a map call when fail_dma_map says so, as a map_page returning
 * DMA_MAPPING_ERROR does: the caller's dma_mapping_error check gives ENOMEM.
 */
function injectMappingError(dev: Device, size: number, call: string): void {
  if (!shouldFail(dev.ctx.soc.faults.attr('fail_dma_map'), size, call)) return;
  dev.ctx.stats.mappingErrors++;
  throw kerr('ENOMEM', `${dev.name}: ${call}: DMA_MAPPING_ERROR injected by fail_dma_map`);
}

/** Checks an unmap with dma-debug and undoes the mapping through the device's ops. */
function unmapRange(dev: Device, addr: number, size: number, dir: DmaDirection, attrs: number, type: 'page' | 'single', call: string): void {
  checkDir(dir, call);
  const known = dev.ctx.debug.remove(dev, type, addr, size, dir, call);
  // With dma-debug on, an unmap of something never mapped is reported and
  // ignored, so the simulated system stays consistent.
  if (!known && dev.ctx.debug.enabled) return;
  dev.ctx.stats.unmaps++;
  forDevice(dev, 'dma_unmap_page', () => dev.ops.unmapPage(dev, addr, known?.size ?? size, known?.dir ?? dir, attrs));
}

/**
 * Maps a physically contiguous range for streaming DMA (dma_map_page_attrs
 * with a page and offset folded into `pa`). Never sleeps. Returns the
 * device address. Where Linux returns DMA_MAPPING_ERROR (for the caller to
 * test with dma_mapping_error) this throws KernelError: ENOMEM when IOVA or
 * bounce space ran out, EIO when the device cannot reach the memory or the
 * IOMMU could not map it. KernelBug for an invalid direction.
 */
export function dmaMapPage(dev: Device, pa: number, size: number, dir: DmaDirection, attrs = 0): number {
  return mapRange(dev, pa, size, dir, attrs, 'page', 'dma_map_page');
}

/**
 * Unmaps a streaming mapping (dma_unmap_page_attrs). Never fails: an unmap
 * dma-debug does not know is reported as a finding and ignored. KernelBug
 * for an invalid direction.
 */
export function dmaUnmapPage(dev: Device, addr: number, size: number, dir: DmaDirection, attrs = 0): void {
  unmapRange(dev, addr, size, dir, attrs, 'page', 'dma_unmap_page');
}

/** Maps a kernel linear-map address range (dma_map_single); fails as dmaMapPage does. */
export function dmaMapSingle(dev: Device, cpuAddr: number, size: number, dir: DmaDirection, attrs = 0): number {
  return mapRange(dev, dev.ctx.mm.kas.virtToPhys(cpuAddr), size, dir, attrs, 'single', 'dma_map_single');
}

/** Unmaps what dmaMapSingle mapped (dma_unmap_single); as dmaUnmapPage, only a bad direction is a KernelBug. */
export function dmaUnmapSingle(dev: Device, addr: number, size: number, dir: DmaDirection, attrs = 0): void {
  unmapRange(dev, addr, size, dir, attrs, 'single', 'dma_unmap_single');
}

/** The errnos a map_sg may give (__dma_map_sg_attrs warns about and turns anything else into EIO). */
const MAP_SG_ERRNOS: readonly Errno[] = ['EINVAL', 'ENOMEM', 'EIO'];

/**
 * Maps a scatterlist (__dma_map_sg_attrs); returns the number of device
 * segments. Where Linux's dma_map_sg_attrs returns 0, this throws the
 * KernelError the ops gave, EINVAL, ENOMEM or EIO (see dmaMapSgtable), with
 * nothing left mapped. KernelBug for an invalid direction.
 */
export function dmaMapSg(dev: Device, sgt: SgTable, dir: DmaDirection, attrs = 0): number {
  checkDir(dir, 'dma_map_sg');
  let total = 0;
  for (let i = 0; i < sgt.origNents; i++) total += sgt.sgl[i]!.length;
  injectMappingError(dev, total, 'dma_map_sg');
  let n: number;
  try {
    n = forDevice(dev, 'dma_map_sg', () => dev.ops.mapSg(dev, sgt, dir, attrs));
  } catch (e) {
    if (!isKernelError(e)) throw e;
    dev.ctx.stats.mappingErrors++;
    if (MAP_SG_ERRNOS.includes(e.code)) throw e;
    throw kerr('EIO', `${dev.name}: dma_map_sg: ${dev.ops.name} map_sg gave ${e.code}, which it may not (${e.message})`);
  }
  if (!(n > 0)) {
    // an empty table maps to nothing, which __dma_map_sg_attrs reports as EIO
    dev.ctx.stats.mappingErrors++;
    throw kerr('EIO', `${dev.name}: dma_map_sg mapped no segments of a ${sgt.origNents}-entry table`);
  }
  dev.ctx.stats.maps++;
  const runs: [number, number][] = [];
  for (let i = 0; i < sgt.origNents; i++) runs.push([sgPhys(sgt.sgl[i]!), sgt.sgl[i]!.length]);
  let size = 0;
  for (let i = 0; i < n; i++) size += sgt.sgl[i]!.dmaLength;
  dev.ctx.debug.add(dev, 'sg', sgt.sgl[0]!.dmaAddress, size, dir, runs, 'dma_map_sg');
  return n;
}

/**
 * Maps a whole table for DMA (dma_map_sgtable); sgt.nents becomes the
 * number of device segments. Fails with nothing mapped, as Linux documents:
 * KernelError EINVAL for a mapping that cannot succeed if retried (the
 * IOMMU refused a segment: beyond its address range, already mapped),
 * ENOMEM when resources ran out and a retry may succeed later (no IOVA
 * space), EIO when a lower-level map of one entry failed (memory the device
 * cannot reach, no bounce space). KernelBug for an invalid direction.
 */
export function dmaMapSgtable(dev: Device, sgt: SgTable, dir: DmaDirection, attrs = 0): void {
  dmaMapSg(dev, sgt, dir, attrs);
}

/** Unmaps a scatterlist (dma_unmap_sg_attrs); as dmaUnmapPage, only a bad direction is a KernelBug. */
export function dmaUnmapSg(dev: Device, sgt: SgTable, dir: DmaDirection, attrs = 0): void {
  checkDir(dir, 'dma_unmap_sg');
  let size = 0;
  for (let i = 0; i < sgt.nents; i++) size += sgt.sgl[i]!.dmaLength;
  const known = dev.ctx.debug.remove(dev, 'sg', sgt.sgl[0]!.dmaAddress, size, dir, 'dma_unmap_sg');
  if (!known && dev.ctx.debug.enabled) return;
  dev.ctx.stats.unmaps++;
  forDevice(dev, 'dma_unmap_sg', () => dev.ops.unmapSg(dev, sgt, dir, attrs));
}

/** Gives the CPU ownership of part of a streaming mapping (dma_sync_single_range_for_cpu). Misuse is a dma-debug finding; KernelBug for a bad direction. */
export function dmaSyncSingleRangeForCpu(dev: Device, addr: number, offset: number, size: number, dir: DmaDirection): void {
  checkDir(dir, 'dma_sync_single_for_cpu');
  dev.ctx.stats.syncs++;
  dev.ctx.debug.sync(dev, addr + offset, size, dir, true, 'dma_sync_single_for_cpu');
  forDevice(dev, 'dma_sync_single_for_cpu', () => dev.ops.syncSingleForCpu(dev, addr + offset, size, dir));
}

/** Gives the device ownership back (dma_sync_single_range_for_device). Misuse is a dma-debug finding; KernelBug for a bad direction. */
export function dmaSyncSingleRangeForDevice(dev: Device, addr: number, offset: number, size: number, dir: DmaDirection): void {
  checkDir(dir, 'dma_sync_single_for_device');
  dev.ctx.stats.syncs++;
  dev.ctx.debug.sync(dev, addr + offset, size, dir, false, 'dma_sync_single_for_device');
  forDevice(dev, 'dma_sync_single_for_device', () => dev.ops.syncSingleForDevice(dev, addr + offset, size, dir));
}

/** Gives the CPU ownership of a streaming mapping (dma_sync_single_for_cpu); KernelBug for a bad direction. */
export function dmaSyncSingleForCpu(dev: Device, addr: number, size: number, dir: DmaDirection): void {
  dmaSyncSingleRangeForCpu(dev, addr, 0, size, dir);
}

/** Gives the device ownership of a streaming mapping (dma_sync_single_for_device); KernelBug for a bad direction. */
export function dmaSyncSingleForDevice(dev: Device, addr: number, size: number, dir: DmaDirection): void {
  dmaSyncSingleRangeForDevice(dev, addr, 0, size, dir);
}

/** Gives the CPU ownership of a mapped scatterlist (dma_sync_sg_for_cpu); KernelBug for a bad direction. */
export function dmaSyncSgForCpu(dev: Device, sgt: SgTable, dir: DmaDirection): void {
  checkDir(dir, 'dma_sync_sg_for_cpu');
  dev.ctx.stats.syncs++;
  dev.ctx.debug.sync(dev, sgt.sgl[0]!.dmaAddress, sgt.sgl[0]!.dmaLength, dir, true, 'dma_sync_sg_for_cpu');
  forDevice(dev, 'dma_sync_sg_for_cpu', () => dev.ops.syncSgForCpu(dev, sgt, dir));
}

/** Gives the device ownership of a mapped scatterlist (dma_sync_sg_for_device); KernelBug for a bad direction. */
export function dmaSyncSgForDevice(dev: Device, sgt: SgTable, dir: DmaDirection): void {
  checkDir(dir, 'dma_sync_sg_for_device');
  dev.ctx.stats.syncs++;
  dev.ctx.debug.sync(dev, sgt.sgl[0]!.dmaAddress, sgt.sgl[0]!.dmaLength, dir, false, 'dma_sync_sg_for_device');
  forDevice(dev, 'dma_sync_sg_for_device', () => dev.ops.syncSgForDevice(dev, sgt, dir));
}

/** Takes a device away (device_del): dma-debug reports every mapping it still has. Returns that count; never fails. */
export function dmaDeviceRemove(dev: Device): number {
  const n = dev.ctx.debug.deviceRemoved(dev);
  dev.removed = true;
  return n;
}

/** Runs a DMA API operation for `dev`: the CPU work it does is the device's cost, in `fn`. */
function forDevice<T>(dev: Device, fn: string, op: () => T): T {
  return dev.ctx.soc.costs.withScope({ device: dev.name, fn }, op);
}
