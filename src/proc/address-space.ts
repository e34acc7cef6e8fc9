import { KernelBug, PAGE_SIZE, alignUp, kerr } from '../lib/index.ts';
import { BusError, isCacheable, type Cpu } from '../hw/index.ts';
import {
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_MAYEXEC,
  VM_DONTEXPAND,
  VM_EXEC,
  VM_IO,
  VM_PFNMAP,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  VmArea,
  FMODE_READ,
  FMODE_WRITE,
  type File,
  type VmaPageSink,
} from '../fs/index.ts';
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_LOCKED,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_TYPE,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from '../uapi/index.ts';
import type { AnonMemory, AnonObject } from './anon-memory.ts';

/** Top of the user address space: 47 bits, as x86_64 and arm64 with 4 KiB pages (TASK_SIZE). */
export const TASK_SIZE = 0x800000000000;
/** Where top-down mmap placement starts (mmap_base, no randomisation). */
export const MMAP_BASE = 0x7f0000000000;
/** Lowest address mmap hands out (mmap_min_addr). */
export const MMAP_MIN_ADDR = 0x10000;

/** Flags MAP_SHARED_VALIDATE accepts (LEGACY_MAP_MASK and friends). */
const KNOWN_MAP_FLAGS = MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_FIXED_NOREPLACE;

/**
 * One mapping of a process. File pages come from the frames the file's
 * mmap op filled in and are read and written through the CPU and its
 * cache. Anonymous memory, and pages a private mapping has written
 * (copy-on-write), are the process's own. With an mm they are DRAM pages
 * of an AnonObject (`obj`, page i in slot i + objOff), mapped in `pfns`
 * like file pages; without one they live in `anon`, bytes no device sees.
 */
export class Vma extends VmArea {
  /** Private bytes (no mm): the whole mapping for anonymous VMAs, copied pages for private file VMAs. */
  anon: Uint8Array | null = null;
  /** The DRAM pages of anonymous memory or private copies (with an mm), else null. */
  obj: AnonObject | null = null;
  /** Slot of `obj` that page 0 shows (non-zero only for shared anonymous memory). */
  objOff = 0;
  /** Per page: 1 when the private copy in `anon` replaces the file page. */
  cow: Uint8Array | null = null;
  /** The memory type the CPU's MMU model was told, fixed when the VMA was installed. */
  installedMemType: 'wb' | 'wt' | 'wc' | 'device' = 'wb';

  /** True for MAP_SHARED mappings. */
  get shared(): boolean {
    return (this.flags & VM_SHARED) !== 0;
  }

  /**
   * The private buffer, allocated zeroed on first need. For shared
   * anonymous memory it is the shared object, which may be shorter than
   * the mapping after mremap grew it (the rest is SIGBUS, as past the end
   * of the shmem object Linux backs it with).
   */
  privateBytes(): Uint8Array {
    if (!this.anon) this.anon = new Uint8Array(this.length);
    return this.anon;
  }

  /** Private copies of file pages go with the page (truncation, DONTUNMAP): the next touch reads the file again. */
  protected override dropPrivatePages(first: number, n: number): void {
    this.cow?.fill(0, first, first + n);
    if (this.obj && this.file) this.obj.freeRange(first + this.objOff, n);
  }

  /** Moves vm_end (mremap in place), carrying private bytes and copy-on-write marks along. */
  override resize(end: number): void {
    const len = end - this.start;
    const sharedAnon = !this.file && this.shared;
    if (this.anon && !sharedAnon && this.anon.length !== len) {
      const a = new Uint8Array(len);
      a.set(this.anon.subarray(0, Math.min(len, this.anon.length)));
      this.anon = a;
    }
    if (this.obj && !sharedAnon) this.obj.resize(len / PAGE_SIZE);
    if (this.cow) {
      const c = new Uint8Array(len / PAGE_SIZE);
      c.set(this.cow.subarray(0, Math.min(c.length, this.cow.length)));
      this.cow = c;
    }
    super.resize(end);
  }
}

/** The outcome of a CPU access check: null when allowed, else why not. */
interface Fault {
  signal: 'SIGSEGV' | 'SIGBUS';
  addr: number;
  why: string;
}

/** An access the mappings refuse; the syscall layer turns it into SIGSEGV/SIGBUS. */
export class AccessFault extends Error {
  readonly fault: Fault;
  constructor(fault: Fault) {
    super(`${fault.signal} at 0x${fault.addr.toString(16)}: ${fault.why}`);
    this.fault = fault;
  }
}

