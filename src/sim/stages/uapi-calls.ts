import { frameFourcc, v4l2PixelFormat, type FrameFormat } from '../../formats/index.ts';
import type { Sys } from '../../proc/index.ts';
import {
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_START,
  DMA_HEAP_IOCTL_ALLOC,
  DRM_CLOEXEC,
  DRM_IOCTL_MODE_ADDFB2,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_MAP_DUMB,
  DRM_IOCTL_PRIME_FD_TO_HANDLE,
  DRM_IOCTL_PRIME_HANDLE_TO_FD,
  DRM_RDWR,
  MAP_SHARED,
  O_CLOEXEC,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  V4L2_MEMORY_MMAP,
  VIDIOC_DQBUF,
  VIDIOC_EXPBUF,
  VIDIOC_QBUF,
  VIDIOC_QUERYBUF,
  VIDIOC_REQBUFS,
  VIDIOC_STREAMON,
  VIDIOC_S_FMT,
  type V4l2Buffer,
  type V4l2Format,
} from '../../uapi/index.ts';

/*
 * What a media userspace library (libv4l2, libdrm, libdmabufheap) gives a
 * program: the ioctls with their structs filled in, nothing more. The
 * pipeline's stage programs use only these and plain system calls.
 */

/** A struct v4l2_buffer for QBUF/DQBUF. */
export function v4l2Buffer(type: number, memory: number, index = 0, m: V4l2Buffer['m'] = {}, bytesused = 0, length = 0): V4l2Buffer {
  return { index, type, bytesused, flags: 0, field: 0, timestamp: { tv_sec: 0, tv_usec: 0 }, sequence: 0, memory, m, length };
}

/** VIDIOC_S_FMT with a frame layout (or a coded format: `pixelformat` given); returns what the driver set. */
export async function setFormat(sys: Sys, fd: number, type: number, fmt: FrameFormat, pixelformat = v4l2PixelFormat(fmt.fourcc)): Promise<V4l2Format> {
  const f = { type, fmt: { pix: { width: fmt.width, height: fmt.height, pixelformat, field: 0, bytesperline: 0, sizeimage: 0 } } } as V4l2Format;
  await sys.ioctl(fd, VIDIOC_S_FMT, f);
  const got = f.fmt.pix!;
  if (pixelformat === v4l2PixelFormat(fmt.fourcc) && (got.width !== fmt.width || got.height !== fmt.height || frameFourcc(got.pixelformat) !== fmt.fourcc)) {
    throw new Error(`S_FMT: asked ${fmt.width}x${fmt.height} ${fmt.fourcc}, the driver set ${got.width}x${got.height} ${frameFourcc(got.pixelformat) ?? got.pixelformat}`);
  }
  return f;
}

/** VIDIOC_REQBUFS; returns the count the driver granted. */
export async function requestBuffers(sys: Sys, fd: number, type: number, memory: number, count: number): Promise<number> {
  const r = { count, type, memory, capabilities: 0, flags: 0 };
  await sys.ioctl(fd, VIDIOC_REQBUFS, r);
  return r.count;
}

/** VIDIOC_QBUF. */
export async function queueBuffer(sys: Sys, fd: number, b: V4l2Buffer): Promise<void> {
  await sys.ioctl(fd, VIDIOC_QBUF, b);
}

/** VIDIOC_DQBUF (blocking unless the fd is O_NONBLOCK); returns the filled-in buffer. */
export async function dequeueBuffer(sys: Sys, fd: number, type: number, memory: number): Promise<V4l2Buffer> {
  const b = v4l2Buffer(type, memory);
  await sys.ioctl(fd, VIDIOC_DQBUF, b);
  return b;
}

/** VIDIOC_STREAMON. */
export async function streamOn(sys: Sys, fd: number, type: number): Promise<void> {
  await sys.ioctl(fd, VIDIOC_STREAMON, type);
}

