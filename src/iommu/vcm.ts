import type { SmmuFaultKind } from '../hw/index.ts';
import { KernelBug, alignDown, alignUp, hex, kerr } from '../lib/index.ts';
import { GenPool } from '../mm/index.ts';
import type { IommuDomain } from './domain.ts';
import { iommuAttachDevice, iommuDetachDevice, iommuDomainAlloc, iommuDomainFree } from './iommu.ts';
import { SPLIT_BOUNDARY, type TableHalf } from './smmu-driver.ts';
import { VCM_ASSOC_SPLIT, VCM_ASSOC_USE_HIGH, VCM_ASSOC_USE_LOW, reserveCacheClass, type CacheClass } from './vcm-attrs.ts';
import type { VcmDevice } from './vcm-device.ts';
import type { PhysMem } from './vcm-phys.ts';
import type { Vcmm } from './vcmm.ts';

const SZ_4K = 0x1000;
const TOP = 2 ** 32;

/**
 * What kind of address space a VCM is: a true virtual space behind an IOMMU,
 * a one-to-one space of a device that addresses memory physically, or the
 * kernel's own virtual space (the VMM VCM).
 */
export type VcmKind = 'iommu' | 'one-to-one' | 'vmm';

/**
 * A Virtual Contiguous Memory region (struct vcm): a device-visible address
 * space [start, start+len). An IOMMU VCM owns an IOMMU domain (its page
 * table) and a genalloc pool of its addresses.
 */
export class Vcm {
  readonly vcmm: Vcmm;
  readonly kind: VcmKind;
  readonly name: string;
  readonly start: number;
  readonly len: number;
  /** Address allocator of an IOMMU VCM. */
  readonly pool: GenPool | null;
  /** Page table of an IOMMU VCM. */
  readonly domain: IommuDomain | null;
  /** The external id a VMM VCM was created with. */
  readonly extId: number | null;
  readonly reservations = new Set<Reservation>();
  readonly avcms = new Set<Avcm>();
  freed = false;

  constructor(vcmm: Vcmm, kind: VcmKind, start: number, len: number, extId: number | null = null) {
    this.vcmm = vcmm;
    this.kind = kind;
    this.start = start;
    this.len = len;
    this.extId = extId;
    this.name = `vcm${vcmm.nextId()}-${kind}`;
    if (kind === 'iommu') {
      // Device addresses must be page aligned for the SMMU: the pool covers the whole pages inside the region.
      const lo = alignUp(start, SZ_4K);
      const hi = alignDown(start + len, SZ_4K);
      if (hi <= lo) throw kerr('EINVAL', `vcm_create: ${hex(start)}+${hex(len)} holds no whole page`);
      const pool = new GenPool(12, this.name);
      pool.addChunk(lo, hi - lo);
      pool.failAlloc = vcmm.driver.faults?.attr('fail_gen_pool_alloc') ?? null;
      this.pool = pool;
      this.domain = iommuDomainAlloc(vcmm.driver, { name: this.name });
    } else {
      this.pool = null;
      this.domain = null;
    }
  }
}

/** A reservation (struct res): a range of a VCM, backed by physical memory or not. */
export class Reservation {
  readonly vcm: Vcm;
  readonly len: number;
  readonly attr: number;
  readonly cacheClass: CacheClass;
  /**
   * The device address (res->dev_addr): known at vcm_reserve for IOMMU VCMs;
   * for one-to-one and VMM VCMs the address is the memory's own or the one
   * the kernel maps it at, so it is set by vcm_back and cleared by vcm_unback.
   */
  devAddr: number | null;
  /** The physical memory backing it, if any. */
  physmem: PhysMem | null = null;
  /** Bytes mapped by vcm_back (len rounded up to 4 KiB). */
  mapped = 0;
  released = false;

  constructor(vcm: Vcm, len: number, attr: number, cacheClass: CacheClass, devAddr: number | null) {
    this.vcm = vcm;
    this.len = len;
    this.attr = attr;
    this.cacheClass = cacheClass;
    this.devAddr = devAddr;
  }

  /** How the reservation reads in messages. */
  describe(): string {
    const where = this.devAddr === null ? 'unbacked' : `at ${hex(this.devAddr)}`;
    return `${this.vcm.kind} reservation of ${this.vcm.name} ${where}`;
  }
}

/** An associated VCM (struct avcm): a link between a VCM and a device, active or not. */
export class Avcm {
  readonly vcm: Vcm;
  readonly dev: VcmDevice;
  readonly attr: number;
  readonly half: TableHalf;
  active = false;
  released = false;

  constructor(vcm: Vcm, dev: VcmDevice, attr: number, half: TableHalf) {
    this.vcm = vcm;
    this.dev = dev;
    this.attr = attr;
    this.half = half;
  }
}

/**
 * Creates a VCM for [startAddr, startAddr+len) (vcm_create). When the range
 * lies inside a memory target's physical memory it is a one-to-one VCM, as
 * the VCMM matches it; otherwise an IOMMU VCM whose addresses a genalloc
 * pool hands out (only whole 4 KiB pages of the range are used). EINVAL for
 * an empty range or one beyond the 32-bit device address space.
 */
