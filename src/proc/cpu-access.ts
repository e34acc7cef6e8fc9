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
