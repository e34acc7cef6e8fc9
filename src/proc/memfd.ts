import { kerr } from '../lib/index.ts';
import { memfdCreate, memfdName } from '../fs/index.ts';
import { MFD_CLOEXEC } from '../uapi/index.ts';
import type { ProcKernel } from './kernel.ts';
import type { Process } from './process.ts';

/**
 * memfd_create(2): a new DRAM-backed anonymous file at the lowest free fd.
 * ENOSYS when the kernel was built without an mm (createProcSystem's
 * `mm`); then, as Linux orders them: EINVAL for flags or name, EMFILE,
 * ENOSYS for MFD_HUGETLB.
 */
export function sysMemfdCreate(k: ProcKernel, p: Process, name: unknown, flags: number): number {
  if (!k.shmem) throw kerr('ENOSYS', 'memfd_create: this kernel has no mm (createProcSystem without mm)');
  memfdName(name, flags);
  p.files.allocFd();
  const f = memfdCreate(k.shmem, name, flags, p.cred);
  try {
    return p.files.installLowest(f, (flags & MFD_CLOEXEC) !== 0);
  } catch (e) {
    f.put();
    throw e;
  }
}
