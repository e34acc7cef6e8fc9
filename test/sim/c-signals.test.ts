import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect } from 'vitest';
import { cIt, cSources, runCFile, warnWithoutToolchain } from './c-run.ts';

warnWithoutToolchain('C signal');
const { dir } = cSources('unimem-csignals-');
const runFile = runCFile;

/*
 * One program, a case per argument: a blocking read a child's kill()
 * interrupts (EINTR, then restarted under SA_RESTART) with an SA_SIGINFO
 * handler that writes and sleeps; alarm and pause; a mask that defers delivery
 * and sigsuspend;
 * SIGSEGV handlers for a store to a PROT_NONE page; a handler on a
 * pthread's stack; abort() with a SIGABRT handler.
 */
const SIGNALS = `#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int got_sig, got_pid, got_code, usr2s, alarms;
static char *page;

/* SA_SIGINFO: the sender's pid, and a write (a system call) from inside the handler */
static void on_usr1(int sig, siginfo_t *si, void *uc) {
  got_sig = sig;
  got_pid = si->si_pid;
  got_code = si->si_code;
  (void)uc;
  static const char msg[] = "in handler\\n";
  write(1, msg, sizeof msg - 1);
  /* a call that waits, inside the handler, while the interrupted read waits for it */
  struct timespec ts = {0, 1000000};
  nanosleep(&ts, NULL);
}

static void on_usr2(int sig) {
  (void)sig;
  usr2s++;
}

static void on_abrt(int sig) {
  printf("handler for %d\\n", sig);
}

static void on_alrm(int sig) {
  (void)sig;
  alarms++;
}

static void on_segv(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  printf("signal %d at page+%d code %d\\n", sig, (int)((char *)si->si_addr - page), si->si_code);
  _exit(42);
}

static void store_in_handler(int sig) {
  (void)sig;
  page[8] = 1;
}

static void on_segv_store(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)si;
  (void)uc;
  static const char msg[] = "faulting again\\n";
  write(1, msg, sizeof msg - 1);
  page[16] = 1;
}

static pthread_t main_thread;
static int thread_pipe[2];

/* A thread's blocking read a signal interrupts: the handler runs on that thread (main blocks the signal) */
static void *reader(void *arg) {
  (void)arg;
  char c;
  ssize_t n = read(thread_pipe[0], &c, 1);
  printf("thread: read %d %s, handler ran %d, on main %d\\n", (int)n, n < 0 ? strerror(errno) : "?", got_sig, got_pid);
  return NULL;
}

static void on_usr1_where(int sig) {
  (void)sig;
  got_pid = pthread_equal(pthread_self(), main_thread);
  got_sig = 1;
}

/* The parent blocks in read on a pipe; a child sends SIGUSR1 10 ms later (and, for SA_RESTART, then writes a byte). */
static void interrupted_read(int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_usr1;
  sa.sa_flags = SA_SIGINFO | flags;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGUSR1, &sa, NULL) < 0) perror("sigaction");
  int p[2];
  pipe(p);
  pid_t parent = getpid();
  got_sig = got_pid = 0;
  pid_t child = fork();
  if (child == 0) {
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
    kill(parent, SIGUSR1);
    nanosleep(&ts, NULL);
    write(p[1], "x", 1);
    _exit(0);
  }
  char c = 0;
  ssize_t n = read(p[0], &c, 1);
  int e = errno;
  printf("%s: read %d %s, signal %d from the child %d, si_code %d\\n", flags & SA_RESTART ? "SA_RESTART" : "no SA_RESTART", (int)n, n < 0 ? strerror(e) : (c == 'x' ? "x" : "?"), got_sig, got_pid == child, got_code);
  int st;
  waitpid(child, &st, 0);
  close(p[0]);
  close(p[1]);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  const char *mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "read")) {
    interrupted_read(0);
    interrupted_read(SA_RESTART);
    /* the action reads back as installed */
    struct sigaction old;
    sigaction(SIGUSR1, NULL, &old);
    printf("old action: %d flags %#x\\n", old.sa_sigaction == on_usr1, (unsigned)old.sa_flags);
    /* SIGALRM by alarm() ends a pause: EINTR once the handler ran */
    printf("signal() gives back %d\\n", signal(SIGALRM, on_alrm) == SIG_DFL);
    printf("alarm(5) %u, then alarm(1) %u\\n", alarm(5), alarm(1));
    int r = pause();
    printf("pause %d %s, alarms %d\\n", r, strerror(errno), alarms);
    /* a blocked signal stays pending until unblocked; the unblocking call's return runs the handler */
    sigset_t set, old_set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    signal(SIGUSR2, on_usr2);
    sigprocmask(SIG_BLOCK, &set, &old_set);
    raise(SIGUSR2);
    sigpending(&pend);
    int was_pending = sigismember(&pend, SIGUSR2), before = usr2s;
    sigprocmask(SIG_SETMASK, &old_set, NULL);
    printf("blocked: pending %d handled %d; unblocked: handled %d\\n", was_pending, before, usr2s);
    /* sigsuspend: the handler runs under its mask, then the old mask is back */
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGUSR2);
    sigset_t none, now;
    sigemptyset(&none);
    int s = sigsuspend(&none);
    int e = errno;
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("sigsuspend %d %s: handled %d, blocked again %d\\n", s, strerror(e), usr2s, sigismember(&now, SIGUSR2));
    sigprocmask(SIG_SETMASK, &old_set, NULL);
    /* ignored: nothing happens */
    signal(SIGUSR2, SIG_IGN);
    raise(SIGUSR2);
    printf("ignored: handled %d\\n", usr2s);
    return 0;
  }
  page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO;
  if (!strcmp(mode, "segv")) {
    sigaction(SIGSEGV, &sa, NULL);
    page[100] = 1;
    printf("not reached\\n");
  } else if (!strcmp(mode, "segv-return")) {
    /* a handler that returns: unimem cannot retry the access, the process ends by SIGSEGV */
    signal(SIGSEGV, on_usr2);
    page[100] = 1;
    printf("not reached\\n");
  } else if (!strcmp(mode, "segv-in-handler")) {
    sigaction(SIGSEGV, &sa, NULL);
    signal(SIGUSR1, store_in_handler);
    raise(SIGUSR1);
    printf("not reached\\n");
  } else if (!strcmp(mode, "segv-in-segv")) {
    /* the fault inside the SIGSEGV handler finds SIGSEGV blocked: the process ends by it */
    sa.sa_sigaction = on_segv_store;
    sigaction(SIGSEGV, &sa, NULL);
    page[100] = 1;
    printf("not reached\\n");
  } else if (!strcmp(mode, "thread")) {
    main_thread = pthread_self();
    struct sigaction su;
    memset(&su, 0, sizeof su);
    su.sa_handler = on_usr1_where;
    sigaction(SIGUSR1, &su, NULL);
    pipe(thread_pipe);
    pthread_t t;
    pthread_create(&t, NULL, reader, NULL);
    /* after the thread copied main's mask at its creation */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pid_t parent = getpid();
    if (fork() == 0) {
      struct timespec ts = {0, 10000000};
      nanosleep(&ts, NULL);
      kill(parent, SIGUSR1);
      _exit(0);
    }
    pthread_join(t, NULL);
    wait(NULL);
    return 0;
  } else if (!strcmp(mode, "abort")) {
    /* the handler returns: abort() ends the process by SIGABRT all the same */
    signal(SIGABRT, on_abrt);
    abort();
  } else if (!strcmp(mode, "count")) {
    signal(SIGUSR2, argc > 3 ? SIG_IGN : on_usr2);
    int n = atoi(argv[2]);
    for (int i = 0; i < n; i++) raise(SIGUSR2);
    printf("%d\\n", usr2s);
  }
  return 3;
}
`;

