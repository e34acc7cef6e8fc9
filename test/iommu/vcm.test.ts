import { describe, expect, it } from 'vitest';
import { DmaFault, Smmu, Soc } from '../../src/hw/index.ts';
import { SmmuDriver, iommuDevice, iommuMappingAt } from '../../src/iommu/index.ts';
import {
  VCM_ASSOC_USE_HIGH,
  VCM_ASSOC_USE_LOW,
  VCM_NOTCACHED,
  VCM_PHYS_4K,
  VCM_PHYS_CONT,
  VCM_READ,
  VCM_WB_NWA,
  VCM_WB_WA,
  VCM_WRITE,
  VCM_WT,
  vcmAlign,
} from '../../src/iommu/vcm-attrs.ts';
import { Vcmm } from '../../src/iommu/vcmm.ts';
import { cpuDevice, directDevice } from '../../src/iommu/vcm-device.ts';
import { IOMMU_SHARED } from '../../src/iommu/prot.ts';
import {
  vcmActivate,
  vcmAssoc,
  vcmCreate,
  vcmCreateFromPrebuilt,
  vcmDeactivate,
  vcmDeassoc,
  vcmFree,
  vcmHook,
  vcmReserve,
  vcmUnreserve,
  type Avcm,
  type Reservation,
} from '../../src/iommu/vcm.ts';
import { vcmBack, vcmUnback } from '../../src/iommu/vcm-back.ts';
import { vcmPhysAlloc, vcmPhysFree } from '../../src/iommu/vcm-phys.ts';
import { KernelError, MiB } from '../../src/lib/index.ts';
import { bootMm } from '../../src/mm/index.ts';
import { DRAM, pattern, sameBytes } from './helpers.ts';

const RW = VCM_READ | VCM_WRITE;
const SZ_1K = 0x400;
const SZ_4K = 0x1000;
const SZ_64K = 0x10000;
const SZ_2M = 2 * MiB;
const SZ_16M = 16 * MiB;
/** Memory targets: 16 MiB of block pools and 8 MiB contiguous in lowmem, 4 MiB contiguous with no linear map. */
const BLOCKS = DRAM + 16 * MiB;
const CONTIG = DRAM + 32 * MiB;
const NOMAP = DRAM + 48 * MiB;

/**
 * A booted system: real mm (page allocator for the page tables, kernel
 * address space for the VMM VCM), one SMMU with camera and ISP behind it, a
 * display that addresses memory physically, and three memory targets.
 */
function system(prefetchProbability = 0) {
  const soc = new Soc({
    seed: 11,
    banks: [{ name: 'dram', base: DRAM, size: 64 * MiB, kind: 'dram' }],
    cache: { size: 64 * 1024, ways: 4, lineSize: 64 },
    prefetchProbability,
    masters: [
      { name: 'cam', coherent: false, bandwidth: 1e9, latencyNs: 100 },
      { name: 'isp', coherent: false, bandwidth: 1e9, latencyNs: 100 },
      { name: 'disp', coherent: false, bandwidth: 1e9, latencyNs: 100 },
    ],
  });
  const mm = bootMm(soc, {
    vmalloc: 64 * MiB,
    reserved: [
      { name: 'vcm-blocks', base: BLOCKS, size: 16 * MiB },
      { name: 'vcm-contig', base: CONTIG, size: 8 * MiB },
      { name: 'vcm-nomap', base: NOMAP, size: 4 * MiB, nomap: true },
    ],
  });
  const smmu = new Smmu(soc, { name: 'smmu0', contexts: 4, tlbEntries: 64, walkNs: 150 });
  const driver = new SmmuDriver({ mem: soc.mem, pages: mm.pages, cache: soc.cache, clock: soc.clock });
  driver.addSmmu(smmu);
  const vcmm = new Vcmm({
    driver,
    cpu: soc.cpu,
    vmm: mm.kas,
    targets: [
      { name: 'blocks', blocks: { base: BLOCKS, count1M: 8, count64K: 64, count4K: 1024 } },
      { name: 'ebi', contiguous: { base: CONTIG, size: 8 * MiB } },
      { name: 'nomap', contiguous: { base: NOMAP, size: 4 * MiB } },
    ],
  });
  const cam = iommuDevice('cam', soc.master('cam'), smmu.context(0));
  const isp = iommuDevice('isp', soc.master('isp'), smmu.context(1));
  const disp = directDevice('disp', soc.master('disp'));
  const cpu = cpuDevice(soc.cpu);
  return { soc, mm, smmu, driver, vcmm, cam, isp, disp, cpu };
}

