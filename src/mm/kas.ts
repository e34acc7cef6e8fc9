import type { Cpu, MemType } from '../hw/index.ts';
import { KernelBug, MiB, alignDown, hex, kerr } from '../lib/index.ts';
import { PG_ALLOC, PG_NOLINEAR } from './frames.ts';
import { GenPool } from './genalloc.ts';
import type { Gfp } from './gfp.ts';
import type { PageAllocator } from './page-alloc.ts';

/** Where the kernel's virtual regions are. */
export interface KernelLayout {
  /** Virtual address of the first byte of DRAM in the linear map (PAGE_OFFSET). */
  pageOffset: number;
  /** Physical address the linear map starts at (PHYS_OFFSET: the lowest DRAM address). */
  physOffset: number;
  /** Physical address where lowmem ends (high_memory's physical address). */
  lowmemEnd: number;
  vmallocStart: number;
  vmallocSize: number;
}

/** ARM's VMALLOC_OFFSET: the gap that catches overruns past the linear map. */
const VMALLOC_OFFSET = 8 * MiB;
/** End of the 32-bit kernel's vmalloc area (VMALLOC_END on ARM before 4.x). */
const VMALLOC_END_32 = 0xff00_0000;
/** Default PAGE_OFFSET of a 3G/1G split. */
const PAGE_OFFSET_32 = 0xc000_0000;
/** PAGE_OFFSET used when DRAM reaches above 4 GiB: a 64-bit kernel half kept inside safe integers. */
const PAGE_OFFSET_64 = 2 ** 47;

/**
 * Computes the kernel's virtual layout (arm_memblock_init / sanity_check_meminfo).
 * With all DRAM below 4 GiB the kernel is 32-bit: PAGE_OFFSET 0xC0000000 and
 * lowmem as large as fits below the vmalloc area (760 MiB with the default
 * 240 MiB vmalloc), the rest highmem. With DRAM above 4 GiB all of it is
 * lowmem unless `lowmem` says otherwise. `lowmem` counts bytes from the
 * lowest DRAM address. Throws KernelError EINVAL when the layout cannot fit.
 */
export function kernelLayout(
  dram: readonly { base: number; size: number }[],
  cfg: { lowmem?: number; vmalloc?: number; pageOffset?: number },
): KernelLayout {
  const physOffset = Math.min(...dram.map((b) => b.base));
  const dramEnd = Math.max(...dram.map((b) => b.base + b.size));
  const span = dramEnd - physOffset;
  const vmallocSize = cfg.vmalloc ?? 240 * MiB;
  if (!(vmallocSize > 0) || vmallocSize % 4096 !== 0) throw kerr('EINVAL', `vmalloc size ${vmallocSize} is not a positive multiple of 4 KiB`);
  const is32 = cfg.pageOffset !== undefined ? cfg.pageOffset < 2 ** 32 : dramEnd <= 2 ** 32;
  const pageOffset = cfg.pageOffset ?? (is32 ? PAGE_OFFSET_32 : PAGE_OFFSET_64);
  let lowmem: number;
  if (is32) {
    const room = alignDown(VMALLOC_END_32 - vmallocSize - VMALLOC_OFFSET, VMALLOC_OFFSET) - pageOffset;
    if (room <= 0) throw kerr('EINVAL', `vmalloc area of ${hex(vmallocSize)} leaves no room for lowmem`);
    lowmem = Math.min(cfg.lowmem ?? room, span);
    if (lowmem > room) throw kerr('EINVAL', `lowmem ${hex(lowmem)} + vmalloc ${hex(vmallocSize)} do not fit in the 32-bit kernel space`);
  } else {
    lowmem = Math.min(cfg.lowmem ?? span, span);
  }
  if (lowmem <= 0 || lowmem % 4096 !== 0) throw kerr('EINVAL', `lowmem ${lowmem} is not a positive multiple of 4 KiB`);
  const vmallocStart = alignDown(pageOffset + lowmem + VMALLOC_OFFSET, VMALLOC_OFFSET);
  if (is32 && vmallocStart + vmallocSize > 2 ** 32) throw kerr('EINVAL', 'vmalloc area ends above 4 GiB');
  return { pageOffset, physOffset, lowmemEnd: physOffset + lowmem, vmallocStart, vmallocSize };
}

