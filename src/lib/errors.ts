import { ERRNO, type Errno } from './errno.ts';

/**
 * A kernel-internal failure carrying an errno code, as ERR_PTR(-EINVAL) does.
 * Kernel functions throw it; the syscall layer turns it into a SyscallError.
 */
export class KernelError extends Error {
  readonly code: Errno;
  readonly errno: number;
  /**
   * An EINTR that is really -ERESTARTSYS: the system call is run again after
   * the signal's handlers when every one of them has SA_RESTART.
   */
  restartSys = false;
  constructor(code: Errno, message?: string) {
    super(message ? `${code}: ${message}` : code);
    this.name = 'KernelError';
    this.code = code;
    this.errno = ERRNO[code];
  }
}

/**
 * A broken kernel invariant (BUG_ON). Thrown before any state is changed, so
 * the simulated system stays consistent and the caller sees exactly what
 * was wrong.
 */
export class KernelBug extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KernelBug';
  }
}

/**
 * A failed system call as userspace sees it, shaped like Node's fs errors:
 * `code` is the errno name, `errno` its number, `syscall` the call's name.
 */
export class SyscallError extends Error {
  readonly code: Errno;
  readonly errno: number;
  readonly syscall: string;
  constructor(syscall: string, code: Errno, detail?: string) {
    super(`${syscall}: ${code}${detail ? ` (${detail})` : ''}`);
    this.name = 'SyscallError';
    this.code = code;
    this.errno = ERRNO[code];
    this.syscall = syscall;
  }
}

/** Returns a KernelError for `code` (the kernel's `return -EINVAL` idiom). */
export function kerr(code: Errno, message?: string): KernelError {
  return new KernelError(code, message);
}

/**
 * An interruptible sleep ended by a signal (-ERESTARTSYS): EINTR for the
 * program unless every handler that ran has SA_RESTART, in which case the
 * system-call layer runs the call again.
 */
export function erestartsys(message?: string): KernelError {
  const e = new KernelError('EINTR', message);
  e.restartSys = true;
  return e;
}

/**
 * True when `e` is a KernelError with one of `codes` (any code when none are
 * given). A catch tests with it for the errno it expects and rethrows
 * everything else, so a KernelBug or a TypeError is never swallowed:
 * `catch (e) { if (!isKernelError(e, 'ENOMEM')) throw e; ... }`.
 */
export function isKernelError(e: unknown, ...codes: Errno[]): e is KernelError {
  return e instanceof KernelError && (codes.length === 0 || codes.includes(e.code));
}
