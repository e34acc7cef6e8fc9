/**
 * DOC: fs — files, inodes, device nodes, wait queues and poll
 *
 * A File (open file description) is reference counted: every fd, mapping,
 * message in flight and kernel user holds one (getFile/fput), and its
 * release op runs exactly once, when the last reference goes, wherever that
 * happens. Whoever creates a file owns its first reference. Files are made
 * by vfsOpen (paths: /dev nodes registered with registerChrdev, regular
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
 * Sleeping: pipe read/write, memfd read/write (the CPU's copy time),
 * F_ADD_SEALS (waiting for pins), epoll wait, truncation and fsync may
 * sleep; poll ops, setSize and migration callbacks never do.
 */
export * from './cred.ts';
export * from './inode.ts';
export * from './file.ts';
export * from './task.ts';
export * from './wait.ts';
export * from './poll.ts';
export * from './vma.ts';
export * from './vfs.ts';
export * from './llseek.ts';
export * from './tmpfs.ts';
export * from './seq-file.ts';
export * from './chrdev.ts';
export * from './anon-inode.ts';
export * from './namei.ts';
export * from './truncate.ts';
export * from './sync.ts';
export * from './shmem.ts';
export * from './memfd.ts';
export * from './pipe.ts';
export * from './eventpoll.ts';
