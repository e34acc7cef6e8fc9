import { PAGE_SIZE, alignUp, kerr } from '../lib/index.ts';
import { FMODE_READ, FMODE_WRITE, VM_EXEC, VM_MAYEXEC, VM_MAYREAD, VM_MAYSHARE, VM_MAYWRITE, VM_READ, VM_SHARED, VM_WRITE, type File } from '../fs/index.ts';
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
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from '../uapi/index.ts';
import { MMAP_MIN_ADDR, type AddressSpace } from './address-space.ts';
import { Vma } from './vma.ts';

/** Flags MAP_SHARED_VALIDATE accepts (LEGACY_MAP_MASK and friends). */
const KNOWN_MAP_FLAGS = MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_FIXED_NOREPLACE;

/**
 * Creates a mapping (do_mmap). Checks in Linux's order: EINVAL for a zero
 * length, an unaligned offset or fixed address, or a bad map type;
 * EOPNOTSUPP for unknown flags with MAP_SHARED_VALIDATE; EACCES for a
 * file not open for reading, or PROT_WRITE on a shared mapping of a file
 * not open for writing; ENODEV when the file cannot be mapped; EPERM for
 * a fixed address below mmap_min_addr; EEXIST for MAP_FIXED_NOREPLACE on
 * a used range; ENOMEM when no room is left. Anonymous memory gets an
 * empty object of DRAM pages (allocated on first touch); a file's mmap op
 * fills the VMA in. `file` must be referenced by the caller for the
 * duration; the mapping takes its own reference. Returns the address.
 * May sleep (the file's mmap op may).
 */
export async function doMmap(mm: AddressSpace, addr: number, len: number, prot: number, flags: number, file: File | null, offset: number): Promise<number> {
  await mm.mmapLock.lock();
  try {
    return await mmapLocked(mm, addr, len, prot, flags, file, offset);
  } finally {
    mm.mmapLock.unlock();
  }
}

async function mmapLocked(mm: AddressSpace, addr: number, len: number, prot: number, flags: number, file: File | null, offset: number): Promise<number> {
  if (!Number.isSafeInteger(len) || len <= 0) throw kerr('EINVAL', `length ${len}`);
  if (!Number.isSafeInteger(offset) || offset < 0 || offset % PAGE_SIZE) throw kerr('EINVAL', `offset ${offset}`);
  if (!Number.isSafeInteger(addr) || addr < 0) throw kerr('EINVAL', `address ${addr}`);
  const size = alignUp(len, PAGE_SIZE);
  if (size > mm.taskSize - MMAP_MIN_ADDR) throw kerr('ENOMEM', `length ${len}`);
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
    if (addr + size > mm.taskSize || addr < MMAP_MIN_ADDR) throw kerr(addr < MMAP_MIN_ADDR ? 'EPERM' : 'ENOMEM', 'fixed address out of range');
    if (flags & MAP_FIXED_NOREPLACE && !(flags & MAP_FIXED) && mm.overlaps(addr, size)) throw kerr('EEXIST', 'range in use');
    start = addr;
  } else {
    start = mm.unmappedArea(addr, size);
  }

  const vma = new Vma(start, start + size, vmFlags, offset / PAGE_SIZE, anonymous ? null : file);
  if (anonymous) mm.attachObj(vma, mm.anonMem.create(size / PAGE_SIZE), 0);
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
  if (fixed && flags & MAP_FIXED) doMunmap(mm, start, size);
  else if (mm.overlaps(start, size)) {
    // another mapping took the range while the mmap op slept
    mm.dropVma(vma);
    throw kerr('ENOMEM', 'address range taken during mmap');
  }
  mm.installVma(vma);
  return start;
}

/**
 * A piece [start, end) of `v` that survives a partial unmap (__split_vma):
 * it takes the frames, private pages and copy-on-write marks of its range;
 * the mapping's owner sees it open.
 */
export function splitPiece(mm: AddressSpace, v: Vma, start: number, end: number): Vma {
  const first = (start - v.start) / PAGE_SIZE;
  const n = (end - start) / PAGE_SIZE;
  const p = new Vma(start, end, v.flags, v.pgoff + first, v.file, v.pfns.slice(first, first + n));
  p.site = v.site;
  p.since = v.since;
  p.memType = v.installedMemType;
  p.installedMemType = v.installedMemType;
  p.vmOps = v.vmOps;
  p.privateData = v.privateData;
  p.sink = mm;
  if (v.obj) {
    if (!v.file && v.shared) mm.attachObj(p, v.obj.get(), v.objOff + first);
    else {
      mm.attachObj(p, mm.anonMem.create(n), 0);
      v.obj.moveTo(p.obj!, first, n, 0);
    }
  }
  if (v.cow) p.cow = v.cow.slice(first, first + n);
  p.file?.get();
  p.vmOps?.open?.(p);
  return p;
}

/**
 * Removes the mappings in [addr, addr+len) (do_munmap), splitting those
 * that straddle its ends. EINVAL for an unaligned address, a zero length
 * or a range past TASK_SIZE. Unmapping nothing is fine. Never sleeps.
 */
export function doMunmap(mm: AddressSpace, addr: number, len: number): void {
  if (!Number.isSafeInteger(addr) || addr % PAGE_SIZE || addr < 0) throw kerr('EINVAL', `address ${addr}`);
  if (!Number.isSafeInteger(len) || len <= 0) throw kerr('EINVAL', `length ${len}`);
  const size = alignUp(len, PAGE_SIZE);
  if (addr + size > mm.taskSize) throw kerr('EINVAL', 'range beyond the address space');
  const end = addr + size;
  const hit = mm.areas.filter((v) => v.start < end && v.end > addr);
  for (const v of hit) {
    const pieces: Vma[] = [];
    if (v.start < addr) pieces.push(splitPiece(mm, v, v.start, addr));
    if (v.end > end) pieces.push(splitPiece(mm, v, end, v.end));
    mm.removeVma(v, addr, end);
    for (const p of pieces) mm.insertSorted(p);
  }
}

/** Removes every mapping (exit_mmap, and exec's drop of the old image). */
export function exitMmap(mm: AddressSpace): void {
  for (const v of mm.takeAll()) mm.dropVma(v);
}
