import type { System } from '../../src/sim/index.ts';

/**
 * Walks the allocators of a booted system and throws KernelBug at the first
 * broken invariant: the buddy free lists, every CMA area's bitmap against
 * its buffers, every IOMMU domain's IOVA tree.
 */
export function checkInvariants(sys: System): void {
  sys.mm.pages.verify();
  for (const area of sys.mm.cma.values()) area.verify();
  for (const d of sys.domains.values()) d.iovad.verify();
}
