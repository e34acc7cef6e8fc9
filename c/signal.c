/*
 * unimem's signals for C programs, linked before libc with the shim:
 * sigaction and the mask calls reach the simulated kernel's rt_sigaction
 * and rt_sigprocmask with Linux's kernel layouts (a 64-bit mask, bit
 * sig-1). A handler is a function pointer (a table index) the host
 * registers with the kernel; when the kernel delivers the signal, at a
 * system call's return on the thread it interrupts, the host enters
 * unimem_signal_entry on that thread's stack below its frame, which
 * builds the siginfo_t and ucontext_t there and calls the handler.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define IMPORT(n) __attribute__((import_module("unimem"), import_name(#n)))

/* The kernel's struct sigaction (i386's uapi layout): handler, flags, restorer, mask; the handler as C has it (a table index, SIG_DFL or unimem's SIG_IGN). */
struct k_sigaction {
  uint32_t handler, flags, restorer;
  uint32_t mask[2];
};

IMPORT(rt_sigaction) int32_t unimem_rt_sigaction(int32_t sig, const struct k_sigaction *act, struct k_sigaction *oact);
IMPORT(rt_sigprocmask) int32_t unimem_rt_sigprocmask(int32_t how, const uint32_t *set, uint32_t *oset);
IMPORT(sigpending) int32_t unimem_sigpending(uint32_t *set);
IMPORT(kill) int32_t unimem_kill(int32_t pid, int32_t sig);
IMPORT(alarm) int32_t unimem_alarm(uint32_t seconds);
IMPORT(pause) int32_t unimem_pause(void);
IMPORT(sigsuspend) int32_t unimem_sigsuspend(const uint32_t *set);

static long sigret(long r) {
  if (r < 0 && r > -4096) {
    errno = (int)-r;
    return -1;
  }
  return r;
}

_Static_assert(sizeof(sigset_t) >= 8, "sigset_t holds the kernel's 64 signals (unimem's <__typedef_sigset_t.h>)");

/* The 64 signals the kernel knows are the first two words of a sigset_t (musl's 128-byte one). */
static uint32_t *words(sigset_t *set) {
  return (uint32_t *)(void *)set;
}

/*
 * Where the host starts a handler, on the interrupted thread's stack: the
 * siginfo_t (si_pid and si_uid, or si_addr for a fault, and si_status for
 * SIGCHLD) and a zeroed ucontext_t (a wasm thread has no registers to
 * show). Returning from here is sigreturn.
 */
__attribute__((export_name("unimem_signal_entry"))) void unimem_signal_entry(uint32_t handler, int sig, int sa_siginfo, int code, int err, int pid, int uid, int status, uint32_t addr, int fault) {
  if (!sa_siginfo) {
    ((void (*)(int))(uintptr_t)handler)(sig);
    return;
  }
  siginfo_t si;
  ucontext_t uc;
  memset(&si, 0, sizeof si);
  memset(&uc, 0, sizeof uc);
  si.si_signo = sig;
  si.si_errno = err;
  si.si_code = code;
  if (fault) {
    si.si_addr = (void *)(uintptr_t)addr;
  } else {
    si.si_pid = pid;
    si.si_uid = (uid_t)uid;
    si.si_status = status;
  }
  ((void (*)(int, siginfo_t *, void *))(uintptr_t)handler)(sig, &si, &uc);
}

int sigemptyset(sigset_t *set) {
  memset(set, 0, sizeof *set);
  return 0;
}

int sigfillset(sigset_t *set) {
  memset(set, 0, sizeof *set);
  words(set)[0] = 0xffffffffu;
  words(set)[1] = 0xffffffffu;
  return 0;
}

static int bad_signal(int sig) {
  if (sig < 1 || sig >= _NSIG) {
    errno = EINVAL;
    return 1;
  }
  return 0;
}

int sigaddset(sigset_t *set, int sig) {
  if (bad_signal(sig)) return -1;
  words(set)[(sig - 1) / 32] |= 1u << ((sig - 1) % 32);
  return 0;
}

int sigdelset(sigset_t *set, int sig) {
  if (bad_signal(sig)) return -1;
  words(set)[(sig - 1) / 32] &= ~(1u << ((sig - 1) % 32));
  return 0;
}

int sigismember(const sigset_t *set, int sig) {
  if (bad_signal(sig)) return -1;
  return (((const uint32_t *)(const void *)set)[(sig - 1) / 32] >> ((sig - 1) % 32)) & 1;
}

int sigaction(int sig, const struct sigaction *restrict act, struct sigaction *restrict oact) {
  struct k_sigaction k, old;
  if (act) {
    k.handler = (uint32_t)(uintptr_t)act->sa_handler;
    k.flags = (uint32_t)act->sa_flags;
    k.restorer = 0;
    k.mask[0] = ((const uint32_t *)(const void *)&act->sa_mask)[0];
    k.mask[1] = ((const uint32_t *)(const void *)&act->sa_mask)[1];
  }
  if (sigret(unimem_rt_sigaction(sig, act ? &k : NULL, &old)) < 0) return -1;
  if (oact) {
    memset(oact, 0, sizeof *oact);
    oact->sa_handler = (void (*)(int))(uintptr_t)old.handler;
    oact->sa_flags = (int)old.flags;
    words(&oact->sa_mask)[0] = old.mask[0];
    words(&oact->sa_mask)[1] = old.mask[1];
  }
  return 0;
}

/* BSD semantics, as glibc's and musl's signal: the call a handler interrupts restarts. */
sighandler_t signal(int sig, sighandler_t handler) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = SA_RESTART;
  if (sigaction(sig, &sa, &old) < 0) return SIG_ERR;
  return old.sa_handler;
}

int sigprocmask(int how, const sigset_t *restrict set, sigset_t *restrict oset) {
  uint32_t old[2];
  if (sigret(unimem_rt_sigprocmask(how, set ? (const uint32_t *)(const void *)set : NULL, old)) < 0) return -1;
  if (oset) {
    memset(oset, 0, sizeof *oset);
    words(oset)[0] = old[0];
    words(oset)[1] = old[1];
  }
  return 0;
}

/* The calling thread's mask: the kernel's masks are per thread. */
int pthread_sigmask(int how, const sigset_t *restrict set, sigset_t *restrict oset) {
  return sigprocmask(how, set, oset) < 0 ? errno : 0;
}

int sigpending(sigset_t *set) {
  memset(set, 0, sizeof *set);
  return (int)sigret(unimem_sigpending(words(set)));
}

int kill(pid_t pid, int sig) {
  return (int)sigret(unimem_kill(pid, sig));
}

/* To the process (kill), not only the calling thread as tgkill would: unimem has no tgkill yet. */
int raise(int sig) {
  return kill(getpid(), sig);
}

unsigned alarm(unsigned seconds) {
  return (unsigned)unimem_alarm(seconds);
}

/* Waits for a handler under `set`, the old mask back afterwards (rt_sigsuspend): always -1 with EINTR. */
int sigsuspend(const sigset_t *set) {
  return (int)sigret(unimem_sigsuspend((const uint32_t *)(const void *)set));
}

int pause(void) {
  return (int)sigret(unimem_pause());
}
