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
