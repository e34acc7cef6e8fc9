import { struct, type StructLayout } from './struct-layout.ts';

/**
 * The process memory an ioctl's argument lives in, as the kernel reaches
 * it (copy_from_user / copy_to_user). Both throw the kernel's EFAULT for
 * a byte that is not mapped or not readable (writable); `fail` makes the
 * kernel error an argument check gives (EINVAL, EFAULT), so layouts stay
 * free of the layers that define it.
 */
export interface UserMemory {
  read(addr: bigint, len: number): Uint8Array;
  write(addr: bigint, bytes: Uint8Array): void;
  fail(code: 'EFAULT' | 'EINVAL', why: string): Error;
}

/**
 * When the struct goes back to user memory after the handler: 'success'
 * only when it succeeded (most drivers' own copy_to_user); 'always' even
 * on error (drm_ioctl copies kdata out whatever the handler returned);
 * 'video' as video_usercopy does: on success, or on error too when the
 * request carried an array (v4l2 planes), never after ENOTTY.
 */
export type CopyOutPolicy = 'success' | 'always' | 'video';

/** What the nested-pointer hooks share between copy-in and copy-out of one call. */
export type IoctlArgContext = Record<string, unknown>;

/**
 * How one ioctl's argument sits in user memory: the struct the request's
 * _IOC_SIZE names, which way the kernel copies it, and hooks for the
 * pointers inside it (buffers, arrays) that the handler's object carries
 * as strings and arrays instead.
 */
export interface IoctlArgLayout {
  readonly cmd: number;
  readonly name: string;
  /** The struct at the argument address; an int pointer is a struct of one field, `value`. */
  readonly layout: StructLayout;
  /** _IOC_WRITE and/or _IOC_READ: the copies the kernel makes (the request's own bits, except for the legacy FIO* numbers). */
  readonly dir: number;
  readonly copyOut: CopyOutPolicy;
  /**
   * The subsystem finds the request by its number alone and copies the
   * caller's size (dma_heap_ioctl): a request with another size is this
   * one, a smaller struct zero-extended, a bigger one's extra bytes kept
   * as they came, so older and newer userspace work.
   */
  readonly anySize?: boolean;
  /**
   * The field of the handler's object holding an fd that Linux installs
   * only after the copy-out succeeded (get_unused_fd_flags, copy_to_user,
   * fd_install): when the copy-out fails the fd is taken back.
   */
  readonly fdAfterCopy?: string;
  /** The handler's object from the struct copied in: nested user memory read through `mem`. Without it the struct object itself. */
  toArg?(s: Record<string, unknown>, mem: UserMemory, addr: bigint, ctx: IoctlArgContext): Record<string, unknown>;
  /**
   * After the handler (`ok` when it succeeded): nested user buffers written
   * through `mem` and the struct's fields set from the handler's object.
   * Throws the EFAULT of a nested copy_to_user.
   */
  fromArg?(arg: Record<string, unknown>, s: Record<string, unknown>, mem: UserMemory, ok: boolean, ctx: IoctlArgContext): void;
  /** For a request whose argument is itself a pointer the handler reads (DMA_BUF_SET_NAME's string): what it reads; no struct is copied. */
  pointee?(mem: UserMemory, addr: bigint): unknown;
}

/** A compat request (a 32-bit caller's): the native request it becomes and its argument's 32-bit layout, whose `cmd` is the caller's. */
export interface CompatIoctl {
  readonly native: number;
  readonly spec: IoctlArgLayout;
}

/** An int (or __u32) passed by pointer, as the `{ value }` object handlers take. */
export const INT_POINTER = struct('int', [['value', 's32']]);
export const U32_POINTER = struct('__u32', [['value', 'u32']]);
