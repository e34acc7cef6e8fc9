import { describe, expect } from 'vitest';
import { VIDIOC_DQBUF32_TIME32, VIDIOC_G_FMT32, VIDIOC_QBUF32 } from '../../src/uapi/index.ts';
import { cIt, cSources, runCFile, warnWithoutToolchain } from './c-run.ts';

warnWithoutToolchain('C V4L2');
const { run: runC } = cSources('unimem-c-v4l2-');
const runFile = runCFile;

/*
 * V4L2 from unmodified C: a C program is a 32-bit process, so its
 * v4l2_format and v4l2_buffer are the compat structs (204 and 80 bytes,
 * or 68 with a 32-bit time_t), and its address space ends at ARM's
 * TASK_SIZE. Needs the C toolchain c-program.test.ts needs.
 */

const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

describe('examples/programs/v4l2-capture.c', () => {
  cIt('captures five frames from the camera into system-heap dma-bufs, each the sensor’s pattern: nothing found', async () => {
    const r = await runFile('examples/programs/v4l2-capture.c');
    const lines = r.out.trim().split('\n');
    expect(lines[0]).toBe('/dev/video8: 160x120 YUYV, 320 bytes per line, 38400 per frame');
    const frames = lines.slice(1).map((l) => /^frame (\d+): buffer (\d+) \(dma-buf fd (\d+)\), 38400 bytes at (\d+)\.(\d{6}) s, checksum ([0-9a-f]{8}), pattern (\w+)$/.exec(l));
    expect(frames).toHaveLength(5);
    expect(frames.every((m) => m !== null)).toBe(true);
    const f = frames.map((m) => ({ seq: Number(m![1]), index: Number(m![2]), fd: Number(m![3]), us: Number(m![4]) * 1e6 + Number(m![5]), sum: m![6], pattern: m![7] }));
    expect(f.map((x) => x.seq)).toEqual([0, 1, 2, 3, 4]);
    // three buffers go round: the fourth frame lands in the first buffer again
    expect(f.map((x) => x.index)).toEqual([0, 1, 2, 0, 1]);
    expect(f[3]!.fd).toBe(f[0]!.fd);
    expect(f.every((x) => x.pattern === 'ok')).toBe(true);
    // every frame is new: a buffer's second frame is not its first
    expect(new Set(f.map((x) => x.sum)).size).toBe(5);
    // 30 frames per second on the simulated clock
    for (let i = 1; i < 5; i++) expect(f[i]!.us - f[i - 1]!.us).toBeCloseTo(33_333, -1);
    expect(r.err).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.findings).toEqual([]);
  });

  cIt('without the bracket it reads stale cache lines once a buffer comes round, and the checker names the missing sync', async () => {
    const r = await runFile('examples/programs/v4l2-capture.c', ['--no-sync']);
    const sums = [...r.out.matchAll(/checksum ([0-9a-f]{8}), pattern (\w+)/g)].map((m) => [m[1], m[2]]);
    expect(sums).toHaveLength(5);
    // frames 3 and 4 come back as the bytes frames 0 and 1 left in the cache
    expect(sums[3]).toEqual([sums[0]![0], 'BROKEN']);
    expect(sums[4]).toEqual([sums[1]![0], 'BROKEN']);
    expect(r.exitCode).toBe(1);
    const missing = r.findings.filter((f) => f.kind === 'missing-sync');
    expect(missing.length).toBeGreaterThan(0);
    expect(missing[0]!.message).toMatch(/CPU reads .* of a buffer mapped for camera \(DMA_FROM_DEVICE/);
  });
});

