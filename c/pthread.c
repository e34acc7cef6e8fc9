/*
 * unimem's POSIX threads, linked before libc with the shim. A pthread is
 * a thread of the simulated process: the host's thread_spawn import
 * clones a CLONE_THREAD task that enters the wasm instance through
 * unimem_thread_entry on the stack given here. The threads take turns
 * inside wasm: one runs until a system call waits, the call's asyncify
 * unwind lets the next one in, so plain loads and stores of the lock
 * words below are atomic (no thread can be preempted between them) and a
 * waiter sleeps in the kernel's futex until a wake.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define IMPORT(n) __attribute__((import_module("unimem"), import_name(#n)))

IMPORT(thread_spawn) int32_t unimem_thread_spawn(struct __pthread *self, uint32_t stack_top, volatile int *tid);
IMPORT(thread_join) int32_t unimem_thread_join(int32_t tid);
IMPORT(thread_exit) void unimem_thread_exit(void);
IMPORT(thread_self) struct __pthread *unimem_thread_self(void);
IMPORT(futex) int32_t unimem_futex(volatile int *uaddr, int32_t op, int32_t val, int64_t timeout_ns);

#define FUTEX_WAIT_PRIVATE (0 | 128)
#define FUTEX_WAKE_PRIVATE (1 | 128)
#define DEFAULT_STACK (256 * 1024)

struct __pthread {
  void *(*start)(void *);
  void *arg;
  void *result;
  /* the tid the kernel writes at clone and zeroes at the thread's end (CLONE_CHILD_CLEARTID) */
  volatile int tid;
  int kernel_tid;
  int detached;
  /* the mapping: a guard page, the stack, this struct at its top */
  void *map;
  size_t map_len;
};

/* The main thread, which no pthread_create made. */
static struct __pthread main_thread;

/* Where a new thread starts: the host calls it on the thread's own stack. */
__attribute__((export_name("unimem_thread_entry"))) void unimem_thread_entry(struct __pthread *self) {
  self->result = self->start(self->arg);
}

static int futex_wait(volatile int *w, int val, int64_t timeout_ns) {
  return unimem_futex(w, FUTEX_WAIT_PRIVATE, val, timeout_ns);
}

static void futex_wake(volatile int *w, int n) {
  unimem_futex(w, FUTEX_WAKE_PRIVATE, n, -1);
}

pthread_t pthread_self(void) {
  struct __pthread *t = unimem_thread_self();
  return t ? t : &main_thread;
}

int pthread_equal(pthread_t a, pthread_t b) {
  return a == b;
}

int pthread_attr_init(pthread_attr_t *a) {
  memset(a, 0, sizeof *a);
  return 0;
}

int pthread_attr_destroy(pthread_attr_t *a) {
  (void)a;
  return 0;
}

int pthread_attr_setdetachstate(pthread_attr_t *a, int state) {
  if (state != PTHREAD_CREATE_JOINABLE && state != PTHREAD_CREATE_DETACHED) return EINVAL;
  a->__u.__i[3] = state;
  return 0;
}

int pthread_attr_getdetachstate(const pthread_attr_t *a, int *state) {
  *state = a->__u.__i[3];
  return 0;
}

int pthread_attr_setstacksize(pthread_attr_t *a, size_t size) {
  if (size < 16384) return EINVAL; /* PTHREAD_STACK_MIN on Linux */
  a->__u.__s[0] = size;
  return 0;
}

int pthread_attr_getstacksize(const pthread_attr_t *a, size_t *size) {
  *size = a->__u.__s[0] ? a->__u.__s[0] : DEFAULT_STACK;
  return 0;
}

int pthread_create(pthread_t *out, const pthread_attr_t *attr, void *(*start)(void *), void *arg) {
  size_t page = (size_t)getpagesize();
  size_t stack = attr && attr->__u.__s[0] ? attr->__u.__s[0] : DEFAULT_STACK;
  size_t len = ((stack + sizeof(struct __pthread) + page - 1) & ~(page - 1)) + page;
  char *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) return EAGAIN;
  /* a stack overflow faults in the guard instead of writing over another mapping */
  mprotect(map, page, PROT_NONE);
  struct __pthread *t = (struct __pthread *)((uintptr_t)(map + len - sizeof(struct __pthread)) & ~(uintptr_t)15);
  t->start = start;
  t->arg = arg;
  t->detached = attr ? attr->__u.__i[3] : 0;
  t->map = map;
  t->map_len = len;
  int tid = unimem_thread_spawn(t, (uint32_t)(uintptr_t)t, &t->tid);
  if (tid < 0) {
    munmap(map, len);
    return -tid;
  }
  t->kernel_tid = tid;
  *out = t;
  return 0;
}

int pthread_join(pthread_t t, void **retval) {
  if (t == pthread_self()) return EDEADLK;
  if (t->detached) return EINVAL;
  int r = unimem_thread_join(t->kernel_tid);
  if (r < 0) return -r;
  if (retval) *retval = t->result;
  munmap(t->map, t->map_len);
  return 0;
}

int pthread_detach(pthread_t t) {
  if (t->detached) return EINVAL;
  t->detached = 1;
  return 0;
}

_Noreturn void pthread_exit(void *retval) {
  pthread_self()->result = retval;
  unimem_thread_exit();
  __builtin_unreachable();
}

int pthread_mutexattr_init(pthread_mutexattr_t *a) {
  a->__attr = PTHREAD_MUTEX_DEFAULT;
  return 0;
}

int pthread_mutexattr_destroy(pthread_mutexattr_t *a) {
  (void)a;
  return 0;
}