function errno(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return e instanceof KernelError ? e.code : String(e);
  }
  return 'ok';
}

describe('VCM API', () => {
  it("runs the document's triple mapping: IOMMU, one-to-one and VMM views of one 2 MiB + 4 KiB buffer", () => {
    const { soc, mm, vcmm, cam, disp, cpu } = system();
    const freeBefore = mm.pages.freeCount();
    const len = SZ_2M + SZ_4K;

    const physmem = vcmPhysAlloc(vcmm, 'ebi', len, VCM_PHYS_CONT);
    expect(physmem.contiguous).toBe(true);
    expect(physmem.base % MiB).toBe(0);

    const vcmIommu = vcmCreate(vcmm, SZ_1K, SZ_16M);
    const vcmOne = vcmCreate(vcmm, physmem.base, physmem.size);
    const vcmVmm = vcmCreateFromPrebuilt(vcmm, 0);
    expect([vcmIommu.kind, vcmOne.kind, vcmVmm.kind]).toEqual(['iommu', 'one-to-one', 'vmm']);

    const avcms: Avcm[] = [vcmAssoc(vcmIommu, cam), vcmAssoc(vcmOne, disp), vcmAssoc(vcmVmm, cpu)];
    for (const a of avcms) vcmActivate(a);

    const resIommu = vcmReserve(vcmIommu, len, RW);
    const resOne = vcmReserve(vcmOne, len, RW);
    const resVmm = vcmReserve(vcmVmm, len, RW);
    const all: Reservation[] = [resIommu, resOne, resVmm];
    for (const r of all) vcmBack(r, physmem);

    // The IOMMU view uses two sections and one small page, all shareable now.
    const iova = resIommu.devAddr!;
    expect(iova % MiB).toBe(0);
    const dom = vcmIommu.domain!;
    expect(iommuMappingAt(dom, iova)?.size).toBe(MiB);
    expect(iommuMappingAt(dom, iova + MiB)?.size).toBe(MiB);
    expect(iommuMappingAt(dom, iova + SZ_2M)?.size).toBe(SZ_4K);
    expect(iommuMappingAt(dom, iova)!.prot & IOMMU_SHARED).toBe(IOMMU_SHARED);
    expect(physmem.shareable).toBe(true);
    expect(resOne.devAddr).toBe(physmem.base);
    expect(resVmm.devAddr).toBeGreaterThanOrEqual(mm.kas.layout.vmallocStart);

    // The CPU has the first page cached (it read it before the device wrote).
    const early = new Uint8Array(SZ_4K);
    mm.kas.load(resVmm.devAddr!, early, 0, SZ_4K);

    const data = pattern(len, 7);
    cam.master.writeNow(iova, data);
    const viaOne = new Uint8Array(len);
    disp.master.readNow(resOne.devAddr!, viaOne);
    expect(sameBytes(viaOne, data)).toBe(true);

    // Without maintenance the CPU sees its stale lines; after invalidating, the device's bytes.
    const stale = new Uint8Array(SZ_4K);
    mm.kas.load(resVmm.devAddr!, stale, 0, SZ_4K);
    expect(sameBytes(stale, data.subarray(0, SZ_4K))).toBe(false);
    soc.cache.invalidateRange(physmem.base, len);
    const viaCpu = new Uint8Array(len);
    mm.kas.load(resVmm.devAddr!, viaCpu, 0, len);
    expect(sameBytes(viaCpu, data)).toBe(true);

    // Tear down in reverse; everything goes back.
    expect(errno(() => vcmPhysFree(physmem))).toBe('EBUSY');
    for (const r of all) {
      vcmUnback(r);
      vcmUnreserve(r);
    }
    for (const a of avcms) {
      vcmDeactivate(a);
      vcmDeassoc(a);
    }
    for (const v of [vcmIommu, vcmOne, vcmVmm]) vcmFree(v);
    vcmPhysFree(physmem);
    expect(mm.kas.vmallocUsed()).toBe(0);
    expect(mm.pages.freeCount()).toBe(freeBefore);
    expect(soc.findings.findings).toEqual([]);
  });

  it('refuses aliases with another cache policy, naming the existing mapping', () => {
    const { vcmm, cam, cpu } = system();
    const vcmIommu = vcmCreate(vcmm, 0x1000_0000, SZ_16M);
    const vcmVmm = vcmCreateFromPrebuilt(vcmm);
    vcmActivate(vcmAssoc(vcmIommu, cam));
    vcmActivate(vcmAssoc(vcmVmm, cpu));

    // Lowmem memory keeps its cacheable linear map: a non-cacheable view is refused.
    const lowmem = vcmPhysAlloc(vcmm, 'ebi', SZ_64K, VCM_PHYS_CONT);
    const nc = vcmReserve(vcmIommu, SZ_64K, RW | VCM_NOTCACHED);
    let msg = '';
    try {
      vcmBack(nc, lowmem);
    } catch (e) {
      expect((e as KernelError).code).toBe('EINVAL');
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/would map 0x82000000\+0x00010000 non-cacheable, but page 0x82000000 is also mapped by the kernel's cacheable linear map at 0xc2000000/);
    expect(nc.physmem).toBeNull();
    expect(lowmem.backings.size).toBe(0);
    // Write-through conflicts with the write-back linear map as well; write-back is fine.
    expect(errno(() => vcmBack(vcmReserve(vcmIommu, SZ_64K, RW | VCM_WT), lowmem))).toBe('EINVAL');
    const wb = vcmReserve(vcmIommu, SZ_64K, RW | VCM_WB_WA);
    vcmBack(wb, lowmem);

    // Another VCM mapping of the same memory must agree with it; allocation hints may differ.
    const vmmNc = vcmReserve(vcmVmm, SZ_64K, RW | VCM_NOTCACHED);
    expect(() => vcmBack(vmmNc, lowmem)).toThrow(/iommu reservation of vcm\d+-iommu at 0x1[0-9a-f]{7} maps it write-back cacheable/);
    vcmBack(vcmReserve(vcmVmm, SZ_64K, RW | VCM_WB_NWA), lowmem);
    expect(lowmem.shareable).toBe(true);

    // Memory without a linear map may be used uncached, by the device and the CPU alike.
    const nomap = vcmPhysAlloc(vcmm, 'nomap', SZ_64K, VCM_PHYS_CONT);
    vcmBack(nc, nomap);
    vcmBack(vmmNc, nomap);
    // ...but then not cacheable by anyone else.
    expect(() => vcmBack(vcmReserve(vcmIommu, SZ_64K, RW), nomap)).toThrow(/maps it non-cacheable/);
    // The VCM's own cacheable CPU mapping is not a foreign alias: write-through on both sides is fine.
    const wtMem = vcmPhysAlloc(vcmm, 'nomap', SZ_64K, VCM_PHYS_CONT);
    vcmBack(vcmReserve(vcmVmm, SZ_64K, RW | VCM_WT), wtMem);
    vcmBack(vcmReserve(vcmIommu, SZ_64K, RW | VCM_WT), wtMem);
    expect(wtMem.backings.size).toBe(2);
  });

  it('without the rule: an uncached view of a page with a cacheable alias reads corrupted data', () => {
    const { soc, mm, vcmm, cam, cpu } = system(1);
    const vcmIommu = vcmCreate(vcmm, 0x1000_0000, SZ_16M);
    const vcmVmm = vcmCreateFromPrebuilt(vcmm);
    vcmActivate(vcmAssoc(vcmIommu, cam));
    vcmActivate(vcmAssoc(vcmVmm, cpu));
    const run = (pa: number, readUncached: (dst: Uint8Array) => void, iova: number): boolean => {
      const first = new Uint8Array(SZ_4K);
      readUncached(first); // the CPU polls the buffer
      const data = pattern(SZ_4K, 3);
      cam.master.writeNow(iova, data); // the device fills it
      const after = new Uint8Array(SZ_4K);
      readUncached(after); // uncached: no maintenance needed, supposedly
      void pa;
      return sameBytes(after, data);
    };

    // What the rule prevents: lowmem has the linear map's cacheable alias. Map
    // it for the device through the VCM (write-back is allowed) and read it
    // on the CPU the way an uncached second mapping (ioremap-style) would.
    const lowmem = vcmPhysAlloc(vcmm, 'ebi', SZ_4K, VCM_PHYS_CONT);
    const resDev = vcmReserve(vcmIommu, SZ_4K, RW);
    vcmBack(resDev, lowmem);
    const pa = lowmem.base;
    expect(soc.cpu.cacheableMappings(pa)).toBe(1);
    const prefetchesBefore = soc.cpu.aliasPrefetches;
    const okWithAlias = run(pa, (dst) => soc.cpu.load(pa, dst, 0, SZ_4K, 'wc'), resDev.devAddr!);
    expect(soc.cpu.aliasPrefetches).toBeGreaterThan(prefetchesBefore);
    expect(soc.cache.stats.mismatchedHits).toBeGreaterThan(0);
    expect(okWithAlias).toBe(false);
    // The VCM refuses to create that uncached CPU view.
    expect(errno(() => vcmBack(vcmReserve(vcmVmm, SZ_4K, RW | VCM_NOTCACHED), lowmem))).toBe('EINVAL');

    // With memory that has no cacheable alias the same sequence is correct.
    const clean = vcmPhysAlloc(vcmm, 'nomap', SZ_4K, VCM_PHYS_CONT);
    const resDev2 = vcmReserve(vcmIommu, SZ_4K, RW | VCM_NOTCACHED);
    const resCpu2 = vcmReserve(vcmVmm, SZ_4K, RW | VCM_NOTCACHED);
    vcmBack(resDev2, clean);
    vcmBack(resCpu2, clean);
    const okClean = run(clean.base, (dst) => mm.kas.load(resCpu2.devAddr!, dst, 0, SZ_4K), resDev2.devAddr!);
    expect(okClean).toBe(true);
  });

  it('allocates from 1 MiB, 64 KiB and 4 KiB pools largest first, and maps each block with its own page size', () => {
    const { soc, vcmm, cam } = system();
    const t = vcmm.targets.get('blocks')!;
    const len = MiB + 3 * SZ_64K + 2 * SZ_4K + 100;
    const pm = vcmPhysAlloc(vcmm, 'blocks', len);
    expect(Array.from(pm.sizes)).toEqual([MiB, SZ_64K, SZ_64K, SZ_64K, SZ_4K, SZ_4K, SZ_4K]);
    expect(pm.size).toBe(MiB + 3 * SZ_64K + 3 * SZ_4K);
    const vcm = vcmCreate(vcmm, 0x2000_0000, SZ_16M);
    vcmActivate(vcmAssoc(vcm, cam));
    const res = vcmReserve(vcm, len, RW);
    vcmBack(res, pm);
    const at = res.devAddr!;
    expect(iommuMappingAt(vcm.domain!, at)?.size).toBe(MiB);
    expect(iommuMappingAt(vcm.domain!, at + MiB)?.size).toBe(SZ_64K);
    expect(iommuMappingAt(vcm.domain!, at + MiB + 3 * SZ_64K)?.size).toBe(SZ_4K);
    expect(vcm.domain!.stats.pagesMapped).toEqual({ 0x1000: 3, 0x10000: 3, 0x100000: 1, 0x1000000: 0 });
    // The device sees one contiguous buffer over scattered blocks.
    const data = pattern(len, 9);
    cam.master.writeNow(at, data);
    let off = 0;
    for (let i = 0; i < pm.chunks; i++) {
      const n = Math.min(pm.sizes[i]!, len - off);
      expect(sameBytes(soc.mem.readBytes(pm.pas[i]!, n), data.subarray(off, off + n))).toBe(true);
      off += n;
    }

    // Once the 1 MiB blocks are gone, 64 KiB blocks stand in; blocks are never split.
    const big = vcmPhysAlloc(vcmm, 'blocks', 7 * MiB);
    expect(t.freeBlocks(MiB)).toBe(0);
    const more = vcmPhysAlloc(vcmm, 'blocks', MiB);
    expect(Array.from(more.sizes)).toEqual(new Array(16).fill(SZ_64K));
    // Only 4 KiB blocks allowed, or 64 KiB alignment asked for.
    expect(Array.from(vcmPhysAlloc(vcmm, 'blocks', 3 * SZ_4K, VCM_PHYS_4K).sizes)).toEqual([SZ_4K, SZ_4K, SZ_4K]);
    expect(Array.from(vcmPhysAlloc(vcmm, 'blocks', SZ_4K, vcmAlign(SZ_64K)).sizes)).toEqual([SZ_64K]);
    // Too much: ENOMEM, and nothing stays taken.
    const free4k = t.freeBlocks(SZ_4K);
    const free64k = t.freeBlocks(SZ_64K);
    expect(errno(() => vcmPhysAlloc(vcmm, 'blocks', 16 * MiB))).toBe('ENOMEM');
    expect([t.freeBlocks(SZ_4K), t.freeBlocks(SZ_64K)]).toEqual([free4k, free64k]);
    vcmPhysFree(big);
    expect(t.freeBlocks(MiB)).toBe(7);
    expect(errno(() => vcmPhysAlloc(vcmm, 'nope', SZ_4K))).toBe('ENODEV');
  });

  it('big blocks keep the shared TLB from thrashing (the reason for the pools)', () => {
    const { smmu, vcmm, cam } = system();
    const vcm = vcmCreate(vcmm, 0x1000_0000, 64 * MiB);
    vcmActivate(vcmAssoc(vcm, cam));
    const misses = (attr: number): number => {
      const pm = vcmPhysAlloc(vcmm, 'blocks', 4 * MiB, attr);
      const res = vcmReserve(vcm, 4 * MiB, RW);
      vcmBack(res, pm);
      const before = smmu.stats.tlbMisses;
      cam.master.readNow(res.devAddr!, new Uint8Array(4 * MiB));
      const n = smmu.stats.tlbMisses - before;
      vcmUnback(res);
      vcmUnreserve(res);
      vcmPhysFree(pm);
      return n;
    };
    expect(misses(0)).toBe(4);
    expect(misses(VCM_PHYS_4K)).toBe(1024);
  });

  it('enforces the object life cycle with EBUSY/EINVAL', () => {
    const { vcmm, cam, disp, cpu } = system();
    const vcm = vcmCreate(vcmm, 0x1000_0000, SZ_16M);
    expect(errno(() => vcmAssoc(vcm, disp))).toBe('EINVAL');
    expect(errno(() => vcmAssoc(vcm, cpu))).toBe('EINVAL');
    const a = vcmAssoc(vcm, cam);
    expect(errno(() => vcmAssoc(vcm, cam))).toBe('EEXIST');
    vcmActivate(a);
    expect(errno(() => vcmActivate(a))).toBe('EBUSY');
    expect(errno(() => vcmDeassoc(a))).toBe('EBUSY');
    expect(errno(() => vcmReserve(vcm, SZ_4K, 0))).toBe('EINVAL');
    expect(errno(() => vcmReserve(vcm, SZ_4K, RW | VCM_WT | VCM_NOTCACHED))).toBe('EINVAL');
    expect(errno(() => vcmReserve(vcm, 32 * MiB, RW))).toBe('EINVAL');
    const r1 = vcmReserve(vcm, 12 * MiB, RW);
    expect(errno(() => vcmReserve(vcm, 8 * MiB, RW))).toBe('ENOMEM');
    const pm = vcmPhysAlloc(vcmm, 'blocks', 4 * MiB);
    expect(errno(() => vcmBack(r1, pm))).toBe('EINVAL'); // memory smaller than the reservation
    const r2 = vcmReserve(vcm, 4 * MiB, RW);
    vcmBack(r2, pm);
    expect(errno(() => vcmBack(r2, pm))).toBe('EBUSY');
    expect(errno(() => vcmUnreserve(r2))).toBe('EBUSY');
    expect(errno(() => vcmFree(vcm))).toBe('EBUSY');
    // A one-to-one VCM needs contiguous memory inside it.
    const one = vcmCreate(vcmm, BLOCKS, 16 * MiB);
    expect(one.kind).toBe('one-to-one');
    const oa = vcmAssoc(one, disp);
    vcmActivate(oa);
    const ro = vcmReserve(one, SZ_4K, RW);
    const page = vcmPhysAlloc(vcmm, 'blocks', SZ_4K, VCM_PHYS_4K);
    vcmBack(ro, page);
    expect(ro.devAddr).toBe(page.base);
    const scattered = vcmPhysAlloc(vcmm, 'blocks', 2 * SZ_64K + SZ_4K);
    expect(scattered.contiguous).toBe(false); // two 64 KiB blocks and a 4 KiB one from another pool
    expect(errno(() => vcmBack(vcmReserve(one, scattered.size, RW), scattered))).toBe('EINVAL');
    expect(errno(() => vcmBack(vcmReserve(one, SZ_4K, RW), vcmPhysAlloc(vcmm, 'ebi', SZ_4K, VCM_PHYS_CONT)))).toBe('EINVAL');
    vcmUnback(r2);
    vcmUnreserve(r2);
    vcmUnreserve(r1);
    vcmDeactivate(a);
    expect(errno(() => vcmDeactivate(a))).toBe('EINVAL');
    vcmDeassoc(a);
    vcmFree(vcm);
  });

  it('is many-to-many: one VCM on two devices, two VCMs split on one device', () => {
    const { soc, vcmm, cam, isp } = system();
    const shared = vcmCreate(vcmm, 0x1000_0000, SZ_16M);
    vcmActivate(vcmAssoc(shared, cam));
    vcmActivate(vcmAssoc(shared, isp));
    const pm = vcmPhysAlloc(vcmm, 'blocks', SZ_64K);
    const r = vcmReserve(shared, SZ_64K, RW);
    vcmBack(r, pm);
    cam.master.writeNow(r.devAddr!, pattern(SZ_64K, 1));
    const seen = new Uint8Array(SZ_64K);
    isp.master.readNow(r.devAddr!, seen);
    expect(sameBytes(seen, pattern(SZ_64K, 1))).toBe(true);
    vcmUnback(r);
    expect(() => isp.master.readNow(r.devAddr!, seen)).toThrow(DmaFault);

    // A second device with a low and a high VCM at once.
    const lowVcm = vcmCreate(vcmm, 0x0010_0000, SZ_16M);
    const highVcm = vcmCreate(vcmm, 0x8000_0000, SZ_16M);
    expect(errno(() => vcmAssoc(lowVcm, isp, VCM_ASSOC_USE_HIGH))).toBe('EINVAL');
    const lowA = vcmAssoc(lowVcm, isp, VCM_ASSOC_USE_LOW);
    const highA = vcmAssoc(highVcm, isp, VCM_ASSOC_USE_HIGH);
    // isp is already running `shared` over its whole space.
    expect(errno(() => vcmActivate(lowA))).toBe('EBUSY');
    for (const a of [...shared.avcms].filter((x) => x.dev === isp)) {
      vcmDeactivate(a);
      vcmDeassoc(a);
    }
    vcmActivate(lowA);
    vcmActivate(highA);
    const pLow = vcmPhysAlloc(vcmm, 'blocks', SZ_4K, VCM_PHYS_4K);
    const pHigh = vcmPhysAlloc(vcmm, 'blocks', SZ_4K, VCM_PHYS_4K);
    const rLow = vcmReserve(lowVcm, SZ_4K, RW);
    const rHigh = vcmReserve(highVcm, SZ_4K, RW);
    vcmBack(rLow, pLow);
    vcmBack(rHigh, pHigh);
    isp.master.writeNow(rLow.devAddr!, new Uint8Array([1]));
    isp.master.writeNow(rHigh.devAddr!, new Uint8Array([2]));
    expect(soc.mem.readBytes(pLow.base, 1)[0]).toBe(1);
    expect(soc.mem.readBytes(pHigh.base, 1)[0]).toBe(2);
  });

  it('hooks device faults: a handler can back memory on demand; without one the SMMU warns and terminates', () => {
    const { soc, smmu, vcmm, cam } = system();
    const vcm = vcmCreate(vcmm, 0x1000_0000, SZ_16M);
    vcmActivate(vcmAssoc(vcm, cam));
    const res = vcmReserve(vcm, SZ_64K, RW);
    const pm = vcmPhysAlloc(vcmm, 'blocks', SZ_64K);
    const seen: number[] = [];
    vcmHook(
      vcmm,
      cam,
      (f, data) => {
        seen.push(f.iova);
        expect(data).toBe('token');
        vcmBack(res, pm);
        return 1;
      },
      'token',
    );
    cam.master.writeNow(res.devAddr! + 0x100, new Uint8Array([42]));
    expect(seen).toEqual([res.devAddr! + 0x100]);
    expect(soc.mem.readBytes(pm.base + 0x100, 1)[0]).toBe(42);
    vcmHook(vcmm, cam, () => false);
    expect(() => cam.master.readNow(0x1800_0000, new Uint8Array(1))).toThrow(/terminated by the fault handler/);
    vcmHook(vcmm, cam, null);
    expect(() => cam.master.readNow(0x1800_0000, new Uint8Array(1))).toThrow(DmaFault);
    expect(smmu.warningCount).toBe(1);
    expect(errno(() => vcmHook(vcmm, cpuDevice(soc.cpu), () => true))).toBe('EINVAL');
  });
});
