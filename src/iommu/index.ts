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
export * from './page-allocator.ts';
export * from './prot.ts';
export * from './iotlb-gather.ts';
export * from './io-pgtable-arm-v7s.ts';
export * from './iova-tree.ts';
export * from './iova-rcache.ts';
export * from './iova.ts';
export * from './flush-queue.ts';
export * from './iommu-device.ts';
export * from './smmu-driver.ts';
export * from './domain.ts';
export * from './iommu.ts';
export * from './vcm-attrs.ts';
export * from './vcm-device.ts';
export * from './vmm-space.ts';
export * from './vcmm.ts';
export * from './vcm-phys.ts';
export * from './vcm.ts';
export * from './vcm-back.ts';