interface VmArea {
  va: number;
  /** Pages mapped (the guard page after them is not). */
  n: number;
  pfns: Int32Array;
  memType: MemType;
  /** Pages allocated by vmalloc and freed by vfree. */
  owned: boolean;
}

/**
 * The kernel's virtual address space: the linear map of lowmem (cacheable,
 * registered with the CPU at boot, which is what lets speculative prefetch
 * reach any lowmem page), highmem with no permanent mapping, and a vmalloc
 * area of fixed size from which vmap/vmalloc/kmap of highmem take address
 * space, one guard page per area. Kernel loads and stores by virtual
 * address go through the Cpu with the mapping's memory type; touching an
 * unmapped address is an oops (KernelBug). Nothing here sleeps.
 */
export class KernelAddressSpace {
  readonly layout: KernelLayout;
  private readonly pages: PageAllocator;
  private readonly cpu: Cpu;
  private readonly vm: GenPool;
  /** vmap areas sorted by address. */
  private readonly areas: VmArea[] = [];
  private readonly linearEnd: number;

  /** Sets up the linear map of lowmem (paging_init) minus `nomap` ranges, and an empty vmalloc area. */
  constructor(pages: PageAllocator, cpu: Cpu, layout: KernelLayout, nomap: readonly { base: number; size: number }[] = []) {
    this.pages = pages;
    this.cpu = cpu;
    this.layout = layout;
    this.linearEnd = layout.pageOffset + (layout.lowmemEnd - layout.physOffset);
    this.vm = new GenPool(12, 'vmalloc');
    this.vm.addChunk(layout.vmallocStart, layout.vmallocSize);
    const f = pages.frames;
    for (const s of f.sections) {
      const a = s.startPfn * 4096;
      const b = Math.min(s.endPfn * 4096, layout.lowmemEnd);
      if (b <= a) continue;
      // Map [a, b) minus the no-map holes.
      let p = a;
      const holes = nomap.filter((r) => r.base < b && r.base + r.size > a).sort((x, y) => x.base - y.base);
      for (const h of holes) {
        if (h.base > p) cpu.mapRange(p, h.base - p, 'wb');
        p = Math.max(p, h.base + h.size);
      }
      if (p < b) cpu.mapRange(p, b - p, 'wb');
      for (const h of holes) {
        const lo = Math.max(a, h.base);
        const hi = Math.min(b, h.base + h.size);
        for (let pfn = Math.floor(lo / 4096); pfn < Math.ceil(hi / 4096); pfn++) {
          const i = f.index(pfn);
          if (i >= 0) f.flags[i] = f.flags[i]! | PG_NOLINEAR;
        }
      }
    }
  }

  /** True when `pfn` is lowmem: DRAM with a permanent linear mapping. */
  isLowmem(pfn: number): boolean {
    return this.pages.pfnValid(pfn) && pfn * 4096 < this.layout.lowmemEnd;
  }

  /** Returns the linear-map address of a lowmem page (page_address); KernelBug for highmem or non-RAM. */
  pfnToVirt(pfn: number): number {
    if (!this.isLowmem(pfn)) throw new KernelBug(`page_address: pfn ${hex(pfn)} has no linear mapping (${this.pages.pfnValid(pfn) ? 'highmem' : 'not RAM'})`);
    return this.layout.pageOffset + (pfn * 4096 - this.layout.physOffset);
  }

  /** Returns the linear-map address of a lowmem physical address (phys_to_virt). */
  physToVirt(pa: number): number {
    return this.pfnToVirt(Math.floor(pa / 4096)) + (pa % 4096);
  }

