import { describe, expect, it } from 'vitest';
import { DMA_BIDIRECTIONAL } from '../../src/dma/index.ts';
import { dmaBufAttach, dmaBufDetach, dmaBufGet, dmaBufPut, dmaBufMapAttachment } from '../../src/dmabuf/index.ts';
import { F_SEAL_SHRINK, F_SEAL_WRITE } from '../../src/uapi/index.ts';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import type { Sys } from '../../src/proc/index.ts';
import {
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_START,
  FD_CLOEXEC,
  F_GETFD,
  MAP_PRIVATE,
  MAP_SHARED,
  O_CREAT,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  UDMABUF_CREATE,
  UDMABUF_CREATE_LIST,
  UDMABUF_FLAGS_CLOEXEC,
} from '../../src/uapi/index.ts';
import { TestMemfd, errno, fdinfo, mismatches, pattern, run, testSystem, type TestSystem } from './helpers.ts';

async function memfd(s: TestSystem, sys: Sys, size: number, seals: number): Promise<[number, TestMemfd]> {
  const m = new TestMemfd(s, size, seals);
  return [m.install(s.k.processes.get(await sys.getpid())!), m];
}

async function create(sys: Sys, dev: number, arg: object, cmd = UDMABUF_CREATE): Promise<string> {
  return errno(sys.ioctl(dev, cmd, arg));
}

describe('udmabuf (kernel side on a DRAM-backed memfd; the process layer has no memfd_create)', () => {
  it('checks offsets, sizes, the size limit, the fd and the seals as Linux does', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const dev = await sys.open('/dev/udmabuf', O_RDWR);
      const [good] = await memfd(s, sys, 16 * PAGE_SIZE, F_SEAL_SHRINK);
      const [unsealed] = await memfd(s, sys, 16 * PAGE_SIZE, 0);
      const [writeSealed] = await memfd(s, sys, 16 * PAGE_SIZE, F_SEAL_SHRINK | F_SEAL_WRITE);
      const tmp = await sys.open('/tmp/plain', O_RDWR | O_CREAT, 0o600);
      const [sock] = await sys.socketpair();
      const c = (memfd: number, offset: number | bigint, size: number | bigint, flags = 0) => create(sys, dev, { memfd, flags, offset, size });
      expect(await c(good, 100, PAGE_SIZE)).toBe('EINVAL');
      expect(await c(good, 0, 100)).toBe('EINVAL');
      expect(await c(good, 0, 0)).toBe('EINVAL');
      expect(await c(good, 0, 65 * 1024 * 1024)).toBe('EINVAL');
      expect(await c(unsealed, 0, PAGE_SIZE)).toBe('EINVAL');
      expect(await c(writeSealed, 0, PAGE_SIZE)).toBe('EINVAL');
      expect(await c(tmp, 0, PAGE_SIZE)).toBe('EINVAL');
      expect(await c(sock, 0, PAGE_SIZE)).toBe('EBADFD');
      expect(await c(99, 0, PAGE_SIZE)).toBe('EBADFD');
      expect(await c(good, 0, 32 * PAGE_SIZE)).toBe('EINVAL'); // beyond the end of the memfd
      expect(await create(sys, dev, { flags: 0, count: 1025, list: [] }, UDMABUF_CREATE_LIST)).toBe('EINVAL');
      expect(await errno(sys.ioctl(dev, 0x1234, {}))).toBe('ENOTTY');
      expect(s.udmabuf.created).toBe(0);
    });
  });

  it('shares the memfd pages without copying: a write through either mapping shows in the other; exp_name udmabuf', async () => {
    const s = testSystem();
    await run(s, async (sys) => {
      const dev = await sys.open('/dev/udmabuf', O_RDWR);
      const [mfd, m] = await memfd(s, sys, 8 * PAGE_SIZE, F_SEAL_SHRINK);
      const a = { memfd: mfd, flags: UDMABUF_FLAGS_CLOEXEC, offset: 2 * PAGE_SIZE, size: 4 * PAGE_SIZE };
      const fd = await sys.ioctl(dev, UDMABUF_CREATE, a);
      expect(await sys.fcntl(fd, F_GETFD)).toBe(FD_CLOEXEC);
      expect((await fdinfo(sys, fd)).exp_name).toBe('udmabuf');
      expect((await fdinfo(sys, fd)).size).toBe(String(4 * PAGE_SIZE));
      const pm = await sys.mmap(0, 8 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
      const pu = await sys.mmap(0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      expect(await errno(sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_PRIVATE, fd, 0))).toBe('EINVAL');
      await sys.store(pm + 2 * PAGE_SIZE, pattern(4 * PAGE_SIZE, 1));
      expect(mismatches(await sys.load(pu, 4 * PAGE_SIZE), pattern(4 * PAGE_SIZE, 1))).toBe(0);
      await sys.store(pu, new Uint8Array([9, 9, 9]));
      expect(Array.from(await sys.load(pm + 2 * PAGE_SIZE, 3))).toEqual([9, 9, 9]);
      // the memfd goes away; the udmabuf keeps its pages
      await sys.munmap(pm, 8 * PAGE_SIZE);
      await sys.close(mfd);
      expect(m.allocated).toBe(0);
      expect(Array.from(await sys.load(pu, 3))).toEqual([9, 9, 9]);
    });
    expect(s.dbs.buffers).toHaveLength(0);
  });

  it('CREATE_LIST joins ranges of several memfds; device mappings are cached until detach; END without START is EINVAL', async () => {
    const s = testSystem();
    const free0 = s.mm.pages.freeCount();
    await run(s, async (sys) => {
      const dev = await sys.open('/dev/udmabuf', O_RDWR);
      const [m1] = await memfd(s, sys, 4 * PAGE_SIZE, F_SEAL_SHRINK);
      const [m2] = await memfd(s, sys, 4 * PAGE_SIZE, F_SEAL_SHRINK);
      const list = [
        { memfd: m1, __pad: 0, offset: 0, size: 2 * PAGE_SIZE },
        { memfd: m2, __pad: 0, offset: PAGE_SIZE, size: 3 * PAGE_SIZE },
      ];
      const fd = await sys.ioctl(dev, UDMABUF_CREATE_LIST, { flags: 0, count: 2, list });
      expect((await fdinfo(sys, fd)).size).toBe(String(5 * PAGE_SIZE));
      expect(await errno(sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ }))).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ }))).toBe('ok');
      expect(await errno(sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ }))).toBe('ok');
      const d = dmaBufGet(s.k.processes.get(await sys.getpid())!, fd);
      const att = await dmaBufAttach(d, s.dma0);
      const t = await dmaBufMapAttachment(att, DMA_BIDIRECTIONAL);
      expect(att.sgt).toBe(t);
      expect(await dmaBufMapAttachment(att, DMA_BIDIRECTIONAL)).toBe(t);
      await dmaBufDetach(d, att);
      await dmaBufPut(d);
    });
    expect(s.mm.pages.freeCount()).toBe(free0);
    expect(s.ctx.debug.liveMappings()).toBe(0);
  });
});
