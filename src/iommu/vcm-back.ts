import type { MemType } from '../hw/index.ts';
import { KernelBug, alignUp, hex, kerr } from '../lib/index.ts';
import { iommuMap, iommuUnmap } from './iommu.ts';
import { IOMMU_SHARED } from './prot.ts';
import { cacheClassName, reserveProt, type CacheClass } from './vcm-attrs.ts';
import type { PhysMem } from './vcm-phys.ts';
import type { Reservation } from './vcm.ts';

const PAGE = 0x1000;

/** The CPU memory type a VMM mapping of a cache class gets. */
function cpuMemType(c: CacheClass): MemType {
  return c === 'nc' ? 'wc' : c === 'wt' ? 'wt' : 'wb';
}

/**
 * Backs a reservation with physical memory (vcm_back). IOMMU reservations
 * map every chunk with the largest SMMU page size its alignment allows; a
 * one-to-one reservation takes the memory's own address (it must be
 * contiguous and inside the VCM); a VMM reservation maps the pages into the
 * kernel's vmalloc area with the matching CPU memory type.
 *
 * The aliasing rule: a physical page must never be mapped with a different
 * memory type, cacheability or shareability than any other mapping of it.
 * EINVAL, naming the mapping it would conflict with, when another
 * reservation maps the memory with another cache policy, or when the
 * reservation is not write-back cacheable and the CPU still has a cacheable
 * mapping of the memory it did not get from the VCM (the kernel's linear
 * map): such an alias, used or not, can be speculatively prefetched into the
 * cache and silently corrupt what the uncached view sees. Memory mapped in
 * more than one space is marked shareable, and all its IOMMU mappings carry
 * the shareable attribute.
 *
 * EBUSY when the reservation is already backed, EINVAL when the memory is
 * smaller than the reservation.
 */
export function vcmBack(res: Reservation, physmem: PhysMem): void {
  if (res.released) throw new KernelBug('vcm_back: reservation was released');
  if (physmem.freed) throw new KernelBug('vcm_back: physmem was freed');
  if (res.physmem) throw kerr('EBUSY', `vcm_back: ${res.describe()} is already backed`);
  const len = alignUp(res.len, PAGE);
  if (len > physmem.size) throw kerr('EINVAL', `vcm_back: ${hex(res.len)}-byte reservation, only ${hex(physmem.size)} bytes of memory`);
  checkAliasing(res, physmem, len);
  const vcm = res.vcm;
  const shared = physmem.backings.size > 0;
  switch (vcm.kind) {
    case 'iommu': {
      mapIommu(res, physmem, len, reserveProt(res.attr) | (shared ? IOMMU_SHARED : 0));
      break;
    }
    case 'one-to-one': {
      const base = physmem.base;
      if (!physmem.contiguous) throw kerr('EINVAL', `vcm_back: a one-to-one reservation needs physically contiguous memory`);
      if (base < vcm.start || base + len > vcm.start + vcm.len) {
        throw kerr('EINVAL', `vcm_back: memory at ${hex(base)}+${hex(len)} lies outside one-to-one ${vcm.name} (${hex(vcm.start)}+${hex(vcm.len)})`);
      }
      res.devAddr = base;
      break;
    }
    case 'vmm': {
      res.devAddr = vcm.vcmm.vmm!.vmap(physmem.pfns(len), cpuMemType(res.cacheClass));
      break;
    }
  }
  res.physmem = physmem;
  res.mapped = len;
  physmem.backings.add(res);
  if (shared && !physmem.shareable) {
    physmem.shareable = true;
    for (const other of physmem.backings) {
      if (other !== res && other.vcm.kind === 'iommu') {
        iommuUnmap(other.vcm.domain!, other.devAddr!, other.mapped);
        mapIommu(other, physmem, other.mapped, reserveProt(other.attr) | IOMMU_SHARED);
      }
    }
  }
}

/**
 * Removes a reservation's backing (vcm_unback): IOMMU mappings are unmapped
 * (and their TLB entries invalidated), a VMM mapping is vunmapped. EINVAL
 * when it is not backed.
 */
export function vcmUnback(res: Reservation): void {
  const physmem = res.physmem;
  if (!physmem) throw kerr('EINVAL', `vcm_unback: ${res.describe()} is not backed`);
  const vcm = res.vcm;
  if (vcm.kind === 'iommu') {
    const n = iommuUnmap(vcm.domain!, res.devAddr!, res.mapped);
    if (n !== res.mapped) throw new KernelBug(`vcm_unback: unmapped ${hex(n)} of ${hex(res.mapped)} bytes at ${hex(res.devAddr!)}`);
  } else {
    if (vcm.kind === 'vmm') vcm.vcmm.vmm!.vunmap(res.devAddr!);
    res.devAddr = null;
  }
  physmem.backings.delete(res);
  res.physmem = null;
  res.mapped = 0;
}

function mapIommu(res: Reservation, physmem: PhysMem, len: number, prot: number): void {
  const domain = res.vcm.domain!;
  const at = res.devAddr!;
  let done = 0;
  try {
    physmem.forEachChunk(len, (pa, n, off) => {
      iommuMap(domain, at + off, pa, n, prot);
      done = off + n;
    });
  } catch (e) {
    if (done > 0) iommuUnmap(domain, at, done);
    throw e;
  }
}

/** Throws EINVAL when backing `res` with `physmem` would create a conflicting alias. */
function checkAliasing(res: Reservation, physmem: PhysMem, len: number): void {
  const cls = res.cacheClass;
  const what = `${hex(physmem.base)}+${hex(len)}`;
  for (const other of physmem.backings) {
    if (other.cacheClass !== cls) {
      throw kerr(
        'EINVAL',
        `vcm_back: ${res.describe()} would map ${what} ${cacheClassName(cls)}, but ${other.describe()} maps it ${cacheClassName(other.cacheClass)}; aliases must agree on memory type and cacheability`,
      );
    }
  }
  if (cls === 'wb') return; // the kernel's own cacheable mappings are write-back too
  const cpu = res.vcm.vcmm.cpu;
  // Cacheable CPU mappings this memory already has through the VMM VCM are ours; any other is foreign.
  const ownLens = [...physmem.backings].filter((b) => b.vcm.kind === 'vmm' && b.cacheClass !== 'nc').map((b) => b.mapped);
  let culprit = -1;
  physmem.forEachChunk(len, (pa, n, off) => {
    if (culprit >= 0) return;
    if (ownLens.length === 0 && !cpu.hasCacheableAlias(pa, n)) return;
    for (let p = 0; p < n; p += PAGE) {
      let mine = 0;
      for (const l of ownLens) if (off + p < l) mine++;
      if (cpu.cacheableMappings(pa + p) > mine) {
        culprit = pa + p;
        return;
      }
    }
  });
  if (culprit < 0) return;
  const vmm = res.vcm.vcmm.vmm;
  const pfn = culprit / PAGE;
  const linear = vmm?.isLowmem?.(pfn) && (vmm.hasLinearAlias?.(pfn) ?? true) && vmm.pfnToVirt;
  const alias = linear ? `the kernel's cacheable linear map at ${hex(vmm!.pfnToVirt!(pfn))}` : 'a cacheable CPU mapping outside the VCM';
  throw kerr(
    'EINVAL',
    `vcm_back: ${res.describe()} would map ${what} ${cacheClassName(cls)}, but page ${hex(culprit)} is also mapped by ${alias}; speculative prefetch through that alias would corrupt the ${cacheClassName(cls)} view`,
  );
}
