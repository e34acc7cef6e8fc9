/** What uname(2) writes (struct new_utsname, include/uapi/linux/utsname.h): 64 characters each at most. */
export interface Utsname {
  sysname: string;
  nodename: string;
  release: string;
  version: string;
  machine: string;
  domainname: string;
}

/** Auxiliary-vector entry types (include/uapi/linux/auxvec.h) the kernel hands every program at exec. */
export const AT_NULL = 0;
export const AT_PAGESZ = 6;
export const AT_UID = 11;
export const AT_EUID = 12;
export const AT_GID = 13;
export const AT_EGID = 14;
export const AT_PLATFORM = 15;
export const AT_HWCAP = 16;
export const AT_CLKTCK = 17;
export const AT_SECURE = 23;
