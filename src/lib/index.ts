/**
 * DOC: lib — what every layer shares
 *
 * Errno values, the three error types (KernelError for -Exxx returns,
 * KernelBug for BUG_ON, SyscallError for what userspace sees), the Finding
 * log for misuse that hardware would not stop, and size helpers. It imports
 * nothing, so any layer may import it, as any kernel file may include lib/.
 */
export * from './errno.ts';
export * from './errors.ts';
export * from './findings.ts';
export * from './units.ts';
export * from './trace.ts';
