import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { linuxSourceFilesAsync } from '../../src/sim/index.ts';
import { cIt, cProblem, cSources, runCFile, warnWithoutToolchain } from './c-run.ts';

warnWithoutToolchain('C program');
const { run: runC } = cSources('unimem-c-');
const runFile = runCFile;

const HEADERS = `#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
`;

describe('a C program as a unimem process', () => {
  cIt('shares a heap buffer through its mmap: the bytes it stores are the buffer’s, the kernel reads its structs from its stack', async () => {
    const r = await runC(
      'heap.c',
      `${HEADERS}
int main(void) {
  int heap = open("/dev/dma_heap/system", O_RDWR);
  struct dma_heap_allocation_data a = { .len = 8192, .fd_flags = O_RDWR };
  if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &a) < 0) return 10;
  unsigned char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, a.fd, 0);
  if (p == MAP_FAILED) return 11;
  struct dma_buf_sync s = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW };
  ioctl(a.fd, DMA_BUF_IOCTL_SYNC, &s);
  for (int i = 0; i < 8192; i++) p[i] = (unsigned char)(i * 7);
  s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
  ioctl(a.fd, DMA_BUF_IOCTL_SYNC, &s);
  /* a second mapping of the same buffer sees the bytes */
  unsigned char *q = mmap(NULL, 8192, PROT_READ, MAP_SHARED, a.fd, 0);
  long sum = 0;
  for (int i = 0; i < 8192; i++) sum += q[i];
  printf("fd %u at %p, 32-bit: %d, sum %ld\\n", a.fd, (void *)p, (unsigned long)p < 0xc0000000ul, sum);
  return 0;
}
`,
    );
    let sum = 0;
    for (let i = 0; i < 8192; i++) sum += (i * 7) & 0xff;
    expect(r.out).toMatch(new RegExp(`^fd \\d+ at 0x[0-9a-f]+, 32-bit: 1, sum ${sum}\\n$`));
    expect(r.exitCode).toBe(0);
    expect(r.findings).toEqual([]);
  });

  cIt('hands malloc’ed memory to the kernel: read fills it, a bad pointer is EFAULT, errno names agree with the C library', async () => {
    const r = await runC(
      'malloc.c',
      `${HEADERS}
int main(void) {
  int fds[2];
  int heap = open("/dev/dma_heap/system", O_RDWR);
  char *buf = malloc(100000);
  memset(buf, 'x', 100000);
  /* the kernel writes the struct into the heap memory the program got from malloc */
  struct dma_heap_allocation_data *a = (void *)(buf + 50000);
  memset(a, 0, sizeof *a);
  a->len = 4096;
  a->fd_flags = O_RDWR;
  int r = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, a);
  printf("alloc %d fd>2 %d\\n", r, a->fd > 2);
  r = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, (void *)0x20);
  printf("bad pointer %d %s\\n", r, errno == EFAULT ? "EFAULT" : strerror(errno));
  r = open("/dev/nonexistent", O_RDONLY);
  printf("open %d %s\\n", r, errno == ENOENT ? "ENOENT" : strerror(errno));
  return 0;
}
`,
    );
    expect(r.out).toBe('alloc 0 fd>2 1\nbad pointer -1 EFAULT\nopen -1 ENOENT\n');
    expect(r.exitCode).toBe(0);
  });

  cIt('dies by SIGSEGV on a NULL dereference, as on Linux (nothing is mapped below 64 KiB)', async () => {
    const r = await runC('null.c', `#include <stdio.h>\nint main(int argc, char **argv) {\n  volatile int *p = (int *)(argc - 1);\n  printf("before\\n");\n  fflush(stdout);\n  return *p;\n}\n`);
    expect(r.out).toBe('before\n');
    expect(r.exitCode).toBe(128 + 11);
    expect(r.signal).toMatchObject({ name: 'SIGSEGV' });
  });

  cIt('dies by SIGABRT on abort()', async () => {
    const r = await runC('abort.c', `#include <stdlib.h>\nint main(void) {\n  abort();\n}\n`);
    expect(r.exitCode).toBe(128 + 6);
    expect(r.signal).toMatchObject({ name: 'SIGABRT' });
  });

  cIt('passes its arguments and exit code', async () => {
    const r = await runC('args.c', `#include <stdio.h>\n#include <stdlib.h>\nint main(int argc, char **argv) {\n  for (int i = 1; i < argc; i++) printf("%s;", argv[i]);\n  printf("\\n");\n  return atoi(argv[1]);\n}\n`, ['7', 'two words']);
    expect(r.out).toBe('7;two words;\n');
    expect(r.exitCode).toBe(7);
  });
});

describe('examples/programs/heap-vgem.c', () => {
  cIt('imports a heap buffer into vgem and writes it bracketed by DMA_BUF_IOCTL_SYNC: nothing found', async () => {
    const r = await runFile('examples/programs/heap-vgem.c');
    expect(r.out).toMatch(/^wrote 65536 bytes at 0x[0-9a-f]+, imported as vgem handle 1\n$/);
    expect(r.exitCode).toBe(0);
    expect(r.findings).toEqual([]);
  });

  cIt('without the bracket, its store into the mapping the device owns is a missing-sync', async () => {
    const r = await runFile('examples/programs/heap-vgem.c', ['--no-sync']);
    expect(r.exitCode).toBe(0);
    expect(r.findings.map((f) => f.kind)).toContain('missing-sync');
    expect(r.findings.find((f) => f.kind === 'missing-sync')!.message).toMatch(/CPU writes .* of a buffer mapped for vgem/);
  });
});

