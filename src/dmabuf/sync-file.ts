import { WaitQueueHead, anonInodeGetFile, fput, pollWait, userArg, type File, type FileOperations, type PollTable, type Task, type Vfs, type WaitQueueEntry } from '../fs/index.ts';
import { currentCpuContext, isKernelError, kerr } from '../lib/index.ts';
import {
  O_CLOEXEC,
  O_RDONLY,
  POLLIN,
  SYNC_IOC_FILE_INFO,
  SYNC_IOC_MERGE,
  type SyncFenceInfo,
  type SyncFileInfo,
  type SyncMergeData,
} from '../uapi/index.ts';
import type { FenceContextAllocator } from './dma-fence-context.ts';
import { DmaFenceCb, type DmaFence } from './dma-fence.ts';
import { dmaFenceUnwrap, dmaFenceUnwrapMerge } from './dma-fence-unwrap.ts';
import { fenceWaitBegin, fenceWaitEnd, type FenceWait } from './fence-wait-graph.ts';

/**
 * The wait queue of a sync_file's pollers: a poller that registers while
 * the fence is pending waits for the fence until poll takes its entry off
 * again, and the wait-for graph sees that wait as it sees dma_fence_wait.
 * A poll that registers and then finds an fd ready does not sleep: the
 * graph checks the wait only if it is still registered after that step.
 */
class SyncFileWaitQueue extends WaitQueueHead {
  private readonly edges = new Map<WaitQueueEntry, FenceWait>();

  constructor(private readonly fence: DmaFence) {
    super();
  }

  override add(entry: WaitQueueEntry): void {
    super.add(entry);
    if (this.fence.signaledFlag || this.edges.has(entry)) return;
    // an epoll watch stays registered while the fd is watched, sleeping or not: no wait
    if (currentCpuContext()?.call.startsWith('epoll') === true) return;
    const w = fenceWaitBegin([this.fence], 'sync_file_poll', { deferred: true });
    if (w) this.edges.set(entry, w);
  }

  override remove(entry: WaitQueueEntry): void {
    super.remove(entry);
    const w = this.edges.get(entry);
    if (!w) return;
    this.edges.delete(entry);
    fenceWaitEnd(this.fence.clock, w);
  }
}

/** Bytes of a sync_file's name and of the strings in sync_fence_info, NUL included. */
const SYNC_NAME_LEN = 32;

/** What sync_file needs from its system: the VFS for anon inodes and the fence contexts for merges. */
export interface SyncFileEnv {
  readonly vfs: Vfs;
  readonly fctx: FenceContextAllocator;
}

/**
 * A file holding one fence (struct sync_file), for passing fences between
 * processes and drivers: "anon_inode:sync_file", read-only, pollable
 * (POLLIN once the fence signalled). The file owns one reference to the
 * fence and drops it on release.
 */
export class SyncFile {
  readonly env: SyncFileEnv;
  readonly fence: DmaFence;
  /** The name given at merge; empty means "describe the fence". */
  userName = '';
  file!: File;
  /** Pollers wait here until the fence signals. */
  readonly wq: WaitQueueHead;
  /** The fence callback armed by the first poll (POLL_ENABLED). */
  private cb: DmaFenceCb | null = null;

  /** @internal use syncFileCreate. */
  constructor(env: SyncFileEnv, fence: DmaFence) {
    this.env = env;
    this.fence = fence.get();
    this.wq = new SyncFileWaitQueue(this.fence);
  }

  /** @internal poll of the file (sync_file_poll). */
  poll(pt: PollTable | null): number {
    pollWait(this.file, this.wq, pt);
    if (!this.cb) {
      this.cb = new DmaFenceCb(() => this.wq.wakeUp());
      if (!this.fence.addCallback(this.cb)) this.wq.wakeUp();
    }
    return this.fence.isSignaled() ? POLLIN : 0;
  }

  /** @internal release of the file (sync_file_release). */
  release(): void {
    if (this.cb) this.fence.removeCallback(this.cb);
    this.fence.put();
  }
}

/** The file operations of sync_file fds (sync_fileops). */
export const syncFileFops: FileOperations = {
  name: 'sync_file',
  release: (_inode, file) => (file.privateData as SyncFile).release(),
  poll: (file, pt) => (file.privateData as SyncFile).poll(pt),
  unlockedIoctl: (file, cmd, arg, task) => syncFileIoctl(file.privateData as SyncFile, cmd, arg, task),
};

/**
 * Creates a sync_file holding a new reference to `fence` (sync_file_create).
 * The caller owns the file's one reference (install it with task.installFd).
 */
export function syncFileCreate(env: SyncFileEnv, fence: DmaFence): SyncFile {
  const sf = new SyncFile(env, fence);
  sf.file = anonInodeGetFile(env.vfs, 'sync_file', syncFileFops, sf, O_RDONLY);
  return sf;
}

/**
 * The sync_file behind the caller's `fd`, with a file reference the caller
 * must drop (sync_file_fdget); null when the fd is not open or not a
 * sync_file.
 */
export function syncFileFdget(task: Task, fd: number): SyncFile | null {
  let file: File;
  try {
    file = task.fget(fd);
  } catch (e) {
    if (!isKernelError(e, 'EBADF')) throw e;
    return null;
  }
  if (file.fOp !== syncFileFops) {
    fput(file);
    return null;
  }
  return file.privateData as SyncFile;
}

