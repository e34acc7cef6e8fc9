import { SZ_16M, SZ_1M, SZ_4K, SZ_64K } from '../hw/index.ts';
import { KernelBug, hex, kerr } from '../lib/index.ts';
import { IommuDomain, type DomainOptions, type IommuFaultHandler } from './domain.ts';
import type { IommuDevice } from './iommu-device.ts';
import type { IoPgtableLeaf } from './io-pgtable-arm-v7s.ts';
import type { SmmuDriver, TableHalf } from './smmu-driver.ts';

const SIZES_DESC = [SZ_16M, SZ_1M, SZ_64K, SZ_4K];
const MIN_PAGE = SZ_4K;
const TOP = 2 ** 32;

/** Allocates an empty paging domain (iommu_domain_alloc); its first-level table comes from the page allocator, so ENOMEM when none is left. */
export function iommuDomainAlloc(driver: SmmuDriver, opts?: DomainOptions): IommuDomain {
  return new IommuDomain(driver, opts);
}

/**
 * Frees a domain (iommu_domain_free): pending lazy invalidations are
 * flushed, then every page-table page goes back to the allocator. KernelBug
 * while devices are attached or after a previous free.
 */
export function iommuDomainFree(domain: IommuDomain): void {
  if (domain.freed) throw new KernelBug(`${domain.name}: iommu_domain_free twice`);
  if (domain.attachments.length > 0) {
    throw new KernelBug(`${domain.name}: iommu_domain_free with ${domain.devices.map((d) => d.name).join(', ')} still attached`);
  }
  if (domain.updating) throw new KernelBug(`${domain.name}: iommu_domain_free during an update`);
  domain.fq?.flush();
  domain.pgtable.free();
  domain.iovad.put();
  domain.freed = true;
}

/**
 * Attaches a device to a domain (iommu_attach_device): its SMMU context is
 * bound and activated with the domain's page table. `half` ('low'/'high')
 * attaches to one half of a context split at 2 GiB (the VCM split
 * association); the default is the whole space. EBUSY when the device's
 * context already serves another domain there.
 */
export function iommuAttachDevice(domain: IommuDomain, dev: IommuDevice, half: TableHalf = 'whole'): void {
  alive(domain, 'iommu_attach_device');
  domain.driver.attach(domain, dev, half);
}

/** Detaches a device (iommu_detach_device); its DMA faults until it is attached again. EINVAL if not attached. */
export function iommuDetachDevice(domain: IommuDomain, dev: IommuDevice): void {
  alive(domain, 'iommu_detach_device');
  domain.driver.detach(domain, dev);
}

/** Returns the domain a device is attached to, or null (iommu_get_domain_for_dev). */
export function iommuGetDomainForDev(driver: SmmuDriver, dev: IommuDevice): IommuDomain | null {
  return driver.domainOf(dev);
}

/**
 * Sets the domain's fault handler (iommu_set_fault_handler). It runs inside
 * the faulting DMA; 'retry' resumes the transaction, 'terminate' aborts it.
 */
export function iommuSetFaultHandler(domain: IommuDomain, handler: IommuFaultHandler | null): void {
  alive(domain, 'iommu_set_fault_handler');
  domain.faultHandler = handler;
  for (const a of domain.attachments) domain.driver.refreshHandler(a.dev.ctx);
}

/**
 * The page size to use at iova/paddr for `size` bytes and how many such
 * pages to map before a bigger size becomes possible (iommu_pgsize).
 */
export function iommuPgsize(iova: number, paddr: number, size: number): { pgsize: number; count: number } {
  let pgsize = 0;
  let idx = -1;
  for (let i = 0; i < SIZES_DESC.length; i++) {
    const s = SIZES_DESC[i]!;
    if (s <= size && iova % s === 0 && paddr % s === 0) {
      pgsize = s;
      idx = i;
      break;
    }
  }
  if (pgsize === 0) throw new KernelBug(`iommu_pgsize: nothing fits iova ${hex(iova)} pa ${hex(paddr)} size ${hex(size)}`);
  let span = size;
  if (idx > 0) {
    const next = SIZES_DESC[idx - 1]!;
    // A bigger page becomes usable at the next boundary only if iova and pa share their offset in it.
    if ((iova - paddr) % next === 0) {
      const offset = next - (iova % next);
      if (offset + next <= size) span = offset;
    }
  }
  return { pgsize, count: Math.floor(span / pgsize) };
}

