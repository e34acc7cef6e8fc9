import { PAGE_SIZE, kerr } from '../lib/index.ts';
import { AT_CLKTCK, AT_EGID, AT_EUID, AT_GID, AT_PAGESZ, AT_SECURE, AT_UID, type Utsname } from '../uapi/index.ts';
import type { Process } from './process.ts';

/** The kernel unimem plays (UTS_RELEASE); `uname -r` prints it. */
export const UTS_RELEASE = '6.1.0-unimem';
/** The build line (UTS_VERSION), fixed so runs are reproducible. */
export const UTS_VERSION = '#1 SMP PREEMPT Sun Jan  1 00:00:00 UTC 2023';
/** The machine (UTS_MACHINE): the built-in platforms are 32-bit ARMv7 SoCs. */
export const UTS_MACHINE = 'armv7l';
/** USER_HZ: the unit of times() and clock ticks userspace sees. */
const USER_HZ = 100;

/** uname(2): the system's names (struct new_utsname); the node name is the default hostname of the simulated machine. */
export function sysUname(): Utsname {
  return { sysname: 'Linux', nodename: 'unimem', release: UTS_RELEASE, version: UTS_VERSION, machine: UTS_MACHINE, domainname: '(none)' };
}

/**
 * One entry of the auxiliary vector the kernel gave the program at exec
 * (create_elf_tables), as getauxval(3) reads it: AT_PAGESZ (the page
 * size), AT_CLKTCK, AT_UID, AT_EUID, AT_GID, AT_EGID, AT_SECURE. ENOENT
 * for a type the vector does not hold, as glibc reports it.
 */
export function auxval(p: Process, type: number): number {
  switch (type) {
    case AT_PAGESZ:
      return PAGE_SIZE;
    case AT_CLKTCK:
      return USER_HZ;
    case AT_UID:
    case AT_EUID:
      return p.cred.uid;
    case AT_GID:
    case AT_EGID:
      return p.cred.gid;
    case AT_SECURE:
      return 0;
    default:
      throw kerr('ENOENT', `auxv has no entry ${type}`);
  }
}
