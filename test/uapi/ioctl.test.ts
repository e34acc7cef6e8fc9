import { describe, it, expect } from 'vitest';
import * as U from '../../src/uapi/index.ts';

/*
 * Expected values were printed by test/uapi/ioctl-values.c, compiled once with
 * the machine's gcc against the real headers (Debian bookworm, x86_64,
 * linux-libc-dev for Linux 6.1 and libdrm-dev 2.4.114):
 *   gcc -I/usr/include/libdrm -o /tmp/ioctl-values test/uapi/ioctl-values.c && /tmp/ioctl-values
 */
const FROM_GCC: Record<string, number> = {
  DMA_BUF_IOCTL_SYNC: 0x40086200,
  DMA_BUF_SET_NAME: 0x40086201,
  DMA_BUF_SET_NAME_A: 0x40046201,
  DMA_BUF_SET_NAME_B: 0x40086201,
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE: 0xc0086202,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE: 0x40086203,
  DMA_BUF_SYNC_READ: 0x1,
  DMA_BUF_SYNC_WRITE: 0x2,
  DMA_BUF_SYNC_RW: 0x3,
  DMA_BUF_SYNC_START: 0x0,
  DMA_BUF_SYNC_END: 0x4,
  DMA_BUF_SYNC_VALID_FLAGS_MASK: 0x7,
  DMA_BUF_NAME_LEN: 0x20,
  DMA_HEAP_IOCTL_ALLOC: 0xc0184800,
  DMA_HEAP_VALID_FD_FLAGS: 0x00080003,
  DMA_HEAP_VALID_HEAP_FLAGS: 0x0,
  SYNC_IOC_MERGE: 0xc0303e03,
  SYNC_IOC_FILE_INFO: 0xc0383e04,
  UDMABUF_CREATE: 0x40187542,
  UDMABUF_CREATE_LIST: 0x40087543,
  UDMABUF_FLAGS_CLOEXEC: 0x1,
  VIDIOC_QUERYCAP: 0x80685600,
  VIDIOC_G_FMT: 0xc0d05604,
  VIDIOC_S_FMT: 0xc0d05605,
  VIDIOC_REQBUFS: 0xc0145608,
  VIDIOC_QUERYBUF: 0xc0585609,
  VIDIOC_QBUF: 0xc058560f,
  VIDIOC_DQBUF: 0xc0585611,
  VIDIOC_EXPBUF: 0xc0405610,
  VIDIOC_STREAMON: 0x40045612,
  VIDIOC_STREAMOFF: 0x40045613,
  VIDIOC_ENUMINPUT: 0xc050561a,
  VIDIOC_G_INPUT: 0x80045626,
  VIDIOC_S_INPUT: 0xc0045627,
  V4L2_STD_ALL: 0x00ffffff,
  V4L2_INPUT_TYPE_TUNER: 0x1,
  V4L2_INPUT_TYPE_CAMERA: 0x2,
  V4L2_IN_CAP_STD: 0x4,
  V4L2_IN_CAP_DV_TIMINGS: 0x2,
  V4L2_IN_ST_NO_SIGNAL: 0x2,
  V4L2_CAP_VIDEO_OVERLAY: 0x4,
  V4L2_CAP_VIDEO_OUTPUT_OVERLAY: 0x200,
  V4L2_CAP_TUNER: 0x00010000,
  V4L2_CAP_AUDIO: 0x00020000,
  V4L2_CAP_TOUCH: 0x10000000,
  V4L2_CAP_META_OUTPUT: 0x08000000,
  V4L2_PIX_FMT_YUYV: 0x56595559,
  V4L2_PIX_FMT_NV12: 0x3231564e,
  V4L2_PIX_FMT_RGB24: 0x33424752,
  V4L2_PIX_FMT_XBGR32: 0x34325258,
  V4L2_PIX_FMT_JPEG: 0x4745504a,
  V4L2_CAP_VIDEO_CAPTURE: 0x1,
  V4L2_CAP_STREAMING: 0x04000000,
  V4L2_CAP_DEVICE_CAPS: 0x80000000,
  V4L2_CAP_VIDEO_M2M: 0x00008000,
  V4L2_BUF_FLAG_MAPPED: 0x1,
  V4L2_BUF_FLAG_QUEUED: 0x2,
  V4L2_BUF_FLAG_DONE: 0x4,
  V4L2_BUF_FLAG_ERROR: 0x40,
  V4L2_BUF_CAP_SUPPORTS_MMAP: 0x1,
  V4L2_BUF_CAP_SUPPORTS_DMABUF: 0x4,
  DRM_IOCTL_VERSION: 0xc0406400,
  DRM_IOCTL_GET_CAP: 0xc010640c,
  DRM_IOCTL_MODE_CREATE_DUMB: 0xc02064b2,
  DRM_IOCTL_MODE_MAP_DUMB: 0xc01064b3,
  DRM_IOCTL_MODE_DESTROY_DUMB: 0xc00464b4,
  DRM_IOCTL_PRIME_HANDLE_TO_FD: 0xc00c642d,
  DRM_IOCTL_PRIME_FD_TO_HANDLE: 0xc00c642e,
  DRM_IOCTL_GEM_CLOSE: 0x40086409,
  DRM_IOCTL_MODE_ADDFB2: 0xc06864b8,
  DRM_IOCTL_MODE_RMFB: 0xc00464af,
  DRM_IOCTL_MODE_PAGE_FLIP: 0xc01864b0,
  DRM_IOCTL_MODE_GETRESOURCES: 0xc04064a0,
  DRM_IOCTL_VGEM_FENCE_ATTACH: 0xc0106441,
  DRM_IOCTL_VGEM_FENCE_SIGNAL: 0x40086442,
  FIONREAD: 0x541b,
  FIONBIO: 0x5421,
  FIOCLEX: 0x5451,
  FIONCLEX: 0x5450,
  FIOASYNC: 0x5452,
  O_RDONLY: 0o0,
  O_WRONLY: 0o1,
  O_RDWR: 0o2,
  O_ACCMODE: 0o3,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  O_NOCTTY: 0o400,
  O_TRUNC: 0o1000,
  O_APPEND: 0o2000,
  O_NONBLOCK: 0o4000,
  O_DSYNC: 0o10000,
  O_DIRECT: 0o40000,
  O_DIRECTORY: 0o200000,
  O_NOFOLLOW: 0o400000,
  O_NOATIME: 0o1000000,
  O_CLOEXEC: 0o2000000,
  O_SYNC: 0o4010000,
  O_PATH: 0o10000000,
  O_TMPFILE: 0o20200000,
  FASYNC: 0o20000,
  F_DUPFD: 0,
  F_GETFD: 1,
  F_SETFD: 2,
  F_GETFL: 3,
  F_SETFL: 4,
  F_DUPFD_CLOEXEC: 0x406,
  FD_CLOEXEC: 1,
  PROT_NONE: 0,
  PROT_READ: 1,
  PROT_WRITE: 2,
  PROT_EXEC: 4,
  MAP_SHARED: 0x1,
  MAP_PRIVATE: 0x2,
  MAP_SHARED_VALIDATE: 0x3,
  MAP_FIXED: 0x10,
  MAP_ANONYMOUS: 0x20,
  MAP_FIXED_NOREPLACE: 0x100000,
  MAP_POPULATE: 0x8000,
  MAP_LOCKED: 0x2000,
  MAP_NORESERVE: 0x4000,
  POLLIN: 0x1,
  POLLPRI: 0x2,
  POLLOUT: 0x4,
  POLLERR: 0x8,
  POLLHUP: 0x10,
  POLLNVAL: 0x20,
  POLLRDNORM: 0x40,
  POLLWRNORM: 0x100,
  POLLRDHUP: 0x2000,
  SEEK_SET: 0,
  SEEK_CUR: 1,
  SEEK_END: 2,
  MSG_CTRUNC: 0x8,
  MSG_TRUNC: 0x20,
  MSG_DONTWAIT: 0x40,
  MSG_NOSIGNAL: 0x4000,
  MSG_CMSG_CLOEXEC: 0x40000000,
  SCM_RIGHTS: 0x1,
  SOL_SOCKET: 0x1,
  AF_UNIX: 0x1,
  SOCK_STREAM: 0x1,
  SOCK_DGRAM: 0x2,
  SOCK_SEQPACKET: 0x5,
  F_SETPIPE_SZ: 0x407,
  F_GETPIPE_SZ: 0x408,
  F_ADD_SEALS: 0x409,
  F_GET_SEALS: 0x40a,
  F_SEAL_SEAL: 0x1,
  F_SEAL_SHRINK: 0x2,
  F_SEAL_GROW: 0x4,
  F_SEAL_WRITE: 0x8,
  F_SEAL_FUTURE_WRITE: 0x10,
  MFD_CLOEXEC: 0x1,
  MFD_ALLOW_SEALING: 0x2,
  MFD_HUGETLB: 0x4,
  MFD_HUGE_SHIFT: 0x1a,
  MFD_HUGE_MASK: 0x3f,
  MREMAP_MAYMOVE: 0x1,
  MREMAP_FIXED: 0x2,
  MREMAP_DONTUNMAP: 0x4,
  EPOLL_CLOEXEC: 0o2000000,
  EPOLL_CTL_ADD: 0x1,
  EPOLL_CTL_DEL: 0x2,
  EPOLL_CTL_MOD: 0x3,
  EPOLLIN: 0x1,
  EPOLLPRI: 0x2,
  EPOLLOUT: 0x4,
  EPOLLERR: 0x8,
  EPOLLHUP: 0x10,
  EPOLLRDNORM: 0x40,
  EPOLLRDBAND: 0x80,
  EPOLLWRNORM: 0x100,
  EPOLLWRBAND: 0x200,
  EPOLLMSG: 0x400,
  EPOLLRDHUP: 0x2000,
  EPOLLEXCLUSIVE: 0x10000000,
  EPOLLWAKEUP: 0x20000000,
  EPOLLONESHOT: 0x40000000,
  EPOLLET: 0x80000000,
};

