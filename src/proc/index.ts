/**
 * DOC: proc — processes and the system-call surface
 *
 * A ProcKernel (createProcSystem) owns the process table, the unix-socket
 * layer and /proc; it uses the Vfs that drivers and dma-buf register in, so
 * those layers never import this one. A process owns its fd table (each fd
 * one file reference, close-on-exec per fd, lowest free number, EMFILE at
 * RLIMIT_NOFILE) and its address space (each mapping one file reference;
 * cacheable pages registered with the CPU's MMU model while mapped). fork
 * copies both; exec closes close-on-exec fds and drops mappings; exit and
 * fatal signals drop mappings, then close fds, then wake the parent. A
 * program is `main(sys, args)`, run as a simulated thread on the Clock
 * (spawnProcess); every `sys` call is async, has a scheduling point on
 * entry, may sleep in simulated time, and fails with a SyscallError
 * carrying Linux's errno. Signals are acted on at system-call boundaries,
 * or at once for a process outside any call; a signal the kernel sends
 * the caller (SIGPIPE) is fatal when the call returns unless handled or
 * ignored. Handlers (signal.ts: sigaction, alarm) run in the process at
 * call boundaries, before a call or as an interrupted one returns.
 *
 * Threads (thread-group.ts, thread.ts, futex.ts): a Process is one task;
 * the tasks of a process share its ThreadGroup (tgid, fd table, address
 * space, credentials, signal actions, children, exit status) and each has
 * its own tid, `sys`, signal mask and calls in progress. clone with
 * CLONE_THREAD adds one; a thread's function returning ends it alone,
 * while main returning, exit, an uncaught error or a fatal signal end the
 * group: every thread is zapped (its sleeps end, its calls unwind) and
 * the teardown waits for their calls to return before the mappings and
 * fds go. exec first ends every other thread (de_thread). Signals sent to
 * the process go to the main thread unless it ended or blocks them.
 *
 * The mm is required (createProcSystem({ soc, mm })): memfds live on a
 * shmem mount whose files keep their pages in DRAM (udmabuf takes them),
 * and an address space's anonymous memory and private copy-on-write
 * copies are DRAM pages too (AnonMemory owns them: movable, zeroed,
 * allocated on first touch, freed with the last mapping, migrated by CMA
 * unless pinned); drivers pin them with Task.pinUserPages (gup.ts: a page
 * reference plus a pin, released by unpinUserPages, so a pinned page
 * outlives munmap). The address space (mm_struct) is split as mm/ is:
 * mmap.ts (mmap, munmap, exit), mremap.ts, fork.ts (dup_mmap), memory.ts
 * (faults, copy-on-write), gup.ts and cpu-access.ts (the program's loads
 * and stores through its mappings and the CPU cache). Pipes live on
 * pipefs; epoll instances hold no references to what they watch. mremap
 * moves or grows mappings in the address space (VM_DONTEXPAND/VM_PFNMAP
 * mappings cannot grow: EFAULT); mprotect splits mappings it covers in
 * part (mprotect.ts); ftruncate, fsync and fallocate go through the fs
 * layer's VFS checks. /proc directories (procfs-nodes.ts) are made up at
 * lookup, their inodes kept per process; stat.ts resolves paths for the
 * stat family and access; time.ts reads and sleeps on the simulated clock
 * (CLOCK_REALTIME starts at a fixed epoch, so runs replay exactly).
 * dmabuf-refs.ts names every reference on every dma-buf -- fds and
 * mappings (each recording the call that took it), messages in flight,
 * and the dma-buf core's attachments and kernel references -- for run
 * results and /sys/kernel/debug/dma_buf/refs.
 */
export { AddressSpace } from './address-space.ts';
export {
  dmaBufRefsText,
  dmaBufSnapshot,
  dmabufDumpTable,
  registerDmaBufRefsDebugfs,
  type DmaBufProcessUse,
  type DmaBufReference,
  type DmaBufReport,
  type DmaBufSnapshot,
} from './dmabuf-refs.ts';
export { FdTable } from './fdtable.ts';
export { ProcKernel, createProcSystem, spawnProcess, type ProcSystemOptions, type SpawnOptions, type SpawnedProcess } from './kernel.ts';
export type { PollFd } from './poll.ts';
export { Process, type ProgramMain, type ThreadFn } from './process.ts';
export type { ThreadGroup } from './thread-group.ts';
export { describeBlockedTasks } from './hung-task.ts';
export { Sys, type UserCpuAccess } from './sys.ts';
export { SegfaultError } from './errors.ts';
export type { SigActionArg, SigInfo, SignalHandler } from './signal.ts';