export function vcmCreate(vcmm: Vcmm, startAddr: number, len: number): Vcm {
  if (!(len > 0) || startAddr < 0 || !Number.isSafeInteger(startAddr + len)) {
    throw kerr('EINVAL', `vcm_create: bad range ${hex(startAddr)}+${hex(len)}`);
  }
  if (vcmm.targetContaining(startAddr, len)) return new Vcm(vcmm, 'one-to-one', startAddr, len);
  if (startAddr + len > TOP) throw kerr('EINVAL', `vcm_create: ${hex(startAddr)}+${hex(len)} is beyond the 32-bit IOMMU address space`);
  return new Vcm(vcmm, 'iommu', startAddr, len);
}

/** Creates a one-to-one VCM over a physical range explicitly (what vcm_create infers). */
export function vcmCreateOneToOne(vcmm: Vcmm, physAddr: number, len: number): Vcm {
  if (!(len > 0) || physAddr < 0) throw kerr('EINVAL', `vcm_create: bad range ${hex(physAddr)}+${hex(len)}`);
  return new Vcm(vcmm, 'one-to-one', physAddr, len);
}

/**
 * Creates the VMM VCM, the kernel's own virtual space (vcm_create_from_prebuilt).
 * `extVcmId` is only recorded. ENODEV when the manager has no kernel address space.
 */
export function vcmCreateFromPrebuilt(vcmm: Vcmm, extVcmId = 0): Vcm {
  if (!vcmm.vmm) throw kerr('ENODEV', 'vcm_create_from_prebuilt: no kernel address space configured');
  return new Vcm(vcmm, 'vmm', 0, TOP, extVcmId);
}

/** Frees a VCM (vcm_free). EBUSY while it has reservations or associations. */
export function vcmFree(vcm: Vcm): void {
  if (vcm.freed) throw new KernelBug(`vcm_free: ${vcm.name} freed twice`);
  if (vcm.reservations.size > 0) throw kerr('EBUSY', `vcm_free: ${vcm.name} still has ${vcm.reservations.size} reservation(s)`);
  if (vcm.avcms.size > 0) throw kerr('EBUSY', `vcm_free: ${vcm.name} is still associated with ${[...vcm.avcms].map((a) => a.dev.name).join(', ')}`);
  if (vcm.domain) iommuDomainFree(vcm.domain);
  vcm.pool?.destroy();
  vcm.freed = true;
}

/**
 * Reserves `len` bytes of a VCM with mapping attributes `attr` (vcm_reserve):
 * an IOMMU VCM takes the range from its pool, aligned to the largest SMMU
 * page size not above len so the backing can use big pages; one-to-one and
 * VMM VCMs get their address when backed. EINVAL for bad attributes or a
 * length beyond the VCM, ENOMEM when the pool has no room.
 */
export function vcmReserve(vcm: Vcm, len: number, attr: number): Reservation {
  if (vcm.freed) throw new KernelBug(`vcm_reserve: ${vcm.name} was freed`);
  const cls = reserveCacheClass(attr);
  if (!(len > 0) || len > vcm.len || !Number.isSafeInteger(len)) throw kerr('EINVAL', `vcm_reserve: length ${hex(len)} does not fit ${vcm.name} (${hex(vcm.len)})`);
  let devAddr: number | null = null;
  if (vcm.kind === 'iommu') {
    const size = alignUp(len, SZ_4K);
    const align = [0x1000000, 0x100000, 0x10000, SZ_4K].find((s) => s <= size)!;
    devAddr = vcm.pool!.tryAlloc(size, { align });
    if (devAddr === null) throw kerr('ENOMEM', `vcm_reserve: no ${hex(size)} bytes aligned to ${hex(align)} left in ${vcm.name}`);
  }
  const res = new Reservation(vcm, len, attr, cls, devAddr);
  vcm.reservations.add(res);
  return res;
}

/** Releases a reservation (vcm_unreserve). EBUSY while it is backed. */
export function vcmUnreserve(res: Reservation): void {
  if (res.released) throw new KernelBug('vcm_unreserve: reservation released twice');
  if (res.physmem) throw kerr('EBUSY', `vcm_unreserve: ${res.describe()} is still backed; vcm_unback it first`);
  const vcm = res.vcm;
  if (vcm.kind === 'iommu') vcm.pool!.free(res.devAddr!, alignUp(res.len, SZ_4K));
  vcm.reservations.delete(res);
  res.released = true;
}

/**
 * Associates a VCM with a device (vcm_assoc): IOMMU VCMs go with devices
 * behind an IOMMU, one-to-one VCMs with direct devices, the VMM VCM with the
 * CPU. VCM_ASSOC_SPLIT splits the device's space at 2 GiB; USE_HIGH/USE_LOW
 * say which half's page table this VCM is (SPLIT alone picks the half the
 * VCM lies in). A device may have many VCMs and a VCM many devices. EINVAL
 * on a mismatch, EEXIST when already associated.
 */