describe('uapi constants match the real headers', () => {
  const table = U as unknown as Record<string, unknown>;
  for (const [name, value] of Object.entries(FROM_GCC)) {
    it(`${name} = 0x${value.toString(16)}`, () => {
      expect(table[name]).toBe(value);
    });
  }

  it('O_LARGEFILE is the kernel value the 64-bit open() forces, not glibc 0', () => {
    // asm-generic/fcntl.h: #define O_LARGEFILE 00100000
    expect(U.O_LARGEFILE).toBe(0o100000);
  });
});

describe('_IOC encoding', () => {
  it('a SYNC request with a __u32 argument is 0x40046200 (row dmabuf_sync_wrong_size_cmd)', () => {
    expect(U._IOW(U.DMA_BUF_BASE, 0, 4)).toBe(0x40046200);
    expect(U._IOW(U.DMA_BUF_BASE, 0, 4)).not.toBe(U.DMA_BUF_IOCTL_SYNC);
  });

  it('decodes direction, type, number and size back', () => {
    const r = U.VIDIOC_DQBUF;
    expect(U._IOC_DIR(r)).toBe(U._IOC_READ | U._IOC_WRITE);
    expect(U._IOC_TYPE(r)).toBe('V'.charCodeAt(0));
    expect(U._IOC_NR(r)).toBe(17);
    expect(U._IOC_SIZE(r)).toBe(88);
    expect(U._IO('V', 3)).toBe(0x5603);
  });

  it('requests are unsigned 32-bit numbers', () => {
    expect(U.DRM_IOCTL_VERSION).toBeGreaterThan(0x80000000);
    expect(U._IOR('V', 0, 104)).toBe(0x80685600);
  });

  it('rejects fields that do not fit', () => {
    expect(() => U._IOW('b', 256, 4)).toThrow(RangeError);
    expect(() => U._IOW('b', 0, 1 << 14)).toThrow(RangeError);
    expect(() => U._IOW('bb', 0, 4)).toThrow(RangeError);
    expect(() => U._IOW(300, 0, 4)).toThrow(RangeError);
  });

  it('fourcc helpers round-trip', () => {
    expect(U.fourccToString(U.V4L2_PIX_FMT_YUYV)).toBe('YUYV');
    expect(U.makedev(226, 0)).toBe(0xe200);
    expect(U.makedev(0, 10)).toBe(10);
  });
});
