import { KernelBug, PAGE_SIZE, kerr } from '../lib/index.ts';
import type { MemType } from '../hw/index.ts';
import type { File } from './file.ts';

/** vm_flags bits (include/linux/mm.h). */
export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_EXEC = 0x4;
export const VM_SHARED = 0x8;
export const VM_MAYREAD = 0x10;
export const VM_MAYWRITE = 0x20;
export const VM_MAYEXEC = 0x40;
export const VM_MAYSHARE = 0x80;
export const VM_PFNMAP = 0x400;
export const VM_IO = 0x4000;
export const VM_DONTEXPAND = 0x40000;
export const VM_DONTDUMP = 0x4000000;
export const VM_MIXEDMAP = 0x10000000;

/** True for a private mapping that could be written, whose pages copy on write (is_cow_mapping). */
export function isCowMapping(flags: number): boolean {
  return (flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;
}

/** Operations a mapping's creator may attach (struct vm_operations_struct). */
export interface VmOperations {
  /** A copy of the mapping appeared (fork, or a split by a partial munmap). */
  open?(vma: VmArea): void;
  /** The mapping (or this piece of it) goes away. */
  close?(vma: VmArea): void;
  /**
   * Supplies the page frame for page `pageIndex` of the mapping on first
   * touch (vm_ops->fault); throws to make the access a SIGBUS.
   */
  fault?(vma: VmArea, pageIndex: number): number;
  /**
   * Sees each CPU access through the mapping before it is made (no kernel
   * counterpart: a watchpoint of unimem's checkers on what the mapping's
   * owner must order the CPU's accesses against).
   */
  cpuAccess?(vma: VmArea, addr: number, len: number, write: boolean): void;
}

/** What the address space is told when a page of a mapping gets or loses its frame. */
export interface VmaPageSink {
  pageMapped(vma: VmArea, pageIndex: number, pfn: number): void;
  pageUnmapped(vma: VmArea, pageIndex: number, pfn: number): void;
}

/**
 * A user mapping (struct vm_area_struct) as the mmap file operation sees
 * it. The address space creates it; the file's mmap op fills in its backing:
 * the memory type (vm_page_prot: 'wb', 'wt', 'wc' or 'device') and the page
 * frame of each page, eagerly with remapPfnRange/insertPage or lazily with
 * vmOps.fault. The op may also move pgoff (DRM's fake offsets) and set
 * vmOps/privateData. Nothing here sleeps.
 */
export class VmArea {
  readonly start: number;
  end: number;
  /** VM_* bits. */
  flags: number;
  /** Offset into the file in pages (vm_pgoff). */
  pgoff: number;
  readonly file: File | null;
  /** Memory type of every page (pgprot); set it before filling in frames. */
  memType: MemType = 'wb';
  vmOps: VmOperations | null = null;
  privateData: unknown;
  /** Page frame number of each page, -1 where none is mapped yet (replaced when the VMA grows). */
  pfns: Float64Array;
  /** Told when frames get filled in, so the CPU's MMU model learns about them. */
  sink: VmaPageSink | null = null;
  /** The call that took the mapping's file reference (a CostLedger site id: mmap, or the fork that copied it); 0 when not recorded. */
  site = 0;
  /** Simulated ns of that call. */
  since = 0;

  constructor(start: number, end: number, flags: number, pgoff: number, file: File | null, pfns?: Float64Array) {
    if (start % PAGE_SIZE || end % PAGE_SIZE || end <= start) throw new KernelBug(`bad vma range ${start}..${end}`);
    this.start = start;
    this.end = end;
    this.flags = flags;
    this.pgoff = pgoff;
    this.file = file;
    this.pfns = pfns ?? new Float64Array((end - start) / PAGE_SIZE).fill(-1);
  }

  /** Length in bytes. */
  get length(): number {
    return this.end - this.start;
  }

  /** Number of pages. */
  get pages(): number {
    return (this.end - this.start) / PAGE_SIZE;
  }

  /**
   * Maps `size` bytes of physically contiguous frames starting at `pfn` at
   * user address `addr` (remap_pfn_range). EINVAL when the range is outside
   * the VMA or not page aligned. Marks the VMA VM_IO|VM_PFNMAP.
   */
  remapPfnRange(addr: number, pfn: number, size: number): void {
    if (addr % PAGE_SIZE || size % PAGE_SIZE || size <= 0) throw kerr('EINVAL', 'remap_pfn_range: unaligned');
    if (addr < this.start || addr + size > this.end) throw kerr('EINVAL', 'remap_pfn_range: outside the vma');
    if (!Number.isInteger(pfn) || pfn < 0) throw kerr('EINVAL', `remap_pfn_range: bad pfn ${pfn}`);
    this.flags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
    const first = (addr - this.start) / PAGE_SIZE;
    const n = size / PAGE_SIZE;
    for (let i = 0; i < n; i++) this.setPfn(first + i, pfn + i);
  }

  /** Maps one page frame at user address `addr` (vm_insert_page). EINVAL outside the VMA, EBUSY if mapped. */
  insertPage(addr: number, pfn: number): void {
    if (addr % PAGE_SIZE || addr < this.start || addr >= this.end) throw kerr('EINVAL', 'vm_insert_page: outside the vma');
    const i = (addr - this.start) / PAGE_SIZE;
    if (this.pfns[i]! >= 0) throw kerr('EBUSY', 'vm_insert_page: already mapped');
    this.flags |= VM_MIXEDMAP;
    this.setPfn(i, pfn);
  }

  /**
   * Removes the frames of `n` pages from page `first` on (zap_vma_ptes), so
   * the next touch faults through vmOps.fault: what an exporter does before
   * it moves a buffer's pages. Pages without a frame are skipped. With
   * `evenCows`, private copies of those pages go too (unmap_mapping_range
   * with even_cows, as truncation does), so a private mapping sees the file
   * again, or SIGBUS past its end.
   */
  zapPages(first = 0, n = this.pfns.length - first, evenCows = false): void {
    if (first < 0 || n < 0 || first + n > this.pfns.length) throw new KernelBug(`zap of pages ${first}+${n} outside the vma`);
    for (let i = first; i < first + n; i++) {
      const pfn = this.pfns[i]!;
      if (pfn < 0) continue;
      this.pfns[i] = -1;
      this.sink?.pageUnmapped(this, i, pfn);
    }
    if (evenCows) this.dropPrivatePages(first, n);
  }

  /**
   * Forgets private copies of `n` pages from `first` on. A plain VmArea
   * has none; the process layer's mapping keeps them and overrides this.
   */
  protected dropPrivatePages(_first: number, _n: number): void {}

  /**
   * Moves the end of the VMA to `end` (vma_adjust of vm_end, as mremap
   * does when it grows or shrinks a mapping in place): new pages start
   * without a frame; frames of pages cut off must have been zapped first.
   */
  resize(end: number): void {
    if (end % PAGE_SIZE || end <= this.start) throw new KernelBug(`bad vma end ${end}`);
    const n = (end - this.start) / PAGE_SIZE;
    for (let i = n; i < this.pfns.length; i++) if (this.pfns[i]! >= 0) throw new KernelBug(`vma shrunk over mapped page ${i}`);
    const p = new Float64Array(n).fill(-1);
    p.set(this.pfns.subarray(0, Math.min(n, this.pfns.length)));
    this.pfns = p;
    this.end = end;
  }

  /** Fills in page `i`'s frame (set_pte_at). */
  setPfn(i: number, pfn: number): void {
    if (i < 0 || i >= this.pfns.length) throw new KernelBug(`vma page ${i} out of range`);
    if (this.pfns[i]! >= 0) throw new KernelBug(`vma page ${i} already maps pfn ${this.pfns[i]}`);
    this.pfns[i] = pfn;
    this.sink?.pageMapped(this, i, pfn);
  }
}
