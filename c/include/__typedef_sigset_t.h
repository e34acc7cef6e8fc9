/*
 * unimem's C header layer: sigset_t as musl has it on Linux (1024 bits, the
 * kernel's 64 signals in the first two words), in place of wasi-libc's
 * one-byte placeholder, so that every header that names it agrees with
 * <signal.h> and sigaddset has room for every signal.
 */
#ifndef __wasilibc___typedef_sigset_t_h
#define __wasilibc___typedef_sigset_t_h

typedef struct __sigset_t {
  unsigned long __bits[128 / sizeof(long)];
} sigset_t;

#endif
