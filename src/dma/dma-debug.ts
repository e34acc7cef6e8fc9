import { PageCounters, type Soc } from '../hw/index.ts';
import { hex, PAGE_SIZE } from '../lib/index.ts';
import type { Device } from './device.ts';
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, dirName, type DmaDirection } from './direction.ts';

/** What kind of mapping an entry is (dma_debug_entry.type). */
export type DebugMapType = 'single' | 'page' | 'sg' | 'coherent';

/** One live mapping as dma-debug tracks it (struct dma_debug_entry). */
export interface DebugEntry {
  dev: Device;
  type: DebugMapType;
  dmaAddr: number;
  size: number;
  dir: DmaDirection;
  /** Physically contiguous runs of the CPU view. */
  runs: [number, number][];
  /** Who may touch the buffer now: the device from map/sync_for_device, the CPU from sync_for_cpu. */
  owner: 'device' | 'cpu';
  /** Whether a CPU access to it while the device owns it was already reported. */
  reported: boolean;
}

/**
 * The DMA API debugging facility (lib/dma-debug.c): tracks every mapping
 * and reports misuse as findings instead of letting it corrupt data
 * silently: unmapping what was never mapped, unmapping with the wrong size
 * or direction, syncing outside a mapping, the CPU touching a streaming
 * buffer the device owns, mappings left when a device goes away, and
 * addresses beyond the device's mask.
 */
export class DmaDebug {
  enabled: boolean;
  private readonly soc: Soc;
  /** Live entries by device and DMA address; one address may carry several (the same buffer mapped twice, as two importers do). */
  private readonly byDev = new Map<Device, Map<number, DebugEntry[]>>();
  private readonly deviceOwned = new PageCounters();
  private suspended = 0;
  /** Number of errors reported (the debugfs error_count). */
  errorCount = 0;

  constructor(soc: Soc, enabled = true) {
    this.soc = soc;
    this.enabled = enabled;
    soc.cpu.accessHook = (pa, len, write) => this.cpuAccess(pa, len, write);
  }

  /** Runs `fn` with CPU-access checks off: the DMA layer's own copies (bounce buffers) are not misuse. */
  internal<T>(fn: () => T): T {
    this.suspended++;
    try {
      return fn();
    } finally {
      this.suspended--;
    }
  }

  /** Records a new mapping (debug_dma_map_page / debug_dma_map_sg / debug_dma_alloc_coherent). */
  add(dev: Device, type: DebugMapType, dmaAddr: number, size: number, dir: DmaDirection, runs: [number, number][], call: string): void {
    if (!this.enabled) return;
    if (dev.removed) this.err(call, `${dev.name}: mapping on a device that has been removed`);
    const limit = 2 ** (type === 'coherent' ? dev.coherentMaskBits : dev.dmaMaskBits);
    if (dmaAddr + size > limit && !dev.iommu)
      this.err(call, `${dev.name}: device driver maps memory beyond its DMA mask [addr=${hex(dmaAddr)}] [size=${size}] [mask=${hex(limit - 1)}]`);
    let m = this.byDev.get(dev);
    if (!m) {
      m = new Map();
      this.byDev.set(dev, m);
    }
    const e: DebugEntry = { dev, type, dmaAddr, size, dir, runs, owner: type === 'coherent' ? 'cpu' : 'device', reported: false };
    const at = m.get(dmaAddr);
    if (at) at.push(e);
    else m.set(dmaAddr, [e]);
    if (e.owner === 'device') this.own(e, 1);
  }

  /** Checks and forgets a mapping at unmap time (check_unmap). Returns the entry, if it was known. */
  remove(dev: Device, type: DebugMapType, dmaAddr: number, size: number, dir: DmaDirection, call: string): DebugEntry | undefined {
    if (!this.enabled) return undefined;
    const e = bestMatch(this.byDev.get(dev)?.get(dmaAddr), type, size, dir);
    if (!e) {
      this.err(call, `${dev.name}: device driver tries to free DMA memory it has not allocated [device address=${hex(dmaAddr)}] [size=${size} bytes]`);
      return undefined;
    }
    if (e.size !== size)
      this.err(call, `${dev.name}: device driver frees DMA memory with different size [device address=${hex(dmaAddr)}] [map size=${e.size} bytes] [unmap size=${size} bytes]`);
    if (e.type !== type)
      this.err(call, `${dev.name}: device driver frees DMA memory with wrong function [device address=${hex(dmaAddr)}] [size=${e.size} bytes] [mapped as ${e.type}] [unmapped as ${type}]`);
    if (e.dir !== dir)
      this.err(call, `${dev.name}: device driver frees DMA memory with different direction [device address=${hex(dmaAddr)}] [size=${e.size} bytes] [mapped with ${dirName(e.dir)}] [unmapped with ${dirName(dir)}]`);
    if (e.owner === 'device') this.own(e, -1);
    const m = this.byDev.get(dev)!;
    const at = m.get(dmaAddr)!;
    at.splice(at.indexOf(e), 1);
    if (at.length === 0) m.delete(dmaAddr);
    return e;
  }