  /**
   * Translates a kernel virtual address to physical (virt_to_phys, and
   * vmalloc_to_pfn for the vmalloc area). KernelBug when nothing maps it.
   */
  virtToPhys(va: number): number {
    if (va >= this.layout.pageOffset && va < this.linearEnd) return va - this.layout.pageOffset + this.layout.physOffset;
    const a = this.areaAt(va);
    const off = a ? va - a.va : 0;
    if (!a || off >= a.n * 4096) throw new KernelBug(`virt_to_phys: ${hex(va)} is not a mapped kernel address`);
    return a.pfns[Math.floor(off / 4096)]! * 4096 + (off % 4096);
  }

  /**
   * Removes the cacheable linear alias of lowmem pages that are about to be
   * used uncached (set_memory_valid(..., 0) / the ARM DMA remap), telling the
   * CPU the alias is gone. KernelBug, with nothing changed, for highmem,
   * free pages, or pages whose alias is already removed.
   */
  removeLinearAlias(pfn: number, count: number): void {
    const f = this.pages.frames;
    const i = this.checkLowmemRun(pfn, count, 'remove linear alias');
    for (let k = i; k < i + count; k++) {
      const fl = f.flags[k]!;
      if (!(fl & PG_ALLOC)) throw new KernelBug(`remove linear alias: pfn ${hex(pfn + k - i)} is not allocated`);
      if (fl & PG_NOLINEAR) throw new KernelBug(`remove linear alias: pfn ${hex(pfn + k - i)} has no linear alias already`);
    }
    for (let k = i; k < i + count; k++) f.flags[k] = f.flags[k]! | PG_NOLINEAR;
    this.cpu.unmapRange(pfn * 4096, count * 4096, 'wb');
  }

  /** Puts removed linear aliases back (set_memory_valid(..., 1)); KernelBug if any was not removed. */
  restoreLinearAlias(pfn: number, count: number): void {
    const f = this.pages.frames;
    const i = this.checkLowmemRun(pfn, count, 'restore linear alias');
    for (let k = i; k < i + count; k++) {
      if (!(f.flags[k]! & PG_NOLINEAR)) throw new KernelBug(`restore linear alias: pfn ${hex(pfn + k - i)} still has its linear alias`);
    }
    for (let k = i; k < i + count; k++) f.flags[k] = f.flags[k]! & ~PG_NOLINEAR;
    this.cpu.mapRange(pfn * 4096, count * 4096, 'wb');
  }

  /** True when the lowmem page currently has its linear-map alias. */
  hasLinearAlias(pfn: number): boolean {
    const i = this.pages.frames.index(pfn);
    return this.isLowmem(pfn) && !(this.pages.frames.flags[i]! & PG_NOLINEAR);
  }

  /**
   * Maps pages contiguously in the vmalloc area with memory type `memType`
   * (vmap with pgprot) and registers the mapping with the CPU. Throws
   * KernelError ENOMEM when the vmalloc area has no room.
   */
  vmap(pfns: ArrayLike<number>, memType: MemType): number {
    return this.mapArea(pfns, memType, false);
  }

  /** Removes a vmap mapping (vunmap); KernelBug when `va` does not start one, or it came from vmalloc. */
  vunmap(va: number): void {
    const k = this.areaIndex(va);
    const a = this.areas[k]!;
    if (a.owned) throw new KernelBug(`vunmap: ${hex(va)} was allocated by vmalloc; use vfree`);
    this.unmapArea(k);
  }

  /**
   * Allocates `size` bytes of virtually contiguous, cacheable kernel memory
   * from order-0 pages (vmalloc). ENOMEM when pages or address space run out;
   * nothing leaks on failure.
   */
  vmalloc(size: number, gfp: Gfp = { highmem: true }): number {
    const n = Math.ceil(size / 4096);
    if (n <= 0) throw kerr('EINVAL', `vmalloc: bad size ${size}`);
    const pfns = new Int32Array(n);
    let got = 0;
    try {
      for (; got < n; got++) pfns[got] = this.pages.allocPages(0, gfp);
      return this.mapArea(pfns, 'wb', true);
    } catch (e) {
      for (let k = 0; k < got; k++) this.pages.freePages(pfns[k]!, 0);
      throw e;
    }
  }

