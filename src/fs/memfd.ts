import { kerr } from '../lib/index.ts';
import type { Clock } from '../hw/index.ts';
import {
  F_ADD_SEALS,
  F_GET_SEALS,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  MFD_HUGE_MASK,
  MFD_HUGE_SHIFT,
  MFD_HUGETLB,
  O_LARGEFILE,
  O_RDWR,
} from '../uapi/index.ts';
import type { Cred } from './cred.ts';
import { FMODE_WRITE, type File } from './file.ts';
import { shmemInodeOf, type ShmemFs } from './shmem.ts';
import { tmpfsFileOps } from './tmpfs.ts';
import { waitEvent, type Interruptible } from './wait.ts';

/** Flags memfd_create knows in Linux 6.1 (MFD_ALL_FLAGS). */
export const MFD_ALL_FLAGS = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB;
/** Seals F_ADD_SEALS knows in Linux 6.1 (F_ALL_SEALS). */
export const F_ALL_SEALS = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
/** Longest memfd name in bytes: NAME_MAX less the "memfd:" prefix (MFD_NAME_MAX_LEN). */
export const MFD_NAME_MAX_LEN = 255 - 'memfd:'.length;
/** Re-checks of pinned pages before F_SEAL_WRITE gives up with EBUSY (LAST_SCAN: about 150 ms). */
export const MEMFD_LAST_SCAN = 4;

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Checks memfd_create's arguments and returns the file's name, "memfd:"
 * and the caller's (the checks before the fd is reserved): EINVAL for
 * unknown flags or a name longer than 249 bytes (UTF-8; a NUL ends it, as
 * in C), EFAULT for a name that is not a string.
 */
export function memfdName(name: unknown, flags: number): string {
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xffffffff) throw kerr('EINVAL', `flags ${flags}`);
  const allowed = flags & MFD_HUGETLB ? MFD_ALL_FLAGS | (MFD_HUGE_MASK * 2 ** MFD_HUGE_SHIFT) : MFD_ALL_FLAGS;
  if ((flags & ~allowed) >>> 0 !== 0) throw kerr('EINVAL', `memfd_create flags 0x${flags.toString(16)}`);
  if (typeof name !== 'string') throw kerr('EFAULT', 'name is not a string');
  let bytes = enc.encode(name);
  const nul = bytes.indexOf(0);
  if (nul >= 0) bytes = bytes.subarray(0, nul);
  if (bytes.length > MFD_NAME_MAX_LEN) throw kerr('EINVAL', `name of ${bytes.length} bytes exceeds ${MFD_NAME_MAX_LEN}`);
  return `memfd:${dec.decode(bytes)}`;
}

/**
 * Creates an anonymous DRAM-backed file (memfd_create without the fd
 * install): memfdName's checks, then ENOSYS for MFD_HUGETLB (this kernel
 * has no hugetlbfs). The file is O_RDWR|O_LARGEFILE, seekable and
 * positionable, shows "/memfd:<name> (deleted)" in readlink and maps, and
 * starts empty with F_SEAL_SEAL, cleared by MFD_ALLOW_SEALING. The caller
 * owns the one reference and installs it (O_CLOEXEC for MFD_CLOEXEC).
 */
export function memfdCreate(fs: ShmemFs, name: unknown, flags: number, cred: Cred): File {
  const dentry = memfdName(name, flags);
  if (flags & MFD_HUGETLB) throw kerr('ENOSYS', 'MFD_HUGETLB: no hugetlbfs in this kernel');
  const seals = flags & MFD_ALLOW_SEALING ? 0 : F_SEAL_SEAL;
  return fs.createFile(dentry, cred, seals, O_RDWR | O_LARGEFILE);
}

/**
 * fcntl's sealing commands (memfd_fcntl): F_GET_SEALS returns the seals;
 * F_ADD_SEALS adds `arg`'s. EINVAL on a file that is not shmem, for a
 * seal it does not know and for an argument above 32 bits; EPERM on a file
 * not open for writing, once F_SEAL_SEAL is set, and on a tmpfs file
 * (which carries F_SEAL_SEAL from birth); for F_SEAL_WRITE, EBUSY while a
 * shared mapping may write, and EBUSY when pages someone else holds (a
 * udmabuf, a pin) are still held after about 150 ms of simulated waiting,
 * cut short by a fatal signal. Other commands are EINVAL.
 */
export async function memfdFcntl(file: File, cmd: number, arg: number, task?: Interruptible): Promise<number> {
  const si = shmemInodeOf(file.inode);
  const tmpfs = file.fOp === tmpfsFileOps;
  if (cmd === F_GET_SEALS) {
    if (si) return si.seals;
    if (tmpfs) return F_SEAL_SEAL;
    throw kerr('EINVAL', `${file.pathName()} cannot be sealed`);
  }
  if (cmd !== F_ADD_SEALS) throw kerr('EINVAL', `memfd_fcntl command ${cmd}`);
  if (!Number.isInteger(arg) || arg < 0 || arg > 0xffffffff) throw kerr('EINVAL', `seals ${arg}`);
  if (!(file.mode & FMODE_WRITE)) throw kerr('EPERM', `${file.pathName()} is not open for writing`);
  if (arg & ~F_ALL_SEALS) throw kerr('EINVAL', `unknown seals 0x${arg.toString(16)}`);
  if (!si) {
    if (tmpfs) throw kerr('EPERM', `${file.pathName()} carries F_SEAL_SEAL`);
    throw kerr('EINVAL', `${file.pathName()} cannot be sealed`);
  }
  if (si.seals & F_SEAL_SEAL) throw kerr('EPERM', 'F_SEAL_SEAL is set');
  if (arg & F_SEAL_WRITE && !(si.seals & F_SEAL_WRITE)) {
    // mapping_deny_writable: only when no shared mapping may write
    if (si.mmapWritable > 0) throw kerr('EBUSY', `${si.mmapWritable} shared mapping(s) may write`);
    si.mmapWritable--;
    try {
      await waitForPins(si.pinnedPages(), (i) => si.stillPinned(i), si.fs.clock, task);
    } catch (e) {
      si.mmapWritable++;
      throw e;
    }
  }
  si.seals |= arg;
  return 0;
}

/**
 * Waits for other holders of the given pages to let go (memfd_wait_for_pins):
 * re-checks after 10, 20, 40 and 80 ms of simulated time, and gives up with
 * EBUSY after the last; a fatal signal skips to the last check.
 */
async function waitForPins(pinned: number[], stillPinned: (index: number) => boolean, clock: Clock, task?: Interruptible): Promise<void> {
  for (let scan = 1; pinned.length > 0; scan++) {
    let last = scan >= MEMFD_LAST_SCAN;
    const ns = 5_000_000 * 2 ** scan;
    if (!task) await clock.sleep(ns);
    else if (await waitEvent(task.signalWait, () => task.signalPending(), { clock, timeoutNs: ns })) last = true;
    pinned = pinned.filter(stillPinned);
    if (last && pinned.length > 0) throw kerr('EBUSY', `${pinned.length} page(s) still held by another user`);
  }
}
