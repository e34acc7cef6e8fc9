import { fput, userArg, type Task } from '../fs/index.ts';
import { kerr } from '../lib/index.ts';
import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaDirection } from '../dma/index.ts';
import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_NAME_LEN,
  DMA_BUF_SET_NAME_A,
  DMA_BUF_SET_NAME_B,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_VALID_FLAGS_MASK,
  DMA_BUF_SYNC_WRITE,
  O_CLOEXEC,
  type DmaBufExportSyncFile,
  type DmaBufImportSyncFile,
  type DmaBufSync,
} from '../uapi/index.ts';
import type { DmaBuf } from './dma-buf.ts';
import { dmaBufBeginCpuAccess, dmaBufEndCpuAccess } from './dma-buf-cpu.ts';
import { dmaFenceUnwrap } from './dma-fence-unwrap.ts';
import { DmaResvUsage, dmaResvUsageRw } from './dma-resv.ts';
import { syncFileCreate, syncFileGetFence } from './sync-file.ts';

const enc = new TextEncoder();

/** The 64-bit flags of an ioctl argument as a bigint; EFAULT when the field is unreadable. */
function u64Flags(v: unknown): bigint {
  if (typeof v === 'bigint') return BigInt.asUintN(64, v);
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt.asUintN(64, BigInt(v));
  throw kerr('EFAULT', 'flags is not an integer');
}

/**
 * DMA_BUF_IOCTL_SYNC: brackets CPU access. Flags must be READ, WRITE or
 * both, optionally with END, and nothing else (EINVAL); START runs
 * begin_cpu_access (which waits for the fences the access conflicts with,
 * interruptibly), END runs end_cpu_access.
 */
async function ioctlSync(d: DmaBuf, arg: unknown, task: Task): Promise<number> {
  const sync = userArg<DmaBufSync>(arg);
  const flags = u64Flags(sync.flags);
  if (flags & ~BigInt(DMA_BUF_SYNC_VALID_FLAGS_MASK)) throw kerr('EINVAL', `sync flags 0x${flags.toString(16)}`);
  let dir: DmaDirection;
  switch (Number(flags & BigInt(DMA_BUF_SYNC_RW))) {
    case DMA_BUF_SYNC_READ:
      dir = DMA_FROM_DEVICE;
      break;
    case DMA_BUF_SYNC_WRITE:
      dir = DMA_TO_DEVICE;
      break;
    case DMA_BUF_SYNC_RW:
      dir = DMA_BIDIRECTIONAL;
      break;
    default:
      throw kerr('EINVAL', 'sync flags name neither READ nor WRITE');
  }
  if (flags & BigInt(DMA_BUF_SYNC_END)) await dmaBufEndCpuAccess(d, dir);
  else await dmaBufBeginCpuAccess(d, dir, task);
  return 0;
}

/**
 * DMA_BUF_SET_NAME: names the buffer for fdinfo, readlink and debugfs
 * (dma_buf_set_name). The name must fit 32 bytes with its NUL (EINVAL); a
 * NULL pointer is EFAULT. Allowed while attached, as in 6.1.
 */
function ioctlSetName(d: DmaBuf, arg: unknown): number {
  let name: string;
  if (typeof arg === 'string') name = arg;
  else if (arg && typeof arg === 'object' && typeof (arg as { name?: unknown }).name === 'string') name = (arg as { name: string }).name;
  else throw kerr('EFAULT', 'name is not a string pointer');
  const nul = name.indexOf('\0');
  if (nul >= 0) name = name.slice(0, nul);
  if (enc.encode(name).length + 1 > DMA_BUF_NAME_LEN) throw kerr('EINVAL', `name of ${enc.encode(name).length} bytes exceeds ${DMA_BUF_NAME_LEN - 1}`);
  d.name = name;
  return 0;
}

/** Checks the flags of the sync_file ioctls: READ and/or WRITE, nothing else. */
function checkSyncFileFlags(flags: unknown): number {
  if (typeof flags !== 'number' || !Number.isInteger(flags)) throw kerr('EFAULT', 'flags is not an integer');
  if (flags & ~DMA_BUF_SYNC_RW || (flags & DMA_BUF_SYNC_RW) === 0) throw kerr('EINVAL', `sync_file flags 0x${(flags >>> 0).toString(16)}`);
  return flags;
}

/**
 * DMA_BUF_IOCTL_EXPORT_SYNC_FILE: a sync_file fd (O_CLOEXEC) standing for
 * the fences an access would wait for: a reader waits for writers, a
 * writer for everyone. With none pending it holds the signalled stub fence.
 */
function ioctlExportSyncFile(d: DmaBuf, arg: unknown, task: Task): number {
  const a = userArg<DmaBufExportSyncFile>(arg);
  const flags = checkSyncFileFlags(a.flags);
  const fence = d.resv.getSingleton(dmaResvUsageRw((flags & DMA_BUF_SYNC_WRITE) !== 0)) ?? d.system.fctx.getStub();
  const sf = syncFileCreate(d.system, fence);
  fence.put();
  try {
    a.fd = task.installFd(sf.file, O_CLOEXEC);
  } catch (e) {
    fput(sf.file);
    throw e;
  }
  return 0;
}

/**
 * DMA_BUF_IOCTL_IMPORT_SYNC_FILE: adds the fences of a sync_file to the
 * buffer's reservation object, as a writer (WRITE usage) or a reader (READ
 * usage), so implicit-sync users wait for them. EINVAL when the fd is not
 * a sync_file.
 */
async function ioctlImportSyncFile(d: DmaBuf, arg: unknown, task: Task): Promise<number> {
  const a = userArg<DmaBufImportSyncFile>(arg);
  const flags = checkSyncFileFlags(a.flags);
  const fence = syncFileGetFence(task, a.fd);
  if (!fence) throw kerr('EINVAL', `fd ${a.fd} is not a sync_file`);
  try {
    const usage = flags & DMA_BUF_SYNC_WRITE ? DmaResvUsage.WRITE : DmaResvUsage.READ;
    const leaves = [...dmaFenceUnwrap(fence)];
    if (leaves.length > 0) {
      await d.resv.lock();
      try {
        d.resv.reserveFences(leaves.length);
        for (const f of leaves) d.resv.addFence(f, usage);
      } finally {
        d.resv.unlock();
      }
    }
  } finally {
    fence.put();
  }
  return 0;
}

/** ioctl of a dma-buf (dma_buf_ioctl); anything else is ENOTTY. */
export function dmaBufIoctl(d: DmaBuf, cmd: number, arg: unknown, task: Task): number | Promise<number> {
  switch (cmd) {
    case DMA_BUF_IOCTL_SYNC:
      return ioctlSync(d, arg, task);
    case DMA_BUF_SET_NAME_A:
    case DMA_BUF_SET_NAME_B:
      return ioctlSetName(d, arg);
    case DMA_BUF_IOCTL_EXPORT_SYNC_FILE:
      return ioctlExportSyncFile(d, arg, task);
    case DMA_BUF_IOCTL_IMPORT_SYNC_FILE:
      return ioctlImportSyncFile(d, arg, task);
    default:
      throw kerr('ENOTTY', `dma-buf ioctl 0x${cmd.toString(16)}`);
  }
}
