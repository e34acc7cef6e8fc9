/**
 * DOC: uapi — the userspace ABI as numbers
 *
 * Linux 6.1's userspace-visible constants: ioctl request numbers computed
 * with the kernel's own _IOC encoding, open/fcntl/mmap/poll/socket flags,
 * signal numbers, and the struct shapes an ioctl `arg` object carries (field
 * names spelled as the headers spell them). Values are those of LP64 Linux
 * (x86_64, arm64), checked against the real headers by test/uapi. This
 * module holds constants only: it imports nothing but its own files, so
 * every layer and every userspace program may import it.
 */
export * from './ioctl.ts';
export * from './fcntl.ts';
export * from './mman.ts';
export * from './poll.ts';
export * from './eventpoll.ts';
export * from './memfd.ts';
export * from './socket.ts';
export * from './signal.ts';
export * from './stat.ts';
export * from './dma-buf.ts';
export * from './dma-heap.ts';
export * from './sync-file.ts';
export * from './udmabuf.ts';
export * from './videodev2.ts';
export * from './drm.ts';
export * from './vgem.ts';
export * from './gpu-drm.ts';
export * from './drm-fourcc.ts';
export * from './asound.ts';
