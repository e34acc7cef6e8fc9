import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { linuxSourceFilesAsync } from '../../src/sim/index.ts';
import { cIt, cProblem, cSources, runCFile, warnWithoutToolchain } from './c-run.ts';

warnWithoutToolchain('C thread');
const { run: runC } = cSources('unimem-cthreads-');
const runFile = runCFile;

/*
 * A producer thread fills each frame of a heap dma-buf (bracketed by
 * DMA_BUF_IOCTL_SYNC) and hands it over under a mutex and condition
 * variable; a consumer thread waits for it, checks its bytes and reports
 * each frame's sum to main through a pipe, then waits for the next. Both
 * keep an errno of their own across the switches.
 */
const HANDOFF = `#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>

#define SIZE 4096
#define FRAMES 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int ready, taken, buf, pipe_w;
static unsigned char *map;

static void sync_buf(unsigned long flags) {
  struct dma_buf_sync s = { .flags = flags };
  ioctl(buf, DMA_BUF_IOCTL_SYNC, &s);
}

static void *producer(void *arg) {
  (void)arg;
  close(-1); /* EBADF, which must survive the other threads' calls */
  int mine = errno;
  for (int f = 1; f <= FRAMES; f++) {
    pthread_mutex_lock(&lock);
    while (taken != f - 1) pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    sync_buf(DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
    for (int i = 0; i < SIZE; i++) map[i] = (unsigned char)(f * 3 + i);
    sync_buf(DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
    pthread_mutex_lock(&lock);
    ready = f;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
  }
  return (void *)(long)(mine == EBADF && errno == EBADF ? 100 : 1);
}

static void *consumer(void *arg) {
  (void)arg;
  int good = 0;
  for (int f = 1; f <= FRAMES; f++) {
    pthread_mutex_lock(&lock);
    while (ready != f) pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    sync_buf(DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
    unsigned sum = 0, ok = 1;
    for (int i = 0; i < SIZE; i++) {
      sum += map[i];
      ok &= map[i] == (unsigned char)(f * 3 + i);
    }
    sync_buf(DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
    good += ok;
    char line[32];
    int n = snprintf(line, sizeof line, "%d:%u\\n", f, sum);
    write(pipe_w, line, n);
    pthread_mutex_lock(&lock);
    taken = f;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
  }
  close(pipe_w);
  return (void *)(long)good;
}

int main(void) {
  int heap = open("/dev/dma_heap/system", O_RDWR);
  struct dma_heap_allocation_data a = { .len = SIZE, .fd_flags = O_RDWR };
  if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &a) < 0) return 10;
  buf = a.fd;
  map = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
  if (map == MAP_FAILED) return 11;
  int fds[2];
  if (pipe(fds) < 0) return 12;
  pipe_w = fds[1];
  pthread_t p, c;
  if (pthread_create(&p, NULL, producer, NULL) || pthread_create(&c, NULL, consumer, NULL)) return 13;
  if (open("/dev/nonexistent", O_RDONLY) >= 0) return 14;
  int main_errno = errno;
  /* main reads what the consumer reports while the threads run */
  char got[256];
  int len = 0, n;
  while ((n = read(fds[0], got + len, sizeof got - 1 - len)) > 0) len += n;
  got[len] = 0;
  void *pr, *cr;
  pthread_join(p, &pr);
  pthread_join(c, &cr);
  printf("%sproducer %ld consumer %ld main errno %s distinct %d\\n", got, (long)pr, (long)cr, main_errno == ENOENT && errno == ENOENT ? "ENOENT" : strerror(errno), !pthread_equal(p, c) && !pthread_equal(p, pthread_self()));
  return 0;
}
`;

describe('POSIX threads in a C program', () => {
  cIt('a producer and a consumer thread hand frames of a dma-buf over with a mutex and condition variable; main reads their sums from a pipe and joins them', async () => {
    const r = await runC('handoff.c', HANDOFF);
    let expected = '';
    for (let f = 1; f <= 4; f++) {
      let sum = 0;
      for (let i = 0; i < 4096; i++) sum += (f * 3 + i) & 0xff;
      expected += `${f}:${sum}\n`;
    }
    expect(r.err).toBe('');
    expect(r.out).toBe(`${expected}producer 100 consumer 4 main errno ENOENT distinct 1\n`);
    expect(r.exitCode).toBe(0);
    expect(r.findings).toEqual([]);
  });

  cIt('a thread that forks leaves a child with that one thread, which ends the child when it returns; after pthread_exit in main, exit() in a thread ends the process', async () => {
    const r = await runC(
      'fork.c',
      `#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static void *forker(void *arg) {
  pthread_mutex_lock(&m);
  pid_t pid = fork();
  if (pid == 0) {
    /* the child: the mutex its parent thread held is held here too, by this thread */
    pthread_mutex_unlock(&m);
    printf("child thread runs\\n");
    fflush(stdout);
    return arg;
  }
  pthread_mutex_unlock(&m);
  int status;
  waitpid(pid, &status, 0);
  printf("child exit %d\\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  exit(3);
}
int main(void) {
  pthread_t t;
  pthread_create(&t, NULL, forker, NULL);
  pthread_exit(NULL);
}
`,
    );
    expect(r.out).toBe('child thread runs\nchild exit 0\n');
    expect(r.exitCode).toBe(3);
    expect(r.findings).toEqual([]);
  });

  cIt('what threads cannot do yet is a build error naming it: thread-local storage, cancellation', async () => {
    await expect(runC('tls.c', '#include <pthread.h>\nstatic __thread int x;\nint main(void) { return x; }\n')).rejects.toThrow(/cannot use thread-local storage/);
    await expect(runC('cancel.c', '#include <pthread.h>\nint main(void) { return pthread_cancel(pthread_self()); }\n')).rejects.toThrow(/cannot use thread cancellation/);
  });
});

// The kernel's sync_file selftests, unmodified, from Debian's linux-source-6.1 (.ci/run installs it).
const haveSources = !cProblem && existsSync('/usr/src/linux-source-6.1.tar.xz');
if (!cProblem && !haveSources) console.warn('sync selftests skipped: linux-source-6.1 is not installed (/usr/src/linux-source-6.1.tar.xz)');
let selftests: string | undefined;

describe('the sync selftests run unmodified', () => {
  beforeAll(async () => {
    if (haveSources) selftests = await linuxSourceFilesAsync(['tools/testing/selftests/sync/*', 'tools/testing/selftests/kselftest.h']);
  }, 300_000);
  // the stress tests make some 900 thousand system calls between 7 threads: about 40 s
  (haveSources ? it : it.skip)(
    'sync/: sw_sync timelines, fences, merges, poll waits and the threaded stress tests all pass',
    async () => {
      const r = await runFile(join(selftests!, 'tools/testing/selftests/sync'));
      expect(r.out).toMatch(/^1\.\.10$/m);
      for (const t of ['test_alloc_timeline', 'test_fence_multi_timeline_wait', 'test_stress_two_threads_shared_timeline', 'test_consumer_stress_multi_producer_single_consumer', 'test_merge_stress_random_merge']) expect(r.out).toMatch(new RegExp(`^ok \\d+ \\[RUN\\]\\t${t}$`, 'm'));
      expect(r.out).not.toMatch(/^not ok/m);
      expect(r.out).toMatch(/^# Totals: pass:10 fail:0 xfail:0 xpass:0 skip:0 error:0$/m);
      expect(r.exitCode).toBe(0);
      expect(r.findings).toEqual([]);
    },
    600_000,
  );
});
