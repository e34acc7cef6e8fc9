/*
 * Prints ioctl request numbers and uapi constants from the machine's real
 * headers, to check src/uapi against. Build and run (Debian, x86_64, with
 * linux-libc-dev and libdrm-dev installed):
 *   gcc -I/usr/include/libdrm -o /tmp/ioctl-values test/uapi/ioctl-values.c && /tmp/ioctl-values
 * The output's numbers are pasted as literals into test/uapi/ioctl.test.ts.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/sync_file.h>
#include <linux/udmabuf.h>
#include <linux/videodev2.h>
#include <drm.h>
#include <drm_mode.h>

struct drm_vgem_fence_attach { __u32 handle; __u32 flags; __u32 out_fence; __u32 pad; };
struct drm_vgem_fence_signal { __u32 fence; __u32 flags; };
#define DRM_IOCTL_VGEM_FENCE_ATTACH DRM_IOWR(DRM_COMMAND_BASE + 0x1, struct drm_vgem_fence_attach)
#define DRM_IOCTL_VGEM_FENCE_SIGNAL DRM_IOW(DRM_COMMAND_BASE + 0x2, struct drm_vgem_fence_signal)

#define P(x) printf("%-36s 0x%08lx\n", #x, (unsigned long)(x))
#define O(x) printf("%-36s 0%lo\n", #x, (unsigned long)(x))

int main(void) {
  P(DMA_BUF_IOCTL_SYNC); P(DMA_BUF_SET_NAME); P(DMA_BUF_SET_NAME_A); P(DMA_BUF_SET_NAME_B);
  P(DMA_BUF_IOCTL_EXPORT_SYNC_FILE); P(DMA_BUF_IOCTL_IMPORT_SYNC_FILE);
  P(DMA_BUF_SYNC_READ); P(DMA_BUF_SYNC_WRITE); P(DMA_BUF_SYNC_RW); P(DMA_BUF_SYNC_START);
  P(DMA_BUF_SYNC_END); P(DMA_BUF_SYNC_VALID_FLAGS_MASK); P(DMA_BUF_NAME_LEN);
  P(DMA_HEAP_IOCTL_ALLOC); P(DMA_HEAP_VALID_FD_FLAGS); P(DMA_HEAP_VALID_HEAP_FLAGS);
  P(SYNC_IOC_MERGE); P(SYNC_IOC_FILE_INFO);
  P(UDMABUF_CREATE); P(UDMABUF_CREATE_LIST); P(UDMABUF_FLAGS_CLOEXEC);
  P(VIDIOC_QUERYCAP); P(VIDIOC_G_FMT); P(VIDIOC_S_FMT); P(VIDIOC_REQBUFS); P(VIDIOC_QUERYBUF);
  P(VIDIOC_QBUF); P(VIDIOC_DQBUF); P(VIDIOC_EXPBUF); P(VIDIOC_STREAMON); P(VIDIOC_STREAMOFF);
  P(V4L2_PIX_FMT_YUYV); P(V4L2_PIX_FMT_NV12); P(V4L2_PIX_FMT_RGB24); P(V4L2_PIX_FMT_XBGR32); P(V4L2_PIX_FMT_JPEG);
  P(V4L2_CAP_VIDEO_CAPTURE); P(V4L2_CAP_STREAMING); P(V4L2_CAP_DEVICE_CAPS); P(V4L2_CAP_VIDEO_M2M);
  P(V4L2_BUF_FLAG_MAPPED); P(V4L2_BUF_FLAG_QUEUED); P(V4L2_BUF_FLAG_DONE); P(V4L2_BUF_FLAG_ERROR);
  P(V4L2_BUF_CAP_SUPPORTS_MMAP); P(V4L2_BUF_CAP_SUPPORTS_DMABUF);
  P(DRM_IOCTL_VERSION); P(DRM_IOCTL_GET_CAP); P(DRM_IOCTL_MODE_CREATE_DUMB); P(DRM_IOCTL_MODE_MAP_DUMB);
  P(DRM_IOCTL_MODE_DESTROY_DUMB); P(DRM_IOCTL_PRIME_HANDLE_TO_FD); P(DRM_IOCTL_PRIME_FD_TO_HANDLE);
  P(DRM_IOCTL_GEM_CLOSE); P(DRM_IOCTL_MODE_ADDFB2); P(DRM_IOCTL_MODE_RMFB); P(DRM_IOCTL_MODE_PAGE_FLIP);
  P(DRM_IOCTL_MODE_GETRESOURCES); P(DRM_IOCTL_VGEM_FENCE_ATTACH); P(DRM_IOCTL_VGEM_FENCE_SIGNAL);
  P(FIONREAD); P(FIONBIO); P(FIOCLEX); P(FIONCLEX); P(FIOASYNC);
  O(O_RDONLY); O(O_WRONLY); O(O_RDWR); O(O_ACCMODE); O(O_CREAT); O(O_EXCL); O(O_NOCTTY); O(O_TRUNC);
  O(O_APPEND); O(O_NONBLOCK); O(O_DSYNC); O(O_DIRECT); O(O_LARGEFILE); O(O_DIRECTORY); O(O_NOFOLLOW);
  O(O_NOATIME); O(O_CLOEXEC); O(O_SYNC); O(O_PATH); O(O_TMPFILE); O(FASYNC);
  P(F_DUPFD); P(F_GETFD); P(F_SETFD); P(F_GETFL); P(F_SETFL); P(F_DUPFD_CLOEXEC); P(FD_CLOEXEC);
  P(PROT_NONE); P(PROT_READ); P(PROT_WRITE); P(PROT_EXEC); P(MAP_SHARED); P(MAP_PRIVATE);
  P(MAP_SHARED_VALIDATE); P(MAP_FIXED); P(MAP_ANONYMOUS); P(MAP_FIXED_NOREPLACE); P(MAP_POPULATE); P(MAP_LOCKED); P(MAP_NORESERVE);
  P(POLLIN); P(POLLPRI); P(POLLOUT); P(POLLERR); P(POLLHUP); P(POLLNVAL); P(POLLRDNORM); P(POLLWRNORM); P(POLLRDHUP);
  P(SEEK_SET); P(SEEK_CUR); P(SEEK_END);
  P(MSG_CTRUNC); P(MSG_TRUNC); P(MSG_DONTWAIT); P(MSG_NOSIGNAL); P(MSG_CMSG_CLOEXEC); P(SCM_RIGHTS); P(SOL_SOCKET); P(AF_UNIX); P(SOCK_STREAM); P(SOCK_DGRAM); P(SOCK_SEQPACKET);
  P(sizeof(struct v4l2_format)); P(sizeof(struct v4l2_buffer)); P(sizeof(struct drm_version));
  return 0;
}
