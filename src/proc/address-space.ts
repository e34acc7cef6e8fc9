import { KernelBug, PAGE_SIZE, kerr } from '../lib/index.ts';
import { isCacheable, type Cpu } from '../hw/index.ts';
import { SimMutex } from '../mm/index.ts';
import type { File, VmArea, VmaPageSink } from '../fs/index.ts';
import type { AnonMemory, AnonObject } from './anon-memory.ts';
import type { Vma } from './vma.ts';

/** Top of the user address space: 47 bits, as x86_64 and arm64 with 4 KiB pages (TASK_SIZE). */
export const TASK_SIZE = 0x800000000000;
/** Where top-down mmap placement starts (mmap_base, no randomisation). */
export const MMAP_BASE = 0x7f0000000000;
/** Lowest address mmap hands out (mmap_min_addr). */
export const MMAP_MIN_ADDR = 0x10000;
/**
 * mmap_base of a 32-bit process: ARM Linux's TASK_SIZE (0xbf000000) less
 * the 128 MiB minimum stack gap, without randomisation
 * (arch_pick_mmap_layout), so every address mmap picks fits a 32-bit pointer.
 */
export const MMAP_BASE_32 = 0xb7000000;
/**
 * TASK_SIZE of a 32-bit process: ARM Linux's with the default 3G/1G split,
 * PAGE_OFFSET (0xc0000000) less the 16 MiB of module space below it.
 */
export const TASK_SIZE_32 = 0xbf000000;

/**
 * A process's virtual address space (struct mm_struct): its mappings,
 * sorted by address, and the list operations the rest of proc builds on
 * (mmap.ts, mremap.ts, fork.ts, gup.ts, memory.ts, cpu-access.ts). Its
 * anonymous pages are DRAM pages owned by `anonMem`. Every page of a
 * cacheable mapping with a frame is registered with the CPU's MMU model
 * (cpu.mapRange) while mapped, because speculation may touch it. Each
 * file mapping holds a reference to its file.
 */
export class AddressSpace implements VmaPageSink {
  readonly cpu: Cpu;
  /** Where anonymous pages and private copies come from. */
  readonly anonMem: AnonMemory;
  private vmas: Vma[] = [];
  private last: Vma | null = null;
  /** One page of bounce space for copy-on-write. */
  readonly scratch = new Uint8Array(PAGE_SIZE);
  /** Held by an mmap across its sleep in the file's mmap op (mmap_write_lock), so two mmaps never pick one range. */
  readonly mmapLock = new SimMutex('mmap_lock');
  /** Where top-down placement starts (mm->mmap_base): MMAP_BASE, or MMAP_BASE_32 for a 32-bit (compat) process. */
  mmapBase = MMAP_BASE;
  /** A 32-bit process (is_compat_task): its ioctls whose structs differ by word size take their 32-bit layouts. */
  compat32 = false;
  /** Top of this process's user address space (TASK_SIZE): TASK_SIZE, or TASK_SIZE_32 for a 32-bit process. */
  taskSize = TASK_SIZE;

  constructor(anonMem: AnonMemory) {
    this.anonMem = anonMem;
    this.cpu = anonMem.cpu;
  }

  /** The mappings, lowest address first. */
  get areas(): readonly Vma[] {
    return this.vmas;
  }

