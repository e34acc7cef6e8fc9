/**
 * Linux errno values (include/uapi/asm-generic/errno-base.h and errno.h), the
 * subset the device-memory stack and its syscalls can return.
 */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EPIPE: 32,
  ERANGE: 34,
  EDEADLK: 35,
  ENOSYS: 38,
  ELOOP: 40,
  ENOPKG: 65,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECANCELED: 125,
  EOPNOTSUPP: 95,
  EMSGSIZE: 90,
  ENOTSOCK: 88,
  EOVERFLOW: 75,
  EBADFD: 77,
  ENOBUFS: 105,
} as const;

export type Errno = keyof typeof ERRNO;

const NAMES = new Map<number, Errno>(Object.entries(ERRNO).map(([k, v]) => [v, k as Errno]));

/** Returns the symbolic name of an errno number (errname). */
export function errnoName(n: number): Errno | undefined {
  return NAMES.get(n);
}
