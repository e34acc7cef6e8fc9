import { PAGE_SIZE, hex } from '../lib/index.ts';
import { dmaMaskLimit, sgAllocTableFromPages, type Device } from '../dma/index.ts';
import type { DmaBufAttachConstraints } from './dma-buf.ts';

/**
 * What one attached device needs from the physical pages of a buffer,
 * derived from its struct device (DMA ops, mask, segment limits,
 * coherency) and what the importer added. A device behind an IOMMU sees
 * any page at any address through its page tables, so it constrains
 * nothing physical; a device that sees physical addresses brings its mask,
 * segment limits and, without scatter-gather, the need for one contiguous
 * range.
 */
export interface DeviceNeeds {
  readonly dev: Device;
  readonly viaIommu: boolean;
  readonly contiguous: boolean;
  /** Why contiguity is needed, when it is. */
  readonly contiguousWhy: string;
  /** Exclusive physical address limit, Infinity when none. */
  readonly maxPa: number;
  /** The limit only avoids bounce buffers: the device's ops bounce what lies beyond. */
  readonly maxPaSoft: boolean;
  /** Largest DMA segment in bytes, Infinity when none. */
  readonly maxSegmentSize: number;
  /** Largest number of DMA segments, Infinity when none. */
  readonly maxSegments: number;
  /** Required alignment of the buffer's first byte. */
  readonly alignment: number;
  readonly coherent: boolean;
}

/** Derives a device's needs from its struct device and the importer's additions. */
export function deviceNeeds(dev: Device, extra: DmaBufAttachConstraints = {}): DeviceNeeds {
  const viaIommu = dev.iommu !== null;
  const bounce = dev.ops.name === 'direct-bounce';
  let contiguous = false;
  let contiguousWhy = '';
  if (!viaIommu && dev.needsContiguous) {
    contiguous = true;
    contiguousWhy = 'no IOMMU and no scatter-gather';
  } else if (extra.contiguous) {
    contiguous = true;
    contiguousWhy = 'the importer asked for one contiguous range';
  } else if (!viaIommu && extra.maxSegments === 1) {
    contiguous = true;
    contiguousWhy = 'no IOMMU and takes a single DMA segment';
  }
  return {
    dev,
    viaIommu,
    contiguous,
    contiguousWhy,
    maxPa: viaIommu ? Infinity : dmaMaskLimit(dev.dmaMaskBits),
    maxPaSoft: bounce,
    maxSegmentSize: viaIommu ? Infinity : dev.maxSegmentSize,
    maxSegments: viaIommu ? Infinity : (extra.maxSegments ?? Infinity),
    alignment: Math.max(PAGE_SIZE, viaIommu ? PAGE_SIZE : dev.alignment, extra.alignment ?? PAGE_SIZE),
    coherent: dev.coherent,
  };
}

/** A collated limit and the device it came from. */
export interface Limit {
  value: number;
  by: string | null;
}

/** The constraints of every attached device, collated: the strictest of each and who set it. */
export interface CollatedNeeds {
  readonly devices: readonly DeviceNeeds[];
  readonly contiguousBy: readonly DeviceNeeds[];
  /** Hard physical address limit (devices without bounce buffers). */
  readonly maxPa: Limit;
  /** Soft limit: devices that would bounce beyond it. */
  readonly maxPaSoft: Limit;
  readonly maxSegmentSize: Limit;
  readonly maxSegments: Limit;
  readonly alignment: Limit;
  readonly nonCoherent: readonly string[];
}

function tighter(l: Limit, value: number, by: string, smaller: boolean): Limit {
  if (smaller ? value < l.value : value > l.value) return { value, by };
  return l;
}

/** Collates the needs of several devices (what the RFC's exporter does at the first map). */
export function collate(devices: readonly DeviceNeeds[]): CollatedNeeds {
  let maxPa: Limit = { value: Infinity, by: null };
  let maxPaSoft: Limit = { value: Infinity, by: null };
  let maxSegmentSize: Limit = { value: Infinity, by: null };
  let maxSegments: Limit = { value: Infinity, by: null };
  let alignment: Limit = { value: PAGE_SIZE, by: null };
  for (const n of devices) {
    const name = n.dev.name;
    if (n.maxPaSoft) maxPaSoft = tighter(maxPaSoft, n.maxPa, name, true);
    else maxPa = tighter(maxPa, n.maxPa, name, true);
    maxSegmentSize = tighter(maxSegmentSize, n.maxSegmentSize, name, true);
    maxSegments = tighter(maxSegments, n.maxSegments, name, true);
    alignment = tighter(alignment, n.alignment, name, false);
  }
  return {
    devices,
    contiguousBy: devices.filter((n) => n.contiguous),
    maxPa,
    maxPaSoft,
    maxSegmentSize,
    maxSegments,
    alignment,
    nonCoherent: devices.filter((n) => !n.coherent).map((n) => n.dev.name),
  };
}

