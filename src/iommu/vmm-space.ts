import type { MemType } from '../hw/index.ts';

/**
 * What the VMM VCM needs from the kernel's address space (mm's
 * KernelAddressSpace satisfies it): mapping pages into the vmalloc area with
 * a memory type, which also tells the CPU model about the mapping, and
 * undoing it; and, to name the kernel linear map in aliasing errors, which
 * pages are lowmem and where they are mapped.
 */
export interface VmmSpace {
  /** Maps pages contiguously in the vmalloc area (vmap); throws ENOMEM when it is full. */
  vmap(pfns: ArrayLike<number>, memType: MemType): number;
  /** Removes a vmap mapping (vunmap). */
  vunmap(va: number): void;
  /** True when the page has a permanent linear mapping. */
  isLowmem?(pfn: number): boolean;
  /** True when the lowmem page's linear alias is present (not removed for uncached use). */
  hasLinearAlias?(pfn: number): boolean;
  /** The linear-map address of a lowmem page. */
  pfnToVirt?(pfn: number): number;
}
