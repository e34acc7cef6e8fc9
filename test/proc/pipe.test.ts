import { describe, it, expect } from 'vitest';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import type { PollFd } from '../../src/proc/index.ts';
import {
  FD_CLOEXEC,
  FIONREAD,
  F_GETFD,
  F_GETFL,
  F_GETPIPE_SZ,
  F_SETPIPE_SZ,
  O_CLOEXEC,
  O_DIRECT,
  O_EXCL,
  O_NONBLOCK,
  O_RDONLY,
  O_WRONLY,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLOUT,
  POLLRDNORM,
  POLLWRNORM,
  SEEK_SET,
  S_IFIFO,
  S_IFMT,
} from '../../src/uapi/index.ts';
import { makeCred } from '../../src/fs/index.ts';
import { errno, fdinfoMap, run, setup } from './helpers.ts';

const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

describe('pipe', () => {
  it('returns [read end, write end] on pipefs, FIFOs that cannot seek, each named pipe:[ino]', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const [r, w] = await sys.pipe();
      expect([r, w]).toEqual([0, 1]);
      const ino = (await sys.fstat(r)).st_ino;
      expect(await sys.readlink('/proc/self/fd/0')).toBe(`pipe:[${ino}]`);
      expect(await sys.readlink('/proc/self/fd/1')).toBe(`pipe:[${ino}]`);
      const st = await sys.fstat(w);
      expect(st.st_mode & S_IFMT).toBe(S_IFIFO);
      expect(st.st_mode & 0o777).toBe(0o600);
      expect(await sys.fcntl(r, F_GETFL)).toBe(O_RDONLY);
      expect(await sys.fcntl(w, F_GETFL)).toBe(O_WRONLY);
      expect(fdinfoMap(await sys.readFile('/proc/self/fdinfo/1')).mnt_id).toBe('13');
      expect(await errno(sys.lseek(r, 0, SEEK_SET))).toBe('ESPIPE');
      expect(await errno(sys.pread(r, 1, 0))).toBe('ESPIPE');
      expect(await errno(sys.read(w, 1))).toBe('EBADF');
      expect(await errno(sys.write(r, fill(1, 1)))).toBe('EBADF');
      expect(await errno(sys.fsync(r))).toBe('EINVAL');
      expect(await errno(sys.ftruncate(w, 0))).toBe('EINVAL');
      expect(await sys.fcntl(r, F_GETPIPE_SZ)).toBe(16 * PAGE_SIZE);
      const [c1, c2] = await sys.pipe2(O_CLOEXEC | O_NONBLOCK);
      expect(await sys.fcntl(c1, F_GETFD)).toBe(FD_CLOEXEC);
      expect(await sys.fcntl(c2, F_GETFL)).toBe(O_WRONLY | O_NONBLOCK);
      const [, d] = await sys.pipe2(O_DIRECT);
      expect(await sys.fcntl(d, F_GETFL)).toBe(O_WRONLY | O_DIRECT);
      expect(await errno(sys.pipe2(O_EXCL))).toBe('EINVAL');
      expect(await errno(sys.pipe2(0x1))).toBe('EINVAL');
    });
  });

  it('reads what is there without waiting for more, end of file once no writer is left', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const [r, w] = await sys.pipe();
      expect(await sys.write(w, Uint8Array.of(1, 2, 3))).toBe(3);
      expect(await sys.write(w, Uint8Array.of(4, 5))).toBe(2);
      const n = { value: -1 };
      await sys.ioctl(r, FIONREAD, n);
      expect(n.value).toBe(5);
      expect(await sys.read(r, 2)).toEqual(Uint8Array.of(1, 2));
      expect(await sys.read(r, 100)).toEqual(Uint8Array.of(3, 4, 5));
      expect(await sys.read(r, 0)).toEqual(new Uint8Array(0));
      await sys.close(w);
      expect(await sys.read(r, 100)).toEqual(new Uint8Array(0));
      expect(await errno(sys.ioctl(r, 0x1234, {}))).toBe('ENOTTY');
    });
  });

  it('blocks a reader in simulated time until a writer in another process writes', async () => {
    const s = setup();
    const clock = s.soc.clock;
    await run(s, async (sys) => {
      const [r, w] = await sys.pipe();
      const child = await sys.fork(async (c) => {
        await c.close(r);
        await clock.sleep(3_000_000);
        await c.write(w, Uint8Array.of(42));
        await clock.sleep(1_000_000);
        return 0;
      });
      await sys.close(w);
      const t0 = clock.now;
      expect(await sys.read(r, 10)).toEqual(Uint8Array.of(42));
      expect(clock.now - t0).toBe(3_000_000);
      // the child exits: its write end goes, the reader sees end of file
      expect(await sys.read(r, 10)).toEqual(new Uint8Array(0));
      expect(clock.now - t0).toBe(4_000_000);
      await sys.wait(child);
    });
  });

  it('holds 16 pages; small writes merge into the last page; a full pipe is EAGAIN for a non-blocking writer', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const [r, w] = await sys.pipe2(O_NONBLOCK);
      expect(await errno(sys.read(r, 10))).toBe('EAGAIN');
      expect(await sys.write(w, fill(15 * PAGE_SIZE, 7))).toBe(15 * PAGE_SIZE);
      // 100 one-byte writes share the sixteenth buffer
      for (let i = 0; i < 100; i++) await sys.write(w, Uint8Array.of(i));
      // it has room left, but a page-sized write needs a buffer of its own
      expect(await errno(sys.write(w, fill(PAGE_SIZE, 1)))).toBe('EAGAIN');
      expect(await sys.write(w, fill(PAGE_SIZE - 100, 1))).toBe(PAGE_SIZE - 100);
      expect(await errno(sys.write(w, fill(1, 1)))).toBe('EAGAIN');
      expect(await sys.read(r, 100)).toEqual(fill(100, 7));
      expect(await errno(sys.write(w, fill(1, 1)))).toBe('EAGAIN');
      // a read goes on into the next buffer: the first one is free again
      expect((await sys.read(r, PAGE_SIZE)).length).toBe(PAGE_SIZE);
      // one buffer freed: a large non-blocking write takes one page and stops
      expect(await sys.write(w, fill(3 * PAGE_SIZE, 2))).toBe(PAGE_SIZE);
      const all = await sys.read(r, 20 * PAGE_SIZE);
      expect(all.length).toBe(16 * PAGE_SIZE - 100);
      expect(Array.from(all.subarray(14 * PAGE_SIZE - 100, 14 * PAGE_SIZE))).toEqual(Array.from({ length: 100 }, (_, i) => i));
      const p: PollFd[] = [{ fd: w, events: POLLOUT }];
      expect(await sys.poll(p, 0)).toBe(1);
    });
  });

  it('a blocking writer of more than the pipe holds waits for the reader and writes it all', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const [r, w] = await sys.pipe();
      const big = Uint8Array.from({ length: 40 * PAGE_SIZE + 123 }, (_, i) => (i * 13) & 0xff);
      const child = await sys.fork(async (c) => {
        await c.close(r);
        expect(await c.write(w, big)).toBe(big.length);
        return 0;
      });
      await sys.close(w);
      const parts: Uint8Array[] = [];
      for (let chunk = await sys.read(r, 5000); chunk.length > 0; chunk = await sys.read(r, 5000)) parts.push(chunk);
      const all = Buffer.concat(parts);
      expect(all.length).toBe(big.length);
      expect(Buffer.compare(all, big)).toBe(0);
      expect((await sys.wait(child)).status).toBe(0);
    });
  });

  it('a write with no reader left is EPIPE and SIGPIPE kills the writer', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const [r, w] = await sys.pipe();
      const p: PollFd[] = [{ fd: w, events: POLLOUT }];
      await sys.close(r);
      expect(await sys.poll(p, 0)).toBe(1);
      expect(p[0]!.revents).toBe(POLLOUT | POLLERR);
      const child = await sys.fork(async (c) => {
        await c.write(w, Uint8Array.of(1));
        return 0;
      });
      const st = await sys.wait(child);
      expect(st.status).toBe(128 + 13);
      expect(st.signal).toBe(13);
    });
  });

  it('polls as Linux pipes do: IN when data, HUP without writers, OUT while room, ERR without readers; a write wakes a poller', async () => {
    const s = setup();
    const clock = s.soc.clock;
    await run(s, async (sys) => {
      const [r, w] = await sys.pipe();
      const fds: PollFd[] = [
        { fd: r, events: POLLIN | POLLOUT },
        { fd: w, events: POLLIN | POLLOUT },
      ];
      expect(await sys.poll(fds, 0)).toBe(1);
      expect(fds.map((f) => f.revents)).toEqual([0, POLLOUT]);
      const child = await sys.fork(async (c) => {
        await clock.sleep(5_000_000);
        await c.write(w, Uint8Array.of(1));
      });
      const t0 = clock.now;
      expect(await sys.poll([{ fd: r, events: POLLIN }], -1)).toBe(1);
      expect(clock.now - t0).toBe(5_000_000);
      await sys.wait(child);
      await sys.close(w);
      const rr: PollFd[] = [{ fd: r, events: POLLIN | POLLRDNORM }];
      expect(await sys.poll(rr, 0)).toBe(1);
      expect(rr[0]!.revents).toBe(POLLIN | POLLRDNORM | POLLHUP);
      await sys.read(r, 1);
      expect(await sys.poll(rr, 0)).toBe(1);
      expect(rr[0]!.revents).toBe(POLLHUP);
      const [r2, w2] = await sys.pipe();
      const ww: PollFd[] = [{ fd: w2, events: POLLOUT | POLLWRNORM }];
      await sys.poll(ww, 0);
      expect(ww[0]!.revents).toBe(POLLOUT | POLLWRNORM);
      await sys.close(r2);
    });
  });

  it('O_DIRECT writers make packets: a read takes one whole packet and drops what does not fit', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const [r, w] = await sys.pipe2(O_DIRECT);
      await sys.write(w, Uint8Array.of(1, 2, 3));
      await sys.write(w, Uint8Array.of(4, 5));
      expect(await sys.read(r, 100)).toEqual(Uint8Array.of(1, 2, 3));
      expect(await sys.read(r, 1)).toEqual(Uint8Array.of(4));
      const n = { value: -1 };
      await sys.ioctl(r, FIONREAD, n);
      expect(n.value).toBe(0);
    });
  });

  it('F_SETPIPE_SZ rounds up to a power of two of pages, refuses to drop data (EBUSY) and, unprivileged, to pass 1 MiB (EPERM)', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const [r, w] = await sys.pipe2(O_NONBLOCK);
      expect(await sys.fcntl(w, F_SETPIPE_SZ, 3 * PAGE_SIZE)).toBe(4 * PAGE_SIZE);
      expect(await sys.fcntl(r, F_GETPIPE_SZ)).toBe(4 * PAGE_SIZE);
      expect(await sys.fcntl(w, F_SETPIPE_SZ, 0)).toBe(PAGE_SIZE);
      await sys.write(w, fill(10, 1));
      expect(await errno(sys.write(w, fill(PAGE_SIZE, 1)))).toBe('EAGAIN');
      expect(await sys.fcntl(w, F_SETPIPE_SZ, 2 * PAGE_SIZE)).toBe(2 * PAGE_SIZE);
      expect(await sys.write(w, fill(PAGE_SIZE, 2))).toBe(PAGE_SIZE);
      expect(await errno(sys.fcntl(w, F_SETPIPE_SZ, PAGE_SIZE))).toBe('EBUSY');
      expect((await sys.read(r, 2 * PAGE_SIZE)).length).toBe(PAGE_SIZE + 10);
      expect(await errno(sys.fcntl(w, F_SETPIPE_SZ, 2 ** 31 + 1))).toBe('EINVAL');
      expect(await sys.fcntl(w, F_SETPIPE_SZ, 2 << 20)).toBe(2 << 20);
      const tmp = await sys.open('/tmp', O_RDONLY);
      expect(await errno(sys.fcntl(tmp, F_GETPIPE_SZ))).toBe('EBADF');
    });
    await run(s, async (sys) => {
      const [, w] = await sys.pipe();
      expect(await errno(sys.fcntl(w, F_SETPIPE_SZ, 2 << 20))).toBe('EPERM');
      expect(await sys.fcntl(w, F_SETPIPE_SZ, 1 << 20)).toBe(1 << 20);
    }, makeCred(1000, 1000));
  });

  it('is EMFILE with fewer than two free fds and leaves nothing open', async () => {
    const s = setup();
    await run(
      s,
      async (sys) => {
        await sys.open('/tmp', O_RDONLY);
        expect(await errno(sys.pipe())).toBe('EMFILE');
      },
      undefined,
      2,
    );
    expect(s.k.vfs.openFileCount).toBe(0);
  });
});
