import { IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE, iommuIovaToPhys, iommuMap, iommuMapPageList, iommuUnmap, type IommuDomain } from '../iommu/index.ts';
import type { IommuMapper } from './device.ts';

/**
 * The DMA API's view of a device's IOMMU domain (drivers/iommu/dma-iommu.c's
 * cookie): IOVA ranges from the domain's allocator, page tables through the
 * IOMMU API, which brackets every change with the SMMU driver's
 * update-start/update-done.
 */
export function iommuDmaMapper(domain: IommuDomain): IommuMapper {
  return {
    allocIova(size, limit) {
      return domain.iovad.allocRange(size, Math.min(limit, 2 ** 32) - 1);
    },
    freeIova(iova, size) {
      domain.iovad.freeRange(iova, size);
    },
    map(iova, pa, size, prot) {
      iommuMap(domain, iova, pa, size, protBits(prot));
    },
    mapPages(iova, pas, count, prot) {
      iommuMapPageList(domain, iova, pas, count, protBits(prot));
    },
    unmap(iova, size) {
      return iommuUnmap(domain, iova, size);
    },
    iovaToPhys(iova) {
      const pa = iommuIovaToPhys(domain, iova);
      return pa === 0 ? -1 : pa;
    },
  };
}

function protBits(prot: { read: boolean; write: boolean; cached: boolean }): number {
  return (prot.read ? IOMMU_READ : 0) | (prot.write ? IOMMU_WRITE : 0) | (prot.cached ? IOMMU_CACHE : 0);
}
