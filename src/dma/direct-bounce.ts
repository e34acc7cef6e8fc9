import { BouncePool, type BouncedBuffer } from './bounce-pool.ts';
import { crossesBoundary, dmaCapable, type Device } from './device.ts';
import { isKernelError, kerr } from '../lib/index.ts';
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaDirection } from './direction.ts';
import { directOps, archSyncDmaForCpu, archSyncDmaForDevice } from './direct.ts';
import type { DmaMapOps } from './ops.ts';
import { sgPhys } from './scatterlist.ts';

function table(dev: Device): Map<number, BouncedBuffer> {
  return bouncePoolOf(dev).live;
}

/** The device's bounce pool, created on first use. */
export function bouncePoolOf(dev: Device): BouncePool {
  if (!dev.bounce) dev.bounce = new BouncePool(dev);
  return dev.bounce;
}

/**
 * Copies between the real buffer (through the CPU's cacheable view, so it
 * sees what the CPU last wrote) and the bounce buffer (through a
 * non-cacheable view, so the device sees it). The CPU does the copy; every
 * byte is counted.
 */
export function bounceCopy(dev: Device, from: number, to: number, size: number, toBounce: boolean): void {
  const { soc, debug, stats } = dev.ctx;
  const tmp = new Uint8Array(size);
  debug.internal(() =>
    soc.costs.withAccessKind('bounce', () => {
      soc.cpu.load(from, tmp, 0, size, toBounce ? 'wb' : 'wc');
      soc.cpu.store(to, tmp, 0, size, toBounce ? 'wc' : 'wb');
    }),
  );
  stats.bounceBytes += size;
}

/** True when a buffer must be bounced for this device (needs_bounce in dmabounce.c). */
export function needsBounce(dev: Device, pa: number, size: number): boolean {
  return !dmaCapable(dev, pa, size) || crossesBoundary(dev, pa, size);
}

/**
 * Maps through a bounce buffer: copy in for the device if it will read.
 * KernelError ENOMEM when the bounce pool is exhausted and cannot grow.
 */
export function bounceMap(dev: Device, pa: number, size: number, dir: DmaDirection, align = 64): number {
  const pool = bouncePoolOf(dev);
  const b = pool.alloc(size, align);
  if (dir !== DMA_FROM_DEVICE) bounceCopy(dev, pa, b, size, true);
  table(dev).set(b, { origPa: pa, size, dir });
  dev.ctx.stats.bounceMaps++;
  return b;
}

/** Unmaps a bounce buffer: copy back to the real buffer if the device wrote. */
export function bounceUnmap(dev: Device, dmaAddr: number): boolean {
  const t = table(dev);
  const e = t.get(dmaAddr);
  if (!e) return false;
  if (e.dir !== DMA_TO_DEVICE) bounceCopy(dev, dmaAddr, e.origPa, e.size, false);
  t.delete(dmaAddr);
  bouncePoolOf(dev).free(dmaAddr, e.size);
  return true;
}

/** Syncs part of a bounced buffer in one direction; false when dmaAddr is not bounced. */
export function bounceSync(dev: Device, dmaAddr: number, size: number, toCpu: boolean): boolean {
  for (const [b, e] of table(dev)) {
    if (dmaAddr < b || dmaAddr + size > b + e.size) continue;
    const off = dmaAddr - b;
    if (toCpu && e.dir !== DMA_TO_DEVICE) bounceCopy(dev, dmaAddr, e.origPa + off, size, false);
    if (!toCpu && e.dir !== DMA_FROM_DEVICE) bounceCopy(dev, e.origPa + off, dmaAddr, size, true);
    return true;
  }
  return false;
}

/**
 * dmabounce (arch/arm/common/dmabounce.c): direct mapping, except that a
 * buffer the device cannot reach (beyond its DMA mask, or crossing its
 * segment boundary) is copied through a bounce buffer it can reach, on
 * map, sync and unmap. map_page gives ENOMEM when bounce space runs out;
 * map_sg gives EIO for any entry that fails, as arm_dma_map_sg does.
 */
export const directBounceOps: DmaMapOps = {
  ...directOps,
  name: 'direct-bounce',
  mapPage(dev, pa, size, dir, attrs) {
    if (!needsBounce(dev, pa, size)) return directOps.mapPage(dev, pa, size, dir, attrs);
    return bounceMap(dev, pa, size, dir);
  },
  unmapPage(dev, dmaAddr, size, dir, attrs) {
    if (!bounceUnmap(dev, dmaAddr)) archSyncDmaForCpu(dev, dmaAddr, size, dir, attrs);
  },
  mapSg(dev, sgt, dir, attrs) {
    for (let i = 0; i < sgt.origNents; i++) {
      const sg = sgt.sgl[i]!;
      let a: number;
      try {
        a = directBounceOps.mapPage(dev, sgPhys(sg), sg.length, dir, attrs);
      } catch (e) {
        if (!isKernelError(e)) throw e;
        for (let j = 0; j < i; j++) directBounceOps.unmapPage(dev, sgt.sgl[j]!.dmaAddress, sgt.sgl[j]!.length, dir, attrs);
        throw kerr('EIO', `${dev.name}: dma_map_sg: entry ${i} of ${sgt.origNents} could not be mapped (${e.message})`);
      }
      sg.dmaAddress = a;
      sg.dmaLength = sg.length;
    }
    sgt.nents = sgt.origNents;
    return sgt.nents;
  },
  unmapSg(dev, sgt, dir, attrs) {
    for (let i = 0; i < sgt.origNents; i++) directBounceOps.unmapPage(dev, sgt.sgl[i]!.dmaAddress, sgt.sgl[i]!.length, dir, attrs);
  },
  syncSingleForCpu(dev, dmaAddr, size, dir) {
    if (!bounceSync(dev, dmaAddr, size, true)) archSyncDmaForCpu(dev, dmaAddr, size, dir);
  },
  syncSingleForDevice(dev, dmaAddr, size, dir) {
    if (!bounceSync(dev, dmaAddr, size, false)) archSyncDmaForDevice(dev, dmaAddr, size, dir);
  },
  syncSgForCpu(dev, sgt, dir) {
    for (let i = 0; i < sgt.nents; i++) directBounceOps.syncSingleForCpu(dev, sgt.sgl[i]!.dmaAddress, sgt.sgl[i]!.dmaLength, dir);
  },
  syncSgForDevice(dev, sgt, dir) {
    for (let i = 0; i < sgt.nents; i++) directBounceOps.syncSingleForDevice(dev, sgt.sgl[i]!.dmaAddress, sgt.sgl[i]!.dmaLength, dir);
  },
};

