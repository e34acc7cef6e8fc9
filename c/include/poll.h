/*
 * unimem's C header layer: <poll.h> with Linux's POLL* values. wasi-libc
 * numbers them its own way (POLLIN 0x1, POLLOUT 0x2, POLLERR 0x1000); a
 * unimem process is a Linux process, so poll() (unimem's shim) passes the
 * program's struct pollfd to the simulated kernel as Linux reads it.
 */
#ifndef UNIMEM_POLL_H
#define UNIMEM_POLL_H
#include_next <poll.h>
#undef POLLIN
#undef POLLPRI
#undef POLLOUT
#undef POLLERR
#undef POLLHUP
#undef POLLNVAL
#undef POLLRDNORM
#undef POLLRDBAND
#undef POLLWRNORM
#undef POLLWRBAND
#undef POLLMSG
#undef POLLRDHUP
#define POLLIN 0x001
#define POLLPRI 0x002
#define POLLOUT 0x004
#define POLLERR 0x008
#define POLLHUP 0x010
#define POLLNVAL 0x020
#define POLLRDNORM 0x040
#define POLLRDBAND 0x080
#define POLLWRNORM 0x100
#define POLLWRBAND 0x200
#define POLLMSG 0x400
#define POLLRDHUP 0x2000
#endif
