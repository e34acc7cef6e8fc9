/**
 * DOC: iommu — the IOMMU API, io-pgtable, the IOVA allocator and the VCM API
 *
 * Ownership: a domain owns its page table (pages from the mm page allocator,
 * freed with the domain) and its IOVA space; devices are attached to one
 * domain at a time and must be detached before the domain is freed. A VCM
 * owns its IOMMU domain and its address pool; reservations, associations and
 * physical allocations belong to whoever created them and must be undone in
 * reverse order (unback before unreserve/phys_free, deactivate before
 * deassoc, everything before vcm_free), or the call fails with EBUSY.
 *
 * Call order: map/unmap are bracketed by the SMMU driver's update-start /
 * update-done; unmapped translations stay in the TLB until update-done
 * invalidates them (strict domains) or the flush queue does (lazy domains).
 * Page-table pages an unmap removes are freed only after that invalidation.
 *
 * Sleeping: nothing here sleeps. Fault handlers run in the SMMU's interrupt
 * context, synchronously inside the faulting DMA, and may map pages before
 * answering 'retry'.
 */
export { IommuDomain, type DomainOptions, type IommuFaultHandler } from './domain.ts';
export type { IoPgtableLeaf } from './io-pgtable-arm-v7s.ts';
export { iommuDevice, type IommuDevice } from './iommu-device.ts';
export {
  iommuAttachDevice,
  iommuDetachDevice,
  iommuDomainAlloc,
  iommuDomainFree,
  iommuIovaToPhys,
  iommuMap,
  iommuMapPageList,
  iommuMappingAt,
  iommuSetFaultHandler,
  iommuUnmap,
} from './iommu.ts';
export { IovaDomain } from './iova.ts';
export { IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE } from './prot.ts';
export { SmmuDriver, type SmmuDriverConfig, type TableHalf } from './smmu-driver.ts';
