import { PAGE_SIZE, isKernelError } from '../lib/index.ts';
import { BusError } from '../hw/index.ts';
import type { AddressSpace } from './address-space.ts';
import { AccessFault, type Vma } from './vma.ts';

/**
 * The frame of page `i` of `v`, faulted in if it has none
 * (handle_mm_fault): anonymous pages and private copies from the VMA's
 * object (allocated zeroed on first touch), file pages through
 * vmOps.fault. AccessFault (SIGBUS) when there is none: past the end of a
 * shared anonymous object or a fault handler's failure; an allocation that
 * fails with ENOMEM is VM_FAULT_OOM (vmf_error), an AccessFault marked oom.
 */
export function faultInPage(v: Vma, i: number, addr: number): number {
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
      throw faultError(e, addr, 'no memory for the page');
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
    throw faultError(e, addr, 'fault handler');
  }
  if (v.pfns[i]! < 0) v.setPfn(i, got);
  return v.pfns[i]!;
}

/**
 * The fault a failed page allocation or fault handler gives (vmf_error):
 * ENOMEM is VM_FAULT_OOM, anything else the kernel returned is
 * VM_FAULT_SIGBUS. Errors that are not the kernel's pass through.
 */
function faultError(e: unknown, addr: number, what: string): AccessFault {
  if (!isKernelError(e)) throw e;
  const oom = e.code === 'ENOMEM';
  return new AccessFault({ signal: 'SIGBUS', addr, why: `${what}: ${e.message}`, ...(oom ? { oom } : {}) });
}

/** True when a write to page `i` of `v` must first give the mapping its own copy (a private file page not yet copied). */
export function needsCow(v: Vma, i: number): boolean {
  return !!v.file && !v.shared && !v.cow?.[i];
}

/**
 * Gives a private file mapping its own copy of page `i` (do_cow_fault /
 * wp_page_copy): a DRAM page of the VMA's object gets the file page's
 * bytes as this mapping sees them, then replaces the file frame in the
 * page table. AccessFault (SIGBUS) when the file page or the copy cannot
 * be had.
 */
export function wpPageCopy(mm: AddressSpace, v: Vma, i: number): void {
  const addr = v.start + i * PAGE_SIZE;
  const src = faultInPage(v, i, addr);
  if (!v.obj) mm.attachObj(v, mm.anonMem.create(v.pages), 0);
  let dst: number;
  try {
    dst = v.obj!.getPage(i + v.objOff);
  } catch (e) {
    throw faultError(e, addr, 'no memory for the copy');
  }
  const buf = mm.scratch;
  try {
    mm.cpu.load(src * PAGE_SIZE, buf, 0, PAGE_SIZE, v.installedMemType);
  } catch (e) {
    if (e instanceof BusError) throw new AccessFault({ signal: 'SIGBUS', addr, why: e.message });
    throw e;
  }
  mm.cpu.store(dst * PAGE_SIZE, buf, 0, PAGE_SIZE, v.installedMemType);
  v.zapPages(i, 1);
  if (!v.cow) v.cow = new Uint8Array(v.pages);
  v.cow[i] = 1;
  v.setPfn(i, dst);
}