  /** The mapping containing `addr` (find_vma + range check), or null. */
  find(addr: number): Vma | null {
    const l = this.last;
    if (l && addr >= l.start && addr < l.end) return l;
    const v = this.vmas;
    let lo = 0;
    let hi = v.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const m = v[mid]!;
      if (addr < m.start) hi = mid - 1;
      else if (addr >= m.end) lo = mid + 1;
      else return (this.last = m);
    }
    return null;
  }

  /** The mapping after `v`, or undefined (vma_next). */
  next(v: Vma): Vma | undefined {
    return this.vmas[this.vmas.indexOf(v) + 1];
  }

  /** True when any mapping overlaps [start, start+size). */
  overlaps(start: number, size: number): boolean {
    const end = start + size;
    for (const v of this.vmas) if (v.start < end && v.end > start) return true;
    return false;
  }

  /** Places a new mapping of `size` bytes: the hint if free, else top-down below mmapBase (get_unmapped_area). ENOMEM when full. */
  unmappedArea(hint: number, size: number): number {
    if (hint && hint % PAGE_SIZE === 0 && hint >= MMAP_MIN_ADDR && hint + size <= this.taskSize && !this.overlaps(hint, size)) return hint;
    let top = this.mmapBase;
    for (let i = this.vmas.length - 1; i >= 0; i--) {
      const v = this.vmas[i]!;
      if (v.start >= top) continue;
      if (v.end <= top - size) break;
      top = v.start;
    }
    if (top - size < MMAP_MIN_ADDR) throw kerr('ENOMEM', 'address space full');
    return top - size;
  }

  /** Makes a VMA live (vma_link): registers its frames with the CPU and takes fault-ins from now on. */
  installVma(v: Vma): void {
    this.registerPages(v);
    this.insertSorted(v);
  }

  /** Adds a VMA whose frames are already registered (a piece of a split). KernelBug when it overlaps another. */
  insertSorted(v: Vma): void {
    let i = this.vmas.length;
    while (i > 0 && this.vmas[i - 1]!.start > v.start) i--;
    if ((i > 0 && this.vmas[i - 1]!.end > v.start) || (i < this.vmas.length && this.vmas[i]!.start < v.end)) {
      throw new KernelBug(`vma 0x${v.start.toString(16)}-0x${v.end.toString(16)} overlaps another`);
    }
    this.vmas.splice(i, 0, v);
  }

  /**
   * Takes `v` out of the list; only the pages in [from, to) lose their CPU
   * registration (the pieces kept the rest). Then the owner's close and the
   * file reference (remove_vma).
   */
  removeVma(v: Vma, from: number, to: number): void {
    const i = this.vmas.indexOf(v);
    if (i < 0) throw new KernelBug('removing a vma that is not in the address space');
    this.vmas.splice(i, 1);
    if (this.last === v) this.last = null;
    this.unregisterPages(v, Math.max(from, v.start), Math.min(to, v.end));
    v.sink = null;
    this.detachObj(v);
    v.vmOps?.close?.(v);
    v.file?.put();
  }

  /** Ends a whole VMA that is not (or no longer) in the list. */
  dropVma(v: Vma): void {
    if (v.sink === this) this.unregisterPages(v, v.start, v.end);
    v.sink = null;
    this.detachObj(v);
    v.vmOps?.close?.(v);
    v.file?.put();
  }

  /** Empties the list and ends every mapping in it (the body of exit_mmap). */
  takeAll(): Vma[] {
    const all = this.vmas;
    this.vmas = [];
    this.last = null;
    return all;
  }

  /** Gives `v` its anonymous object, page 0 at slot `off`, and lists `v` among the object's mappings. */
  attachObj(v: Vma, obj: AnonObject, off: number): void {
    v.obj = obj;
    v.objOff = off;
    obj.vmas.set(v, off);
  }

  /** Drops `v`'s reference to its object (its pages go with the last one). */
  detachObj(v: Vma): void {
    const obj = v.obj;
    if (!obj) return;
    obj.vmas.delete(v);
    v.obj = null;
    obj.put();
  }

  /** Fixes `v`'s memory type, makes this address space its page sink and registers its cacheable frames with the CPU. */
  registerPages(v: Vma): void {
    v.installedMemType = v.memType;
    v.sink = this;
    if (!isCacheable(v.installedMemType)) return;
    const p = v.pfns;
    for (let i = 0; i < p.length; ) {
      if (p[i]! < 0) {
        i++;
        continue;
      }
      let j = i + 1;
      while (j < p.length && p[j] === p[i]! + (j - i)) j++;
      this.cpu.mapRange(p[i]! * PAGE_SIZE, (j - i) * PAGE_SIZE, v.installedMemType);
      i = j;
    }
  }

  private unregisterPages(v: Vma, from: number, to: number): void {
    if (!isCacheable(v.installedMemType)) return;
    const p = v.pfns;
    const lo = (from - v.start) / PAGE_SIZE;
    const hi = (to - v.start) / PAGE_SIZE;
    for (let i = lo; i < hi; ) {
      if (p[i]! < 0) {
        i++;
        continue;
      }
      let j = i + 1;
      while (j < hi && p[j] === p[i]! + (j - i)) j++;
      this.cpu.unmapRange(p[i]! * PAGE_SIZE, (j - i) * PAGE_SIZE, v.installedMemType);
      i = j;
    }
  }

  /** Tells the CPU about a frame the VMA's owner filled in after mmap (a fault-in or late insert). */
  pageMapped(vma: VmArea, _pageIndex: number, pfn: number): void {
    this.cpu.mapRange(pfn * PAGE_SIZE, PAGE_SIZE, (vma as Vma).installedMemType);
  }

  /** Tells the CPU a frame is no longer mapped (zap). */
  pageUnmapped(vma: VmArea, _pageIndex: number, pfn: number): void {
    this.cpu.unmapRange(pfn * PAGE_SIZE, PAGE_SIZE, (vma as Vma).installedMemType);
  }

  /** The files the mappings reference, one entry per mapping (for reference accounting). */
  mappedFiles(): File[] {
    const out: File[] = [];
    for (const v of this.vmas) if (v.file) out.push(v.file);
    return out;
  }
}
