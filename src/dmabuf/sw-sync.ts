import { debugfsCreateFile, fput, registerSeqFile, userArg, type File, type FileOperations, type SeqFileNode, type Task } from '../fs/index.ts';
import { currentCpuContext, kerr } from '../lib/index.ts';
import { O_CLOEXEC, SW_SYNC_IOC_CREATE_FENCE, SW_SYNC_IOC_INC, type SwSyncCreateFenceData } from '../uapi/index.ts';
import { SwSyncTimeline } from './fence-timeline.ts';
import { syncFileCreate, type SyncFileEnv } from './sync-file.ts';

/** Where debugfs puts the sw_sync file (sync_debugfs_init). */
export const SW_SYNC_DEBUGFS_PATH = '/sys/kernel/debug/sync/sw_sync';
/** Where debugfs puts the sync timelines' state (sync_debugfs_init). */
export const SYNC_INFO_DEBUGFS_PATH = '/sys/kernel/debug/sync/info';

/** Bytes of task->comm with its NUL (TASK_COMM_LEN); a timeline is named after its opener's comm. */
const TASK_COMM_LEN = 16;

const INT_MAX = 0x7fff_ffff;

/** The timeline behind an open sw_sync file. */
function timelineOf(file: File): SwSyncTimeline {
  return file.privateData as SwSyncTimeline;
}

/**
 * SW_SYNC_IOC_CREATE_FENCE (sw_sync_ioctl_create_fence): a fence at
 * `value` on the timeline, handed back as a new sync_file fd with
 * O_CLOEXEC in `fence`. The name field is read and ignored, as 6.1 does.
 * EFAULT for a missing argument; a value that is not a __u32 is cut to
 * one, as copy_from_user of the field would.
 */
function ioctlCreateFence(env: SyncFileEnv, tl: SwSyncTimeline, arg: unknown, task: Task): number {
  const data = userArg<SwSyncCreateFenceData>(arg);
  const v = data.value;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw kerr('EFAULT', 'sw_sync create fence: value is not an integer');
  const fence = tl.createFence(v >>> 0);
  const sf = syncFileCreate(env, fence);
  fence.put();
  try {
    data.fence = task.installFd(sf.file, O_CLOEXEC);
  } catch (e) {
    fput(sf.file);
    throw e;
  }
  return 0;
}

/** Reads a __u32 argument passed by pointer: `{ value }` or the number itself; EFAULT otherwise. */
function u32Arg(arg: unknown): number {
  const v = typeof arg === 'number' ? arg : arg !== null && typeof arg === 'object' ? (arg as { value?: unknown }).value : undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw kerr('EFAULT', 'bad __u32 pointer');
  return v >>> 0;
}

/**
 * SW_SYNC_IOC_INC (sw_sync_ioctl_inc): advances the timeline, in steps of
 * at most INT_MAX so that no step looks like going backwards in the
 * wrapping seqno comparison, signalling reached points in seqno order.
 */
function ioctlInc(tl: SwSyncTimeline, arg: unknown): number {
  let value = u32Arg(arg);
  while (value > INT_MAX) {
    tl.signal(INT_MAX);
    value -= INT_MAX;
  }
  tl.signal(value);
  return 0;
}

/**
 * The operations of /sys/kernel/debug/sync/sw_sync (sw_sync_debugfs_fops):
 * every open makes a new timeline named after the opener's comm, the two
 * ioctls act on it, and the release signals every pending point with
 * -ENOENT. No read or write (EINVAL from the VFS).
 */
function swSyncFops(env: SyncFileEnv, timelines: Set<SwSyncTimeline>): FileOperations {
  return {
    name: 'sw_sync',
    /** Creates the file's timeline (sw_sync_debugfs_open) and lists it for sync/info (sync_timeline_debug_add). */
    open(_inode, file, task) {
      const comm = new TextEncoder().encode(task.comm).subarray(0, TASK_COMM_LEN - 1);
      const tl = new SwSyncTimeline(env.fctx, new TextDecoder().decode(comm).replace(/\uFFFD$/, ''));
      // whoever holds the fd advances it (SW_SYNC_IOC_INC): the signaller of every fence on it
      const opener = currentCpuContext();
      if (opener) tl.signaller = { thread: opener, file };
      file.privateData = tl;
      timelines.add(tl);
    },
    /** Ends the timeline (sw_sync_debugfs_release): pending fences signal with ENOENT. */
    release(_inode, file) {
      const tl = timelineOf(file);
      tl.destroy();
      // Linux unlists it when its last fence is freed; its fences have all signalled by now, so nothing is lost
      timelines.delete(tl);
    },
    unlockedIoctl(file, cmd, arg, task) {
      switch (cmd >>> 0) {
        case SW_SYNC_IOC_CREATE_FENCE:
          return ioctlCreateFence(env, timelineOf(file), arg, task);
        case SW_SYNC_IOC_INC:
          return ioctlInc(timelineOf(file), arg);
        default:
          throw kerr('ENOTTY', `sw_sync ioctl 0x${(cmd >>> 0).toString(16)}`);
      }
    },
  };
}

/**
 * What /sys/kernel/debug/sync/info prints (sync_info_debugfs_show): under
 * "objs", each sw_sync timeline as "<name>: <value>" followed by its
 * pending points ("  fence active: <seqno> / <value>"); under "fences",
 * the sync_files on the debug list, which nothing in 6.1 adds to.
 */
export function syncInfoShow(timelines: Iterable<SwSyncTimeline>): string {
  let out = 'objs:\n--------------\n';
  for (const tl of timelines) {
    out += `${tl.name}: ${tl.value | 0}\n`;
    for (const seqno of tl.pendingSeqnos()) out += `  fence active: ${seqno} / ${tl.value | 0}\n`;
    out += '\n';
  }
  return out + 'fences:\n--------------\n';
}

/**
 * Creates /sys/kernel/debug/sync/sw_sync, mode 0644, and the read-only
 * /sys/kernel/debug/sync/info beside it (sync_debugfs_init with
 * CONFIG_SW_SYNC): the userspace-driven timelines that the kernel's sync
 * selftests and IGT use to make fences signal on demand.
 */
export function registerSwSync(env: SyncFileEnv): SeqFileNode {
  const timelines = new Set<SwSyncTimeline>();
  registerSeqFile(env.vfs, SYNC_INFO_DEBUGFS_PATH, () => syncInfoShow(timelines));
  return debugfsCreateFile(env.vfs, SW_SYNC_DEBUGFS_PATH, swSyncFops(env, timelines), null, { mode: 0o644 });
}
