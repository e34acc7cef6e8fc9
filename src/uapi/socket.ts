/** Socket constants for AF_UNIX pairs and SCM_RIGHTS (include/linux/socket.h, asm-generic/socket.h). */
export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_SEQPACKET = 5;
export const SOL_SOCKET = 1;
export const SCM_RIGHTS = 0x01;
/** Most fds one SCM_RIGHTS message may carry (include/net/scm.h). */
export const SCM_MAX_FD = 253;

export const MSG_CTRUNC = 0x8;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_CMSG_CLOEXEC = 0x40000000;
