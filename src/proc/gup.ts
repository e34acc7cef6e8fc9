import { KernelBug, PAGE_SIZE, kerr } from '../lib/index.ts';
import { VM_IO, VM_PFNMAP, VM_READ, VM_WRITE } from '../fs/index.ts';
import type { AddressSpace } from './address-space.ts';
import { faultInPage, needsCow, wpPageCopy } from './memory.ts';
import { AccessFault } from './vma.ts';
import { getPage, pageCount, pinCount, pinPages, putPage, unpinPages } from '../mm/index.ts';

/**
 * Pins the frames behind [addr, addr+len) and returns them, one per page
 * (pin_user_pages_fast with FOLL_LONGTERM): pages are faulted in first, a
 * private file page written through `write` gets its copy first; each
 * page then holds a reference and a pin, so migration skips it and it
 * outlives munmap until unpinned. EFAULT for a page outside every
 * mapping, in a VM_IO/VM_PFNMAP mapping, without read permission or,
 * with `write`, write permission, or that cannot be faulted in; ENOMEM
 * when faulting a page in found no memory; nothing is pinned then.
 */
export function pinUserPages(mm: AddressSpace, addr: number, len: number, write: boolean): Uint32Array {
  const pages = mm.anonMem.mm.pages;
  if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(len) || addr < 0 || len < 0 || addr + len > mm.taskSize) throw kerr('EFAULT', `pin_user_pages: bad range 0x${addr.toString(16)}+${len}`);
  const first = Math.floor(addr / PAGE_SIZE);
  const n = len === 0 ? 0 : Math.ceil((addr + len) / PAGE_SIZE) - first;
  const out = new Uint32Array(n);
  for (let k = 0; k < n; k++) {
    const a = (first + k) * PAGE_SIZE;
    const v = mm.find(a);
    if (!v) throw kerr('EFAULT', `pin_user_pages: nothing mapped at 0x${a.toString(16)}`);
    if (v.flags & (VM_IO | VM_PFNMAP)) throw kerr('EFAULT', `pin_user_pages: 0x${a.toString(16)} is a VM_IO/VM_PFNMAP mapping`);
    if (!(v.flags & (write ? VM_WRITE : VM_READ))) throw kerr('EFAULT', `pin_user_pages: 0x${a.toString(16)} is not ${write ? 'writable' : 'readable'}`);
    const i = (a - v.start) / PAGE_SIZE;
    let pfn: number;
    try {
      if (write && needsCow(v, i)) wpPageCopy(mm, v, i);
      pfn = faultInPage(v, i, a);
    } catch (e) {
      // vm_fault_to_errno: VM_FAULT_OOM is ENOMEM, a SIGBUS or SIGSEGV fault EFAULT
      if (e instanceof AccessFault) throw kerr(e.fault.oom ? 'ENOMEM' : 'EFAULT', `pin_user_pages: ${e.message}`);
      throw e;
    }
    if (pageCount(pages, pfn) === 0) throw kerr('EFAULT', `pin_user_pages: pfn 0x${pfn.toString(16)} is not a pinnable page`);
    out[k] = pfn;
  }
  for (let k = 0; k < n; k++) {
    getPage(pages, out[k]!);
    pinPages(pages, out[k]!, 1);
  }
  return out;
}

/** Unpins frames pinUserPages returned and drops their references (unpin_user_pages); KernelBug for a frame not pinned. */
export function unpinUserPages(mm: AddressSpace, pfns: Uint32Array): void {
  const pages = mm.anonMem.mm.pages;
  for (let k = 0; k < pfns.length; k++) if (pinCount(pages, pfns[k]!) === 0) throw new KernelBug(`unpin_user_pages: pfn 0x${pfns[k]!.toString(16)} is not pinned`);
  for (let k = 0; k < pfns.length; k++) {
    unpinPages(pages, pfns[k]!, 1);
    putPage(pages, pfns[k]!);
  }
}
