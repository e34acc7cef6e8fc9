import type { DmaMaster, SmmuContext } from '../hw/index.ts';

/**
 * A device behind an IOMMU, as the IOMMU API sees it: its DMA port and the
 * SMMU context its transactions go through (what the kernel finds through
 * the device's iommus property), and the highest bus address it can drive.
 */
export interface IommuDevice {
  readonly kind: 'iommu';
  readonly name: string;
  readonly master: DmaMaster;
  readonly ctx: SmmuContext;
  /** DMA mask: highest bus address the device can drive (inclusive). */
  dmaMask: number;
}

/**
 * Describes a device whose DMA goes through `ctx` and routes the master's
 * transactions there (of_iommu_configure + the SMR/stream-ID setup): from
 * now on its bus addresses are IOVAs, and they fault until a domain is
 * attached.
 */
export function iommuDevice(name: string, master: DmaMaster, ctx: SmmuContext, dmaMask = 0xffff_ffff): IommuDevice {
  ctx.connect(master);
  return { kind: 'iommu', name, master, ctx, dmaMask };
}
