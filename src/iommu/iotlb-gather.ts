/**
 * What an unmap leaves for TLB maintenance (struct iommu_iotlb_gather): the
 * IOVA range whose translations must be invalidated, and the second-level
 * tables the unmap took out of the page table, which may only be freed once
 * the invalidation has completed (a walker may still be reading them).
 */
export class IotlbGather {
  /** Start of the range to invalidate; Infinity when empty. */
  start = Infinity;
  /** End (exclusive) of the range to invalidate. */
  end = 0;
  /** Smallest page size added, the granule of the invalidation. */
  pgsize = 0;
  /** Physical addresses of removed second-level tables. */
  readonly freedTables: number[] = [];

  /** True when nothing needs invalidating or freeing. */
  get empty(): boolean {
    return this.end === 0 && this.freedTables.length === 0;
  }

  /** Adds [iova, iova+size) to the range (iommu_iotlb_gather_add_page). */
  addRange(iova: number, size: number, pgsize = size): void {
    if (iova < this.start) this.start = iova;
    if (iova + size > this.end) this.end = iova + size;
    if (this.pgsize === 0 || pgsize < this.pgsize) this.pgsize = pgsize;
  }

  /** Empties the gather (iommu_iotlb_gather_init). */
  reset(): void {
    this.start = Infinity;
    this.end = 0;
    this.pgsize = 0;
    this.freedTables.length = 0;
  }
}
