import { O_CLOEXEC } from './fcntl.ts';

/** epoll uapi (include/uapi/linux/eventpoll.h, Linux 6.1). */
export const EPOLL_CLOEXEC = O_CLOEXEC;

/** epoll_ctl(2) operations. */
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;

/** Event bits: the poll bits, then the epoll-only input flags in the top bits. */
export const EPOLLIN = 0x00000001;
export const EPOLLPRI = 0x00000002;
export const EPOLLOUT = 0x00000004;
export const EPOLLERR = 0x00000008;
export const EPOLLHUP = 0x00000010;
export const EPOLLNVAL = 0x00000020;
export const EPOLLRDNORM = 0x00000040;
export const EPOLLRDBAND = 0x00000080;
export const EPOLLWRNORM = 0x00000100;
export const EPOLLWRBAND = 0x00000200;
export const EPOLLMSG = 0x00000400;
export const EPOLLRDHUP = 0x00002000;
/** Wake one of several epoll instances waiting on the same file (add only). */
export const EPOLLEXCLUSIVE = 0x10000000;
/** Hold a wakeup source while the event is pending (needs CAP_BLOCK_SUSPEND; dropped otherwise). */
export const EPOLLWAKEUP = 0x20000000;
/** Report once, then disable the entry until EPOLL_CTL_MOD. */
export const EPOLLONESHOT = 0x40000000;
/** Edge-triggered: report only on new wake-ups, not while the file stays ready. Unsigned, as the header's 1U << 31. */
export const EPOLLET = 0x80000000;

/**
 * struct epoll_event (12 bytes, packed, on x86_64): the ready events and the
 * caller's 64-bit cookie, handed back untouched.
 */
export interface EpollEvent {
  events: number;
  data: number | bigint;
}
