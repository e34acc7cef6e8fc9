import { kerr } from '../lib/index.ts';
import { EP_MAX_EVENTS, epollCopyEvent, epollCreate, epollCtl, eventpollOf } from '../fs/index.ts';
import { EPOLL_CLOEXEC, type EpollEvent } from '../uapi/index.ts';
import { awaitRelease } from './file-syscalls.ts';
import type { ProcKernel } from './kernel.ts';
import type { Process } from './process.ts';

/** epoll_create1(2): a new epoll instance at the lowest free fd. EINVAL for flags other than EPOLL_CLOEXEC, EMFILE. */
export function sysEpollCreate1(k: ProcKernel, p: Process, flags: number): number {
  if (!Number.isInteger(flags) || (flags & ~EPOLL_CLOEXEC) !== 0) throw kerr('EINVAL', `epoll_create1 flags 0${flags.toString(8)}`);
  p.files.allocFd();
  const f = epollCreate(k.vfs, p.cred);
  try {
    return p.files.installLowest(f, (flags & EPOLL_CLOEXEC) !== 0);
  } catch (e) {
    f.put();
    throw e;
  }
}

/**
 * epoll_ctl(2): EFAULT for a missing event (other than for EPOLL_CTL_DEL),
 * EBADF for either fd, then epollCtl's errors.
 */
export async function sysEpollCtl(p: Process, epfd: number, op: number, fd: number, event: unknown): Promise<void> {
  const ev = epollCopyEvent(op, event);
  const ef = p.fget(epfd);
  let tf: ReturnType<Process['fget']> | null = null;
  try {
    tf = p.fget(fd);
    epollCtl(ef, op, tf, fd, ev, p.cred);
  } finally {
    if (tf) await awaitRelease(tf.put());
    await awaitRelease(ef.put());
  }
}

/**
 * epoll_wait(2): EINVAL for maxevents outside 1..EP_MAX_EVENTS, EBADF, EINVAL
 * when epfd is not an epoll file; then waits up to `timeoutMs` of simulated
 * time (negative: forever) and returns the ready events, at most maxevents.
 */
export async function sysEpollWait(k: ProcKernel, p: Process, epfd: number, maxevents: number, timeoutMs: number): Promise<EpollEvent[]> {
  if (!Number.isInteger(maxevents) || maxevents <= 0 || maxevents > EP_MAX_EVENTS) throw kerr('EINVAL', `maxevents ${maxevents}`);
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs)) throw kerr('EINVAL', `timeout ${timeoutMs}`);
  const f = p.fget(epfd);
  try {
    const ep = eventpollOf(f);
    if (!ep) throw kerr('EINVAL', `${f.pathName()} is not an epoll file`);
    return await ep.wait(maxevents, timeoutMs, k.clock, p);
  } finally {
    await awaitRelease(f.put());
  }
}