/** A new reference to the fence of the sync_file at `fd`, or null (sync_file_get_fence). */
export function syncFileGetFence(task: Task, fd: number): DmaFence | null {
  const sf = syncFileFdget(task, fd);
  if (!sf) return null;
  const f = sf.fence.get();
  fput(sf.file);
  return f;
}

/**
 * The sync_file's name (sync_file_get_name): the merge name when one was
 * given, else "<driver>-<timeline><context>-<seqno>" of its fence, e.g.
 * "stub-stub0-0". Truncated to 31 bytes as the uapi field holds.
 */
export function syncFileGetName(sf: SyncFile): string {
  if (sf.userName) return sf.userName;
  const f = sf.fence;
  return truncateBytes(`${f.getDriverName()}-${f.getTimelineName()}${f.context}-${f.seqno}`, SYNC_NAME_LEN - 1);
}

/**
 * Makes a sync_file that signals when both `a` and `b` have
 * (sync_file_merge): the fences are flattened, signalled ones dropped, the
 * latest per timeline kept. `name` is stored, cut to 31 bytes.
 */
export function syncFileMerge(name: string, a: SyncFile, b: SyncFile): SyncFile {
  const fence = dmaFenceUnwrapMerge(a.env.fctx, [a.fence, b.fence]);
  const sf = syncFileCreate(a.env, fence);
  fence.put();
  sf.userName = truncateBytes(cString(name), SYNC_NAME_LEN - 1);
  return sf;
}

/** Per-fence info as SYNC_IOC_FILE_INFO fills it (sync_fill_fence_info); returns the status. */
function fillFenceInfo(fence: DmaFence): SyncFenceInfo {
  const status = fence.getStatus();
  return {
    obj_name: truncateBytes(fence.getTimelineName(), SYNC_NAME_LEN - 1),
    driver_name: truncateBytes(fence.getDriverName(), SYNC_NAME_LEN - 1),
    status,
    flags: 0,
    timestamp_ns: fence.signaledFlag ? fence.timestamp : 0,
  };
}

/** SYNC_IOC_MERGE: a new sync_file fd (O_CLOEXEC) for this one merged with `fd2`'s; ENOENT when fd2 is not a sync_file. */
function ioctlMerge(sf: SyncFile, arg: unknown, task: Task): number {
  const data = userArg<SyncMergeData>(arg);
  if ((data.flags ?? 0) !== 0 || (data.pad ?? 0) !== 0) throw kerr('EINVAL', 'sync merge: flags and pad must be 0');
  const other = syncFileFdget(task, data.fd2);
  if (!other) throw kerr('ENOENT', `sync merge: fd ${data.fd2} is not a sync_file`);
  try {
    const merged = syncFileMerge(typeof data.name === 'string' ? data.name : '', sf, other);
    try {
      data.fence = task.installFd(merged.file, O_CLOEXEC);
    } catch (e) {
      fput(merged.file);
      throw e;
    }
  } finally {
    fput(other.file);
  }
  return 0;
}

/**
 * SYNC_IOC_FILE_INFO: the name, the status (1 signalled, 0 pending,
 * negative errno on error) and the fence count; with num_fences > 0 also
 * one entry per fence. EINVAL for non-zero flags/pad or too small a
 * num_fences, EFAULT for a missing array.
 */
function ioctlFileInfo(sf: SyncFile, arg: unknown): number {
  const info = userArg<SyncFileInfo>(arg);
  if ((info.flags ?? 0) !== 0 || (info.pad ?? 0) !== 0) throw kerr('EINVAL', 'sync file info: flags and pad must be 0');
  const fences = [...dmaFenceUnwrap(sf.fence)];
  const want = info.num_fences ?? 0;
  if (!Number.isInteger(want) || want < 0) throw kerr('EINVAL', `num_fences ${want}`);
  if (want === 0) {
    info.status = sf.fence.getStatus();
  } else {
    if (want < fences.length) throw kerr('EINVAL', `num_fences ${want} < ${fences.length}`);
    const out = info.sync_fence_info;
    if (!Array.isArray(out)) throw kerr('EFAULT', 'sync_fence_info is not an array');
    let status = 1;
    for (let i = 0; i < fences.length; i++) {
      const fi = fillFenceInfo(fences[i]!);
      out[i] = fi;
      status = status <= 0 ? status : fi.status;
    }
    info.status = status;
  }
  info.name = syncFileGetName(sf);
  info.num_fences = fences.length;
  return 0;
}

/** ioctl of a sync_file (sync_file_ioctl): MERGE and FILE_INFO, else ENOTTY. */
function syncFileIoctl(sf: SyncFile, cmd: number, arg: unknown, task: Task): number {
  switch (cmd) {
    case SYNC_IOC_MERGE:
      return ioctlMerge(sf, arg, task);
    case SYNC_IOC_FILE_INFO:
      return ioctlFileInfo(sf, arg);
    default:
      throw kerr('ENOTTY', `sync_file ioctl 0x${cmd.toString(16)}`);
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The string up to its first NUL, as C reads a char array. */
function cString(s: string): string {
  const i = s.indexOf('\0');
  return i < 0 ? s : s.slice(0, i);
}

/** Cuts `s` to at most `max` UTF-8 bytes (strscpy into a fixed array). */
function truncateBytes(s: string, max: number): string {
  const b = enc.encode(s);
  if (b.length <= max) return s;
  return dec.decode(b.subarray(0, max)).replace(/\uFFFD$/, '');
}
