/** Low byte of clone's flags: the signal sent to the parent when the child exits (CSIGNAL). */
export const CSIGNAL = 0x000000ff;
/** clone flags (include/uapi/linux/sched.h): what the new task shares with its creator. */
export const CLONE_VM = 0x00000100;
export const CLONE_FS = 0x00000200;
export const CLONE_FILES = 0x00000400;
export const CLONE_SIGHAND = 0x00000800;
export const CLONE_PIDFD = 0x00001000;
export const CLONE_PTRACE = 0x00002000;
export const CLONE_VFORK = 0x00004000;
export const CLONE_PARENT = 0x00008000;
export const CLONE_THREAD = 0x00010000;
export const CLONE_NEWNS = 0x00020000;
export const CLONE_SYSVSEM = 0x00040000;
export const CLONE_SETTLS = 0x00080000;
export const CLONE_PARENT_SETTID = 0x00100000;
export const CLONE_CHILD_CLEARTID = 0x00200000;
export const CLONE_DETACHED = 0x00400000;
export const CLONE_UNTRACED = 0x00800000;
export const CLONE_CHILD_SETTID = 0x01000000;

/**
 * The flags glibc's pthread_create passes to clone (create_thread in
 * sysdeps/unix/sysv/linux/createthread.c): a task of the same thread group
 * sharing the mm, fs, fd table and signal handlers, with its TLS, the tid
 * written to the parent's word and cleared (and futex-woken) at its exit.
 */
export const CLONE_THREAD_FLAGS =
  CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
