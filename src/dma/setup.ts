import type { DmaMaster, Soc } from '../hw/index.ts';
import type { CmaArea, Mm } from '../mm/index.ts';
import { CachePolicy } from './cache-policy.ts';
import type { Device, DmaContext, IommuMapper } from './device.ts';
import { directBounceOps } from './direct-bounce.ts';
import { directOps } from './direct.ts';
import { DmaDebug } from './dma-debug.ts';
import { iommuBounceOps } from './iommu-bounce.ts';
import { iommuOps } from './iommu-ops.ts';
import type { DmaMapOps } from './ops.ts';

/** Creates the DMA layer's shared state: cache policy (calibrated now unless given) and dma-debug. */
export function createDmaContext(soc: Soc, mm: Mm, opts: { flushThreshold?: number | 'auto'; debug?: boolean } = {}): DmaContext {
  return {
    soc,
    mm,
    policy: new CachePolicy(soc.cache, opts.flushThreshold ?? 'auto'),
    debug: new DmaDebug(soc, opts.debug ?? true),
    stats: { maps: 0, unmaps: 0, syncs: 0, allocs: 0, allocBytes: 0, bounceBytes: 0, bounceMaps: 0, mappingErrors: 0 },
  };
}

/** A device's DMA parameters as a platform describes them. */
export interface DeviceDmaConfig {
  name: string;
  kind: string;
  dmaMaskBits: number;
  coherentMaskBits?: number;
  maxSegmentSize: number;
  segmentBoundary: number;
  coherent: boolean;
  needsContiguous: boolean;
  alignment: number;
  bounce: boolean;
  cma?: CmaArea | null;
  iommu?: IommuMapper | null;
}

/**
 * Picks a device's dma_map_ops from what the platform says (arch_setup_dma_ops):
 * behind an IOMMU, iommu (with bounce for untrusted/sub-page buffers when
 * asked); otherwise direct, with dmabounce when the device cannot reach all
 * of memory and the platform enables it.
 */
export function chooseDmaOps(cfg: { iommu?: IommuMapper | null; bounce: boolean }): DmaMapOps {
  if (cfg.iommu) return cfg.bounce ? iommuBounceOps : iommuOps;
  return cfg.bounce ? directBounceOps : directOps;
}

/** Creates a struct device for DMA (device_add + of_dma_configure). */
export function createDevice(ctx: DmaContext, master: DmaMaster, cfg: DeviceDmaConfig): Device {
  return {
    name: cfg.name,
    kind: cfg.kind,
    master,
    dmaMaskBits: cfg.dmaMaskBits,
    coherentMaskBits: cfg.coherentMaskBits ?? cfg.dmaMaskBits,
    maxSegmentSize: cfg.maxSegmentSize,
    segmentBoundary: cfg.segmentBoundary + 1,
    coherent: cfg.coherent,
    needsContiguous: cfg.needsContiguous,
    alignment: cfg.alignment,
    cma: cfg.cma ?? null,
    iommu: cfg.iommu ?? null,
    bounce: null,
    ops: chooseDmaOps({ iommu: cfg.iommu, bounce: cfg.bounce }),
    ctx,
    removed: false,
  };
}
