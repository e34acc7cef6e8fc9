import { kerr } from '../lib/index.ts';
import { IOMMU_CACHE, IOMMU_CACHE_NWA, IOMMU_CACHE_WT, IOMMU_NOEXEC, IOMMU_NS, IOMMU_PRIV, IOMMU_READ, IOMMU_WRITE } from './prot.ts';

/** Reservation (mapping) attributes of vcm_reserve. */
export const VCM_READ = 1 << 0;
export const VCM_WRITE = 1 << 1;
export const VCM_EXECUTE = 1 << 2;
export const VCM_USER = 1 << 3;
export const VCM_SUPERVISOR = 1 << 4;
export const VCM_SECURE = 1 << 5;
/** Cache policy: at most one of these; none means write-back/write-allocate. */
export const VCM_NOTCACHED = 1 << 6;
export const VCM_WB_WA = 1 << 7;
export const VCM_WB_NWA = 1 << 8;
export const VCM_WT = 1 << 9;
const RES_ALL = (1 << 10) - 1;

/** Association attributes of vcm_assoc: split the device's space at 2 GiB, and which half this VCM serves. */
export const VCM_ASSOC_SPLIT = 1 << 0;
export const VCM_ASSOC_USE_HIGH = 1 << 1;
export const VCM_ASSOC_USE_LOW = 1 << 2;

/** Physical allocation attributes of vcm_phys_alloc: one physically contiguous chunk. */
export const VCM_PHYS_CONT = 1 << 0;
/** Block sizes the block pools may use (none given: all of them). */
export const VCM_PHYS_4K = 1 << 1;
export const VCM_PHYS_64K = 1 << 2;
export const VCM_PHYS_1M = 1 << 3;
const ALIGN_SHIFT = 8;

/** The alignment attribute of vcm_phys_alloc: every chunk starts at a multiple of `bytes` (a power of two >= 4 KiB). */
export function vcmAlign(bytes: number): number {
  const l = Math.log2(bytes);
  if (!Number.isInteger(l) || l < 12 || l > 40) throw kerr('EINVAL', `vcm: alignment ${bytes} is not a power of two in 4 KiB..1 TiB`);
  return l << ALIGN_SHIFT;
}

/** The alignment a phys-alloc attr asks for, 0 when none. */
export function attrAlign(attr: number): number {
  const l = (attr >>> ALIGN_SHIFT) & 0xff;
  return l === 0 ? 0 : 2 ** l;
}

/**
 * What a mapping's cache policy is, for the aliasing rule: 'nc' (normal
 * non-cacheable), 'wt' (write-through) or 'wb' (write-back; write-allocate
 * or not is only a hint and may differ between aliases).
 */
export type CacheClass = 'nc' | 'wt' | 'wb';

/** Checks a reservation attr and returns its cache class; EINVAL for unknown bits, no access, or two policies. */
export function reserveCacheClass(attr: number): CacheClass {
  if ((attr & ~RES_ALL) !== 0) throw kerr('EINVAL', `vcm_reserve: unknown attribute bits 0x${(attr & ~RES_ALL).toString(16)}`);
  if (!(attr & (VCM_READ | VCM_WRITE))) throw kerr('EINVAL', 'vcm_reserve: a mapping needs read or write access');
  const policies = [VCM_NOTCACHED, VCM_WB_WA, VCM_WB_NWA, VCM_WT].filter((p) => attr & p);
  if (policies.length > 1) throw kerr('EINVAL', 'vcm_reserve: more than one cache policy');
  if (attr & VCM_NOTCACHED) return 'nc';
  if (attr & VCM_WT) return 'wt';
  return 'wb';
}

/** The iommu prot of a reservation attr (shareability is added when the memory is shared). */
export function reserveProt(attr: number): number {
  let p = 0;
  if (attr & VCM_READ) p |= IOMMU_READ;
  if (attr & VCM_WRITE) p |= IOMMU_WRITE;
  if (!(attr & VCM_EXECUTE)) p |= IOMMU_NOEXEC;
  if (attr & VCM_SUPERVISOR && !(attr & VCM_USER)) p |= IOMMU_PRIV;
  if (!(attr & VCM_SECURE)) p |= IOMMU_NS;
  if (!(attr & VCM_NOTCACHED)) p |= IOMMU_CACHE;
  if (attr & VCM_WT) p |= IOMMU_CACHE_WT;
  if (attr & VCM_WB_NWA) p |= IOMMU_CACHE_NWA;
  return p;
}

/** A readable name of a cache class, for messages. */
export function cacheClassName(c: CacheClass): string {
  return c === 'nc' ? 'non-cacheable' : c === 'wt' ? 'write-through cacheable' : 'write-back cacheable';
}
