/**
 * DOC: mm — physical memory management
 *
 * Ownership: the PageAllocator owns every DRAM frame (metadata in typed
 * arrays, PageFrames). It is the buddy allocator (page-alloc.ts); page
 * references and pins (page-ref.ts), owners (page-owner.ts), pageblock
 * isolation (page-isolation.ts) and statistics (page-stats.ts) are plain
 * functions that take it first: getPage(pages, pfn), as get_page(page).
 * A caller of allocPages owns the block until it frees
 * it with the same order; refcounts (getPage/putPage) and pins extend that,
 * and a pinned page may be neither freed nor migrated. A page allocated
 * movable with an owner that registered `migratePage` may be moved at any
 * time by CMA; its owner must find it through that callback, never by a
 * remembered pfn. CMA buffers belong to their CmaArea and go back with
 * `release(pfn, count)` of exactly what was allocated. GenPool ranges
 * belong to whoever allocated them and are freed with the same size.
 *
 * The kernel address space owns the CPU-visible kernel mappings: the
 * linear map of lowmem exists from boot; whoever removes a page's linear
 * alias (to use it uncached) restores it before freeing the page, and
 * every vmap is undone with vunmap (vmalloc with vfree) by its creator.
 *
 * Sleeping: only CmaArea.alloc sleeps (its per-area mutex and the simulated
 * cost of migration); everything else here is synchronous and never sleeps.
 *
 * Call order: bootMm (frames -> reservations -> CMA areas -> linear map ->
 * background load) before anything else. Misuse (double free, freeing what
 * was not allocated, wrong counts) throws KernelBug before any state
 * changes; running out of memory is KernelError ENOMEM. Callers with a
 * fallback use the try variants (CmaArea.tryAlloc, GenPool.tryAlloc),
 * which return null instead of throwing ENOMEM.
 */
export { BackgroundLoad, type BackgroundLoadOptions } from './background.ts';
export { DEFAULT_CMA_NAME, bootMm, type Mm, type MmConfig } from './boot.ts';
export { CmaArea, type CmaFailure } from './cma.ts';
export { PG_ALLOC, PG_CONTIG, PG_HEAD, PG_RESERVED } from './frames.ts';
export { GenPool } from './genalloc.ts';
export { SimMutex } from './mutex.ts';
export type { Gfp, PageOwnerOps } from './gfp.ts';
export type { MigrationEnv } from './migrate.ts';
export { PageAllocator, type PageAllocatorOptions } from './page-alloc.ts';
export { pageOwnerOps, registerPageOwner, setPageOwner } from './page-owner.ts';
export { getPage, pageCount, pinCount, pinPages, putPage, unpinPages } from './page-ref.ts';
export { pageAllocatorStats } from './page-stats.ts';
