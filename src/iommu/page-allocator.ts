/**
 * What the IOMMU layer needs from the mm layer's page allocator: page-table
 * pages. The buddy allocator (mm's PageAllocator) satisfies it; tests use a
 * small allocator over a test memory region. Blocks must be naturally
 * aligned (a 2^order block starts at a multiple of 2^order pages), as buddy
 * blocks are, because a first-level table must be 16 KiB aligned.
 */
export interface IoPageAllocator {
  /**
   * Allocates 2^order contiguous pages and returns the first pfn
   * (alloc_pages); throws KernelError ENOMEM when it cannot. `zero` asks for
   * zeroed pages, `maxPa` for pages that end below that physical address
   * (GFP_DMA32 for page tables the SMMU must reach with 32-bit TTBRs).
   */
  allocPages(order: number, gfp?: { zero?: boolean; maxPa?: number }): number;
  /** Frees a block from allocPages (__free_pages). */
  freePages(pfn: number, order: number): void;
}
