/*
 * heap-share.ts in plain C: allocates a buffer from the system dma-heap,
 * shares it with vgem (the way a GPU takes a dma-buf: imported and mapped
 * for the device), passes it to a child process over a Unix socket
 * (SCM_RIGHTS); the child fills it through its own mmap and the parent
 * checks the bytes through its mapping, each side bracketing its CPU access
 * with DMA_BUF_IOCTL_SYNC.
 *
 *   npx unimem exec examples/programs/heap-share.c
 *
 * With --no-sync the child writes without the bracket: on a non-coherent
 * SoC its bytes sit in the CPU cache, and the parent's DMA_BUF_SYNC_START
 * (the invalidate a reader of a device's buffer needs) throws them away, so
 * the parent sees DIFFERENT bytes and exits 1; the checker names the access:
 *
 *   npx unimem exec --check examples/programs/heap-share.c -- --no-sync   # exit 1, a missing-sync finding
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
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

/* Sends one byte and `fd` over the socket (SCM_RIGHTS). */
static int send_fd(int sock, int fd) {
  char byte = 1;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  char control[CMSG_SPACE(sizeof(int))];
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return sendmsg(sock, &msg, 0) < 0 ? -1 : 0;
}

/* Receives the fd send_fd sent, or -1. */
static int recv_fd(int sock) {
  char byte;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  char control[CMSG_SPACE(sizeof(int))];
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  if (recvmsg(sock, &msg, 0) < 0) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

int main(int argc, char **argv) {
  int no_sync = argc > 1 && strcmp(argv[1], "--no-sync") == 0;
  int heap = open("/dev/dma_heap/system", O_RDWR | O_CLOEXEC);
  struct dma_heap_allocation_data alloc = {.len = SIZE, .fd_flags = O_RDWR | O_CLOEXEC};
  if (heap < 0 || ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &alloc) < 0) {
    perror("dma-heap");
    return 1;
  }
  int vgem = open_vgem();
  struct drm_prime_handle import = {.fd = (int)alloc.fd};
  if (vgem < 0 || ioctl(vgem, DRM_IOCTL_PRIME_FD_TO_HANDLE, &import) < 0) {
    perror("vgem import");
    return 1;
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0) {
    perror("socketpair");
    return 1;
  }
  pid_t child = fork();
  if (child < 0) {
    perror("fork");
    return 1;
  }
  if (child == 0) {
    int fd = recv_fd(sv[1]);
    unsigned char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (fd < 0 || p == MAP_FAILED) return 1;
    if (!no_sync) sync_buf(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
    memset(p, 0x5a, SIZE);
    if (!no_sync) sync_buf(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
    return 0;
  }
  if (send_fd(sv[0], (int)alloc.fd) < 0) {
    perror("sendmsg");
    return 1;
  }
  int status;
  waitpid(child, &status, 0);
  unsigned char *p = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, (int)alloc.fd, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  sync_buf((int)alloc.fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
  int same = 1;
  for (int i = 0; i < SIZE; i++) same &= p[i] == 0x5a;
  sync_buf((int)alloc.fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
  printf("child %s; %s bytes on both sides of %d shared bytes\n", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "exited 0" : "failed", same ? "same" : "DIFFERENT", SIZE);
  return same && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
