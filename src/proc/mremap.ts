import { PAGE_SIZE, alignUp, kerr } from '../lib/index.ts';
import { VM_DONTEXPAND, VM_MAYSHARE, VM_PFNMAP, VM_SHARED } from '../fs/index.ts';
import { MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE } from '../uapi/index.ts';
import { MMAP_MIN_ADDR, type AddressSpace } from './address-space.ts';
import { doMunmap } from './mmap.ts';
import { Vma } from './vma.ts';

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
 * private pages and copy-on-write marks to the new place; the file's
 * mapping owner sees a new VMA open and the old one close. Returns the
 * new address. Never sleeps.
 */
export function doMremap(mm: AddressSpace, addr: number, oldLen: number, newLen: number, flags: number, newAddr = 0): number {
  if (!Number.isInteger(flags) || flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) throw kerr('EINVAL', `mremap flags ${flags}`);
  if (flags & MREMAP_FIXED && !(flags & MREMAP_MAYMOVE)) throw kerr('EINVAL', 'MREMAP_FIXED without MREMAP_MAYMOVE');
  if (flags & MREMAP_DONTUNMAP && (!(flags & MREMAP_MAYMOVE) || oldLen !== newLen)) throw kerr('EINVAL', 'MREMAP_DONTUNMAP needs MREMAP_MAYMOVE and an unchanged size');
  if (!Number.isSafeInteger(addr) || addr < 0 || addr % PAGE_SIZE) throw kerr('EINVAL', `address ${addr}`);
  if (!Number.isSafeInteger(oldLen) || oldLen < 0 || !Number.isSafeInteger(newLen) || newLen < 0) throw kerr('EINVAL', 'length');
  oldLen = alignUp(oldLen, PAGE_SIZE);
  newLen = alignUp(newLen, PAGE_SIZE);
  if (newLen === 0) throw kerr('EINVAL', 'zero new length');
  if (!mm.find(addr)) throw kerr('EFAULT', `nothing mapped at 0x${addr.toString(16)}`);
  if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) return mremapTo(mm, addr, oldLen, newAddr, newLen, flags);
  if (oldLen >= newLen) {
    if (oldLen > newLen) doMunmap(mm, addr + newLen, oldLen - newLen);
    return addr;
  }
  const v = vmaToResize(mm, addr, oldLen, newLen, flags);
  if (oldLen === v.end - addr && vmaExpandable(mm, v, newLen - oldLen)) {
    v.resize(addr + newLen);
    return addr;
  }
  if (!(flags & MREMAP_MAYMOVE)) throw kerr('ENOMEM', 'no room to grow in place');
  return moveVma(mm, v, addr, oldLen, newLen, mm.unmappedArea(0, newLen), flags);
}

/** mremap to a given or hinted place (mremap_to): the destination must not overlap the source; MREMAP_FIXED unmaps it first. */
function mremapTo(mm: AddressSpace, addr: number, oldLen: number, newAddr: number, newLen: number, flags: number): number {
  if (!Number.isSafeInteger(newAddr) || newAddr < 0 || newAddr % PAGE_SIZE) throw kerr('EINVAL', `new address ${newAddr}`);
  if (newLen > mm.taskSize || newAddr > mm.taskSize - newLen) throw kerr('EINVAL', 'new range beyond the address space');
  if (addr + oldLen > newAddr && newAddr + newLen > addr) throw kerr('EINVAL', 'old and new ranges overlap');
  if (flags & MREMAP_FIXED) doMunmap(mm, newAddr, newLen);
  if (oldLen > newLen) {
    doMunmap(mm, addr + newLen, oldLen - newLen);
    oldLen = newLen;
  }
  const v = vmaToResize(mm, addr, oldLen, newLen, flags);
  let to = newAddr;
  if (flags & MREMAP_FIXED) {
    if (newAddr < MMAP_MIN_ADDR) throw kerr('EPERM', 'fixed address below mmap_min_addr');
  } else {
    to = mm.unmappedArea(newAddr, newLen);
  }
  return moveVma(mm, v, addr, oldLen, newLen, to, flags);
}

/** The mapping at `addr` if the old range may become the new one (vma_to_resize). */
function vmaToResize(mm: AddressSpace, addr: number, oldLen: number, newLen: number, flags: number): Vma {
  const v = mm.find(addr);
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
function vmaExpandable(mm: AddressSpace, v: Vma, delta: number): boolean {
  const end = v.end + delta;
  if (end > mm.taskSize) return false;
  const next = mm.next(v);
  return !next || next.start >= end;
}

/**
 * Moves [addr, addr+oldLen) of `v` to `to`, `newLen` long (move_vma):
 * a new VMA carries the frames, private pages and copy-on-write marks;
 * then the old range is unmapped, or with MREMAP_DONTUNMAP left mapped
 * but emptied (file pages refault, private anonymous pages read zero).
 */
function moveVma(mm: AddressSpace, v: Vma, addr: number, oldLen: number, newLen: number, to: number, flags: number): number {
  const first = (addr - v.start) / PAGE_SIZE;
  const keep = Math.min(oldLen, newLen);
  const pfns = new Float64Array(newLen / PAGE_SIZE).fill(-1);
  pfns.set(v.pfns.subarray(first, first + keep / PAGE_SIZE));
  const c = new Vma(to, to + newLen, v.flags, v.pgoff + first, v.file, pfns);
  c.site = v.site;
  c.since = v.since;
  c.memType = v.installedMemType;
  c.vmOps = v.vmOps;
  c.privateData = v.privateData;
  if (v.obj) {
    if (!v.file && v.shared) mm.attachObj(c, v.obj.get(), v.objOff + first);
    else {
      mm.attachObj(c, mm.anonMem.create(newLen / PAGE_SIZE), 0);
      v.obj.moveTo(c.obj!, first, keep / PAGE_SIZE, 0);
    }
  }
  if (v.cow) {
    c.cow = new Uint8Array(newLen / PAGE_SIZE);
    c.cow.set(v.cow.subarray(first, first + keep / PAGE_SIZE));
  }
  c.file?.get();
  c.vmOps?.open?.(c);
  if (flags & MREMAP_DONTUNMAP) {
    if (v.file) v.zapPages(first, oldLen / PAGE_SIZE, true);
    else if (!v.shared) v.zapPages(first, oldLen / PAGE_SIZE);
  } else if (oldLen > 0) {
    doMunmap(mm, addr, oldLen);
  }
  mm.installVma(c);
  return to;
}
