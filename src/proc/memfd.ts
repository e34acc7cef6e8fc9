import { memfdCreate, memfdName } from '../fs/index.ts';
import { MFD_CLOEXEC } from '../uapi/index.ts';
import type { ProcKernel } from './kernel.ts';
import type { Process } from './process.ts';

/**
 * memfd_create(2): a new DRAM-backed anonymous file at the lowest free fd.
 * As Linux orders them: EINVAL for flags or name, EMFILE, ENOSYS for
 * MFD_HUGETLB.
 */
export function sysMemfdCreate(k: ProcKernel, p: Process, name: unknown, flags: number): number {
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