/** True when the collated needs call for one physically contiguous range. */
export function needsContiguous(c: CollatedNeeds): boolean {
  return c.contiguousBy.length > 0;
}

/** The DMA segments `pfns` make for a device limited to `maxSegment` bytes per segment. */
export function segmentCount(pfns: ArrayLike<number>, maxSegment: number): number {
  return sgAllocTableFromPages(pfns, 0, pfns.length * PAGE_SIZE, maxSegment === Infinity ? Number.MAX_SAFE_INTEGER : maxSegment).origNents;
}

/**
 * Checks pages against collated needs: null when they serve every device,
 * else the first reason they do not (the soft address limit only costs
 * bounce copies and never fails the check).
 */
export function unmetNeed(pfns: Uint32Array, runs: number, c: CollatedNeeds, deviceLocalTo: readonly Device[] | null): string | null {
  if (deviceLocalTo) {
    for (const n of c.devices) if (!deviceLocalTo.includes(n.dev)) return `${n.dev.name} cannot reach the device-local pool the buffer is in`;
  }
  if (needsContiguous(c) && runs > 1) {
    const who = c.contiguousBy[0]!;
    return `${who.dev.name} needs one contiguous range (${who.contiguousWhy}); the buffer is in ${runs} pieces`;
  }
  let top = 0;
  for (let i = 0; i < pfns.length; i++) if (pfns[i]! > top) top = pfns[i]!;
  const end = (top + 1) * PAGE_SIZE;
  if (end > c.maxPa.value) return `${c.maxPa.by} addresses memory below ${hex(c.maxPa.value)} only; the buffer reaches ${hex(end)}`;
  const start = pfns[0]! * PAGE_SIZE;
  if (c.alignment.value > PAGE_SIZE && start % c.alignment.value !== 0) return `${c.alignment.by} needs ${c.alignment.value}-byte alignment; the buffer starts at ${hex(start)}`;
  if (c.maxSegments.value !== Infinity) {
    const segs = segmentCount(pfns, c.maxSegmentSize.value);
    if (segs > c.maxSegments.value) return `${c.maxSegments.by} takes at most ${c.maxSegments.value} DMA segments; the buffer makes ${segs}`;
  }
  return null;
}

/** Human-readable lines: which constraint came from which device. */
export function describeNeeds(c: CollatedNeeds): string[] {
  const out: string[] = [];
  if (c.devices.length === 0) return ['no device attached: nothing constrains the placement'];
  for (const n of c.devices) {
    const parts: string[] = [];
    parts.push(n.viaIommu ? 'behind an IOMMU: any page, any address' : `physical addresses below ${hex(n.maxPa)}${n.maxPaSoft ? ' (beyond that it bounces)' : ''}`);
    if (n.contiguous) parts.push(`contiguous (${n.contiguousWhy})`);
    if (n.maxSegmentSize !== Infinity) parts.push(`segments of at most ${n.maxSegmentSize} bytes`);
    if (n.maxSegments !== Infinity) parts.push(`at most ${n.maxSegments} segments`);
    if (n.alignment > PAGE_SIZE) parts.push(`${n.alignment}-byte alignment`);
    parts.push(n.coherent ? 'coherent' : 'non-coherent');
    out.push(`${n.dev.name}: ${parts.join(', ')}`);
  }
  const sum: string[] = [];
  sum.push(needsContiguous(c) ? `contiguous (required by ${c.contiguousBy.map((n) => n.dev.name).join(', ')})` : 'scatter-gather allowed');
  if (c.maxPa.by) sum.push(`below ${hex(c.maxPa.value)} (${c.maxPa.by})`);
  if (c.maxPaSoft.by && c.maxPaSoft.value < c.maxPa.value) sum.push(`preferably below ${hex(c.maxPaSoft.value)} to avoid bounces (${c.maxPaSoft.by})`);
  if (c.maxSegments.by) sum.push(`at most ${c.maxSegments.value} segments of ${c.maxSegmentSize.value === Infinity ? 'any size' : `${c.maxSegmentSize.value} bytes`} (${c.maxSegments.by})`);
  if (c.alignment.by) sum.push(`aligned to ${c.alignment.value} bytes (${c.alignment.by})`);
  sum.push(c.nonCoherent.length ? `non-coherent: ${c.nonCoherent.join(', ')} (CPU access needs cache maintenance)` : 'every device is coherent');
  out.push(`collated: ${sum.join('; ')}`);
  return out;
}