/**
 * A process's virtual address space (struct mm_struct): its mappings, sorted
 * by address, and the CPU accesses through them. Every page of a cacheable
 * mapping with a frame is registered with the CPU's MMU model
 * (cpu.mapRange) while mapped, because speculation may touch it. Each file
 * mapping holds a reference to its file. mmap may sleep (the file's mmap op
 * may); munmap, load and store do not.
 */
export class AddressSpace implements VmaPageSink {
  readonly cpu: Cpu;
  /** Where anonymous pages come from; null keeps them in JS arrays (no mm). */
  readonly anonMem: AnonMemory | null;
  private vmas: Vma[] = [];
  private last: Vma | null = null;
  private scratch: Uint8Array | null = null;

  constructor(cpu: Cpu, anonMem: AnonMemory | null = null) {
    this.cpu = cpu;
    this.anonMem = anonMem;
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

  /**
   * Creates a mapping (do_mmap). Checks in Linux's order: EINVAL for a zero
   * length, an unaligned offset or fixed address, or a bad map type;
   * EACCES for a file not open for reading, or PROT_WRITE on a shared
   * mapping of a file not open for writing; ENODEV when the file cannot be
   * mapped; ENOMEM when no room is left. Then the file's mmap op fills the
   * VMA in. `file` must be referenced by the caller for the duration; the
   * mapping takes its own reference. Returns the address.
   */
  async mmap(addr: number, len: number, prot: number, flags: number, file: File | null, offset: number): Promise<number> {
    if (!Number.isSafeInteger(len) || len <= 0) throw kerr('EINVAL', `length ${len}`);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset % PAGE_SIZE) throw kerr('EINVAL', `offset ${offset}`);
    if (!Number.isSafeInteger(addr) || addr < 0) throw kerr('EINVAL', `address ${addr}`);
    const size = alignUp(len, PAGE_SIZE);
    if (size > TASK_SIZE - MMAP_MIN_ADDR) throw kerr('ENOMEM', `length ${len}`);
    const type = flags & MAP_TYPE;
    if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) throw kerr('EINVAL', `map type ${type}`);
    if (type === MAP_SHARED_VALIDATE && flags & ~KNOWN_MAP_FLAGS) throw kerr('EOPNOTSUPP', `flags 0x${flags.toString(16)}`);
    const shared = type !== MAP_PRIVATE;
    const fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0;
    if (fixed && addr % PAGE_SIZE) throw kerr('EINVAL', `unaligned fixed address 0x${addr.toString(16)}`);
    if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) throw kerr('EINVAL', `prot 0x${prot.toString(16)}`);

    let vmFlags = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
    if (prot & PROT_READ) vmFlags |= VM_READ;
    if (prot & PROT_WRITE) vmFlags |= VM_WRITE;
    if (prot & PROT_EXEC) vmFlags |= VM_EXEC;
    const anonymous = (flags & MAP_ANONYMOUS) !== 0;
    if (!anonymous) {
      if (!file) throw kerr('EBADF', 'no file');
      if (shared) {
        if (prot & PROT_WRITE && !(file.mode & FMODE_WRITE)) throw kerr('EACCES', 'shared writable mapping of a file not open for writing');
        vmFlags |= VM_SHARED | VM_MAYSHARE;
        // a read-only shared mapping can never write the file: Linux drops VM_SHARED, keeps VM_MAYSHARE
        if (!(file.mode & FMODE_WRITE)) vmFlags &= ~(VM_MAYWRITE | VM_SHARED);
      }
      if (!(file.mode & FMODE_READ)) throw kerr('EACCES', 'file not open for reading');
      if (!file.fOp.mmap) throw kerr('ENODEV', `${file.pathName()} cannot be mapped`);
    } else if (shared) {
      vmFlags |= VM_SHARED | VM_MAYSHARE;
    }
    if (offset / PAGE_SIZE + size / PAGE_SIZE > Number.MAX_SAFE_INTEGER / PAGE_SIZE) throw kerr('EOVERFLOW', 'offset + length');

    let start: number;
    if (fixed) {
      if (addr + size > TASK_SIZE || addr < MMAP_MIN_ADDR) throw kerr(addr < MMAP_MIN_ADDR ? 'EPERM' : 'ENOMEM', 'fixed address out of range');
      if (flags & MAP_FIXED_NOREPLACE && !(flags & MAP_FIXED) && this.overlaps(addr, size)) throw kerr('EEXIST', 'range in use');
      start = addr;
    } else {
      start = this.unmappedArea(addr, size);
    }

    const vma = new Vma(start, start + size, vmFlags, offset / PAGE_SIZE, anonymous ? null : file);
    if (anonymous && this.anonMem) this.attachObj(vma, this.anonMem.create(size / PAGE_SIZE), 0);
    if (vma.file) {
      vma.file.get();
      try {
        await vma.file.fOp.mmap!(vma.file, vma);
      } catch (e) {
        vma.zapPages();
        vma.file.put();
        throw e;
      }
    }
    if (fixed && flags & MAP_FIXED) this.munmap(start, size);
    else if (this.overlaps(start, size)) {
      // another mapping took the range while the mmap op slept
      this.dropVma(vma);
      throw kerr('ENOMEM', 'address range taken during mmap');
    }
    this.installVma(vma);
    return start;
  }

  /**
   * Removes the mappings in [addr, addr+len) (do_munmap), splitting those
   * that straddle its ends. EINVAL for an unaligned address or zero length.
   * Unmapping nothing is fine.
   */
  munmap(addr: number, len: number): void {
    if (!Number.isSafeInteger(addr) || addr % PAGE_SIZE || addr < 0) throw kerr('EINVAL', `address ${addr}`);
    if (!Number.isSafeInteger(len) || len <= 0) throw kerr('EINVAL', `length ${len}`);
    const size = alignUp(len, PAGE_SIZE);
    if (addr + size > TASK_SIZE) throw kerr('EINVAL', 'range beyond the address space');
    const end = addr + size;
    const hit = this.vmas.filter((v) => v.start < end && v.end > addr);
    for (const v of hit) {
      const pieces: Vma[] = [];
      if (v.start < addr) pieces.push(this.splitPiece(v, v.start, addr));
      if (v.end > end) pieces.push(this.splitPiece(v, end, v.end));
      this.removeVma(v, addr, end);
      for (const p of pieces) this.insertSorted(p);
    }
  }

  /**
   * Resizes and/or moves a mapping (mremap). Checks in Linux's order:
   * EINVAL for unknown flags, MREMAP_FIXED without MREMAP_MAYMOVE,
   * MREMAP_DONTUNMAP without MAYMOVE or with a change of size, an
   * unaligned address or a zero new length; EFAULT when `addr` is not
   * mapped or the old range runs past its mapping. Shrinking unmaps the
   * tail. Growing is EFAULT for a mapping that cannot expand
   * (VM_DONTEXPAND or VM_PFNMAP: remap_pfn_range mappings such as
   * dma-buf heaps), grows in place when the room after it is free, else
   * moves with MREMAP_MAYMOVE (ENOMEM without). A move carries the frames,
   * private bytes and copy-on-write marks to the new place; the file's
   * mapping owner sees a new VMA open and the old one close. Returns the
   * new address. Never sleeps.
   */
  mremap(addr: number, oldLen: number, newLen: number, flags: number, newAddr = 0): number {
    if (!Number.isInteger(flags) || flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) throw kerr('EINVAL', `mremap flags ${flags}`);
    if (flags & MREMAP_FIXED && !(flags & MREMAP_MAYMOVE)) throw kerr('EINVAL', 'MREMAP_FIXED without MREMAP_MAYMOVE');
    if (flags & MREMAP_DONTUNMAP && (!(flags & MREMAP_MAYMOVE) || oldLen !== newLen)) throw kerr('EINVAL', 'MREMAP_DONTUNMAP needs MREMAP_MAYMOVE and an unchanged size');
    if (!Number.isSafeInteger(addr) || addr < 0 || addr % PAGE_SIZE) throw kerr('EINVAL', `address ${addr}`);
    if (!Number.isSafeInteger(oldLen) || oldLen < 0 || !Number.isSafeInteger(newLen) || newLen < 0) throw kerr('EINVAL', 'length');
    oldLen = alignUp(oldLen, PAGE_SIZE);
    newLen = alignUp(newLen, PAGE_SIZE);
    if (newLen === 0) throw kerr('EINVAL', 'zero new length');
    if (!this.find(addr)) throw kerr('EFAULT', `nothing mapped at 0x${addr.toString(16)}`);
    if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) return this.mremapTo(addr, oldLen, newAddr, newLen, flags);
    if (oldLen >= newLen) {
      if (oldLen > newLen) this.munmap(addr + newLen, oldLen - newLen);
      return addr;
    }
    const v = this.vmaToResize(addr, oldLen, newLen, flags);
    if (oldLen === v.end - addr && this.expandable(v, newLen - oldLen)) {
      v.resize(addr + newLen);
      return addr;
    }
    if (!(flags & MREMAP_MAYMOVE)) throw kerr('ENOMEM', 'no room to grow in place');
    return this.moveVma(v, addr, oldLen, newLen, this.unmappedArea(0, newLen), flags);
  }

  /**
   * Copies the mappings for a child (dup_mmap): shared mappings share the
   * frames; private ones get a copy of their private bytes (the eager form
   * of copy-on-write). Each copy references the file and tells the mapping's
   * owner through vmOps.open.
   */
  fork(): AddressSpace {
    const child = new AddressSpace(this.cpu, this.anonMem);
    for (const v of this.vmas) {
      const c = new Vma(v.start, v.end, v.flags, v.pgoff, v.file, Float64Array.from(v.pfns));
      c.memType = v.installedMemType;
      c.vmOps = v.vmOps;
      c.privateData = v.privateData;
      // shared anonymous memory stays one buffer across fork; private memory is copied
      if (v.anon) c.anon = !v.file && v.shared ? v.privateBytes() : v.anon.slice();
      else if (!v.file && v.shared && !v.obj) c.anon = v.privateBytes();
      if (v.cow) c.cow = v.cow.slice();
      if (v.obj) {
        if (!v.file && v.shared) this.attachObj(c, v.obj.get(), v.objOff);
        else {
          let dup: AnonObject;
          try {
            dup = v.obj.duplicate();
          } catch (e) {
            child.teardown();
            throw e;
          }
          this.attachObj(c, dup, 0);
          // the child's private pages are its copies: they fault in from its own object
          for (let i = 0; i < c.pfns.length; i++) if (!c.file || c.cow?.[i]) c.pfns[i] = -1;
        }
      }
      c.file?.get();
      c.vmOps?.open?.(c);
      child.registerPages(c);
      child.vmas.push(c);
    }
    return child;
  }

  /**
   * Pins the frames behind [addr, addr+len) and returns them, one per page
   * (pin_user_pages_fast with FOLL_LONGTERM): pages are faulted in first, a
   * private file page written through `write` gets its copy first; each
   * page then holds a reference and a pin, so migration skips it and it
   * outlives munmap until unpinned. EFAULT for a page outside every
   * mapping, in a VM_IO/VM_PFNMAP mapping, without read permission or,
   * with `write`, write permission, or that cannot be faulted in; nothing
   * is pinned then. EFAULT without an mm (no page frames to pin).
   */
  pinUserPages(addr: number, len: number, write: boolean): Uint32Array {
    const pages = this.anonMem?.mm.pages;
    if (!pages) throw kerr('EFAULT', 'pin_user_pages: no page allocator behind this address space');
    if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(len) || addr < 0 || len < 0 || addr + len > TASK_SIZE) throw kerr('EFAULT', `pin_user_pages: bad range 0x${addr.toString(16)}+${len}`);
    const first = Math.floor(addr / PAGE_SIZE);
    const n = len === 0 ? 0 : Math.ceil((addr + len) / PAGE_SIZE) - first;
    const out = new Uint32Array(n);
    for (let k = 0; k < n; k++) {
      const a = (first + k) * PAGE_SIZE;
      const v = this.find(a);
      if (!v) throw kerr('EFAULT', `pin_user_pages: nothing mapped at 0x${a.toString(16)}`);
      if (v.flags & (VM_IO | VM_PFNMAP)) throw kerr('EFAULT', `pin_user_pages: 0x${a.toString(16)} is a VM_IO/VM_PFNMAP mapping`);
      if (!(v.flags & (write ? VM_WRITE : VM_READ))) throw kerr('EFAULT', `pin_user_pages: 0x${a.toString(16)} is not ${write ? 'writable' : 'readable'}`);
      const i = (a - v.start) / PAGE_SIZE;
      let pfn: number;
      try {
        if (write && v.file && !v.shared && !v.cow?.[i]) {
          this.copyOnWrite(v, i);
        }
        if (!v.file && !v.obj) throw new AccessFault({ signal: 'SIGBUS', addr: a, why: 'anonymous memory without page frames' });
        pfn = this.frame(v, i, a);
      } catch (e) {
        if (e instanceof AccessFault) throw kerr('EFAULT', `pin_user_pages: ${e.message}`);
        throw e;
      }
      if (pages.pageCount(pfn) === 0) throw kerr('EFAULT', `pin_user_pages: pfn 0x${pfn.toString(16)} is not a pinnable page`);
      out[k] = pfn;
    }
    for (let k = 0; k < n; k++) {
      pages.getPage(out[k]!);
      pages.pinPages(out[k]!, 1);
    }
    return out;
  }

  /** Unpins frames pinUserPages returned and drops their references (unpin_user_pages); KernelBug for a frame not pinned. */
  unpinUserPages(pfns: Uint32Array): void {
    const pages = this.anonMem?.mm.pages;
    if (!pages) throw new KernelBug('unpin_user_pages without a page allocator');
    for (let k = 0; k < pfns.length; k++) if (pages.pinCount(pfns[k]!) === 0) throw new KernelBug(`unpin_user_pages: pfn 0x${pfns[k]!.toString(16)} is not pinned`);
    for (let k = 0; k < pfns.length; k++) {
      pages.unpinPages(pfns[k]!, 1);
      pages.putPage(pfns[k]!);
    }
  }

  /** Removes every mapping (exit_mmap / exec). */
  teardown(): void {
    const all = this.vmas;
    this.vmas = [];
    this.last = null;
    for (const v of all) this.dropVma(v);
  }

  /**
   * Reads `len` bytes at `addr` through the mappings and the CPU cache
   * (a userspace load). Throws AccessFault for a page outside every
   * mapping or without read permission (SIGSEGV), or with no frame (SIGBUS).
   */
  load(addr: number, len: number, out = new Uint8Array(len)): Uint8Array {
    this.check(addr, len, VM_READ);
    let off = 0;
    while (off < len) {
      const a = addr + off;
      const v = this.find(a)!;
      const n = Math.min(len - off, v.end - a);
      this.accessRun(v, a, n, out, off, false);
      off += n;
    }
    return out;
  }

  /**
   * Writes `src` at `addr` through the mappings and the CPU cache (a
   * userspace store). Checks the whole range first, so a faulting store
   * changes nothing. AccessFault as for load, with write permission.
   */
  store(addr: number, src: Uint8Array): void {
    const len = src.length;
    this.check(addr, len, VM_WRITE);
    let off = 0;
    while (off < len) {
      const a = addr + off;
      const v = this.find(a)!;
      const n = Math.min(len - off, v.end - a);
      this.accessRun(v, a, n, src, off, true);
      off += n;
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

  /** Checks that [addr, addr+len) is mapped with `need` (VM_READ or VM_WRITE) throughout. */
  private check(addr: number, len: number, need: number): void {
    if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(len) || len < 0 || addr < 0) {
      throw new AccessFault({ signal: 'SIGSEGV', addr, why: 'bad address or length' });
    }
    let a = addr;
    const end = addr + len;
    while (a < end) {
      const v = this.find(a);
      if (!v) throw new AccessFault({ signal: 'SIGSEGV', addr: a, why: 'no mapping' });
      if (!(v.flags & need)) throw new AccessFault({ signal: 'SIGSEGV', addr: a, why: need === VM_WRITE ? 'mapping is not writable' : 'mapping is not readable' });
      a = v.end;
    }
  }

  /** Moves bytes between `buf` and one VMA's pages, a run of contiguous frames at a time. */
  private accessRun(v: Vma, addr: number, len: number, buf: Uint8Array, bufOff: number, write: boolean): void {
    if (!v.file && !v.obj) {
      const anon = v.privateBytes();
      const o = addr - v.start;
      if (o + len > anon.length) throw new AccessFault({ signal: 'SIGBUS', addr: v.start + Math.max(o, anon.length), why: 'beyond the end of the shared memory object' });
      if (write) anon.set(buf.subarray(bufOff, bufOff + len), o);
      else buf.set(anon.subarray(o, o + len), bufOff);
      return;
    }
    let off = 0;
    while (off < len) {
      const a = addr + off;
      const page = Math.floor((a - v.start) / PAGE_SIZE);
      const inPage = (a - v.start) % PAGE_SIZE;
      if (this.anonMem) {
        // private copies are frames too: copy on the first write, then go through the frame like any other page
        if (write && v.file && !v.shared && !v.cow?.[page]) this.copyOnWrite(v, page);
      } else if (!v.shared && (write || v.cow?.[page])) {
        const n = Math.min(len - off, PAGE_SIZE - inPage);
        if (!v.cow?.[page]) this.copyOnWrite(v, page);
        const anon = v.anon!;
        const o = page * PAGE_SIZE + inPage;
        if (write) anon.set(buf.subarray(bufOff + off, bufOff + off + n), o);
        else buf.set(anon.subarray(o, o + n), bufOff + off);
        off += n;
        continue;
      }
      // a run of pages whose frames are consecutive and need no private copy
      const pfn = this.frame(v, page, a);
      let n = Math.min(len - off, PAGE_SIZE - inPage);
      let p = page + 1;
      while (off + n < len && p < v.pfns.length && this.runContinues(v, p, write) && this.frameIfPresent(v, p) === pfn + (p - page)) {
        n += Math.min(len - off - n, PAGE_SIZE);
        p++;
      }
      const pa = pfn * PAGE_SIZE + inPage;
      try {
        if (write) this.cpu.store(pa, buf, bufOff + off, n, v.installedMemType);
        else this.cpu.load(pa, buf, bufOff + off, n, v.installedMemType);
      } catch (e) {
        if (e instanceof BusError) throw new AccessFault({ signal: 'SIGBUS', addr: a, why: e.message });
        throw e;
      }
      off += n;
    }
  }

  /** True when page `p` may join a run of frame accesses without a copy-on-write first. */
  private runContinues(v: Vma, p: number, write: boolean): boolean {
    if (!this.anonMem) return !v.cow?.[p];
    return !write || !v.file || v.shared || v.cow?.[p] === 1;
  }

  /**
   * The frame of page `i`: anonymous pages and private copies from the
   * VMA's object (allocated zeroed on first touch), file pages through
   * vmOps.fault; SIGBUS when there is none.
   */
  private frame(v: Vma, i: number, addr: number): number {
    const pfn = v.pfns[i]!;
    if (pfn >= 0) return pfn;
    const obj = v.obj;
    if (obj && (!v.file || v.cow?.[i])) {
      const slot = i + v.objOff;
      if (slot >= obj.pages) throw new AccessFault({ signal: 'SIGBUS', addr, why: 'beyond the end of the shared memory object' });
      let got: number;
      try {
        got = obj.getPage(slot);
      } catch (e) {
        throw new AccessFault({ signal: 'SIGBUS', addr, why: `no memory for the page: ${(e as Error).message}` });
      }
      v.setPfn(i, got);
      return got;
    }
    const fault = v.vmOps?.fault;
    if (!fault) throw new AccessFault({ signal: 'SIGBUS', addr, why: 'no page behind the mapping' });
    let got: number;
    try {
      got = fault(v, i);
    } catch (e) {
      throw new AccessFault({ signal: 'SIGBUS', addr, why: `fault handler: ${(e as Error).message}` });
    }
    if (v.pfns[i]! < 0) v.setPfn(i, got);
    return v.pfns[i]!;
  }

  /** The frame of page `i` if it has one, else -1 (no fault-in while extending a run). */
  private frameIfPresent(v: Vma, i: number): number {
    return v.pfns[i]!;
  }

  /** Gives a private file mapping its own copy of page `i` (do_cow_fault / wp_page_copy). */
  private copyOnWrite(v: Vma, i: number): void {
    if (this.anonMem) {
      this.copyOnWriteFrame(v, i);
      return;
    }
    const anon = v.privateBytes();
    if (!v.cow) v.cow = new Uint8Array(v.pages);
    const addr = v.start + i * PAGE_SIZE;
    const pfn = this.frame(v, i, addr);
    try {
      this.cpu.load(pfn * PAGE_SIZE, anon, i * PAGE_SIZE, PAGE_SIZE, v.installedMemType);
    } catch (e) {
      if (e instanceof BusError) throw new AccessFault({ signal: 'SIGBUS', addr, why: e.message });
      throw e;
    }
    v.cow[i] = 1;
  }

  /**
   * Copy-on-write into a DRAM page of the VMA's object: the file page's
   * bytes as this mapping sees them, then the copy replaces the file frame
   * in the page table.
   */
  private copyOnWriteFrame(v: Vma, i: number): void {
    const addr = v.start + i * PAGE_SIZE;
    const src = this.frame(v, i, addr);
    if (!v.obj) this.attachObj(v, this.anonMem!.create(v.pages), 0);
    let dst: number;
    try {
      dst = v.obj!.getPage(i + v.objOff);
    } catch (e) {
      throw new AccessFault({ signal: 'SIGBUS', addr, why: `no memory for the copy: ${(e as Error).message}` });
    }
    const buf = (this.scratch ??= new Uint8Array(PAGE_SIZE));
    try {
      this.cpu.load(src * PAGE_SIZE, buf, 0, PAGE_SIZE, v.installedMemType);
    } catch (e) {
      if (e instanceof BusError) throw new AccessFault({ signal: 'SIGBUS', addr, why: e.message });
      throw e;
    }
    this.cpu.store(dst * PAGE_SIZE, buf, 0, PAGE_SIZE, v.installedMemType);
    v.zapPages(i, 1);
    if (!v.cow) v.cow = new Uint8Array(v.pages);
    v.cow[i] = 1;
    v.setPfn(i, dst);
  }

  /** Gives `v` its anonymous object, page 0 at slot `off`, and lists `v` among the object's mappings. */
  private attachObj(v: Vma, obj: AnonObject, off: number): void {
    v.obj = obj;
    v.objOff = off;
    obj.vmas.set(v, off);
  }

  /** Drops `v`'s reference to its object (its pages go with the last one). */
  private detachObj(v: Vma): void {
    const obj = v.obj;
    if (!obj) return;
    obj.vmas.delete(v);
    v.obj = null;
    obj.put();
  }

  /** mremap to a given or hinted place (mremap_to): the destination must not overlap the source; MREMAP_FIXED unmaps it first. */
  private mremapTo(addr: number, oldLen: number, newAddr: number, newLen: number, flags: number): number {
    if (!Number.isSafeInteger(newAddr) || newAddr < 0 || newAddr % PAGE_SIZE) throw kerr('EINVAL', `new address ${newAddr}`);
    if (newLen > TASK_SIZE || newAddr > TASK_SIZE - newLen) throw kerr('EINVAL', 'new range beyond the address space');
    if (addr + oldLen > newAddr && newAddr + newLen > addr) throw kerr('EINVAL', 'old and new ranges overlap');
    if (flags & MREMAP_FIXED) this.munmap(newAddr, newLen);
    if (oldLen > newLen) {
      this.munmap(addr + newLen, oldLen - newLen);
      oldLen = newLen;
    }
    const v = this.vmaToResize(addr, oldLen, newLen, flags);
    let to = newAddr;
    if (flags & MREMAP_FIXED) {
      if (newAddr < MMAP_MIN_ADDR) throw kerr('EPERM', 'fixed address below mmap_min_addr');
    } else {
      to = this.unmappedArea(newAddr, newLen);
    }
    return this.moveVma(v, addr, oldLen, newLen, to, flags);
  }

  /** The mapping at `addr` if the old range may become the new one (vma_to_resize). */
  private vmaToResize(addr: number, oldLen: number, newLen: number, flags: number): Vma {
    const v = this.find(addr);
    if (!v) throw kerr('EFAULT', `nothing mapped at 0x${addr.toString(16)}`);
    // a zero old length duplicates a shared mapping; a private one cannot be duplicated
    if (oldLen === 0 && !(v.flags & (VM_SHARED | VM_MAYSHARE))) throw kerr('EINVAL', 'zero old length on a private mapping');
    if (flags & MREMAP_DONTUNMAP && v.flags & (VM_DONTEXPAND | VM_PFNMAP)) throw kerr('EINVAL', 'MREMAP_DONTUNMAP of a pfn mapping');
    if (oldLen > v.end - addr) throw kerr('EFAULT', 'old range crosses the end of its mapping');
    if (newLen === oldLen) return v;
    if (v.flags & (VM_DONTEXPAND | VM_PFNMAP)) throw kerr('EFAULT', 'the mapping cannot expand (VM_DONTEXPAND/VM_PFNMAP)');
    return v;
  }

  /** True when `v` can grow by `delta` bytes where it is (vma_expandable). */
  private expandable(v: Vma, delta: number): boolean {
    const end = v.end + delta;
    if (end > TASK_SIZE) return false;
    const next = this.vmas[this.vmas.indexOf(v) + 1];
    return !next || next.start >= end;
  }

  /**
   * Moves [addr, addr+oldLen) of `v` to `to`, `newLen` long (move_vma):
   * a new VMA carries the frames, private bytes and copy-on-write marks;
   * then the old range is unmapped, or with MREMAP_DONTUNMAP left mapped
   * but emptied (file pages refault, private anonymous pages read zero).
   */
  private moveVma(v: Vma, addr: number, oldLen: number, newLen: number, to: number, flags: number): number {
    const first = (addr - v.start) / PAGE_SIZE;
    const keep = Math.min(oldLen, newLen);
    const pfns = new Float64Array(newLen / PAGE_SIZE).fill(-1);
    pfns.set(v.pfns.subarray(first, first + keep / PAGE_SIZE));
    const c = new Vma(to, to + newLen, v.flags, v.pgoff + first, v.file, pfns);
    c.memType = v.installedMemType;
    c.vmOps = v.vmOps;
    c.privateData = v.privateData;
    const off = first * PAGE_SIZE;
    if (v.obj) {
      if (!v.file && v.shared) this.attachObj(c, v.obj.get(), v.objOff + first);
      else {
        this.attachObj(c, this.anonMem!.create(newLen / PAGE_SIZE), 0);
        v.obj.moveTo(c.obj!, first, keep / PAGE_SIZE, 0);
      }
    } else if (!v.file && v.shared) c.anon = v.privateBytes().subarray(off);
    else if (v.anon) {
      c.anon = new Uint8Array(newLen);
      c.anon.set(v.anon.subarray(off, off + keep));
    }
    if (v.cow) {
      c.cow = new Uint8Array(newLen / PAGE_SIZE);
      c.cow.set(v.cow.subarray(first, first + keep / PAGE_SIZE));
    }
    c.file?.get();
    c.vmOps?.open?.(c);
    if (flags & MREMAP_DONTUNMAP) {
      if (v.file) v.zapPages(first, oldLen / PAGE_SIZE, true);
      else if (!v.shared && v.obj) v.zapPages(first, oldLen / PAGE_SIZE);
      else if (!v.shared) v.anon?.fill(0, off, off + oldLen);
    } else if (oldLen > 0) {
      this.munmap(addr, oldLen);
    }
    this.installVma(c);
    return to;
  }

  /** Places a new mapping of `size` bytes: the hint if free, else top-down below MMAP_BASE (get_unmapped_area). */
  private unmappedArea(hint: number, size: number): number {
    if (hint && hint % PAGE_SIZE === 0 && hint >= MMAP_MIN_ADDR && hint + size <= TASK_SIZE && !this.overlaps(hint, size)) return hint;
    let top = MMAP_BASE;
    for (let i = this.vmas.length - 1; i >= 0; i--) {
      const v = this.vmas[i]!;
      if (v.start >= top) continue;
      if (v.end <= top - size) break;
      top = v.start;
    }
    if (top - size < MMAP_MIN_ADDR) throw kerr('ENOMEM', 'address space full');
    return top - size;
  }

  private overlaps(start: number, size: number): boolean {
    const end = start + size;
    for (const v of this.vmas) if (v.start < end && v.end > start) return true;
    return false;
  }

  /** Makes a VMA live: registers its frames with the CPU and takes fault-ins from now on. */
  private installVma(v: Vma): void {
    this.registerPages(v);
    this.insertSorted(v);
  }

  private registerPages(v: Vma): void {
    v.installedMemType = v.memType;
    v.sink = this;
    if ((!v.file && !v.obj) || !isCacheable(v.installedMemType)) return;
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

  private insertSorted(v: Vma): void {
    let i = this.vmas.length;
    while (i > 0 && this.vmas[i - 1]!.start > v.start) i--;
    if ((i > 0 && this.vmas[i - 1]!.end > v.start) || (i < this.vmas.length && this.vmas[i]!.start < v.end)) {
      throw new KernelBug(`vma 0x${v.start.toString(16)}-0x${v.end.toString(16)} overlaps another`);
    }
    this.vmas.splice(i, 0, v);
  }

  /** A piece [start, end) of `v` that survives a partial unmap (__split_vma). */
  private splitPiece(v: Vma, start: number, end: number): Vma {
    const first = (start - v.start) / PAGE_SIZE;
    const n = (end - start) / PAGE_SIZE;
    const p = new Vma(start, end, v.flags, v.pgoff + first, v.file, v.pfns.slice(first, first + n));
    p.memType = v.installedMemType;
    p.installedMemType = v.installedMemType;
    p.vmOps = v.vmOps;
    p.privateData = v.privateData;
    p.sink = this;
    if (v.obj) {
      if (!v.file && v.shared) this.attachObj(p, v.obj.get(), v.objOff + first);
      else {
        this.attachObj(p, this.anonMem!.create(n), 0);
        v.obj.moveTo(p.obj!, first, n, 0);
      }
    } else if (!v.file && v.shared) p.anon = v.privateBytes().subarray(first * PAGE_SIZE, (first + n) * PAGE_SIZE);
    else if (v.anon) p.anon = v.anon.slice(first * PAGE_SIZE, (first + n) * PAGE_SIZE);
    if (v.cow) p.cow = v.cow.slice(first, first + n);
    p.file?.get();
    p.vmOps?.open?.(p);
    return p;
  }

  /**
   * Takes `v` out of the list; only the pages in [from, to) lose their CPU
   * registration (the pieces kept the rest). Then the owner's close and the
   * file reference.
   */
  private removeVma(v: Vma, from: number, to: number): void {
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
  private dropVma(v: Vma): void {
    if (v.sink === this) this.unregisterPages(v, v.start, v.end);
    v.sink = null;
    this.detachObj(v);
    v.vmOps?.close?.(v);
    v.file?.put();
  }

  private unregisterPages(v: Vma, from: number, to: number): void {
    if ((!v.file && !v.obj) || !isCacheable(v.installedMemType)) return;
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
}