describe('C programs: signal handlers', () => {
  let file = '';
  beforeAll(() => {
    file = join(dir, 'signals.c');
    writeFileSync(file, SIGNALS);
  });

  cIt('a kill interrupts a blocking read (EINTR, or restarted with SA_RESTART), alarm ends pause, a mask defers delivery, sigsuspend waits under its own', async () => {
    const r = await runFile(file, ['read']);
    expect(r.err).toBe('');
    expect(r.out).toBe(
      [
        'in handler',
        'no SA_RESTART: read -1 Interrupted system call, signal 10 from the child 1, si_code 0',
        'in handler',
        'SA_RESTART: read 1 x, signal 10 from the child 1, si_code 0',
        'old action: 1 flags 0x10000004',
        'signal() gives back 1',
        'alarm(5) 0, then alarm(1) 5',
        'pause -1 Interrupted system call, alarms 1',
        'blocked: pending 1 handled 0; unblocked: handled 1',
        'sigsuspend -1 Interrupted system call: handled 2, blocked again 1',
        'ignored: handled 2',
        '',
      ].join('\n'),
    );
    expect(r.exitCode).toBe(0);
    expect(r.findings).toEqual([]);
  });

  cIt('a SIGSEGV handler gets si_addr; one that returns ends the process by SIGSEGV, as does a fault in it; a pthread takes a signal main blocks; abort() ends by SIGABRT after its handler', async () => {
    const segv = await runFile(file, ['segv']);
    expect(segv.out).toBe('signal 11 at page+100 code 2\n');
    expect(segv.exitCode).toBe(42);
    // Linux would retry the store after the handler returns; unimem cannot, and the default action ends the process
    const returned = await runFile(file, ['segv-return']);
    expect(returned.out).toBe('');
    expect(returned.exitCode).toBe(128 + 11);
    // a fault in a SIGUSR1 handler runs the SIGSEGV handler on top of it
    const nested = await runFile(file, ['segv-in-handler']);
    expect(nested.out).toBe('signal 11 at page+8 code 2\n');
    expect(nested.exitCode).toBe(42);
    // in the SIGSEGV handler the signal is blocked: its own fault kills (force_sig_fault)
    const twice = await runFile(file, ['segv-in-segv']);
    expect(twice.out).toBe('faulting again\n');
    expect(twice.exitCode).toBe(128 + 11);
    const thread = await runFile(file, ['thread']);
    expect(thread.out).toBe('thread: read -1 Interrupted system call, handler ran 1, on main 0\n');
    expect(thread.exitCode).toBe(0);
    // abort() after its handler returns: the default action again
    const aborted = await runFile(file, ['abort']);
    expect(aborted.out).toBe('handler for 6\n');
    expect(aborted.exitCode).toBe(128 + 6);
  });
});
