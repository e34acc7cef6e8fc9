/*
 * What a C program's work costs under unimem, one kind at a time:
 *   costs getpid N         N system calls that do nothing else
 *   costs anon-store N     N 4-byte stores into malloc'ed memory
 *   costs mapped-store N   N 4-byte stores into a mapped system-heap dma-buf
 *   costs mapped-load N    N 4-byte loads from it
 * It writes "go" just before the timed loop and "done" just after, so the
 * host times the loop alone (bench/c.ts).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>

#define SIZE (256 * 1024)

static volatile uint32_t *heap_map(int *buf) {
  int heap = open("/dev/dma_heap/system", O_RDWR);
  struct dma_heap_allocation_data a = {.len = SIZE, .fd_flags = O_RDWR};
  if (heap < 0 || ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &a) < 0) return NULL;
  close(heap);
  void *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, a.fd, 0);
  if (p == MAP_FAILED) return NULL;
  *buf = a.fd;
  return p;
}

static void sync_buf(int buf, unsigned flags) {
  struct dma_buf_sync s = {.flags = flags | DMA_BUF_SYNC_RW};
  ioctl(buf, DMA_BUF_IOCTL_SYNC, &s);
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  const char *what = argv[1];
  long n = atol(argv[2]);
  const uint32_t mask = SIZE / 4 - 1;
  uint32_t sum = 0;
  int buf = -1;
  volatile uint32_t *p;
  if (strcmp(what, "anon-store") == 0) p = malloc(SIZE);
  else if (strcmp(what, "getpid") == 0) p = NULL;
  else p = heap_map(&buf);
  if (strcmp(what, "getpid") != 0 && !p) return 3;
  if (buf >= 0) sync_buf(buf, DMA_BUF_SYNC_START);
  write(1, "go\n", 3);
  if (strcmp(what, "getpid") == 0)
    for (long i = 0; i < n; i++) sum += (uint32_t)getpid();
  else if (strcmp(what, "mapped-load") == 0)
    for (long i = 0; i < n; i++) sum += p[i & mask];
  else
    for (long i = 0; i < n; i++) p[i & mask] = (uint32_t)i;
  write(1, "done\n", 5);
  if (buf >= 0) sync_buf(buf, DMA_BUF_SYNC_END);
  printf("%u\n", sum);
  return 0;
}
