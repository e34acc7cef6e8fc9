/*
 * unimem's C header layer: a C program is one thread in unimem for now
 * (its wasm stack is unwound at every system call, which one thread at a
 * time can do). Without this header clang would find the host's glibc
 * <pthread.h>.
 */
#error "unimem: a C program cannot use threads (pthreads) yet (see the README's C programs section)"
