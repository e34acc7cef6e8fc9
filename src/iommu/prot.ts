import type { PteAttrs, SmmuMemAttr } from '../hw/index.ts';

/** Mapping permission and attribute flags of iommu_map (include/linux/iommu.h values). */
export const IOMMU_READ = 1 << 0;
export const IOMMU_WRITE = 1 << 1;
/** Cacheable: normal write-back, write-allocate memory. */
export const IOMMU_CACHE = 1 << 2;
export const IOMMU_NOEXEC = 1 << 3;
/** Device (MMIO) memory. */
export const IOMMU_MMIO = 1 << 4;
/** Privileged transactions only. */
export const IOMMU_PRIV = 1 << 5;
/**
 * unimem extensions for the VCM attribute set, beyond what Linux's iommu_map
 * takes: write-through instead of write-back (with IOMMU_CACHE), write-back
 * without write-allocate (with IOMMU_CACHE), shareable, non-secure.
 */
export const IOMMU_CACHE_WT = 1 << 8;
export const IOMMU_CACHE_NWA = 1 << 9;
export const IOMMU_SHARED = 1 << 10;
export const IOMMU_NS = 1 << 11;

/** The memory attribute an iommu prot asks for. */
export function protMemAttr(prot: number): SmmuMemAttr {
  if (prot & IOMMU_MMIO) return 'device';
  if (!(prot & IOMMU_CACHE)) return 'nc';
  if (prot & IOMMU_CACHE_WT) return 'wt';
  return prot & IOMMU_CACHE_NWA ? 'wb' : 'wb-wa';
}

/** Descriptor attributes for an iommu prot (arm_v7s_prot_to_pte). */
export function protToPteAttrs(prot: number): PteAttrs {
  return {
    write: (prot & IOMMU_WRITE) !== 0,
    unpriv: (prot & IOMMU_PRIV) === 0,
    xn: (prot & IOMMU_NOEXEC) !== 0,
    mem: protMemAttr(prot),
    shared: (prot & IOMMU_SHARED) !== 0,
    ns: (prot & IOMMU_NS) !== 0,
    ng: false,
  };
}

/** The iommu prot that descriptor attributes express (arm_v7s_pte_to_prot), READ always included. */
export function pteAttrsToProt(a: PteAttrs): number {
  let p = IOMMU_READ;
  if (a.write) p |= IOMMU_WRITE;
  if (!a.unpriv) p |= IOMMU_PRIV;
  if (a.xn) p |= IOMMU_NOEXEC;
  if (a.shared) p |= IOMMU_SHARED;
  if (a.ns) p |= IOMMU_NS;
  switch (a.mem) {
    case 'device':
    case 'strongly-ordered':
      p |= IOMMU_MMIO;
      break;
    case 'wt':
      p |= IOMMU_CACHE | IOMMU_CACHE_WT;
      break;
    case 'wb':
      p |= IOMMU_CACHE | IOMMU_CACHE_NWA;
      break;
    case 'wb-wa':
      p |= IOMMU_CACHE;
      break;
    case 'nc':
      break;
  }
  return p;
}
