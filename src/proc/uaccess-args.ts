import { kerr } from '../lib/index.ts';

/*
 * The shape of a system call's arguments, checked at the syscall boundary.
 * A C program cannot pass a string where an int goes, but it can pass a
 * pointer to nothing or a count that makes no sense; each JavaScript
 * value of the wrong shape fails with the errno Linux gives for its C
 * counterpart: a bad pointer (buffer, path, struct) is EFAULT, as
 * copy_from_user of an unmapped address; a bad value (a count, flags, a
 * timeout that is no integer, a negative size) is EINVAL; a bad descriptor
 * is EBADF, as fdget of a number no table holds. Values of the right shape
 * go through unchanged, so valid calls behave as before.
 */

const INT_MIN = -(2 ** 31);
const UINT_MAX = 2 ** 32 - 1;

/** A file descriptor (an `int`): EBADF for anything that is not one, as fdget of an fd no table holds. */
export function argFd(v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < INT_MIN || (v as number) > 2 ** 31 - 1) throw kerr('EBADF', `fd ${show(v)}`);
  return v as number;
}

/** An integer by value (flags, a command, an offset, a pid): EINVAL for anything else. */
export function argInt(v: unknown, what: string): number {
  if (!Number.isInteger(v)) throw kerr('EINVAL', `${what} ${show(v)}`);
  return v as number;
}

/** An optional integer: `undefined` takes the default, anything else must be an integer (EINVAL). */
export function argOptInt(v: unknown, what: string): number | undefined {
  return v === undefined ? undefined : argInt(v, what);
}

/** A size or count (`size_t`, a non-negative integer): EINVAL for a negative, fractional or non-number one. */
export function argCount(v: unknown, what: string): number {
  if (!Number.isInteger(v) || (v as number) < 0) throw kerr('EINVAL', `${what} ${show(v)}`);
  return v as number;
}

/** An optional size: `undefined` takes the default, else as argCount. */
export function argOptCount(v: unknown, what: string): number | undefined {
  return v === undefined ? undefined : argCount(v, what);
}

/** A timeout in milliseconds (negative: forever; a fraction is kept, as the simulated clock counts ns): EINVAL for NaN or a non-number. */
export function argTimeout(v: unknown): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw kerr('EINVAL', `timeout ${show(v)}`);
  return v;
}

/** A user address the kernel dereferences (load/store, futex words): EFAULT for one that is no integer address. */
export function argUserPtr(v: unknown, what: string): number {
  if (!Number.isInteger(v)) throw kerr('EFAULT', `${what} ${show(v)} is not a user address`);
  return v as number;
}

/** A user buffer (`const void *buf`): EFAULT unless it is bytes (a Uint8Array). */
export function argBuf(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw kerr('EFAULT', `${what} is not a byte buffer`);
  return v;
}

/** A path or name (`const char __user *`, strncpy_from_user): EFAULT unless it is a string. */
export function argPath(v: unknown, what = 'path'): string {
  if (typeof v !== 'string') throw kerr('EFAULT', `${what} ${show(v)} is not a string`);
  return v;
}

/** A pointer to a struct the call reads (copy_from_user): EFAULT unless it is an object. */
export function argStruct<T extends object>(v: unknown, what: string): T {
  if (v === null || typeof v !== 'object') throw kerr('EFAULT', `${what} ${show(v)} is not a struct`);
  return v as T;
}

/** A struct pointer that may be NULL (null or undefined: none); anything else but an object is EFAULT. */
export function argOptStruct<T extends object>(v: unknown, what: string): T | null {
  return v === null || v === undefined ? null : argStruct<T>(v, what);
}

/** The code a new task starts at (glibc's clone wrapper): EINVAL unless it is a function, as for a NULL fn. */
export function argFn<F>(v: unknown, what: string): F {
  if (typeof v !== 'function') throw kerr('EINVAL', `${what} is not a function`);
  return v as F;
}

/** An argv array of strings (execve's `char *const argv[]`): EFAULT for anything else, as for a bad pointer in it. */
export function argStrings(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw kerr('EFAULT', `${what} is not an array of strings`);
  return v as string[];
}

/**
 * An ioctl request (the `unsigned int cmd` do_vfs_ioctl sees): a number
 * that is no 32-bit command names no request, so it fails as an unknown
 * request does in every driver, ENOTTY (not EINVAL, which drivers give for
 * a known request with a bad argument).
 */
export function argIoctlRequest(v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < INT_MIN || (v as number) > UINT_MAX) throw kerr('ENOTTY', `ioctl request ${show(v)}`);
  return (v as number) >>> 0;
}

/** A pollfd array (struct pollfd *ufds): EFAULT for a non-array or an entry that is no struct, EINVAL for fields that are no integers. */
export function argPollFds<T extends { fd: number; events: number }>(v: unknown): T[] {
  if (!Array.isArray(v)) throw kerr('EFAULT', 'fds is not an array');
  for (const e of v as unknown[]) {
    const pfd = argStruct<{ fd?: unknown; events?: unknown }>(e, 'pollfd');
    if (!Number.isInteger(pfd.fd) || (pfd.events !== undefined && !Number.isInteger(pfd.events))) throw kerr('EINVAL', `pollfd {fd: ${show(pfd.fd)}, events: ${show(pfd.events)}}`);
  }
  return v as T[];
}

/** sendmsg's message (struct msghdr): EFAULT for a non-struct, non-bytes data or a non-array fd list (the cmsg), EBADF for an entry that is no fd. */
export function argSendMsg(v: unknown): { data: Uint8Array; fds: readonly number[] } {
  const m = argStruct<{ data?: unknown; fds?: unknown }>(v, 'msghdr');
  const data = m.data === undefined ? new Uint8Array(0) : argBuf(m.data, 'msg.data');
  if (m.fds !== undefined && !Array.isArray(m.fds)) throw kerr('EFAULT', 'msg.fds is not an array');
  const fds = (m.fds ?? []) as unknown[];
  for (const fd of fds) argFd(fd);
  return { data, fds: fds as number[] };
}

/** recvmsg's options: EFAULT for a non-struct, EINVAL for flags or sizes that are no (non-negative) integers. */
export function argRecvOpts(v: unknown): { flags?: number; maxFds?: number; maxLen?: number } {
  if (v === undefined) return {};
  const o = argStruct<{ flags?: unknown; maxFds?: unknown; maxLen?: unknown }>(v, 'msghdr');
  argOptInt(o.flags, 'flags');
  argOptCount(o.maxFds, 'maxFds');
  argOptCount(o.maxLen, 'maxLen');
  return o as { flags?: number; maxFds?: number; maxLen?: number };
}

/** clone's struct clone_args: EFAULT for a non-struct or a tid pointer that is no integer address; `undefined` is none. */
export function argCloneArgs(v: unknown): { parent_tid?: number; child_tid?: number; tls?: number } {
  const a = argOptStruct<{ parent_tid?: unknown; child_tid?: unknown; tls?: unknown }>(v, 'clone_args') ?? {};
  for (const k of ['parent_tid', 'child_tid', 'tls'] as const) if (a[k] !== undefined) argUserPtr(a[k], k);
  return a as { parent_tid?: number; child_tid?: number; tls?: number };
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'function') return 'a function';
  if (v === null || typeof v !== 'object') return String(v);
  return Array.isArray(v) ? 'an array' : (v.constructor?.name ?? 'an object');
}
