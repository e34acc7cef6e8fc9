import { PAGE_SIZE } from '../lib/index.ts';
import { BusError } from '../hw/index.ts';
import { VM_READ, VM_WRITE } from '../fs/index.ts';
import type { AddressSpace } from './address-space.ts';
import { faultInPage, needsCow, wpPageCopy } from './memory.ts';
import { AccessFault, type Vma } from './vma.ts';

/** Checks that [addr, addr+len) is mapped with `need` (VM_READ or VM_WRITE) throughout: AccessFault (SIGSEGV) else. */
function checkAccess(mm: AddressSpace, addr: number, len: number, need: number): void {
  if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(len) || len < 0 || addr < 0) {
    throw new AccessFault({ signal: 'SIGSEGV', addr, why: 'bad address or length' });
  }
  let a = addr;
  const end = addr + len;
  while (a < end) {
    const v = mm.find(a);
    if (!v) throw new AccessFault({ signal: 'SIGSEGV', addr: a, why: 'no mapping' });
    if (!(v.flags & need)) throw new AccessFault({ signal: 'SIGSEGV', addr: a, why: need === VM_WRITE ? 'mapping is not writable' : 'mapping is not readable' });
    a = v.end;
  }
}

/** True when page `p` may join a run of frame accesses without a copy-on-write first. */
function runContinues(v: Vma, p: number, write: boolean): boolean {
  return !write || !needsCow(v, p);
}

/** Moves bytes between `buf` and one VMA's pages, a run of contiguous frames at a time. */
function accessRun(mm: AddressSpace, v: Vma, addr: number, len: number, buf: Uint8Array, bufOff: number, write: boolean): void {
  v.vmOps?.cpuAccess?.(v, addr, len, write);
  let off = 0;
  while (off < len) {
    const a = addr + off;
    const page = Math.floor((a - v.start) / PAGE_SIZE);
    const inPage = (a - v.start) % PAGE_SIZE;
    // private copies are frames too: copy on the first write, then go through the frame like any other page
    if (write && needsCow(v, page)) wpPageCopy(mm, v, page);
    // a run of pages whose frames are consecutive and need no private copy
    const pfn = faultInPage(v, page, a);
    let n = Math.min(len - off, PAGE_SIZE - inPage);
    let p = page + 1;
    while (off + n < len && p < v.pfns.length && runContinues(v, p, write) && v.pfns[p] === pfn + (p - page)) {
      n += Math.min(len - off - n, PAGE_SIZE);
      p++;
    }
    const pa = pfn * PAGE_SIZE + inPage;
    try {
      if (write) mm.cpu.store(pa, buf, bufOff + off, n, v.installedMemType);
      else mm.cpu.load(pa, buf, bufOff + off, n, v.installedMemType);
    } catch (e) {
      if (e instanceof BusError) throw new AccessFault({ signal: 'SIGBUS', addr: a, why: e.message });
      throw e;
    }
    off += n;
  }
}

/**
 * Reads `len` bytes at `addr` through the mappings and the CPU cache (a
 * userspace load). Throws AccessFault for a page outside every mapping or
 * without read permission (SIGSEGV), or with no frame (SIGBUS). Never
 * sleeps; the CPU's memory time lands on cpu.busyNs.
 */
export function userLoad(mm: AddressSpace, addr: number, len: number, out = new Uint8Array(len)): Uint8Array {
  checkAccess(mm, addr, len, VM_READ);
  let off = 0;
  while (off < len) {
    const a = addr + off;
    const v = mm.find(a)!;
    const n = Math.min(len - off, v.end - a);
    accessRun(mm, v, a, n, out, off, false);
    off += n;
  }
  return out;
}

/**
 * Writes `src` at `addr` through the mappings and the CPU cache (a
 * userspace store); a private file page gets its copy first. Checks the
 * whole range first, so a faulting store changes nothing. AccessFault as
 * for userLoad, with write permission.
 */
export function userStore(mm: AddressSpace, addr: number, src: Uint8Array): void {
  const len = src.length;
  checkAccess(mm, addr, len, VM_WRITE);
  let off = 0;
  while (off < len) {
    const a = addr + off;
    const v = mm.find(a)!;
    const n = Math.min(len - off, v.end - a);
    accessRun(mm, v, a, n, src, off, true);
    off += n;
  }
}

const TLB_SIZE = 64;