describe('32-bit V4L2 and address space', () => {
  cIt('G_FMT, QUERYBUF and DQBUF go through the compat structs: the format, the MMAP offsets and the timestamps arrive', async () => {
    const r = await runC(
      'compat.c',
      `#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/videodev2.h>

/* struct v4l2_buffer as a 32-bit program with a 32-bit time_t declares it (armhf before time64): 68 bytes */
struct v4l2_buffer_time32 {
  uint32_t index, type, bytesused, flags, field;
  struct { int32_t tv_sec, tv_usec; } timestamp;
  struct v4l2_timecode timecode;
  uint32_t sequence, memory;
  union { uint32_t offset; uint32_t userptr; uint32_t planes; int32_t fd; } m;
  uint32_t length, reserved2;
  int32_t request_fd;
};
#define DQBUF_TIME32 _IOWR('V', 17, struct v4l2_buffer_time32)
#define QUERYBUF_TIME32 _IOWR('V', 9, struct v4l2_buffer_time32)

int main(void) {
  int fd = open("/dev/video8", O_RDWR);
  printf("sizes %zu %zu %zu requests %08lx %08lx %08lx\\n", sizeof(struct v4l2_format), sizeof(struct v4l2_buffer), sizeof(struct v4l2_buffer_time32),
         (unsigned long)VIDIOC_G_FMT, (unsigned long)VIDIOC_QBUF, (unsigned long)DQBUF_TIME32);
  struct v4l2_format f;
  memset(&f, 0xee, sizeof f);
  f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  f.fmt.pix.width = 64; f.fmt.pix.height = 32; f.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
  if (ioctl(fd, VIDIOC_S_FMT, &f) < 0) return 10;
  memset(&f, 0, sizeof f);
  f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  if (ioctl(fd, VIDIOC_G_FMT, &f) < 0) return 11;
  printf("fmt %ux%u bytesperline %u sizeimage %u\\n", f.fmt.pix.width, f.fmt.pix.height, f.fmt.pix.bytesperline, f.fmt.pix.sizeimage);
  struct v4l2_requestbuffers req = {.count = 2, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP};
  if (ioctl(fd, VIDIOC_REQBUFS, &req) < 0) return 12;
  unsigned char *maps[2];
  for (unsigned i = 0; i < 2; i++) {
    struct v4l2_buffer b;
    memset(&b, 0, sizeof b);
    b.index = i; b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE; b.memory = V4L2_MEMORY_MMAP;
    if (ioctl(fd, VIDIOC_QUERYBUF, &b) < 0) return 13;
    struct v4l2_buffer_time32 t;
    memset(&t, 0, sizeof t);
    t.index = i; t.type = V4L2_BUF_TYPE_VIDEO_CAPTURE; t.memory = V4L2_MEMORY_MMAP;
    if (ioctl(fd, QUERYBUF_TIME32, &t) < 0) return 14;
    printf("buffer %u offset 0x%x length %u (time32: offset 0x%x length %u)\\n", i, b.m.offset, b.length, t.m.offset, t.length);
    maps[i] = mmap(NULL, b.length, PROT_READ, MAP_SHARED, fd, b.m.offset);
    if (maps[i] == MAP_FAILED) return 15;
    if (ioctl(fd, VIDIOC_QBUF, &b) < 0) return 16;
  }
  int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  if (ioctl(fd, VIDIOC_STREAMON, &type) < 0) return 17;
  struct v4l2_buffer b;
  memset(&b, 0, sizeof b);
  b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE; b.memory = V4L2_MEMORY_MMAP;
  if (ioctl(fd, VIDIOC_DQBUF, &b) < 0) return 18;
  printf("dqbuf index %u seq %u bytesused %u ts %lld.%06lld\\n", b.index, b.sequence, b.bytesused, (long long)b.timestamp.tv_sec, (long long)b.timestamp.tv_usec);
  if (ioctl(fd, VIDIOC_QBUF, &b) < 0) return 19;
  struct v4l2_buffer_time32 t;
  memset(&t, 0xee, sizeof t);
  t.type = V4L2_BUF_TYPE_VIDEO_CAPTURE; t.memory = V4L2_MEMORY_MMAP;
  if (ioctl(fd, DQBUF_TIME32, &t) < 0) return 20;
  printf("dqbuf time32 index %u seq %u bytesused %u ts %d.%06d length %u\\n", t.index, t.sequence, t.bytesused, t.timestamp.tv_sec, t.timestamp.tv_usec, t.length);
  /* a native (LP64) request number is not a 32-bit program's: the driver does not know it */
  errno = 0;
  int r = ioctl(fd, 0xc0d05604 /* VIDIOC_G_FMT over arm64's 208-byte struct */, &f);
  printf("arm64 G_FMT %d %s\\n", r, errno == ENOTTY ? "ENOTTY" : strerror(errno));
  ioctl(fd, VIDIOC_STREAMOFF, &type);
  return 0;
}
`,
    );
    expect(r.out.split('\n')).toEqual([
      // the program's own sizes and request numbers are the compat ones the kernel side knows
      `sizes 204 80 68 requests ${hex(VIDIOC_G_FMT32)} ${hex(VIDIOC_QBUF32)} ${hex(VIDIOC_DQBUF32_TIME32)}`,
      'fmt 64x32 bytesperline 128 sizeimage 4096',
      'buffer 0 offset 0x0 length 4096 (time32: offset 0x0 length 4096)',
      'buffer 1 offset 0x1000 length 4096 (time32: offset 0x1000 length 4096)',
      expect.stringMatching(/^dqbuf index 0 seq 0 bytesused 4096 ts 0\.0333\d\d$/),
      expect.stringMatching(/^dqbuf time32 index 1 seq 1 bytesused 4096 ts 0\.0667\d\d length 4096$/),
      // v4l2_compat_ioctl32 hands every 'V' request on: the arm64 number is the native request over its own struct
      'arm64 G_FMT 0 Success',
      '',
    ]);
    expect(r.exitCode).toBe(0);
    expect(r.findings).toEqual([]);
  });

  cIt('mmap stops at ARM’s TASK_SIZE (0xbf000000): MAP_FIXED at or across it is ENOMEM, a hint above it is ignored, munmap there is EINVAL', async () => {
    const r = await runC(
      'task-size.c',
      `#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static const char *err(void *p) { return p != MAP_FAILED ? "ok" : errno == ENOMEM ? "ENOMEM" : errno == EINVAL ? "EINVAL" : strerror(errno); }

int main(void) {
  int fl = MAP_PRIVATE | MAP_ANONYMOUS;
  void *p = mmap((void *)0xbf000000, 4096, PROT_READ, fl | MAP_FIXED, -1, 0);
  printf("fixed at TASK_SIZE: %s\\n", err(p));
  p = mmap((void *)0xbefff000, 8192, PROT_READ, fl | MAP_FIXED, -1, 0);
  printf("fixed across TASK_SIZE: %s\\n", err(p));
  p = mmap((void *)0xd0000000, 4096, PROT_READ, fl | MAP_FIXED, -1, 0);
  printf("fixed in the kernel's half: %s\\n", err(p));
  p = mmap((void *)0xbeffe000, 4096, PROT_READ | PROT_WRITE, fl | MAP_FIXED, -1, 0);
  printf("fixed below TASK_SIZE: %s at %p\\n", err(p), p);
  if (p != MAP_FAILED) { *(volatile int *)p = 1; munmap(p, 4096); }
  p = mmap((void *)0xc0000000, 4096, PROT_READ, fl, -1, 0);
  printf("hint above TASK_SIZE: %s, below: %d\\n", err(p), p != MAP_FAILED && (unsigned long)p + 4096 <= 0xbf000000ul);
  int r = munmap((void *)0xbf000000, 4096);
  printf("munmap at TASK_SIZE: %d %s\\n", r, errno == EINVAL ? "EINVAL" : strerror(errno));
  return 0;
}
`,
    );
    expect(r.out).toBe(
      [
        'fixed at TASK_SIZE: ENOMEM',
        'fixed across TASK_SIZE: ENOMEM',
        'fixed in the kernel\'s half: ENOMEM',
        'fixed below TASK_SIZE: ok at 0xbeffe000',
        'hint above TASK_SIZE: ok, below: 1',
        'munmap at TASK_SIZE: -1 EINVAL',
        '',
      ].join('\n'),
    );
    expect(r.exitCode).toBe(0);
  });
});
