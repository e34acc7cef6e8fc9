import { SMMU_PGSIZE_BITMAP, type SmmuFaultKind } from '../hw/index.ts';
import { KernelBug } from '../lib/index.ts';
import { FlushQueue, IOVA_FQ_SIZE, IOVA_FQ_TIMEOUT_NS } from './flush-queue.ts';
import { IotlbGather } from './iotlb-gather.ts';
import type { IommuDevice } from './iommu-device.ts';
import { ArmV7sPgtable } from './io-pgtable-arm-v7s.ts';
import { IovaDomain } from './iova.ts';
import type { Attachment, SmmuDriver } from './smmu-driver.ts';

/**
 * When unmapped translations leave the TLB: 'strict' invalidates and syncs
 * before the unmap returns; 'lazy' queues them and invalidates the whole
 * TLB later (iommu.strict=0, the DMA-FQ domain type), leaving a window in
 * which devices can still use them.
 */
export type FlushMode = 'strict' | 'lazy';

/** Options of iommuDomainAlloc. */
export interface DomainOptions {
  name?: string;
  flush?: FlushMode;
  /** Lazy mode: unmaps queued before a forced flush (default 256). */
  fqSize?: number;
  /** Lazy mode: longest a queued unmap waits, in simulated ns (default 10 ms). */
  fqTimeoutNs?: number;
}

/** A fault as a domain's handler sees it (iommu_report_device_fault). */
export interface IommuFault {
  domain: IommuDomain;
  dev: IommuDevice;
  iova: number;
  write: boolean;
  kind: SmmuFaultKind;
}

/** A domain's fault handler (iommu_fault_handler_t): 'retry' after fixing the mapping, else 'terminate'. */
export type IommuFaultHandler = (fault: IommuFault) => 'retry' | 'terminate';

/** Counters of a domain. */
export interface DomainStats {
  /** Bytes currently mapped. */
  mappedBytes: number;
  mapCalls: number;
  unmapCalls: number;
  /** Leaf entries written by map, per page size. */
  pagesMapped: Record<number, number>;
  /** Unmaps whose invalidation went to the flush queue. */
  lazyUnmaps: number;
  /** Simulated ns of TLB maintenance issued for this domain. */
  tlbMaintenanceNs: number;
  faults: number;
}

/**
 * An IOMMU domain (struct iommu_domain): one I/O address space, its ARMv7
 * short-descriptor page table, its IOVA allocator and the devices attached
 * to it. Created by iommuDomainAlloc, freed by iommuDomainFree once every
 * device is detached.
 */
export class IommuDomain {
  readonly name: string;
  readonly driver: SmmuDriver;
  readonly pgtable: ArmV7sPgtable;
  /** The IOVA space (the iommu-dma cookie's iova_domain), 4 KiB granule. */
  readonly iovad: IovaDomain;
  readonly pgsizeBitmap = SMMU_PGSIZE_BITMAP;
  /** Addresses the domain can translate (domain->geometry). */
  readonly geometry = { apertureStart: 0, apertureEnd: 0xffff_ffff, forceAperture: true };
  readonly flushMode: FlushMode;
  /** The flush queue of a lazy domain, null when strict. */
  readonly fq: FlushQueue | null;
  readonly attachments: Attachment[] = [];
  readonly gather = new IotlbGather();
  readonly stats: DomainStats = {
    mappedBytes: 0,
    mapCalls: 0,
    unmapCalls: 0,
    pagesMapped: { 0x1000: 0, 0x10000: 0, 0x100000: 0, 0x1000000: 0 },
    lazyUnmaps: 0,
    tlbMaintenanceNs: 0,
    faults: 0,
  };
  faultHandler: IommuFaultHandler | null = null;
  /** Between smmu_update_start and smmu_update_done. */
  updating = false;
  freed = false;

  constructor(driver: SmmuDriver, opts: DomainOptions = {}) {
    this.driver = driver;
    this.name = opts.name ?? driver.nextDomainName();
    this.flushMode = opts.flush ?? 'strict';
    this.pgtable = new ArmV7sPgtable({
      mem: driver.mem,
      pages: driver.pages,
      cache: driver.cache,
      guard: () => {
        if (!this.updating) throw new KernelBug(`${this.name}: page table changed outside smmu_update_start/smmu_update_done`);
      },
    });
    this.iovad = new IovaDomain(4096, 1);
    this.iovad.failAlloc = driver.faults?.attr('fail_iova_alloc') ?? null;
    this.fq =
      this.flushMode === 'lazy'
        ? new FlushQueue(() => driver.invalidateAll(this), driver.clock, opts.fqSize ?? IOVA_FQ_SIZE, opts.fqTimeoutNs ?? IOVA_FQ_TIMEOUT_NS)
        : null;
  }

  /** The devices attached to the domain. */
  get devices(): IommuDevice[] {
    return this.attachments.map((a) => a.dev);
  }
}
