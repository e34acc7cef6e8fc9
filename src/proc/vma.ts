import { PAGE_SIZE } from '../lib/index.ts';
import { VM_SHARED, VmArea } from '../fs/index.ts';
import type { AnonObject } from './anon-memory.ts';

/**
 * One mapping of a process (its vm_area_struct). File pages come from the
 * frames the file's mmap op filled in; anonymous memory, and pages a
 * private file mapping has written (copy-on-write), are DRAM pages of an
 * AnonObject (`obj`, page i in slot i + objOff), mapped in `pfns` like file
 * pages. Every access goes through the CPU and its cache.
 */
export class Vma extends VmArea {
  /** The DRAM pages of anonymous memory or private copies, else null (a file mapping nobody wrote privately). */
  obj: AnonObject | null = null;
  /** Slot of `obj` that page 0 shows (non-zero only for shared anonymous memory). */
  objOff = 0;
  /** Per page: 1 when the private copy in `obj` replaces the file page. */
  cow: Uint8Array | null = null;
  /** The memory type the CPU's MMU model was told, fixed when the VMA was installed. */
  installedMemType: 'wb' | 'wt' | 'wc' | 'device' = 'wb';

  /** True for MAP_SHARED mappings. */
  get shared(): boolean {
    return (this.flags & VM_SHARED) !== 0;
  }

  /** Private copies of file pages go with the page (truncation, DONTUNMAP): the next touch reads the file again. */
  protected override dropPrivatePages(first: number, n: number): void {
    this.cow?.fill(0, first, first + n);
    if (this.obj && this.file) this.obj.freeRange(first + this.objOff, n);
  }

  /**
   * Moves vm_end (mremap in place), carrying private pages and
   * copy-on-write marks along. Shared anonymous memory keeps its object's
   * size: pages past its end are SIGBUS, as past the end of the shmem
   * object Linux backs it with.
   */
  override resize(end: number): void {
    const len = end - this.start;
    const sharedAnon = !this.file && this.shared;
    if (this.obj && !sharedAnon) this.obj.resize(len / PAGE_SIZE);
    if (this.cow) {
      const c = new Uint8Array(len / PAGE_SIZE);
      c.set(this.cow.subarray(0, Math.min(c.length, this.cow.length)));
      this.cow = c;
    }
    super.resize(end);
  }
}

/** Why a CPU access was refused. */
export interface Fault {
  signal: 'SIGSEGV' | 'SIGBUS';
  addr: number;
  why: string;
  /**
   * The fault found no memory (VM_FAULT_OOM): a user access goes to the
   * OOM killer instead of a signal, get_user_pages gives ENOMEM.
   */
  oom?: boolean;
}

/** An access the mappings refuse; the syscall layer turns it into SIGSEGV/SIGBUS. */
export class AccessFault extends Error {
  readonly fault: Fault;
  constructor(fault: Fault) {
    super(`${fault.signal} at 0x${fault.addr.toString(16)}: ${fault.why}`);
    this.fault = fault;
  }
}