/** The TLB slot of a page: its low bits (a mask: `%` on a page number past 2^31 is a floating-point remainder). */
function tlbSlot(page: number): number {
  return page & (TLB_SIZE - 1);
}

/**
 * The translations of the pages a program touched since its last system
 * call (its TLB), for code that makes millions of small accesses between
 * calls (a WebAssembly program's loads and stores): a hit goes straight
 * to the CPU and its cache at the physical address, as userLoad and
 * userStore would after their checks; a miss takes them and keeps the
 * translation (a write translation only once the page needs no
 * copy-on-write). Correct only while nothing else runs: the mappings
 * change in system calls and in kernel work (migration, zap) that runs
 * while the program waits in one, so the owner flushes it at every call.
 */
export class UserTlb {
  private readonly mm: () => AddressSpace;
  private readonly readPage = new Float64Array(TLB_SIZE).fill(-1);
  private readonly readPa = new Float64Array(TLB_SIZE);
  private readonly readType: Vma['installedMemType'][] = new Array<Vma['installedMemType']>(TLB_SIZE).fill('wb');
  private readonly writePage = new Float64Array(TLB_SIZE).fill(-1);
  private readonly writePa = new Float64Array(TLB_SIZE);
  private readonly writeType: Vma['installedMemType'][] = new Array<Vma['installedMemType']>(TLB_SIZE).fill('wb');

  constructor(mm: () => AddressSpace) {
    this.mm = mm;
  }

  /** Forgets every translation (a system call may have changed any). */
  flush(): void {
    this.readPage.fill(-1);
    this.writePage.fill(-1);
  }

  /** A load of `len` bytes at `addr` into `out` at `outOff` (userLoad); AccessFault as it. */
  load(addr: number, out: Uint8Array<ArrayBuffer>, outOff = 0, len = out.length - outOff): void {
    const page = Math.floor(addr / PAGE_SIZE);
    const off = addr - page * PAGE_SIZE;
    const slot = tlbSlot(page);
    if (off + len <= PAGE_SIZE && this.readPage[slot] === page) {
      direct(this.mm(), this.readPa[slot]! + off, out, outOff, len, this.readType[slot]!, addr, false);
      return;
    }
    const mm = this.mm();
    if (outOff === 0 && len === out.length) userLoad(mm, addr, len, out);
    else out.set(userLoad(mm, addr, len), outOff);
    if (off + len > PAGE_SIZE) return;
    const v = mm.find(addr)!;
    const pfn = v.pfns[Math.floor((addr - v.start) / PAGE_SIZE)]!;
    if (pfn < 0) return;
    this.readPage[slot] = page;
    this.readPa[slot] = pfn * PAGE_SIZE;
    this.readType[slot] = v.installedMemType;
  }

  /** A store of `src` at `addr` (userStore); AccessFault as it. */
  store(addr: number, src: Uint8Array): void {
    const len = src.length;
    const page = Math.floor(addr / PAGE_SIZE);
    const off = addr - page * PAGE_SIZE;
    const slot = tlbSlot(page);
    if (off + len <= PAGE_SIZE && this.writePage[slot] === page) {
      direct(this.mm(), this.writePa[slot]! + off, src, 0, len, this.writeType[slot]!, addr, true);
      return;
    }
    const mm = this.mm();
    userStore(mm, addr, src);
    if (off + len > PAGE_SIZE) return;
    const v = mm.find(addr)!;
    const i = Math.floor((addr - v.start) / PAGE_SIZE);
    const pfn = v.pfns[i]!;
    if (pfn < 0 || needsCow(v, i)) return;
    this.writePage[slot] = page;
    this.writePa[slot] = pfn * PAGE_SIZE;
    this.writeType[slot] = v.installedMemType;
    // the page's read translation is the same frame now (a private copy may have replaced it)
    if (this.readPage[slot] === page) this.readPa[slot] = pfn * PAGE_SIZE;
  }
}

/** One access at a translated address, as accessRun makes it (a bus error is SIGBUS). */
function direct(mm: AddressSpace, pa: number, buf: Uint8Array, bufOff: number, len: number, t: Vma['installedMemType'], addr: number, write: boolean): void {
  try {
    if (write) mm.cpu.store(pa, buf, bufOff, len, t);
    else mm.cpu.load(pa, buf, bufOff, len, t);
  } catch (e) {
    if (e instanceof BusError) throw new AccessFault({ signal: 'SIGBUS', addr, why: e.message });
    throw e;
  }
}
