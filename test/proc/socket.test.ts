import { describe, it, expect } from 'vitest';
import type { PollFd } from '../../src/proc/index.ts';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import {
  MAP_SHARED,
  MSG_CMSG_CLOEXEC,
  MSG_CTRUNC,
  MSG_DONTWAIT,
  O_CREAT,
  O_NONBLOCK,
  O_RDWR,
  F_GETFD,
  FD_CLOEXEC,
  POLLHUP,
  POLLIN,
  POLLOUT,
  PROT_READ,
  PROT_WRITE,
  SCM_MAX_FD,
} from '../../src/uapi/index.ts';
import { exportTestBuf, errno, run, setup } from './helpers.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

describe('unix socket pairs with SCM_RIGHTS', () => {
  it('passes an fd to a child; the parent sees what the child wrote through its mapping (scm_rights_parent_sees_child_write)', async () => {
    const s = setup();
    const status = await run(s, async (sys) => {
      const [a, b] = await sys.socketpair();
      const child = await sys.fork(async (c) => {
        await c.close(a);
        const m = await c.recvmsg(b);
        expect(dec.decode(m.data)).toBe('buf');
        expect(m.flags).toBe(0);
        const [fd] = m.fds;
        expect(await c.readlink(`/proc/self/fd/${fd}`)).toBe('/dmabuf:');
        expect(await c.fcntl(fd!, F_GETFD)).toBe(0);
        const p = await c.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd!, 0);
        await c.store(p, new Uint8Array(PAGE_SIZE).fill(0x5a));
        await c.sendmsg(b, { data: enc.encode('done') });
        return 0;
      });
      await sys.close(b);
      const fd = await exportTestBuf(sys, PAGE_SIZE);
      const p = await sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
      await sys.sendmsg(a, { data: enc.encode('buf'), fds: [fd] });
      expect(dec.decode((await sys.recvmsg(a)).data)).toBe('done');
      const got = await sys.load(p, PAGE_SIZE);
      expect(got.every((x) => x === 0x5a)).toBe(true);
      expect((await sys.wait(child)).status).toBe(0);
    });
    expect(status).toBe(0);
    expect(s.k.vfs.openFileCount).toBe(0);
  });

  it('an fd in flight keeps its file alive after the sender closed it', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const [a, b] = await sys.socketpair();
      const fd = await exportTestBuf(sys, PAGE_SIZE);
      await sys.sendmsg(a, { fds: [fd, fd] });
      await sys.close(fd);
      expect(s.dev.bufs[0]!.released).toBe(0);
      const m = await sys.recvmsg(b, { flags: MSG_CMSG_CLOEXEC });
      expect(m.fds).toEqual([2, 3]);
      expect(await sys.fcntl(2, F_GETFD)).toBe(FD_CLOEXEC);
      expect(await sys.readlink('/proc/self/fd/3')).toBe('/dmabuf:');
      await sys.close(2);
      expect(s.dev.bufs[0]!.released).toBe(0);
      await sys.close(3);
      expect(s.dev.bufs[0]!.released).toBe(1);
    });
  });

  it('a receiver that cannot take every fd gets MSG_CTRUNC and the rest are closed', async () => {
    const s = setup();
    await run(
      s,
      async (sys) => {
        const [a, b] = await sys.socketpair();
        const fds = [await exportTestBuf(sys, PAGE_SIZE), await exportTestBuf(sys, PAGE_SIZE), await exportTestBuf(sys, PAGE_SIZE)];
        expect(fds).toEqual([3, 4, 5]); // each export briefly holds the device at fd 2
        await sys.sendmsg(a, { data: enc.encode('x'), fds });
        for (const fd of fds) await sys.close(fd);
        // a table with room for two more fds
        await sys.open('/tmp/f1', O_CREAT | O_RDWR);
        await sys.open('/tmp/f2', O_CREAT | O_RDWR);
        await sys.open('/tmp/f3', O_CREAT | O_RDWR);
        const m = await sys.recvmsg(b);
        expect(m.fds).toEqual([5, 6]);
        expect(m.flags & MSG_CTRUNC).toBe(MSG_CTRUNC);
        expect(s.dev.bufs.map((x) => x.released)).toEqual([0, 0, 1]);
        // a small control buffer truncates too
        await sys.close(5);
        await sys.close(6);
        await sys.sendmsg(a, { fds: [0] });
        const m2 = await sys.recvmsg(b, { maxFds: 0 });
        expect(m2.fds).toEqual([]);
        expect(m2.flags).toBe(MSG_CTRUNC);
      },
      undefined,
      7,
    );
    expect(s.k.vfs.openFileCount).toBe(0);
  });

  it('errors: ENOTSOCK, EBADF for a bad fd in the message, EINVAL past SCM_MAX_FD, EPIPE after the peer closed, EAGAIN when non-blocking', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const [a, b] = await sys.socketpair(O_NONBLOCK);
      const f = await sys.open('/tmp/f', O_CREAT | O_RDWR);
      expect(await errno(sys.sendmsg(f, { data: enc.encode('x') }))).toBe('ENOTSOCK');
      expect(await errno(sys.recvmsg(f))).toBe('ENOTSOCK');
      expect(await errno(sys.sendmsg(a, { fds: [f, 99] }))).toBe('EBADF');
      expect(await errno(sys.sendmsg(a, { fds: new Array(SCM_MAX_FD + 1).fill(f) }))).toBe('EINVAL');
      expect(await errno(sys.recvmsg(b))).toBe('EAGAIN');
      expect(await errno(sys.recvmsg(b, { flags: MSG_DONTWAIT }))).toBe('EAGAIN');
      await sys.sendmsg(a, { data: enc.encode('last') });
      await sys.close(a);
      expect(dec.decode((await sys.recvmsg(b)).data)).toBe('last');
      const eof = await sys.recvmsg(b);
      expect(eof.data.length).toBe(0);
      expect(await errno(sys.sendmsg(b, { data: enc.encode('x') }))).toBe('EPIPE');
      const pfd: PollFd[] = [{ fd: b, events: POLLIN | POLLOUT }];
      expect(await sys.poll(pfd, 0)).toBe(1);
      expect(pfd[0]!.revents! & (POLLIN | POLLHUP)).toBe(POLLIN | POLLHUP);
      expect(await sys.readlink(`/proc/self/fd/${b}`)).toMatch(/^socket:\[\d+\]$/);
      expect(await errno(sys.lseek(b, 0, 0))).toBe('ESPIPE');
    });
    expect(s.k.vfs.openFileCount).toBe(0);
  });

  it('a message refused (EAGAIN on a full non-blocking peer, EMSGSIZE) drops the references to the fds it carried', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const [a, b] = await sys.socketpair(O_NONBLOCK);
      const f = await sys.open('/tmp/f', O_CREAT | O_RDWR);
      const big = new Uint8Array(100_000);
      await sys.sendmsg(a, { data: big });
      await sys.sendmsg(a, { data: big });
      expect(await errno(sys.sendmsg(a, { data: big, fds: [f] }))).toBe('EAGAIN');
      expect(await errno(sys.sendmsg(a, { data: new Uint8Array(1 << 20), fds: [f] }))).toBe('EMSGSIZE');
      // the two queued messages carry no fds; the refused ones left none behind
      expect((await sys.recvmsg(b)).fds).toEqual([]);
      for (const fd of [a, b, f]) await sys.close(fd);
    });
    expect(s.k.vfs.openFileCount).toBe(0);
  });

  it('a full peer queue blocks the sender until the receiver drains it', async () => {
    const s = setup();
    const order: string[] = [];
    await run(s, async (sys) => {
      const [a, b] = await sys.socketpair();
      const big = new Uint8Array(100_000);
      await sys.sendmsg(a, { data: big });
      await sys.sendmsg(a, { data: big });
      const child = await sys.fork(async (c) => {
        order.push('child-send');
        await c.sendmsg(a, { data: big });
        order.push('child-sent');
        return 0;
      });
      await sys.poll([], 1); // let the child block
      order.push('parent-recv');
      await sys.recvmsg(b);
      await sys.wait(child);
      order.push('done');
    });
    expect(order).toEqual(['child-send', 'parent-recv', 'child-sent', 'done']);
  });

  it('collects sockets that only hold each other in flight (unix_gc)', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const [a, b] = await sys.socketpair();
      const [c, d] = await sys.socketpair();
      const fd = await exportTestBuf(sys, PAGE_SIZE);
      // a's peer b holds c, c's peer d holds a and the buffer: a cycle once every fd is closed
      await sys.sendmsg(a, { fds: [c] });
      await sys.sendmsg(c, { fds: [a, fd] });
      await sys.sendmsg(b, { fds: [b] }); // a socket in its own peer's queue
      for (const x of [a, b, c, d, fd]) await sys.close(x);
    });
    expect(s.dev.bufs[0]!.released).toBe(1);
    expect(s.k.sockets.count).toBe(0);
    expect(s.k.vfs.openFileCount).toBe(0);
  });
});
