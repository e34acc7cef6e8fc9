/*
 * unimem's C header layer: POSIX threads (wasi-libc's sysroot without
 * threads ships no <pthread.h>; without this one clang would find the
 * host's glibc header). Each pthread is a thread of the simulated process
 * (clone with CLONE_THREAD, its own tid), with its own C stack mmap'ed
 * below a PROT_NONE guard page. The threads share one wasm instance and
 * take turns in it: a thread runs until it makes a system call that waits,
 * whose asyncify unwind lets another thread in (c/shim.c, wasm-program.ts).
 * Mutexes, condition variables and pthread_once sleep in the kernel's futex.
 *
 * The types are musl's, as wasi-libc's <sys/types.h> declares them. Out of
 * reach, a build error names them: thread cancellation, thread-specific
 * data (pthread_key_*), read-write locks, barriers, spinlocks, and
 * thread-local storage (__thread, _Thread_local), which the wasm build
 * would silently share between threads.
 */
#ifndef UNIMEM_PTHREAD_H
#define UNIMEM_PTHREAD_H
#include <errno.h>
#include <sched.h>
#include <sys/types.h>
#include <time.h>
#ifdef __cplusplus
extern "C" {
#endif

#define PTHREAD_CREATE_JOINABLE 0
#define PTHREAD_CREATE_DETACHED 1

#define PTHREAD_MUTEX_NORMAL 0
#define PTHREAD_MUTEX_DEFAULT 0
#define PTHREAD_MUTEX_RECURSIVE 1
#define PTHREAD_MUTEX_ERRORCHECK 2

#define PTHREAD_PROCESS_PRIVATE 0

#define PTHREAD_MUTEX_INITIALIZER {{{0}}}
#define PTHREAD_COND_INITIALIZER {{{0}}}
#define PTHREAD_ONCE_INIT 0

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg);
int pthread_join(pthread_t thread, void **retval);
int pthread_detach(pthread_t thread);
_Noreturn void pthread_exit(void *retval);
pthread_t pthread_self(void);
int pthread_equal(pthread_t a, pthread_t b);

int pthread_attr_init(pthread_attr_t *attr);
int pthread_attr_destroy(pthread_attr_t *attr);
int pthread_attr_setdetachstate(pthread_attr_t *attr, int state);
int pthread_attr_getdetachstate(const pthread_attr_t *attr, int *state);
int pthread_attr_setstacksize(pthread_attr_t *attr, size_t size);
int pthread_attr_getstacksize(const pthread_attr_t *attr, size_t *size);

int pthread_mutexattr_init(pthread_mutexattr_t *attr);
int pthread_mutexattr_destroy(pthread_mutexattr_t *attr);
int pthread_mutexattr_settype(pthread_mutexattr_t *attr, int type);
int pthread_mutexattr_gettype(const pthread_mutexattr_t *attr, int *type);

int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr);
int pthread_mutex_destroy(pthread_mutex_t *m);
int pthread_mutex_lock(pthread_mutex_t *m);
int pthread_mutex_trylock(pthread_mutex_t *m);
int pthread_mutex_unlock(pthread_mutex_t *m);

int pthread_condattr_init(pthread_condattr_t *attr);
int pthread_condattr_destroy(pthread_condattr_t *attr);
int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *attr);
int pthread_cond_destroy(pthread_cond_t *c);
int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m);
int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abstime);
int pthread_cond_signal(pthread_cond_t *c);
int pthread_cond_broadcast(pthread_cond_t *c);

int pthread_once(pthread_once_t *once, void (*fn)(void));

#define UNIMEM_NO_THREADS(what) __attribute__((unavailable("unimem: a C program cannot use " what " yet (see the README's C programs section)")))
UNIMEM_NO_THREADS("thread cancellation") int pthread_cancel(pthread_t thread);
UNIMEM_NO_THREADS("thread cancellation") int pthread_setcancelstate(int state, int *old);
UNIMEM_NO_THREADS("thread cancellation") int pthread_setcanceltype(int type, int *old);
UNIMEM_NO_THREADS("thread cancellation") void pthread_testcancel(void);
UNIMEM_NO_THREADS("thread-specific data") int pthread_key_create(pthread_key_t *key, void (*destructor)(void *));
UNIMEM_NO_THREADS("thread-specific data") int pthread_key_delete(pthread_key_t key);
UNIMEM_NO_THREADS("thread-specific data") void *pthread_getspecific(pthread_key_t key);
UNIMEM_NO_THREADS("thread-specific data") int pthread_setspecific(pthread_key_t key, const void *value);
UNIMEM_NO_THREADS("read-write locks") int pthread_rwlock_init(pthread_rwlock_t *l, const pthread_rwlockattr_t *attr);
UNIMEM_NO_THREADS("read-write locks") int pthread_rwlock_rdlock(pthread_rwlock_t *l);
UNIMEM_NO_THREADS("read-write locks") int pthread_rwlock_wrlock(pthread_rwlock_t *l);
UNIMEM_NO_THREADS("read-write locks") int pthread_rwlock_unlock(pthread_rwlock_t *l);
UNIMEM_NO_THREADS("barriers") int pthread_barrier_init(pthread_barrier_t *b, const pthread_barrierattr_t *attr, unsigned count);
UNIMEM_NO_THREADS("barriers") int pthread_barrier_wait(pthread_barrier_t *b);
UNIMEM_NO_THREADS("spinlocks") int pthread_spin_init(pthread_spinlock_t *l, int shared);
UNIMEM_NO_THREADS("spinlocks") int pthread_spin_lock(pthread_spinlock_t *l);
UNIMEM_NO_THREADS("spinlocks") int pthread_spin_unlock(pthread_spinlock_t *l);
#undef UNIMEM_NO_THREADS

/* thread-local storage would compile to one variable all threads share: an error instead */
#define __thread _Pragma("GCC error \"unimem: a C program cannot use thread-local storage (__thread) yet (see the README's C programs section)\"")
#define _Thread_local __thread
#ifndef __cplusplus
#define thread_local __thread
#endif

#ifdef __cplusplus
}
#endif
#endif
