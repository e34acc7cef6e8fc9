/*
 * Captures a few frames from the SoC's camera into buffers it allocates
 * from the system dma-heap and hands to V4L2 as dma-bufs
 * (V4L2_MEMORY_DMABUF): the camera's DMA writes each frame into the
 * heap's pages, and the program reads it through its own mmap of the
 * dma-buf, bracketed by DMA_BUF_IOCTL_SYNC as a correct reader does.
 * Plain C against the kernel's uapi headers, built for unimem with
 * `npx unimem exec v4l2-capture.c`; as a 32-bit program its v4l2_format
 * and v4l2_buffer go through the kernel's compat ioctls.
 *
 * Each frame is checked against what the sensor sends: its moving test
 * pattern is a window into a 4093-byte strip, line y of frame `sequence`
 * starting at (7 * sequence + 13 * y) mod 4093. So every line is the line
 * above shifted left by 13 bytes, and the first line the previous frame's
 * shifted by 7 per frame between them, except where the strip wraps. A
 * torn frame, or a stale one (an older frame still in the CPU cache),
 * breaks that.
 *
 * With --no-sync it leaves the bracket out: on a non-coherent SoC the CPU
 * reads cache lines older than what the DMA wrote. Here, once a buffer
 * comes round again, its frame is the one read from it before, which the
 * pattern check calls BROKEN, and the program exits 1;
 * `npx unimem exec --check v4l2-capture.c -- --no-sync` reports the
 * missing-sync finding behind it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/videodev2.h>

#define NBUFS 3
#define MAX_BUFS 8
#define FRAMES 5
#define WIDTH 160
#define HEIGHT 120
#define STRIP_PERIOD 4093
#define LINE_SHIFT 13
#define FRAME_SHIFT 7

struct buf {
  int fd;
  unsigned char *map;
  size_t len;
};

/* The first /dev/video* whose driver is the SoC camera and that captures by streaming, or -1. */
static int open_camera(char *path, size_t pathlen) {
  for (int i = 0; i < 64; i++) {
    snprintf(path, pathlen, "/dev/video%d", i);
    int fd = open(path, O_RDWR);
    if (fd < 0) continue;
    struct v4l2_capability cap;
    memset(&cap, 0, sizeof cap);
    unsigned caps = 0;
    if (ioctl(fd, VIDIOC_QUERYCAP, &cap) == 0) caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;
    if (strcmp((char *)cap.driver, "unimem-camera") == 0 && (caps & V4L2_CAP_VIDEO_CAPTURE) && (caps & V4L2_CAP_STREAMING)) return fd;
    close(fd);
  }
  return -1;
}

static int sync_buf(int fd, unsigned long long flags) {
  struct dma_buf_sync s = {.flags = flags};
  if (ioctl(fd, DMA_BUF_IOCTL_SYNC, &s) < 0) {
    perror("DMA_BUF_IOCTL_SYNC");
    return -1;
  }
  return 0;
}

/* Whether the first line of frame `seq` continues that of frame `prev_seq` (saved in `prev`) as the pattern moves. */
static int follows(const unsigned char *p, const unsigned char *prev, unsigned stride, unsigned seq, unsigned prev_seq) {
  unsigned shift = FRAME_SHIFT * (seq - prev_seq);
  if (seq <= prev_seq || shift >= stride || (FRAME_SHIFT * prev_seq) % STRIP_PERIOD + shift >= STRIP_PERIOD) return 1; /* nothing to compare */
  return memcmp(p, prev + shift, stride - shift) == 0;
}

/* Lines of frame `seq` that break the sensor's pattern (the line above shifted by LINE_SHIFT). */
static int bad_lines(const unsigned char *p, unsigned stride, unsigned lines, unsigned seq) {
  int bad = 0;
  for (unsigned y = 1; y < lines; y++) {
    unsigned above = (FRAME_SHIFT * seq + LINE_SHIFT * (y - 1)) % STRIP_PERIOD;
    if (above + LINE_SHIFT >= STRIP_PERIOD) continue; /* the strip wraps between these lines */
    if (memcmp(p + y * stride, p + (y - 1) * stride + LINE_SHIFT, stride - LINE_SHIFT) != 0) bad++;
  }
  return bad;
}

