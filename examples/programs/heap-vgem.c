/*
 * Allocates a buffer from the system dma-heap, imports it into vgem (the
 * way a GPU driver takes a dma-buf: DRM_IOCTL_PRIME_FD_TO_HANDLE, which
 * maps it for the device) and writes a pattern through its mmap, bracketed
 * by DMA_BUF_IOCTL_SYNC as a correct writer does. Plain C, built for
 * unimem with `npx unimem exec heap-vgem.c`.
 *
 * With --no-sync it leaves the bracket out: on a non-coherent SoC the
 * pattern may sit in the CPU cache while the device reads memory under it.
 * The program still prints OK (hardware would not stop it either), and
 * `npx unimem exec --check heap-vgem.c -- --no-sync` exits 1 with a
 * missing-sync finding.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <drm/drm.h>

#define SIZE (64 * 1024)

/* The first /dev/dri/card* whose driver is vgem, or -1. */
static int open_vgem(void) {
  for (int i = 0; i < 16; i++) {
    char path[32], name[5] = {0};
    snprintf(path, sizeof path, "/dev/dri/card%d", i);
    int fd = open(path, O_RDWR);
    if (fd < 0) continue;
    struct drm_version v = {.name = name, .name_len = 4};
    if (ioctl(fd, DRM_IOCTL_VERSION, &v) == 0 && strcmp(name, "vgem") == 0) return fd;
    close(fd);
  }
  return -1;
}

static void sync_buf(int fd, unsigned long long flags) {
  struct dma_buf_sync s = {.flags = flags};
  if (ioctl(fd, DMA_BUF_IOCTL_SYNC, &s) < 0) perror("DMA_BUF_IOCTL_SYNC");
}

int main(int argc, char **argv) {
  int no_sync = argc > 1 && strcmp(argv[1], "--no-sync") == 0;
  int heap = open("/dev/dma_heap/system", O_RDWR | O_CLOEXEC);
  if (heap < 0) {
    perror("open /dev/dma_heap/system");
    return 1;
  }
  struct dma_heap_allocation_data alloc = {.len = SIZE, .fd_flags = O_RDWR | O_CLOEXEC};
  if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &alloc) < 0) {
    perror("DMA_HEAP_IOCTL_ALLOC");
    return 1;
  }
  int vgem = open_vgem();
  if (vgem < 0) {
    fprintf(stderr, "no vgem device\n");
    return 1;
  }
  struct drm_prime_handle import = {.fd = (int)alloc.fd};
  if (ioctl(vgem, DRM_IOCTL_PRIME_FD_TO_HANDLE, &import) < 0) {
    perror("DRM_IOCTL_PRIME_FD_TO_HANDLE");
    return 1;
  }
  unsigned char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, (int)alloc.fd, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  if (!no_sync) sync_buf((int)alloc.fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
  memset(p, 0x5a, SIZE);
  if (!no_sync) sync_buf((int)alloc.fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
  printf("wrote %d bytes at %p, imported as vgem handle %u%s\n", SIZE, (void *)p, import.handle, no_sync ? " (no DMA_BUF_IOCTL_SYNC)" : "");
  struct drm_gem_close gc = {.handle = import.handle};
  ioctl(vgem, DRM_IOCTL_GEM_CLOSE, &gc);
  munmap(p, SIZE);
  close((int)alloc.fd);
  close(vgem);
  close(heap);
  return 0;
}
