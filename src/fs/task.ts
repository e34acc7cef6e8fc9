import type { Cred } from './cred.ts';
import type { File } from './file.ts';
import type { Interruptible, WaitQueueHead } from './wait.ts';

/**
 * The calling task as the kernel side sees it (`current`). Linux reaches it
 * implicitly; here every file operation that acts for a caller gets it as
 * an argument, because simulated threads interleave. The process layer
 * implements it; drivers and dma-buf use it to look up fds the caller
 * passes (fget), to hand back new fds (installFd), and to sleep
 * interruptibly.
 */
export interface Task extends Interruptible {
  readonly pid: number;
  readonly cred: Cred;
  /** The program's name, for messages (task->comm). */
  readonly comm: string;
  /** Looks up `fd` and takes a reference the caller must fput (fget). EBADF. */
  fget(fd: number): File;
  /**
   * Installs `file` at the lowest free fd, taking over the caller's
   * reference (get_unused_fd_flags + fd_install). `flags` may hold
   * O_CLOEXEC. EMFILE when the table is full, and then the caller still
   * owns its reference.
   */
  installFd(file: File, flags: number): number;
  readonly signalWait: WaitQueueHead;
  /**
   * Sends `sig` to the task itself (send_sig to current), e.g. SIGPIPE from
   * a write to a pipe nobody reads. Optional: a task that cannot take
   * signals ignores it, and the caller still returns its errno.
   */
  sendSig?(sig: number): void;
  /**
   * Pins the page frames behind [addr, addr+len) of the task's memory and
   * returns one per page (pin_user_pages_fast, FOLL_LONGTERM): faulted in
   * first, then exempt from migration and kept alive until unpinned.
   * EFAULT for memory that is not mapped, not readable, not writable when
   * `write`, or not backed by page frames. Optional: a task without page
   * frames makes USERPTR users fail with EFAULT.
   */
  pinUserPages?(addr: number, len: number, write: boolean): Uint32Array;
  /** Unpins and releases what pinUserPages returned (unpin_user_pages). */
  unpinUserPages?(pfns: Uint32Array): void;
}