int main(int argc, char **argv) {
  int no_sync = argc > 1 && strcmp(argv[1], "--no-sync") == 0;
  char path[32];
  int cam = open_camera(path, sizeof path);
  if (cam < 0) {
    fprintf(stderr, "no camera capture device\n");
    return 1;
  }

  struct v4l2_format fmt;
  memset(&fmt, 0, sizeof fmt);
  fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  fmt.fmt.pix.width = WIDTH;
  fmt.fmt.pix.height = HEIGHT;
  fmt.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
  fmt.fmt.pix.field = V4L2_FIELD_NONE;
  if (ioctl(cam, VIDIOC_S_FMT, &fmt) < 0) {
    perror("VIDIOC_S_FMT");
    return 1;
  }
  unsigned stride = fmt.fmt.pix.bytesperline, size = fmt.fmt.pix.sizeimage;
  printf("%s: %ux%u YUYV, %u bytes per line, %u per frame\n", path, fmt.fmt.pix.width, fmt.fmt.pix.height, stride, size);

  struct v4l2_requestbuffers req = {.count = NBUFS, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_DMABUF};
  if (ioctl(cam, VIDIOC_REQBUFS, &req) < 0) {
    perror("VIDIOC_REQBUFS");
    return 1;
  }

  int heap = open("/dev/dma_heap/system", O_RDWR | O_CLOEXEC);
  if (heap < 0) {
    perror("open /dev/dma_heap/system");
    return 1;
  }
  long page = sysconf(_SC_PAGESIZE);
  if (req.count > MAX_BUFS) {
    fprintf(stderr, "the driver wants %u buffers\n", req.count);
    return 1;
  }
  struct buf bufs[MAX_BUFS];
  for (unsigned i = 0; i < req.count; i++) {
    struct dma_heap_allocation_data alloc = {.len = (size + page - 1) / page * page, .fd_flags = O_RDWR | O_CLOEXEC};
    if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &alloc) < 0) {
      perror("DMA_HEAP_IOCTL_ALLOC");
      return 1;
    }
    bufs[i].fd = (int)alloc.fd;
    bufs[i].len = alloc.len;
    bufs[i].map = mmap(NULL, bufs[i].len, PROT_READ, MAP_SHARED, bufs[i].fd, 0);
    if (bufs[i].map == MAP_FAILED) {
      perror("mmap");
      return 1;
    }
    struct v4l2_buffer qb = {.index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_DMABUF, .length = (unsigned)bufs[i].len};
    qb.m.fd = bufs[i].fd;
    if (ioctl(cam, VIDIOC_QBUF, &qb) < 0) {
      perror("VIDIOC_QBUF");
      return 1;
    }
  }

  int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  if (ioctl(cam, VIDIOC_STREAMON, &type) < 0) {
    perror("VIDIOC_STREAMON");
    return 1;
  }
  int failed = 0, have_prev = 0;
  unsigned prev_seq = 0;
  unsigned char *prev = malloc(stride);
  if (!prev) return 1;
  for (int n = 0; n < FRAMES; n++) {
    struct v4l2_buffer b = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_DMABUF};
    if (ioctl(cam, VIDIOC_DQBUF, &b) < 0) {
      perror("VIDIOC_DQBUF");
      return 1;
    }
    struct buf *buf = &bufs[b.index];
    if (!no_sync && sync_buf(buf->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ) < 0) return 1;
    int bad = bad_lines(buf->map, stride, b.bytesused / stride, b.sequence);
    if (have_prev && !follows(buf->map, prev, stride, b.sequence, prev_seq)) bad++;
    if (!bad) {
      memcpy(prev, buf->map, stride);
      prev_seq = b.sequence;
      have_prev = 1;
    }
    unsigned sum = 0;
    for (unsigned i = 0; i < b.bytesused; i++) sum = sum * 31 + buf->map[i];
    if (!no_sync && sync_buf(buf->fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ) < 0) return 1;
    printf("frame %u: buffer %u (dma-buf fd %d), %u bytes at %lld.%06lld s, checksum %08x, pattern %s\n", b.sequence, b.index, b.m.fd, b.bytesused,
           (long long)b.timestamp.tv_sec, (long long)b.timestamp.tv_usec, sum, bad ? "BROKEN" : "ok");
    if (bad) failed = 1;
    if (ioctl(cam, VIDIOC_QBUF, &b) < 0) {
      perror("VIDIOC_QBUF");
      return 1;
    }
  }
  if (ioctl(cam, VIDIOC_STREAMOFF, &type) < 0) {
    perror("VIDIOC_STREAMOFF");
    return 1;
  }

  struct v4l2_requestbuffers none = {.count = 0, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_DMABUF};
  ioctl(cam, VIDIOC_REQBUFS, &none);
  for (unsigned i = 0; i < req.count; i++) {
    munmap(bufs[i].map, bufs[i].len);
    close(bufs[i].fd);
  }
  free(prev);
  close(heap);
  close(cam);
  return failed;
}
