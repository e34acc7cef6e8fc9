import { PAGE_SIZE, isKernelError, kerr, type KernelError } from '../lib/index.ts';
import { _IOC_DIR, _IOC_NONE, _IOC_READ, _IOC_WRITE, decodeStruct, encodeStruct, ioctlArgLayout, type IoctlArgContext, type IoctlArgLayout, type UserMemory } from '../uapi/index.ts';
import type { AddressSpace } from './address-space.ts';
import { userLoad, userStore } from './cpu-access.ts';
import { AccessFault } from './vma.ts';

/** A user address as a number of the address space; EFAULT for one no mapping can hold. */
function userAddr(addr: bigint, len: number): number {
  if (addr < 0n || addr + BigInt(len) > BigInt(Number.MAX_SAFE_INTEGER)) throw kerr('EFAULT', `bad user address 0x${addr.toString(16)}`);
  return Number(addr);
}

/** Runs a user access, turning the fault it would give a program into the kernel's EFAULT (the exception-table fixup). */
function fixup<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof AccessFault) throw kerr('EFAULT', `${what}: ${e.message}`);
    throw e;
  }
}

/**
 * Copies `len` bytes from user memory (copy_from_user): through the
 * process's page tables and the CPU cache, as a load of the program would
 * go; EFAULT, never a signal, for a byte not mapped or not readable.
 */
export function copyFromUser(mm: AddressSpace, addr: bigint, len: number): Uint8Array {
  const a = userAddr(addr, len);
  return fixup('copy_from_user', () => userLoad(mm, a, len));
}

/**
 * Copies bytes to user memory (copy_to_user), a page at a time as the
 * kernel's copy goes: the pages before the first one not mapped or not
 * writable are written, then EFAULT.
 */
export function copyToUser(mm: AddressSpace, addr: bigint, bytes: Uint8Array): void {
  const a = userAddr(addr, bytes.length);
  let off = 0;
  while (off < bytes.length) {
    const n = Math.min(bytes.length - off, PAGE_SIZE - ((a + off) % PAGE_SIZE));
    fixup('copy_to_user', () => userStore(mm, a + off, bytes.subarray(off, off + n)));
    off += n;
  }
}

/** The process memory as the uapi layouts reach it: copy_from_user, copy_to_user, and the kernel's errors. */
export function userMemory(mm: AddressSpace): UserMemory {
  return {
    read: (addr, len) => copyFromUser(mm, addr, len),
    write: (addr, bytes) => copyToUser(mm, addr, bytes),
    fail: (code, why) => kerr(code, why),
  };
}

/** Calls the file's ioctl with the argument object; the request is the caller's. */
export type IoctlCall = (arg: unknown) => number | Promise<number>;

/**
 * An ioctl whose argument is a user address (the `unsigned long arg` of
 * ioctl(2), as a bigint): the struct the request's layout names is copied
 * in (for _IOC_WRITE) and decoded into the object the handler takes,
 * nested pointers read from user memory; after the handler its object is
 * encoded over the copied bytes and copied out (for _IOC_READ) when the
 * subsystem does: on success, always (drm_ioctl), or video_usercopy's way.
 * A copy that faults is EFAULT and leaves the process alive. An fd that
 * Linux installs only after a successful copy is taken back (closed) when
 * the copy fails. A request without a layout gets the address itself: as
 * a number when it carries no struct (_IOC_NONE), else the bigint, which
 * struct-taking handlers refuse with EFAULT. `as.spec` overrides the
 * request's own layout (a compat request's 32-bit struct); `as.userSize`
 * is the caller's struct size when its request differs from the native
 * one only in size (anySize): that many bytes are copied in, zero-extended,
 * and copied out.
 */
export async function ioctlUserArg(
  mm: AddressSpace,
  cmd: number,
  addr: bigint,
  call: IoctlCall,
  undoFd: (fd: number) => Promise<void>,
  as: { spec?: IoctlArgLayout; userSize?: number } = {},
): Promise<number> {
  const spec = as.spec ?? ioctlArgLayout(cmd);
  if (!spec) return call(_IOC_DIR(cmd) === _IOC_NONE && addr <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(addr) : addr);
  const mem = userMemory(mm);
  if (spec.pointee) return call(spec.pointee(mem, addr));
  const layout = spec.layout;
  const userSize = as.userSize ?? layout.size;
  // a read-only request starts from a zeroed struct, as the kernel's kdata does; a smaller caller's struct is zero-extended
  const kbuf = new Uint8Array(Math.max(layout.size, userSize));
  if (spec.dir & _IOC_WRITE) kbuf.set(copyFromUser(mm, addr, userSize));
  const kdata = kbuf.subarray(0, layout.size);
  const s = decodeStruct(layout, kdata);
  const copiedIn = decodeStruct(layout, kdata);
  const ctx: IoctlArgContext = {};
  const arg = spec.toArg ? spec.toArg(s, mem, addr, ctx) : s;

  let ret = 0;
  let error: KernelError | null = null;
  try {
    ret = await call(arg);
  } catch (e) {
    if (!isKernelError(e)) throw e;
    error = e;
  }
  const handlerOk = error === null;
  // video_usercopy copies nothing back for a request the driver does not know
  const enotty = error?.code === 'ENOTTY' && spec.copyOut === 'video';
  if (!enotty && spec.fromArg) {
    try {
      spec.fromArg(arg, s, mem, handlerOk, ctx);
    } catch (e) {
      if (!isKernelError(e)) throw e;
      error = e;
    }
  }
  const copyBack =
    !enotty &&
    (spec.dir & _IOC_READ) !== 0 &&
    (spec.copyOut === 'always' || error === null || (spec.copyOut === 'video' && ctx.arrayArgs === true));
  if (copyBack) {
    encodeStruct(layout, s, kdata, copiedIn);
    try {
      copyToUser(mm, addr, kbuf.subarray(0, userSize));
    } catch (e) {
      if (!isKernelError(e)) throw e;
      error = e;
    }
  }
  if (error && handlerOk && spec.fdAfterCopy) {
    const fd = arg[spec.fdAfterCopy];
    if (typeof fd === 'number' && fd >= 0) await undoFd(fd);
  }
  if (error) throw error;
  return ret;
}