/**
 * Maps [iova, iova+size) to [paddr, paddr+size) with `prot` (iommu_map),
 * using the largest page sizes the alignment of both addresses allows.
 * EINVAL when not 4 KiB aligned, ERANGE outside the 32-bit spaces, EEXIST
 * when part of the range is mapped already; on failure nothing stays mapped.
 * The update is bracketed by update-start/update-done.
 */
export function iommuMap(domain: IommuDomain, iova: number, paddr: number, size: number, prot: number): void {
  alive(domain, 'iommu_map');
  if (iova % MIN_PAGE !== 0 || paddr % MIN_PAGE !== 0 || size % MIN_PAGE !== 0 || iova < 0 || paddr < 0) {
    throw kerr('EINVAL', `iommu_map: unaligned: iova ${hex(iova)} pa ${hex(paddr)} size ${hex(size)} min_pagesz ${hex(MIN_PAGE)}`);
  }
  if (size === 0) return;
  if (iova + size > TOP || paddr + size > TOP) {
    throw kerr('ERANGE', `iommu_map: iova ${hex(iova)} or pa ${hex(paddr)} + ${hex(size)} beyond the 32-bit address spaces`);
  }
  const driver = domain.driver;
  driver.updateStart(domain);
  try {
    chargeCall(domain, 'iommu-map', size);
    mapLocked(domain, iova, paddr, size, prot);
  } finally {
    driver.updateDone(domain);
  }
}

/** Charges the fixed CPU cost of one map or unmap call. */
function chargeCall(domain: IommuDomain, kind: 'iommu-map' | 'iommu-unmap', bytes: number): void {
  const d = domain.driver;
  d.costs?.charge(kind, kind === 'iommu-map' ? d.cpuCosts.mapCallNs : d.cpuCosts.unmapCallNs, bytes);
}

/** Charges the CPU cost of writing or clearing `entries` page-table entries. */
function chargeEntries(domain: IommuDomain, kind: 'iommu-map' | 'iommu-unmap', entries: number): void {
  const d = domain.driver;
  d.costs?.charge(kind, entries * (kind === 'iommu-map' ? d.cpuCosts.mapPteNs : d.cpuCosts.unmapPteNs));
}

/** Maps inside an update bracket; on failure unmaps what it mapped and rethrows. */
function mapLocked(domain: IommuDomain, iova: number, paddr: number, size: number, prot: number): void {
  let mapped = 0;
  try {
    while (mapped < size) {
      const { pgsize, count } = iommuPgsize(iova + mapped, paddr + mapped, size - mapped);
      const n = domain.pgtable.mapPages(iova + mapped, paddr + mapped, pgsize, count, prot);
      domain.stats.pagesMapped[pgsize]! += n / pgsize;
      chargeEntries(domain, 'iommu-map', n / pgsize);
      mapped += n;
    }
  } catch (e) {
    unmapLocked(domain, iova, mapped);
    throw e;
  }
  domain.stats.mapCalls++;
  domain.stats.mappedBytes += size;
}

/**
 * Unmaps [iova, iova+size) (iommu_unmap) and returns the bytes unmapped: it
 * stops at the first hole. Returns 0 without doing anything when iova or size
 * is not 4 KiB aligned. Strict domains invalidate the TLBs before returning;
 * lazy ones leave the old translations usable until the flush queue runs.
 */
export function iommuUnmap(domain: IommuDomain, iova: number, size: number): number {
  alive(domain, 'iommu_unmap');
  if (iova % MIN_PAGE !== 0 || size % MIN_PAGE !== 0 || iova < 0 || size <= 0) return 0;
  domain.driver.updateStart(domain);
  chargeCall(domain, 'iommu-unmap', size);
  const n = unmapLocked(domain, iova, size);
  domain.driver.updateDone(domain);
  domain.stats.unmapCalls++;
  domain.stats.mappedBytes -= n;
  return n;
}

/**
 * Maps a list of physical segments back to back from iova (iommu_map_sg)
 * and returns the bytes mapped; on failure everything it mapped is unmapped
 * and the error is thrown.
 */
export function iommuMapSg(domain: IommuDomain, iova: number, segs: readonly { pa: number; len: number }[], prot: number): number {
  const pages: number[] = [];
  for (const sg of segs) {
    if (sg.pa % MIN_PAGE !== 0 || sg.len % MIN_PAGE !== 0 || sg.pa < 0) {
      throw kerr('EINVAL', `iommu_map_sg: unaligned segment pa ${hex(sg.pa)} len ${hex(sg.len)}`);
    }
    for (let p = 0; p < sg.len; p += MIN_PAGE) pages.push(sg.pa + p);
  }
  return iommuMapPageList(domain, iova, pages, pages.length, prot);
}