export function vcmAssoc(vcm: Vcm, dev: VcmDevice, attr = 0): Avcm {
  if (vcm.freed) throw new KernelBug(`vcm_assoc: ${vcm.name} was freed`);
  const want = vcm.kind === 'iommu' ? 'iommu' : vcm.kind === 'one-to-one' ? 'direct' : 'cpu';
  if (dev.kind !== want) throw kerr('EINVAL', `vcm_assoc: a ${vcm.kind} VCM needs a ${want} device; ${dev.name} is ${dev.kind}`);
  for (const a of vcm.avcms) if (a.dev === dev) throw kerr('EEXIST', `vcm_assoc: ${vcm.name} is already associated with ${dev.name}`);
  let half: TableHalf = 'whole';
  if (attr & (VCM_ASSOC_SPLIT | VCM_ASSOC_USE_HIGH | VCM_ASSOC_USE_LOW)) {
    if (vcm.kind !== 'iommu') throw kerr('EINVAL', `vcm_assoc: split associations need an IOMMU VCM`);
    if (attr & VCM_ASSOC_USE_HIGH && attr & VCM_ASSOC_USE_LOW) throw kerr('EINVAL', 'vcm_assoc: both use-high and use-low');
    const end = vcm.start + vcm.len;
    half = attr & VCM_ASSOC_USE_HIGH ? 'high' : attr & VCM_ASSOC_USE_LOW ? 'low' : vcm.start >= SPLIT_BOUNDARY ? 'high' : 'low';
    if (half === 'high' ? vcm.start < SPLIT_BOUNDARY : end > SPLIT_BOUNDARY) {
      throw kerr('EINVAL', `vcm_assoc: ${vcm.name} (${hex(vcm.start)}..${hex(end)}) does not lie in the ${half} half of the split`);
    }
  }
  const a = new Avcm(vcm, dev, attr, half);
  vcm.avcms.add(a);
  return a;
}

/** Removes an association (vcm_deassoc). EBUSY while active. */
export function vcmDeassoc(avcm: Avcm): void {
  if (avcm.released) throw new KernelBug('vcm_deassoc: association removed twice');
  if (avcm.active) throw kerr('EBUSY', `vcm_deassoc: ${avcm.vcm.name} is active on ${avcm.dev.name}; vcm_deactivate first`);
  avcm.vcm.avcms.delete(avcm);
  avcm.released = true;
}

/**
 * Activates an association (vcm_activate): for an IOMMU device this binds its
 * context and programs the VCM's page table as its TTBR (or the TTBR of its
 * half); one-to-one and VMM mappings are always live, activation only
 * counts. EBUSY when already active or when the device's context already
 * runs another VCM there.
 */
export function vcmActivate(avcm: Avcm): void {
  if (avcm.released) throw new KernelBug('vcm_activate: association was removed');
  if (avcm.active) throw kerr('EBUSY', `vcm_activate: ${avcm.vcm.name} is already active on ${avcm.dev.name}`);
  if (avcm.dev.kind === 'iommu') iommuAttachDevice(avcm.vcm.domain!, avcm.dev, avcm.half);
  avcm.active = true;
}

/** Deactivates an association (vcm_deactivate): the IOMMU device's DMA faults from now on. EINVAL if not active. */
export function vcmDeactivate(avcm: Avcm): void {
  if (!avcm.active) throw kerr('EINVAL', `vcm_deactivate: ${avcm.vcm.name} is not active on ${avcm.dev.name}`);
  if (avcm.dev.kind === 'iommu') iommuDetachDevice(avcm.vcm.domain!, avcm.dev);
  avcm.active = false;
}

/** A fault as a vcm_hook handler sees it. */
export interface VcmFault {
  dev: VcmDevice;
  iova: number;
  write: boolean;
  kind: SmmuFaultKind;
}

/**
 * A VCM fault handler: true (or 1) to have the transaction retried after
 * fixing the mapping, false (or 0) to terminate it. `data` is what was
 * passed to vcm_hook.
 */
export type VcmHandler = (fault: VcmFault, data: unknown) => boolean | number;

/**
 * Registers a fault handler for a device (vcm_hook), ahead of any other;
 * null removes it, and the SMMU driver's default (warn and terminate)
 * applies again. EINVAL for a device without an IOMMU: it cannot fault.
 */
export function vcmHook(vcmm: Vcmm, dev: VcmDevice, handler: VcmHandler | null, data?: unknown): void {
  if (dev.kind !== 'iommu') throw kerr('EINVAL', `vcm_hook: ${dev.name} has no IOMMU to fault`);
  vcmm.driver.hookInterrupt(
    dev.ctx,
    handler ? (f) => (handler({ dev, iova: f.iova, write: f.write, kind: f.kind }, data) ? 'retry' : 'terminate') : null,
  );
}
