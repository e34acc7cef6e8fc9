/*
 * A vgem dumb buffer exported as a dma-buf, mapped and fenced, the way a
 * test of implicit sync drives it: vgem stands in for a GPU whose job
 * writes the buffer (a write fence in its reservation), the program sees
 * the buffer busy through poll() on the dma-buf until the fence signals,
 * then hands the buffer to the SoC's GPU (DRM_IOCTL_PRIME_FD_TO_HANDLE)
 * and fills it through its own mmap, bracketed by DMA_BUF_IOCTL_SYNC as a
 * correct writer does (its START waits for the buffer's fences). Plain C
 * against the kernel's uapi headers, built for unimem with
 * `npx unimem exec vgem-fence.c`.
 *
 * vgem maps its buffers write-combined, as Linux's does, so the CPU's
 * bytes never sit in its cache: the bug here is one of ordering. With
 * --no-sync the program fills the buffer as soon as it has it, while the
 * job's write fence is still unsignalled, neither polling nor syncing
 * first: on hardware its bytes and the job's race. The program still
 * prints OK (hardware would not stop it either), and
 * `npx unimem exec --check vgem-fence.c -- --no-sync` exits 1 with a
 * missing-sync finding naming the fence.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <drm/drm.h>
#include <drm/drm_mode.h>

/* vgem's fence ioctls (the kernel's include/uapi/drm/vgem_drm.h), which libdrm's headers do not carry. */
struct vgem_fence_attach {
  uint32_t handle;
  uint32_t flags;
  uint32_t out_fence;
  uint32_t pad;
};
struct vgem_fence_signal {
  uint32_t fence;
  uint32_t flags;
};
#define VGEM_FENCE_WRITE 0x1
#define VGEM_IOCTL_FENCE_ATTACH DRM_IOWR(DRM_COMMAND_BASE + 0x01, struct vgem_fence_attach)
#define VGEM_IOCTL_FENCE_SIGNAL DRM_IOW(DRM_COMMAND_BASE + 0x02, struct vgem_fence_signal)

#define WIDTH 64
#define HEIGHT 64

/* The first /dev/dri/card* whose driver is `driver`, or -1. */
static int open_card(const char *driver) {
  for (int i = 0; i < 16; i++) {
    char path[32], name[32] = {0};
    snprintf(path, sizeof path, "/dev/dri/card%d", i);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;
    struct drm_version v = {.name = name, .name_len = sizeof name - 1};
    if (ioctl(fd, DRM_IOCTL_VERSION, &v) == 0 && strcmp(name, driver) == 0) return fd;
    close(fd);
  }
  return -1;
}

/* Whether the dma-buf's writes are done: poll for POLLIN waits on its write fences. */
static int idle(int buf) {
  struct pollfd p = {.fd = buf, .events = POLLIN};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void sync_buf(int buf, uint64_t flags) {
  struct dma_buf_sync s = {.flags = flags};
  if (ioctl(buf, DMA_BUF_IOCTL_SYNC, &s) < 0) perror("DMA_BUF_IOCTL_SYNC");
}

/* A gradient, one 32-bit pixel at a time. */
static void fill(uint32_t *p, const struct drm_mode_create_dumb *d) {
  for (uint32_t y = 0; y < d->height; y++)
    for (uint32_t x = 0; x < d->width; x++) p[y * (d->pitch / 4) + x] = 0xff000000u | (y << 8) | x;
}

int main(int argc, char **argv) {
  int no_sync = argc > 1 && strcmp(argv[1], "--no-sync") == 0;
  int vgem = open_card("vgem");
  int gpu = open_card("gpu");
  if (vgem < 0 || gpu < 0) {
    fprintf(stderr, "no %s device\n", vgem < 0 ? "vgem" : "GPU");
    return 1;
  }
  struct drm_mode_create_dumb dumb = {.width = WIDTH, .height = HEIGHT, .bpp = 32};
  if (ioctl(vgem, DRM_IOCTL_MODE_CREATE_DUMB, &dumb) < 0) {
    perror("DRM_IOCTL_MODE_CREATE_DUMB");
    return 1;
  }
  struct drm_prime_handle exp = {.handle = dumb.handle, .flags = DRM_CLOEXEC | DRM_RDWR};
  if (ioctl(vgem, DRM_IOCTL_PRIME_HANDLE_TO_FD, &exp) < 0) {
    perror("DRM_IOCTL_PRIME_HANDLE_TO_FD");
    return 1;
  }
  int buf = exp.fd;
  uint32_t *p = mmap(NULL, dumb.size, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    return 1;
  }

  /* a job writing the buffer: until its fence signals, nobody may touch it */
  struct vgem_fence_attach attach = {.handle = dumb.handle, .flags = VGEM_FENCE_WRITE};
  if (ioctl(vgem, VGEM_IOCTL_FENCE_ATTACH, &attach) < 0) {
    perror("VGEM_IOCTL_FENCE_ATTACH");
    return 1;
  }
  int busy = !idle(buf);
  /* the bug: the job may still be writing the buffer */
  if (no_sync) fill(p, &dumb);
  struct vgem_fence_signal signal = {.fence = attach.out_fence};
  if (ioctl(vgem, VGEM_IOCTL_FENCE_SIGNAL, &signal) < 0) {
    perror("VGEM_IOCTL_FENCE_SIGNAL");
    return 1;
  }
  int done = idle(buf);
  printf("dumb buffer %ux%u (%llu bytes, pitch %u) exported as fd %d; write fence %u: %s, then %s\n", dumb.width, dumb.height, (unsigned long long)dumb.size, dumb.pitch, buf,
         attach.out_fence, busy ? "busy" : "idle", done ? "idle once signalled" : "still busy");
  if (!busy || !done) return 1;

  /* the GPU takes the buffer: its import maps it for the GPU's DMA */
  struct drm_prime_handle imp = {.fd = buf};
  if (ioctl(gpu, DRM_IOCTL_PRIME_FD_TO_HANDLE, &imp) < 0) {
    perror("DRM_IOCTL_PRIME_FD_TO_HANDLE");
    return 1;
  }
  if (!no_sync) {
    sync_buf(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
    fill(p, &dumb);
    sync_buf(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
  }
  printf("filled it %s, for GPU handle %u\n", no_sync ? "while the fence was pending (no poll, no DMA_BUF_IOCTL_SYNC)" : "bracketed by DMA_BUF_IOCTL_SYNC", imp.handle);

  struct drm_gem_close gc = {.handle = imp.handle};
  ioctl(gpu, DRM_IOCTL_GEM_CLOSE, &gc);
  gc.handle = dumb.handle;
  ioctl(vgem, DRM_IOCTL_GEM_CLOSE, &gc);
  munmap(p, dumb.size);
  close(buf);
  close(gpu);
  close(vgem);
  printf("OK\n");
  return 0;
}