/**
 * Maps 4 KiB pages `pas[0..count)` at consecutive IOVAs from iova, under
 * one update bracket (__iommu_map_sg syncs once at the end). Physically
 * contiguous runs of 64 KiB or more go through iommu_map's page-size
 * choice, so they get large pages, sections or supersections; the rest is
 * written one second-level table at a time. Returns the bytes mapped; on
 * failure nothing stays mapped.
 */
export function iommuMapPageList(domain: IommuDomain, iova: number, pas: ArrayLike<number>, count: number, prot: number): number {
  alive(domain, 'iommu_map_sg');
  if (iova % MIN_PAGE !== 0 || iova < 0) throw kerr('EINVAL', `iommu_map_sg: unaligned iova ${hex(iova)}`);
  if (iova + count * MIN_PAGE > TOP) throw kerr('ERANGE', `iommu_map_sg: iova ${hex(iova)} + ${count} pages beyond 4 GiB`);
  domain.driver.updateStart(domain);
  chargeCall(domain, 'iommu-map', count * MIN_PAGE);
  let i = 0;
  let small = 0;
  const flushSmall = (end: number): void => {
    if (end <= small) return;
    domain.pgtable.mapPageList(iova + small * MIN_PAGE, pas, small, end - small, prot);
    domain.stats.pagesMapped[SZ_4K]! += end - small;
    chargeEntries(domain, 'iommu-map', end - small);
    domain.stats.mappedBytes += (end - small) * MIN_PAGE;
  };
  try {
    while (i < count) {
      let j = i + 1;
      while (j < count && pas[j] === pas[j - 1]! + MIN_PAGE) j++;
      if ((j - i) * MIN_PAGE >= SZ_64K) {
        flushSmall(i);
        mapLocked(domain, iova + i * MIN_PAGE, pas[i]!, (j - i) * MIN_PAGE, prot);
        small = j;
      }
      i = j;
    }
    flushSmall(count);
  } catch (e) {
    unmapLocked(domain, iova, count * MIN_PAGE);
    domain.driver.updateDone(domain);
    throw e;
  }
  domain.stats.mapCalls++;
  domain.driver.updateDone(domain);
  return count * MIN_PAGE;
}

/** Returns the physical address iova maps to in the domain, 0 when unmapped (iommu_iova_to_phys). */
export function iommuIovaToPhys(domain: IommuDomain, iova: number): number {
  alive(domain, 'iommu_iova_to_phys');
  return domain.pgtable.iovaToPhys(iova);
}

/** Returns the leaf mapping iova (its page size, base and prot), or null; for inspection and tests. */
export function iommuMappingAt(domain: IommuDomain, iova: number): IoPgtableLeaf | null {
  alive(domain, 'iommu_mapping_at');
  return domain.pgtable.leafAt(iova);
}

/**
 * Invalidates every translation the domain's contexts cache and retires the
 * flush queue (iommu_flush_iotlb_all). KernelBug on a freed domain.
 */
export function iommuFlushIotlbAll(domain: IommuDomain): void {
  alive(domain, 'iommu_flush_iotlb_all');
  if (domain.fq) domain.fq.flush();
  else domain.driver.invalidateAll(domain);
}

/**
 * Runs `fn` once the domain's unmapped translations can no longer be used:
 * at once for a strict domain, after the next flush for a lazy one. The
 * iommu-dma layer frees IOVAs this way (queue_iova). KernelBug on a freed domain.
 */
export function iommuDeferUntilFlushed(domain: IommuDomain, fn: () => void): void {
  alive(domain, 'queue_iova');
  if (domain.fq) domain.fq.defer(fn);
  else fn();
}

function unmapLocked(domain: IommuDomain, iova: number, size: number): number {
  let done = 0;
  while (done < size) {
    const { pgsize } = iommuPgsize(iova + done, iova + done, size - done);
    const leaf = pgsize < SZ_1M ? domain.pgtable.leafAt(iova + done) : null;
    const n = domain.pgtable.unmap(iova + done, pgsize, domain.gather);
    if (n === 0) break;
    // a section-sized unmap clears one first-level entry (a section, or the table of leaves below it); below that, each leaf
    chargeEntries(domain, 'iommu-unmap', leaf ? Math.max(1, n / leaf.size) : 1);
    done += n;
  }
  return done;
}

function alive(domain: IommuDomain, call: string): void {
  if (domain.freed) throw new KernelBug(`${call}: ${domain.name} was freed`);
}
