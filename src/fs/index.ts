/**
 * DOC: fs — files, inodes, device nodes, wait queues and poll
 *
 * A File (open file description) is reference counted: every fd, mapping,
 * message in flight and kernel user holds one (getFile/fput), and its
 * release op runs exactly once, when the last reference goes, wherever that
 * happens. Whoever creates a file owns its first reference. Files are made
 * by vfsOpen (paths: /dev nodes registered with registerChrdev, each with
 * its sysfs device (/sys/dev/char/M:m, /sys/class/<class>/<name>) that
 * goes with it, regular
 * files, generated files from registerSeqFile), anonInodeGetFile (sync_file
 * and friends) and allocFilePseudo (a pseudo filesystem's own inodes, as
 * dma-buf has). Layers above fill in FileOperations; the process layer
 * owns fd tables and passes the calling Task to every op that acts for a
 * caller. Ops that sleep in Linux (open, read, write, ioctl, mmap, release)
 * may be async; poll, llseek and showFdinfo never sleep. WaitQueueHead is
 * the one sleep/wake primitive (fences, sockets and pollers use it); all
 * timeouts run on the simulated Clock. A VmArea is filled in by the file's
 * mmap op with page frames and a memory type; the address space that owns
 * it lives in the process layer.
 *
 * Files that devices can reach live in simulated DRAM: a ShmemFs (one per
 * kernel, built on the booted mm) owns the page-cache pages of memfds,
 * movable zeroed pages from the page allocator that CMA may migrate; its
 * owner callback repoints the cache and zaps every mapping of the old
 * frame. A memfd's page cache holds one reference per page, its mappings
 * none; readPage (udmabuf) adds one; truncation unmaps and drops pages
 * past the end, and the last file's release drops them all (pages still
 * held elsewhere live on, owned by nobody). A Task may pin its user
 * memory for a driver (pinUserPages: a reference and a pin per page, so
 * migration skips it and munmap cannot free it; unpinUserPages ends
 * both); a task that cannot leaves USERPTR users with EFAULT. Plain tmpfs files (under /tmp)
 * keep their bytes outside simulated memory and carry F_SEAL_SEAL. Pipes
 * live on the process layer's pipefs; each end's release wakes the other.
 * An epoll item holds no reference to the file it watches: File.put tells
 * the item (File.watchers) before release runs, as eventpoll_release does.
 * Directories list through their file's iterateShared op (getdents64:
 * in-memory ones newest child first, as dcache_readdir); fallocate goes
 * through vfsFallocate's checks to the file's op (memfds and tmpfs files:
 * allocation, KEEP_SIZE, PUNCH_HOLE).
 * Sleeping: pipe read/write, memfd read/write (the CPU's copy time),
 * F_ADD_SEALS (waiting for pins), epoll wait, truncation and fsync may
 * sleep; poll ops, setSize and migration callbacks never do.
 */
export { allocAnonInode, allocFilePseudo, anonInodeGetFile, type PseudoFileOptions } from './anon-inode.ts';
export { DeviceNode, chrdevFindFreeMinor, chrdevMinorInUse, registerChrdev, type ChrdevOptions } from './chrdev.ts';
export { ROOT_CRED, makeCred, type Cred } from './cred.ts';
export { EP_MAX_EVENTS, Eventpoll, epollCopyEvent, epollCreate, epollCtl, eventpollOf } from './eventpoll.ts';
export {
  FMODE_CAN_READ,
  FMODE_CAN_WRITE,
  FMODE_PREAD,
  FMODE_PWRITE,
  FMODE_READ,
  FMODE_WRITE,
  File,
  fput,
  userArg,
  type FileInit,
  type FileOperations,
  type FilePos,
  type FileTracker,
} from './file.ts';
export { debugfsAttrOps, debugfsCreateAttr, faultCreateDebugfsAttr, type DebugfsAttr } from './debugfs-attr.ts';
export { vfsFallocate } from './fallocate.ts';
export { Inode, MAY_EXEC, MAY_READ, MAY_WRITE, SuperBlock, inodePermission, modePermission, type InodeInit } from './inode.ts';
export { memfdCreate, memfdFcntl, memfdName } from './memfd.ts';
export { MAXSYMLINKS, UMASK, lookupInode, lookupPath, vfsOpen, type PathLookup } from './namei.ts';
export { createPipeFiles, pipeFcntl } from './pipe.ts';
export { DEFAULT_POLLMASK, PollTable, pollWait, type PollQueueProc } from './poll.ts';
export { dirEmit, dirEmitList, dirLlseek, dtType, iterateDir, type DirContext, type DirEntry } from './readdir.ts';
export { SeqFileNode, debugfsCreateFile, registerSeqFile, seqFileOps, type SeqFileOptions, type SeqShow } from './seq-file.ts';
export { SysfsDevice, chrdevUevent, sysfsAddChrdev, type ChrdevSysfs } from './sysfs.ts';
export { ShmemFs, ShmemInode, shmemAllocPage, shmemInodeOf, shmemReopen } from './shmem.ts';
export { vfsFsync } from './sync.ts';
export type { Task } from './task.ts';
export { tmpfsFileOps } from './tmpfs.ts';
export { vfsFtruncate } from './truncate.ts';
export { Vfs, splitPath } from './vfs.ts';
export {
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_EXEC,
  VM_IO,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_PFNMAP,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  isCowMapping,
  VmArea,
  type VmaPageSink,
} from './vma.ts';
export { WaitQueueEntry, WaitQueueHead, waitEvent, type Interruptible, type WaitOptions, type WakeFunc } from './wait.ts';
