// Allocates a buffer from the system dma-heap, shares it with a child process
// over a Unix socket, and checks that both sides see the same bytes through
// their own mmap of the dma-buf, bracketing CPU access with DMA_BUF_IOCTL_SYNC.
import {
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_START,
  DMA_BUF_SYNC_WRITE,
  DMA_HEAP_IOCTL_ALLOC,
  MAP_SHARED,
  O_CLOEXEC,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
} from 'unimem/uapi';
import type { Sys } from 'unimem';

const SIZE = 64 * 1024;

export default async function main(sys: Sys): Promise<number> {
  const heap = await sys.open('/dev/dma_heap/system', O_RDWR);
  const alloc = { len: SIZE, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0 };
  await sys.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, alloc);
  const buf = alloc.fd;
  const [a, b] = await sys.socketpair();
  const child = await sys.fork(async (c: Sys) => {
    const { fds } = await c.recvmsg(b);
    const p = await c.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0]!, 0);
    await c.ioctl(fds[0]!, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE });
    await c.store(p, new Uint8Array(SIZE).fill(0x5a));
    await c.ioctl(fds[0]!, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE });
    return 0;
  });
  await sys.sendmsg(a, { data: new Uint8Array([1]), fds: [buf] });
  await sys.wait(child);
  const p = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, buf, 0);
  await sys.ioctl(buf, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ });
  const bytes = await sys.load(p, SIZE);
  await sys.ioctl(buf, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ });
  const ok = bytes.every((x) => x === 0x5a);
  await sys.write(1, new TextEncoder().encode(`${ok ? 'same bytes' : 'DIFFERENT bytes'} on both sides of ${SIZE} shared bytes\n`));
  await sys.write(1, new TextEncoder().encode(await sys.readFile(`/proc/self/fdinfo/${buf}`)));
  return ok ? 0 : 1;
}
