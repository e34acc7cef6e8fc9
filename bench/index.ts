import type { Bench } from './harness.ts';

/** Every benchmark, by the name `unimem bench <name>` takes. Loaded lazily. */
export const BENCHES: Record<string, () => Promise<{ default: Bench }>> = {
  memory: () => import('./memory.ts'),
  mm: () => import('./mm.ts'),
  iommu: () => import('./iommu.ts'),
  dma: () => import('./dma.ts'),
  pipeline: () => import('./pipeline.ts'),
  sys: () => import('./sys.ts'),
  c: () => import('./c.ts'),
  codec: () => import('./codec.ts'),
};
