// Queues two system-heap dma-bufs to the camera, then writes one through its
// mmap while the camera owns it, without DMA_BUF_IOCTL_SYNC: a missing-sync.
import { DMA_HEAP_IOCTL_ALLOC, MAP_SHARED, O_RDWR, PROT_READ, PROT_WRITE, V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP, V4L2_MEMORY_DMABUF, V4L2_PIX_FMT_XBGR32, VIDIOC_QBUF, VIDIOC_REQBUFS, VIDIOC_S_FMT, VIDIOC_STREAMON } from 'unimem/uapi';
import type { Sys } from 'unimem';

export default async function main(sys: Sys): Promise<number> {
  const v = await sys.open('/dev/video8', O_RDWR);
  await sys.ioctl(v, VIDIOC_S_FMT, { type: CAP, fmt: { pix: { width: 64, height: 16, pixelformat: V4L2_PIX_FMT_XBGR32, field: 0, bytesperline: 0, sizeimage: 0 } } });
  await sys.ioctl(v, VIDIOC_REQBUFS, { count: 2, type: CAP, memory: V4L2_MEMORY_DMABUF, capabilities: 0, flags: 0 });
  const heap = await sys.open('/dev/dma_heap/system', O_RDWR);
  const fds: number[] = [];
  for (let index = 0; index < 2; index++) {
    const a = { len: 4096, fd: 0, fd_flags: O_RDWR, heap_flags: 0 };
    await sys.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, a);
    fds.push(a.fd);
    await sys.ioctl(v, VIDIOC_QBUF, { index, type: CAP, bytesused: 0, flags: 0, field: 0, timestamp: { tv_sec: 0, tv_usec: 0 }, sequence: 0, memory: V4L2_MEMORY_DMABUF, m: { fd: a.fd }, length: 4096 });
  }
  await sys.ioctl(v, VIDIOC_STREAMON, CAP);
  const p = await sys.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0]!, 0);
  await sys.store(p, new Uint8Array(64).fill(1));
  return 0;
}