  /** Checks a sync call and moves ownership (check_sync). */
  sync(dev: Device, dmaAddr: number, size: number, dir: DmaDirection, toCpu: boolean, call: string): void {
    if (!this.enabled) return;
    const e = this.find(dev, dmaAddr, size);
    if (!e) {
      this.err(call, `${dev.name}: device driver tries to sync DMA memory it has not allocated [device address=${hex(dmaAddr)}] [size=${size} bytes]`);
      return;
    }
    if (e.dir !== dir && e.dir !== 0)
      this.err(call, `${dev.name}: device driver syncs DMA memory with different direction [device address=${hex(dmaAddr)}] [size=${size} bytes] [mapped with ${dirName(e.dir)}] [synced with ${dirName(dir)}]`);
    if (e.type === 'coherent') return;
    if (toCpu && e.owner === 'device') {
      this.own(e, -1);
      e.owner = 'cpu';
    } else if (!toCpu && e.owner === 'cpu') {
      this.own(e, 1);
      e.owner = 'device';
      e.reported = false;
    }
  }

  /** Reports every mapping a device still has when it goes away (dma_debug_device_change). */
  deviceRemoved(dev: Device): number {
    const m = this.byDev.get(dev);
    if (!this.enabled || !m || m.size === 0) return 0;
    for (const e of [...m.values()].flat())
      this.err('device_del', `${dev.name}: device driver has pending DMA allocations while released from device [device address=${hex(e.dmaAddr)}] [size=${e.size} bytes] [mapped as ${e.type}] [${dirName(e.dir)}]`, 'leak');
    return this.liveMappings(dev);
  }

  /** Number of live mappings of a device (or of all devices). */
  liveMappings(dev?: Device): number {
    const count = (m: Map<number, DebugEntry[]> | undefined) => [...(m?.values() ?? [])].reduce((n, at) => n + at.length, 0);
    if (dev) return count(this.byDev.get(dev));
    let n = 0;
    for (const m of this.byDev.values()) n += count(m);
    return n;
  }

  /** All live mappings, for debug views. */
  entries(): DebugEntry[] {
    return [...this.byDev.values()].flatMap((m) => [...m.values()].flat());
  }

  private find(dev: Device, dmaAddr: number, size: number): DebugEntry | undefined {
    const m = this.byDev.get(dev);
    if (!m) return undefined;
    const exact = m.get(dmaAddr);
    if (exact) return exact.find((e) => e.size >= size) ?? exact[0];
    for (const at of m.values()) for (const e of at) if (dmaAddr >= e.dmaAddr && dmaAddr + size <= e.dmaAddr + e.size) return e;
    return undefined;
  }

  private own(e: DebugEntry, delta: number): void {
    this.soc.cpu.quietPage = -1;
    for (const [pa, len] of e.runs) this.deviceOwned.add(Math.floor(pa / PAGE_SIZE), Math.ceil((pa + len) / PAGE_SIZE) - Math.floor(pa / PAGE_SIZE), delta);
  }

  private cpuAccess(pa: number, len: number, write: boolean): void {
    if (!this.enabled || this.suspended > 0) return;
    const first = Math.floor(pa / PAGE_SIZE);
    const n = Math.ceil((pa + len) / PAGE_SIZE) - first;
    if (!this.deviceOwned.any(first, n)) {
      // a page no device owns needs no more checks until ownership changes (own forgets it): a program touches one page many times in a row
      if (n === 1) this.soc.cpu.quietPage = first;
      return;
    }
    for (const m of this.byDev.values()) {
      for (const e of [...m.values()].flat()) {
        if (e.owner !== 'device' || e.reported) continue;
        // Reading what a device only reads is harmless: the map cleaned the lines, nothing changes.
        if (!write && e.dir === DMA_TO_DEVICE) continue;
        if (!e.runs.some(([rpa, rlen]) => pa < rpa + rlen && rpa < pa + len)) continue;
        e.reported = true;
        const what = write ? 'writes' : 'reads';
        const need =
          e.dir === DMA_TO_DEVICE
            ? 'dma_unmap or dma_sync_*_for_cpu (for a dma-buf: dma_buf_begin_cpu_access, DMA_BUF_IOCTL_SYNC with DMA_BUF_SYNC_START)'
            : 'dma_sync_*_for_cpu (for a dma-buf: dma_buf_begin_cpu_access, DMA_BUF_IOCTL_SYNC with DMA_BUF_SYNC_START)';
        const why = e.dir === DMA_FROM_DEVICE || e.dir === 0 ? 'it may see stale cache lines' : 'the device may not see the change';
        this.soc.findings.report(
          'missing-sync',
          'cpu access',
          `CPU ${what} ${hex(pa)} (+${len}) of a buffer mapped for ${e.dev.name} (${dirName(e.dir)}, device address ${hex(e.dmaAddr)}) while the device owns it: no ${need} before the access, ${why}`,
        );
      }
    }
  }

  private err(call: string, message: string, kind: 'dma-debug' | 'leak' = 'dma-debug'): void {
    this.errorCount++;
    this.soc.findings.report(kind, call, `DMA-API: ${message}`);
  }
}

/**
 * The entry an unmap means among those at one address (bucket_find_exact):
 * the one that agrees on the most of size, type and direction, the first
 * of equals; undefined when there is none.
 */
function bestMatch(at: DebugEntry[] | undefined, type: DebugMapType, size: number, dir: DmaDirection): DebugEntry | undefined {
  let best: DebugEntry | undefined;
  let bestScore = -1;
  for (const e of at ?? []) {
    const score = Number(e.size === size) + Number(e.type === type) + Number(e.dir === dir);
    if (score > bestScore) [best, bestScore] = [e, score];
  }
  return best;
}