/** VIDIOC_EXPBUF: a dma-buf fd for MMAP buffer `index`. */
export async function exportBuffer(sys: Sys, fd: number, type: number, index: number): Promise<number> {
  const e = { type, index, plane: 0, flags: O_RDWR | O_CLOEXEC, fd: -1 };
  await sys.ioctl(fd, VIDIOC_EXPBUF, e);
  return e.fd;
}

/** VIDIOC_QUERYBUF then mmap: the MMAP buffer `index` mapped into the process. */
export async function mapBuffer(sys: Sys, fd: number, type: number, index: number): Promise<{ addr: number; length: number }> {
  const b = v4l2Buffer(type, V4L2_MEMORY_MMAP, index);
  await sys.ioctl(fd, VIDIOC_QUERYBUF, b);
  const addr = await sys.mmap(0, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, b.m.offset ?? 0);
  return { addr, length: b.length };
}

/** DMA_HEAP_IOCTL_ALLOC from /dev/dma_heap/`heap`: a dma-buf fd of `len` bytes. */
export async function heapAllocate(sys: Sys, heap: string, len: number): Promise<number> {
  const h = await sys.open(`/dev/dma_heap/${heap}`, O_RDWR | O_CLOEXEC);
  try {
    const a = { len, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0 };
    await sys.ioctl(h, DMA_HEAP_IOCTL_ALLOC, a);
    return a.fd;
  } finally {
    await sys.close(h);
  }
}

/** DMA_BUF_IOCTL_SYNC START or END with READ/WRITE `flags`. */
export async function dmaBufSync(sys: Sys, fd: number, flags: number, start: boolean): Promise<void> {
  await sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: flags | (start ? DMA_BUF_SYNC_START : DMA_BUF_SYNC_END) });
}

/** DRM_IOCTL_MODE_CREATE_DUMB: a dumb buffer of `fmt` (32 bpp); returns handle, pitch and size. */
export async function createDumb(sys: Sys, fd: number, width: number, height: number): Promise<{ handle: number; pitch: number; size: number }> {
  const a = { width, height, bpp: 32, flags: 0, handle: 0, pitch: 0, size: 0 as number | bigint };
  await sys.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, a);
  return { handle: a.handle, pitch: a.pitch, size: Number(a.size) };
}

/** DRM_IOCTL_MODE_MAP_DUMB then mmap: the dumb buffer mapped into the process. */
export async function mapDumb(sys: Sys, fd: number, handle: number, size: number): Promise<number> {
  const a = { handle, pad: 0, offset: 0 as number | bigint };
  await sys.ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, a);
  return sys.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, Number(a.offset));
}

/** DRM_IOCTL_PRIME_FD_TO_HANDLE: the GEM handle of a dma-buf (the same one each time for the same buffer). */
export async function primeFdToHandle(sys: Sys, fd: number, bufFd: number): Promise<number> {
  const a = { handle: 0, flags: 0, fd: bufFd };
  await sys.ioctl(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, a);
  return a.handle;
}

/** DRM_IOCTL_PRIME_HANDLE_TO_FD: a dma-buf fd for a GEM handle. */
export async function primeHandleToFd(sys: Sys, fd: number, handle: number): Promise<number> {
  const a = { handle, flags: DRM_CLOEXEC | DRM_RDWR, fd: -1 };
  await sys.ioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, a);
  return a.fd;
}

/** DRM_IOCTL_MODE_ADDFB2 for a single-plane buffer; returns the framebuffer id. */
export async function addFramebuffer(sys: Sys, fd: number, handle: number, width: number, height: number, pitch: number, format: number): Promise<number> {
  const a = { fb_id: 0, width, height, pixel_format: format, flags: 0, handles: [handle, 0, 0, 0], pitches: [pitch, 0, 0, 0], offsets: [0, 0, 0, 0], modifier: [0, 0, 0, 0] };
  await sys.ioctl(fd, DRM_IOCTL_MODE_ADDFB2, a);
  return a.fb_id;
}
