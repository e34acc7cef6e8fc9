/*
 * unimem's C header layer: <unistd.h> with the process calls wasi-libc
 * leaves out: fork and pipe (unimem's shim), the exec family (declared so a
 * program builds; they fail with ENOSYS for now, see the README's C
 * programs section), getpagesize, and alarm and pause (c/signal.c).
 */
#ifndef UNIMEM_UNISTD_H
#define UNIMEM_UNISTD_H
#include_next <unistd.h>
#ifdef __cplusplus
extern "C" {
#endif
pid_t fork(void);
int pipe(int fds[2]);
int pipe2(int fds[2], int flags);
int execv(const char *path, char *const argv[]);
int execve(const char *path, char *const argv[], char *const envp[]);
int execvp(const char *file, char *const argv[]);
int getpagesize(void);
unsigned alarm(unsigned seconds);
int pause(void);
#ifdef __cplusplus
}
#endif
#endif
