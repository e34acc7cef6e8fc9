// A producer thread and a consumer thread of one process pass frames through
// one dma-buf: both use the same mmap of it (threads share the address space)
// and the same fds. The producer fills a frame between DMA_BUF_IOCTL_SYNC START
// and END and writes its number to a pipe; the consumer reads the number,
// checks the frame, and acks on a second pipe so the producer may go on.
// main joins both and prints what each thread saw.
import {
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_START,
  DMA_BUF_SYNC_WRITE,
  DMA_HEAP_IOCTL_ALLOC,
  MAP_SHARED,
  O_CLOEXEC,
  O_RDONLY,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
} from 'unimem/uapi';
import type { Sys } from 'unimem';

const SIZE = 64 * 1024;
const FRAMES = 4;

export default async function main(sys: Sys): Promise<number> {
  const out = (s: string) => sys.write(1, new TextEncoder().encode(s));
  const heap = await sys.open('/dev/dma_heap/system', O_RDWR);
  const alloc = { len: SIZE, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0 };
  await sys.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, alloc);
  await sys.close(heap);
  const buf = alloc.fd;
  const map = await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
  const [ready, readyW] = await sys.pipe();
  const [ack, ackW] = await sys.pipe();

  const producer = await sys.threadCreate(async (t: Sys) => {
    for (let i = 1; i <= FRAMES; i++) {
      await t.ioctl(buf, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE });
      await t.store(map, new Uint8Array(SIZE).fill(i * 0x11));
      await t.ioctl(buf, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE });
      await t.write(readyW, Uint8Array.of(i));
      await t.read(ack, 1);
    }
    await t.close(readyW);
    return `producer tid ${await t.gettid()} of pid ${await t.getpid()}: ${FRAMES} frames`;
  });

  const consumer = await sys.threadCreate(async (t: Sys) => {
    let good = 0;
    for (let got = await t.read(ready, 1); got.length > 0; got = await t.read(ready, 1)) {
      await t.ioctl(buf, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ });
      const frame = await t.load(map, SIZE);
      await t.ioctl(buf, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ });
      if (frame.every((b) => b === got[0]! * 0x11)) good++;
      await t.write(ackW, got);
    }
    return good;
  });

  // both threads are listed under /proc/self/task, after the main thread
  const dir = await sys.open('/proc/self/task', O_RDONLY);
  const tids = (await sys.getdents64(dir, 4096)).map((d) => d.d_name).filter((n) => n !== '.' && n !== '..');
  await sys.close(dir);

  await out(`${String(await sys.threadJoin(producer))}\n`);
  const good = (await sys.threadJoin(consumer)) as number;
  await out(`consumer tid ${consumer}: ${good} of ${FRAMES} frames as written\n`);
  await out(`threads: ${tids.join(' ')}\n`);
  await sys.munmap(map, SIZE);
  return good === FRAMES ? 0 : 1;
}
