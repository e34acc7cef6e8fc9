import { Smmu, Soc, type SocHwConfig } from '../../src/hw/index.ts';
import { SmmuDriver, iommuDevice, type IommuDevice } from '../../src/iommu/index.ts';
import type { IoPageAllocator } from '../../src/iommu/page-allocator.ts';
import { KernelBug, MiB, kerr } from '../../src/lib/index.ts';

export const DRAM = 0x8000_0000;

/**
 * A tiny page allocator over one region of test memory, standing in for
 * mm's buddy allocator: naturally aligned first fit, zeroing on request,
 * KernelBug on a bad free, and a count of pages out for leak checks.
 */
export class TestPages implements IoPageAllocator {
  readonly base: number;
  readonly pages: number;
  private readonly used: Uint8Array;
  allocated = 0;
  constructor(
    private readonly soc: Soc,
    base: number,
    size: number,
  ) {
    this.base = base;
    this.pages = size / 4096;
    this.used = new Uint8Array(this.pages);
  }

  allocPages(order: number, gfp?: { zero?: boolean; maxPa?: number }): number {
    const n = 2 ** order;
    const first = this.base / 4096;
    for (let i = 0; i + n <= this.pages; i += n) {
      if ((first + i) % n !== 0) continue;
      if (gfp?.maxPa !== undefined && (first + i + n) * 4096 > gfp.maxPa) break;
      let free = true;
      for (let k = 0; k < n && free; k++) if (this.used[i + k]) free = false;
      if (!free) continue;
      this.used.fill(1, i, i + n);
      this.allocated += n;
      // Stale bytes, so code that forgets to zero is caught.
      this.soc.mem.fill((first + i) * 4096, n * 4096, gfp?.zero ? 0 : 0xa5);
      return first + i;
    }
    throw kerr('ENOMEM', `test allocator: no free order-${order} block`);
  }

  freePages(pfn: number, order: number): void {
    const i = pfn - this.base / 4096;
    const n = 2 ** order;
    if (i < 0 || i + n > this.pages) throw new KernelBug(`test allocator: free of foreign pfn ${pfn}`);
    for (let k = 0; k < n; k++) if (!this.used[i + k]) throw new KernelBug(`test allocator: double free of pfn ${pfn + k}`);
    this.used.fill(0, i, i + n);
    this.allocated -= n;
  }
}

export interface Rig {
  soc: Soc;
  smmu: Smmu;
  driver: SmmuDriver;
  pages: TestPages;
  cam: IommuDevice;
  isp: IommuDevice;
}

/**
 * 64 MiB of DRAM at 0x80000000 (the first 4 MiB hold page tables), one SMMU
 * with 4 contexts and a 32-entry TLB, camera and ISP behind contexts 0 and
 * 1, a display without an IOMMU.
 */
export function rig(over: Partial<SocHwConfig> = {}, tlbEntries = 32): Rig {
  const soc = new Soc({
    seed: 3,
    banks: [{ name: 'dram', base: DRAM, size: 64 * MiB, kind: 'dram' }],
    cache: { size: 32 * 1024, ways: 4, lineSize: 64 },
    masters: [
      { name: 'cam', coherent: false, bandwidth: 1e9, latencyNs: 100 },
      { name: 'isp', coherent: false, bandwidth: 2e9, latencyNs: 100 },
      { name: 'disp', coherent: false, bandwidth: 1e9, latencyNs: 100 },
    ],
    ...over,
  });
  const smmu = new Smmu(soc, { name: 'smmu0', contexts: 4, tlbEntries, walkNs: 150 });
  const pages = new TestPages(soc, DRAM, 4 * MiB);
  const driver = new SmmuDriver({ mem: soc.mem, pages, cache: soc.cache, clock: soc.clock });
  driver.addSmmu(smmu);
  const cam = iommuDevice('cam', soc.master('cam'), smmu.context(0));
  const isp = iommuDevice('isp', soc.master('isp'), smmu.context(1));
  return { soc, smmu, driver, pages, cam, isp };
}

export function pattern(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 13 + seed * 101 + (i >> 9)) & 0xff;
  return b;
}

/** Byte equality without Vitest's element-by-element diff, which chokes on megabytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