describe('examples/programs/vgem-fence.c', () => {
  cIt('exports a vgem dumb buffer, sees it busy under a write fence until vgem signals it, then fills it for the GPU bracketed by DMA_BUF_IOCTL_SYNC', async () => {
    const r = await runFile('examples/programs/vgem-fence.c');
    expect(r.out).toBe(
      'dumb buffer 64x64 (16384 bytes, pitch 256) exported as fd 5; write fence 1: busy, then idle once signalled\nfilled it bracketed by DMA_BUF_IOCTL_SYNC, for GPU handle 1\nOK\n',
    );
    expect(r.exitCode).toBe(0);
    expect(r.findings).toEqual([]);
  });

  cIt('filling it while the write fence is pending, without poll or DMA_BUF_IOCTL_SYNC, is a missing-sync naming the fence, at the line of the store', async () => {
    const r = await runFile('examples/programs/vgem-fence.c', ['--no-sync']);
    expect(r.exitCode).toBe(0);
    const f = r.findings.filter((x) => x.kind === 'missing-sync');
    // once per fence: the first store of the fill
    expect(f).toHaveLength(1);
    expect(f[0]!.message).toMatch(/^CPU writes 0x[0-9a-f]+ \(\+4\) of dma-buf ino 1 \(drm\) while its write fence vgem unbound seq 1 is unsignalled/);
    const line = readFileSync('examples/programs/vgem-fence.c', 'utf8').split('\n').findIndex((l) => l.includes('p[y * (d->pitch / 4) + x] =')) + 1;
    expect(f[0]!.site).toMatch(new RegExp(`vgem-fence\\.c:${line}:\\d+ in main$`));
  });
});

describe('examples/programs/heap-share.c', () => {
  cIt('forks a child that fills a vgem-shared heap buffer passed over a socket: the parent sees its bytes', async () => {
    const r = await runFile('examples/programs/heap-share.c');
    expect(r.out).toBe('child exited 0; same bytes on both sides of 65536 shared bytes\n');
    expect(r.exitCode).toBe(0);
    expect(r.findings).toEqual([]);
  });

  cIt('a child that writes without DMA_BUF_IOCTL_SYNC leaves its bytes in the cache: the parent’s invalidate drops them, and the checker names the access', async () => {
    const r = await runFile('examples/programs/heap-share.c', ['--no-sync']);
    expect(r.out).toBe('child exited 0; DIFFERENT bytes on both sides of 65536 shared bytes\n');
    expect(r.exitCode).toBe(1);
    expect(r.findings.map((f) => f.kind)).toContain('missing-sync');
  });
});

// The kernel's own selftests, unmodified, from Debian's linux-source-6.1 (.ci/run installs it).
const haveSources = !cProblem && existsSync('/usr/src/linux-source-6.1.tar.xz');
if (!cProblem && !haveSources) console.warn('kernel selftests skipped: linux-source-6.1 is not installed (/usr/src/linux-source-6.1.tar.xz)');
let selftests: string | undefined;
// the selftest makes some 100 million loads and stores through the cache model: about a minute
const kIt = (name: string, fn: () => Promise<void>, timeout: number) => (haveSources ? it : it.skip)(name, fn, timeout);

describe('the kernel selftests run unmodified', () => {
  beforeAll(async () => {
    if (haveSources) selftests = await linuxSourceFilesAsync(['tools/testing/selftests/dmabuf-heaps/*', 'tools/testing/selftests/drivers/dma-buf/*']);
  }, 300_000);
  kIt('dmabuf-heaps/dmabuf-heap.c passes for every heap, the vgem import included', async () => {
    const r = await runFile(join(selftests!, 'tools/testing/selftests/dmabuf-heaps/dmabuf-heap.c'));
    expect(r.out).not.toMatch(/FAIL/);
    const heaps = [...r.out.matchAll(/^Testing heap: (\S+)$/gm)].map((m) => m[1]);
    expect(heaps.length).toBeGreaterThan(0);
    expect(heaps).toContain('system');
    // each heap: import, zeroed 4k and 1M, older and newer alloc compat, error cases
    expect(r.out.match(/OK\n/g)?.length).toBe(heaps.length * 6);
    expect(r.out).not.toMatch(/skipping/);
    expect(r.exitCode).toBe(0);
    expect(r.findings).toEqual([]);
  }, 600_000);

  kIt('drivers/dma-buf/udmabuf.c: a udmabuf over a sealed memfd, and the errors for unaligned sizes, a non-memfd and a size past the memfd', async () => {
    const r = await runFile(join(selftests!, 'tools/testing/selftests/drivers/dma-buf/udmabuf.c'));
    expect(r.out).toBe('');
    expect(r.err).toBe('drivers/dma-buf/udmabuf: ok\n');
    expect(r.exitCode).toBe(0);
    expect(r.findings).toEqual([]);
  }, 180_000);
});
