/*
 * unimem's C header layer: <sys/syscall.h> with Linux's system-call
 * numbers (asm-generic's, as arm64 and riscv number them) and syscall(),
 * which unimem's shim implements for the calls it knows (memfd_create);
 * others fail with ENOSYS.
 */
#ifndef _SYS_SYSCALL_H
#define _SYS_SYSCALL_H
#include <asm-generic/unistd.h>
#ifdef __cplusplus
extern "C" {
#endif
long syscall(long number, ...);
#ifdef __cplusplus
}
#endif
#endif
