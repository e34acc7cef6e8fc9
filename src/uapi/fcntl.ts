/**
 * open(2) and fcntl(2) flags (include/uapi/asm-generic/fcntl.h, the values
 * x86_64 and arm64 use). Octal, as the kernel's headers and fdinfo print them.
 */
export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DSYNC = 0o10000;
export const FASYNC = 0o20000;
export const O_DIRECT = 0o40000;
/** Set by the kernel on every open() of a 64-bit process (force_o_largefile); glibc's value is 0. */
export const O_LARGEFILE = 0o100000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_NOATIME = 0o1000000;
export const O_CLOEXEC = 0o2000000;
export const O_SYNC = 0o4010000;
export const O_PATH = 0o10000000;
export const O_TMPFILE = 0o20200000;

export const F_DUPFD = 0;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
/** Base of the Linux-specific fcntl commands (F_LINUX_SPECIFIC_BASE). */
export const F_LINUX_SPECIFIC_BASE = 1024;
export const F_DUPFD_CLOEXEC = F_LINUX_SPECIFIC_BASE + 6;
/** Sets and reads a pipe's capacity in bytes. */
export const F_SETPIPE_SZ = F_LINUX_SPECIFIC_BASE + 7;
export const F_GETPIPE_SZ = F_LINUX_SPECIFIC_BASE + 8;
/** Adds seals to, and reads the seals of, a memfd (include/uapi/linux/fcntl.h). */
export const F_ADD_SEALS = F_LINUX_SPECIFIC_BASE + 9;
export const F_GET_SEALS = F_LINUX_SPECIFIC_BASE + 10;
export const FD_CLOEXEC = 1;

/** File seals: no further seals, no shrinking, no growing, no writes, no new writable mappings or writes. */
export const F_SEAL_SEAL = 0x0001;
export const F_SEAL_SHRINK = 0x0002;
export const F_SEAL_GROW = 0x0004;
export const F_SEAL_WRITE = 0x0008;
export const F_SEAL_FUTURE_WRITE = 0x0010;

/** The only f_flags F_SETFL may change (SETFL_MASK in fs/fcntl.c). */
export const SETFL_MASK = O_APPEND | O_NONBLOCK | FASYNC | O_DIRECT | O_NOATIME;

/** lseek(2) whence values (include/uapi/linux/fs.h). */
export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;

/** The *at() calls' directory and flags (include/uapi/linux/fcntl.h). */
export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
/** faccessat2: check with the effective ids (shares its value with AT_REMOVEDIR). */
export const AT_EACCESS = 0x200;
export const AT_REMOVEDIR = 0x200;
export const AT_SYMLINK_FOLLOW = 0x400;
export const AT_NO_AUTOMOUNT = 0x800;
export const AT_EMPTY_PATH = 0x1000;
/** statx's synchronisation bits, which fstatat accepts and a local filesystem ignores. */
export const AT_STATX_SYNC_TYPE = 0x6000;
export const AT_STATX_SYNC_AS_STAT = 0x0000;
export const AT_STATX_FORCE_SYNC = 0x2000;
export const AT_STATX_DONT_SYNC = 0x4000;

/** access(2) modes: the "other" permission bits, as glibc's unistd.h spells them (the kernel checks mode & ~S_IRWXO). */
export const F_OK = 0;
export const X_OK = 1;
export const W_OK = 2;
export const R_OK = 4;
