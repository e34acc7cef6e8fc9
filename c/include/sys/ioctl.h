/*
 * unimem's C header layer: <sys/ioctl.h> as Linux declares ioctl, with
 * the request an unsigned long (wasi-libc has an int and two requests).
 */
#ifndef _SYS_IOCTL_H
#define _SYS_IOCTL_H
#define __wasilibc___header_sys_ioctl_h
#include <asm/ioctl.h>
#ifdef __cplusplus
extern "C" {
#endif
#define FIONREAD 0x541B
#define FIONBIO 0x5421
#define FIOCLEX 0x5451
#define FIONCLEX 0x5450
int ioctl(int fd, unsigned long request, ...);
#ifdef __cplusplus
}
#endif
#endif