  /** Frees memory from vmalloc (vfree). KernelBug when `va` is not a vmalloc area. */
  vfree(va: number): void {
    const k = this.areaIndex(va);
    const a = this.areas[k]!;
    if (!a.owned) throw new KernelBug(`vfree: ${hex(va)} is a vmap mapping, not vmalloc memory`);
    const pfns = a.pfns;
    this.unmapArea(k);
    for (let i = 0; i < pfns.length; i++) this.pages.freePages(pfns[i]!, 0);
  }

  /** Maps one page for kernel access (kmap): the linear address for lowmem, a vmalloc-area slot for highmem. */
  kmap(pfn: number): number {
    if (this.isLowmem(pfn)) return this.pfnToVirt(pfn);
    if (!this.pages.pfnValid(pfn)) throw new KernelBug(`kmap: pfn ${hex(pfn)} is not RAM`);
    return this.mapArea([pfn], 'wb', false);
  }

  /** Undoes kmap (kunmap); a no-op for lowmem. */
  kunmap(va: number): void {
    if (va >= this.layout.pageOffset && va < this.linearEnd) return;
    this.vunmap(va);
  }

  /** Bytes of the vmalloc area in use, guard pages included (VmallocUsed). */
  vmallocUsed(): number {
    return this.vm.size() - this.vm.avail();
  }

  /** Size of the vmalloc area in bytes (VmallocTotal). */
  vmallocSize(): number {
    return this.vm.size();
  }

  /** Number of live vmap/vmalloc areas. */
  vmallocAreas(): number {
    return this.areas.length;
  }

  /** Memory type of the mapping at `va` ('wb' for the linear map); KernelBug when unmapped. */
  memTypeAt(va: number): MemType {
    if (va >= this.layout.pageOffset && va < this.linearEnd) return 'wb';
    const a = this.areaAt(va);
    if (!a || va - a.va >= a.n * 4096) throw new KernelBug(`${hex(va)} is not a mapped kernel address`);
    return a.memType;
  }

  /** A kernel CPU load of `len` bytes at virtual `va` into `dst` (memcpy from a kernel mapping). */
  load(va: number, dst: Uint8Array, dstOff: number, len: number): void {
    let done = 0;
    while (done < len) {
      const n = this.resolve(va + done, len - done);
      this.cpu.load(this.rPa, dst, dstOff + done, n, this.rType);
      done += n;
    }
  }

  /** A kernel CPU store of `src[srcOff..srcOff+len)` at virtual `va`. */
  store(va: number, src: Uint8Array, srcOff: number, len: number): void {
    let done = 0;
    while (done < len) {
      const n = this.resolve(va + done, len - done);
      this.cpu.store(this.rPa, src, srcOff + done, n, this.rType);
      done += n;
    }
  }

  /** A kernel memset of `len` bytes at virtual `va`. */
  fill(va: number, len: number, value: number): void {
    let done = 0;
    while (done < len) {
      const n = this.resolve(va + done, len - done);
      this.cpu.fill(this.rPa, n, value, this.rType);
      done += n;
    }
  }

  private rPa = 0;
  private rType: MemType = 'wb';

