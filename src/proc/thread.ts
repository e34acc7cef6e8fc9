import { kerr } from '../lib/index.ts';
import { CLONE_FILES, CLONE_FS, CLONE_NEWNS, CLONE_PIDFD, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, CSIGNAL, SIGCHLD } from '../uapi/index.ts';

/** The namespace flags (CLONE_NEW*) and CLONE_NEWTIME, which unimem does not model. */
const NAMESPACE_FLAGS = 0x7e020080;
/** The sharing flags a thread here must have. */
const THREAD_SHARES = CLONE_VM | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD;

/**
 * What clone's `flags` ask for (copy_process's checks, then what unimem
 * models): a thread of the caller's process, or a child process as fork
 * makes. EINVAL as Linux gives it for CLONE_THREAD without
 * CLONE_SIGHAND, CLONE_SIGHAND without CLONE_VM, CLONE_FS with
 * CLONE_NEWNS and CLONE_PIDFD with CLONE_THREAD; EINVAL too for what is
 * not modelled: namespaces, an mm or fd table shared outside a thread
 * group, a thread without a shared fd table, a child whose exit signal
 * is not SIGCHLD.
 */
export function cloneKind(flags: number): 'thread' | 'fork' {
  if (!Number.isSafeInteger(flags) || flags < 0 || flags > 0xffffffff) throw kerr('EINVAL', `clone flags ${flags}`);
  const f = flags >>> 0;
  if ((f & (CLONE_NEWNS | CLONE_FS)) === (CLONE_NEWNS | CLONE_FS)) throw kerr('EINVAL', 'CLONE_FS with CLONE_NEWNS');
  if (f & CLONE_THREAD && !(f & CLONE_SIGHAND)) throw kerr('EINVAL', 'CLONE_THREAD needs CLONE_SIGHAND');
  if (f & CLONE_SIGHAND && !(f & CLONE_VM)) throw kerr('EINVAL', 'CLONE_SIGHAND needs CLONE_VM');
  if (f & CLONE_PIDFD && f & CLONE_THREAD) throw kerr('EINVAL', 'CLONE_PIDFD with CLONE_THREAD');
  if (f & NAMESPACE_FLAGS) throw kerr('EINVAL', 'namespaces are not modelled');
  if (f & CLONE_THREAD) {
    if ((f & THREAD_SHARES) !== THREAD_SHARES) throw kerr('EINVAL', 'a thread without a shared fd table is not modelled');
    return 'thread';
  }
  if (f & (CLONE_VM | CLONE_FILES | CLONE_SIGHAND | CLONE_PIDFD)) throw kerr('EINVAL', 'sharing an mm or fd table outside a thread group is not modelled');
  if ((f & CSIGNAL) !== SIGCHLD) throw kerr('EINVAL', 'a child whose exit signal is not SIGCHLD is not modelled');
  return 'fork';
}
