/*
 * unimem's C header layer: <sys/wait.h> with Linux's status encoding
 * (wasi-libc has no processes); waitpid and wait are unimem's shim's.
 */
#ifndef _SYS_WAIT_H
#define _SYS_WAIT_H
#include <sys/types.h>
#ifdef __cplusplus
extern "C" {
#endif
#define WNOHANG 1
#define WEXITSTATUS(s) (((s) & 0xff00) >> 8)
#define WTERMSIG(s) ((s) & 0x7f)
#define WIFEXITED(s) (!WTERMSIG(s))
#define WIFSIGNALED(s) (((s) & 0xffff) - 1U < 0xffu)
pid_t waitpid(pid_t pid, int *status, int options);
pid_t wait(int *status);
#ifdef __cplusplus
}
#endif
#endif