int pthread_mutexattr_settype(pthread_mutexattr_t *a, int type) {
  if (type < PTHREAD_MUTEX_NORMAL || type > PTHREAD_MUTEX_ERRORCHECK) return EINVAL;
  a->__attr = (unsigned)type;
  return 0;
}

int pthread_mutexattr_gettype(const pthread_mutexattr_t *a, int *type) {
  *type = (int)a->__attr;
  return 0;
}

/* A mutex's words: the lock (0 free, 1 held, 2 held with sleepers), its type, owner and recursion depth. */
#define M_LOCK(m) ((m)->__u.__vi[0])
#define M_TYPE(m) ((m)->__u.__vi[1])
#define M_OWNER(m) ((m)->__u.__p[2])
#define M_DEPTH(m) ((m)->__u.__vi[3])

int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a) {
  memset(m, 0, sizeof *m);
  M_TYPE(m) = a ? (int)a->__attr : PTHREAD_MUTEX_DEFAULT;
  return 0;
}

int pthread_mutex_destroy(pthread_mutex_t *m) {
  return M_LOCK(m) ? EBUSY : 0;
}

/* Takes the lock word, sleeping on it while another thread holds it (marking it contended so the unlock wakes). */
static void lock_word(volatile int *w) {
  if (*w == 0) {
    *w = 1;
    return;
  }
  while (*w != 0) {
    *w = 2;
    futex_wait(w, 2, -1);
  }
  *w = 2;
}

static int owned_relock(pthread_mutex_t *m) {
  if (M_TYPE(m) == PTHREAD_MUTEX_RECURSIVE) {
    if (M_DEPTH(m) == INT_MAX) return EAGAIN;
    M_DEPTH(m)++;
    return 0;
  }
  return EDEADLK;
}

int pthread_mutex_lock(pthread_mutex_t *m) {
  pthread_t self = pthread_self();
  if (M_TYPE(m) != PTHREAD_MUTEX_NORMAL && M_LOCK(m) && M_OWNER(m) == self) return owned_relock(m);
  lock_word(&M_LOCK(m));
  M_OWNER(m) = self;
  M_DEPTH(m) = 1;
  return 0;
}

int pthread_mutex_trylock(pthread_mutex_t *m) {
  pthread_t self = pthread_self();
  if (M_LOCK(m)) return M_TYPE(m) == PTHREAD_MUTEX_RECURSIVE && M_OWNER(m) == self ? owned_relock(m) : EBUSY;
  M_LOCK(m) = 1;
  M_OWNER(m) = self;
  M_DEPTH(m) = 1;
  return 0;
}

int pthread_mutex_unlock(pthread_mutex_t *m) {
  if (M_TYPE(m) != PTHREAD_MUTEX_NORMAL) {
    if (!M_LOCK(m) || M_OWNER(m) != pthread_self()) return EPERM;
    if (--M_DEPTH(m) > 0) return 0;
  }
  M_OWNER(m) = 0;
  int was = M_LOCK(m);
  M_LOCK(m) = 0;
  if (was == 2) futex_wake(&M_LOCK(m), 1);
  return 0;
}

int pthread_condattr_init(pthread_condattr_t *a) {
  a->__attr = 0;
  return 0;
}

int pthread_condattr_destroy(pthread_condattr_t *a) {
  (void)a;
  return 0;
}

/* A condition variable is a sequence word: a waiter sleeps on the value it saw, a signal changes it and wakes. */
#define C_SEQ(c) ((c)->__u.__vi[0])

int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a) {
  (void)a;
  memset(c, 0, sizeof *c);
  return 0;
}

int pthread_cond_destroy(pthread_cond_t *c) {
  (void)c;
  return 0;
}

static int cond_wait(pthread_cond_t *c, pthread_mutex_t *m, int64_t timeout_ns) {
  int seq = C_SEQ(c);
  int depth = M_DEPTH(m);
  M_DEPTH(m) = 1;
  int r = pthread_mutex_unlock(m);
  if (r) return r;
  r = futex_wait(&C_SEQ(c), seq, timeout_ns);
  /* relocked as contended: another waiter the same signal released may sleep on the mutex */
  lock_word(&M_LOCK(m));
  M_LOCK(m) = 2;
  M_OWNER(m) = pthread_self();
  M_DEPTH(m) = depth;
  return r == -ETIMEDOUT ? ETIMEDOUT : 0;
}

int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m) {
  return cond_wait(c, m, -1);
}

int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abstime) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  int64_t ns = (int64_t)(abstime->tv_sec - now.tv_sec) * 1000000000 + (abstime->tv_nsec - now.tv_nsec);
  if (ns <= 0) return ETIMEDOUT;
  return cond_wait(c, m, ns);
}

int pthread_cond_signal(pthread_cond_t *c) {
  C_SEQ(c)++;
  futex_wake(&C_SEQ(c), 1);
  return 0;
}

int pthread_cond_broadcast(pthread_cond_t *c) {
  C_SEQ(c)++;
  futex_wake(&C_SEQ(c), INT_MAX);
  return 0;
}

/* pthread_once's word: 0 not run, 1 running (others sleep on it), 2 done. */
int pthread_once(pthread_once_t *once, void (*fn)(void)) {
  volatile int *w = (volatile int *)once;
  for (;;) {
    if (*w == 2) return 0;
    if (*w == 0) {
      *w = 1;
      fn();
      *w = 2;
      futex_wake(w, INT_MAX);
      return 0;
    }
    futex_wait(w, 1, -1);
  }
}
