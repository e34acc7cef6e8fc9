import { PAGE_SIZE, alignUp, kerr } from '../lib/index.ts';
import { VM_EXEC, VM_READ, VM_WRITE } from '../fs/index.ts';
import { PROT_EXEC, PROT_GROWSDOWN, PROT_GROWSUP, PROT_READ, PROT_WRITE } from '../uapi/index.ts';
import type { AddressSpace } from './address-space.ts';
import { splitPiece } from './mmap.ts';
import type { Vma } from './vma.ts';

/** PROT_SEM: accepted by arch_validate_prot and ignored. */
const PROT_SEM = 0x8;
const VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC;

/** The vm_flags access bits for `prot` (calc_vm_prot_bits). */
function vmProtBits(prot: number): number {
  return (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | (prot & PROT_EXEC ? VM_EXEC : 0);
}

/**
 * Gives [start, end) of `v` the flags `newFlags` (mprotect_fixup): a VMA
 * the range covers only in part is split first (__split_vma), each piece
 * keeping its frames, private pages and CPU registration; the middle
 * piece takes the new protection. Adjacent VMAs are not merged again.
 */
function mprotectFixup(mm: AddressSpace, v: Vma, start: number, end: number, newFlags: number): void {
  if (newFlags === v.flags) return;
  if (start === v.start && end === v.end) {
    v.flags = newFlags;
    return;
  }
  const pieces: Vma[] = [];
  if (v.start < start) pieces.push(splitPiece(mm, v, v.start, start));
  const mid = splitPiece(mm, v, start, end);
  pieces.push(mid);
  if (end < v.end) pieces.push(splitPiece(mm, v, end, v.end));
  // the pieces took every page: nothing loses its CPU registration
  mm.removeVma(v, v.start, v.start);
  mid.flags = newFlags;
  for (const p of pieces) mm.insertSorted(p);
}

/**
 * Changes the protection of the pages in [start, start+len) (mprotect),
 * with Linux's checks in order: EINVAL for PROT_GROWSDOWN with
 * PROT_GROWSUP, an unaligned start, or unknown prot bits; a zero length
 * does nothing; ENOMEM when the range wraps or any part of it is not
 * mapped; EINVAL for PROT_GROWSDOWN/UP (no mapping here grows); EACCES
 * when a mapping may never get the access asked for (PROT_WRITE on a
 * shared mapping of a file open read-only, or of a memfd under
 * F_SEAL_FUTURE_WRITE: no VM_MAYWRITE). Mappings before a failing one
 * keep their new protection, as in Linux. Later loads and stores see the
 * new protection (SIGSEGV where it is missing). Never sleeps.
 */
export function doMprotect(mm: AddressSpace, start: number, len: number, prot: number): void {
  if (!Number.isInteger(prot)) throw kerr('EINVAL', `prot ${prot}`);
  const grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
  prot &= ~grows;
  if (grows === (PROT_GROWSDOWN | PROT_GROWSUP)) throw kerr('EINVAL', 'PROT_GROWSDOWN with PROT_GROWSUP');
  if (!Number.isSafeInteger(start) || start < 0 || start % PAGE_SIZE) throw kerr('EINVAL', `address ${start}`);
  if (!Number.isSafeInteger(len)) throw kerr('EINVAL', `length ${len}`);
  if (len === 0) return;
  // a negative size_t length wraps the range
  if (len < 0) throw kerr('ENOMEM', `length ${len}`);
  const end = start + alignUp(len, PAGE_SIZE);
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM)) throw kerr('EINVAL', `prot 0x${prot.toString(16)}`);
  let v = end <= mm.taskSize ? mm.areas.find((a) => a.end > start) : undefined;
  if (!v) throw kerr('ENOMEM', `nothing mapped at or after 0x${start.toString(16)}`);
  if (grows & PROT_GROWSDOWN) {
    if (v.start >= end) throw kerr('ENOMEM', `nothing mapped in the range`);
    throw kerr('EINVAL', 'PROT_GROWSDOWN on a mapping that does not grow down');
  }
  if (v.start > start) throw kerr('ENOMEM', `0x${start.toString(16)} is not mapped`);
  if (grows) throw kerr('EINVAL', 'PROT_GROWSUP on a mapping that does not grow up');
  let nstart = start;
  for (;;) {
    const newFlags = vmProtBits(prot) | (v.flags & ~VM_ACCESS_FLAGS);
    // each VM_MAY* bit sits four above its VM_* bit
    if (newFlags & ~(newFlags >> 4) & VM_ACCESS_FLAGS) throw kerr('EACCES', `0x${v.start.toString(16)}: the mapping may not get prot 0x${prot.toString(16)}`);
    const tmp = Math.min(v.end, end);
    mprotectFixup(mm, v, nstart, tmp, newFlags);
    nstart = tmp;
    if (nstart >= end) return;
    const next = mm.find(nstart);
    if (!next || next.start !== nstart) throw kerr('ENOMEM', `0x${nstart.toString(16)} is not mapped`);
    v = next;
  }
}