  /** Translates the longest physically contiguous run at `va` (at most `len`) into rPa/rType; returns its length. */
  private resolve(va: number, len: number): number {
    const L = this.layout;
    const f = this.pages.frames;
    if (va >= L.pageOffset && va < this.linearEnd) {
      const pa = va - L.pageOffset + L.physOffset;
      const pfn = Math.floor(pa / 4096);
      const i = f.index(pfn);
      if (i < 0 || f.flags[i]! & PG_NOLINEAR) throw new KernelBug(`Unable to handle kernel paging request at virtual address ${hex(va)}`);
      // Extend over following pages that are mapped and in the same bank.
      const endVa = Math.min(va + len, this.linearEnd);
      let runEnd = (pfn + 1) * 4096;
      while (runEnd < endVa - L.pageOffset + L.physOffset) {
        const j = f.index(runEnd / 4096);
        if (j !== i + (runEnd / 4096 - pfn) || f.flags[j]! & PG_NOLINEAR) break;
        runEnd += 4096;
      }
      this.rPa = pa;
      this.rType = 'wb';
      return Math.min(len, runEnd - pa, endVa - va);
    }
    const a = this.areaAt(va);
    const off = a ? va - a.va : 0;
    if (!a || off >= a.n * 4096) throw new KernelBug(`Unable to handle kernel paging request at virtual address ${hex(va)}`);
    let k = Math.floor(off / 4096);
    const first = a.pfns[k]!;
    const pa = first * 4096 + (off % 4096);
    const bank = f.index(first);
    let run = 4096 - (off % 4096);
    while (run < len && k + 1 < a.n && a.pfns[k + 1] === a.pfns[k]! + 1 && f.index(a.pfns[k + 1]!) === bank + (a.pfns[k + 1]! - first)) {
      k++;
      run += 4096;
    }
    this.rPa = pa;
    this.rType = a.memType;
    return Math.min(len, run);
  }

  private mapArea(pfns: ArrayLike<number>, memType: MemType, owned: boolean): number {
    const n = pfns.length;
    if (n <= 0) throw kerr('EINVAL', 'vmap of no pages');
    for (let k = 0; k < n; k++) if (!this.pages.pfnValid(pfns[k]!)) throw new KernelBug(`vmap: pfn ${hex(pfns[k]!)} is not RAM`);
    const va = this.vm.tryAlloc((n + 1) * 4096);
    if (va === null) throw kerr('ENOMEM', `vmap: no room for ${n} pages in the vmalloc area (${this.vmallocUsed()} of ${this.vmallocSize()} bytes used)`);
    const area: VmArea = { va, n, pfns: Int32Array.from(pfns), memType, owned };
    this.forEachRun(area, (pa, len) => this.cpu.mapRange(pa, len, memType));
    let lo = 0;
    let hi = this.areas.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.areas[mid]!.va < va) lo = mid + 1;
      else hi = mid;
    }
    this.areas.splice(lo, 0, area);
    return va;
  }

  private unmapArea(k: number): void {
    const a = this.areas[k]!;
    this.forEachRun(a, (pa, len) => this.cpu.unmapRange(pa, len, a.memType));
    this.vm.free(a.va, (a.n + 1) * 4096);
    this.areas.splice(k, 1);
  }

  private forEachRun(a: VmArea, fn: (pa: number, len: number) => void): void {
    let s = 0;
    for (let k = 1; k <= a.n; k++) {
      if (k === a.n || a.pfns[k] !== a.pfns[k - 1]! + 1) {
        fn(a.pfns[s]! * 4096, (k - s) * 4096);
        s = k;
      }
    }
  }

  private areaAt(va: number): VmArea | null {
    let lo = 0;
    let hi = this.areas.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const a = this.areas[mid]!;
      if (va < a.va) hi = mid - 1;
      else if (va >= a.va + (a.n + 1) * 4096) lo = mid + 1;
      else return a;
    }
    return null;
  }

  private areaIndex(va: number): number {
    const a = this.areaAt(va);
    if (!a || a.va !== va) throw new KernelBug(`${hex(va)} is not the start of a vmap area`);
    return this.areas.indexOf(a);
  }

  private checkLowmemRun(pfn: number, count: number, who: string): number {
    const f = this.pages.frames;
    if (!(count >= 1) || !f.validRange(pfn, count) || !this.isLowmem(pfn + count - 1)) {
      throw new KernelBug(`${who}: ${hex(pfn)}+${count} is not lowmem RAM`);
    }
    return f.index(pfn);
  }
}
