import { describe, it, expect } from 'vitest';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import { shmemInodeOf, type ShmemInode } from '../../src/fs/index.ts';
import {
  FD_CLOEXEC,
  F_ADD_SEALS,
  F_GETFD,
  F_GET_SEALS,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  MAP_PRIVATE,
  MAP_SHARED,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  MFD_HUGETLB,
  O_CREAT,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  PROT_READ,
  PROT_WRITE,
  SEEK_END,
  SEEK_SET,
  S_IFMT,
  S_IFREG,
} from '../../src/uapi/index.ts';
import { TEST_IOC_EXPORT, errno, fdinfoMap, run, setup, type Setup } from './helpers.ts';
import { pageOwner } from '../../src/mm/page-owner.ts';

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

/** Byte equality without the deep-equality walk (which is slow on tens of KiB). */
function same(a: Uint8Array, b: Uint8Array): void {
  expect(a.length).toBe(b.length);
  expect(Buffer.compare(a, b)).toBe(0);
}

/** The shmem inode behind a process's fd. */
function inodeOf(s: Setup, pid: number, fd: number): ShmemInode {
  const si = shmemInodeOf(s.k.processes.get(pid)!.files.lookup(fd).inode);
  if (!si) throw new Error(`fd ${fd} is not a memfd`);
  return si;
}

describe('memfd_create', () => {
  it('makes an unlinked O_RDWR file named memfd:<name>, with the flags and name checks Linux has', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const fd = await sys.memfd_create('frames', MFD_CLOEXEC);
      expect(fd).toBe(0);
      expect(await sys.readlink('/proc/self/fd/0')).toBe('/memfd:frames (deleted)');
      expect(await sys.fcntl(fd, F_GETFD)).toBe(FD_CLOEXEC);
      const st = await sys.fstat(fd);
      expect(st.st_mode & S_IFMT).toBe(S_IFREG);
      expect(st.st_mode & 0o7777).toBe(0o777);
      expect(st.st_nlink).toBe(0);
      expect(st.st_size).toBe(0);
      expect(st.st_dev).toBe(1);
      expect(fdinfoMap(await sys.readFile('/proc/self/fdinfo/0')).flags).toBe('02100002');
      // a NUL ends the name; 249 bytes is the longest, in UTF-8 bytes
      const fd2 = await sys.memfd_create('a\0b');
      expect(await sys.readlink(`/proc/self/fd/${fd2}`)).toBe('/memfd:a (deleted)');
      expect(await sys.fcntl(fd2, F_GETFD)).toBe(0);
      expect(await errno(sys.memfd_create('x'.repeat(249)))).toBe('ok');
      expect(await errno(sys.memfd_create('x'.repeat(250)))).toBe('EINVAL');
      expect(await errno(sys.memfd_create('é'.repeat(125)))).toBe('EINVAL');
      expect(await errno(sys.memfd_create('x', 0x8))).toBe('EINVAL');
      expect(await errno(sys.memfd_create('x', MFD_HUGETLB | (21 << 26)))).toBe('ENOSYS');
      expect(await errno(sys.memfd_create('x', MFD_HUGETLB | 0x100))).toBe('EINVAL');
      expect(await errno(sys.memfd_create(42 as unknown as string))).toBe('EFAULT');
    });
  });

  it('is EMFILE when the fd table is full, and leaves nothing behind', async () => {
    const s = setup({ rlimitNofile: 1 });
    await run(s, async (sys) => {
      await sys.memfd_create('a');
      expect(await errno(sys.memfd_create('b'))).toBe('EMFILE');
    });
    expect(s.k.shmem.inodeCount).toBe(0);
  });
});

describe('memfd data', () => {
  it('keeps its bytes in DRAM pages from the page allocator, allocated on first write, holes reading zero', async () => {
    const s = setup();
    const pages = s.mm.pages;
    const free0 = pages.freeCount();
    await run(s, async (sys) => {
      const fd = await sys.memfd_create('data');
      const pid = await sys.getpid();
      const data = bytes(3 * PAGE_SIZE, 1);
      expect(await sys.pwrite(fd, data, 5 * PAGE_SIZE + 100)).toBe(data.length);
      const si = inodeOf(s, pid, fd);
      expect(si.size).toBe(8 * PAGE_SIZE + 100);
      // four pages touched (the write straddles), the five before it are holes
      expect(si.nrPages).toBe(4);
      expect((await sys.fstat(fd)).st_blocks).toBe(32);
      expect(free0 - pages.freeCount()).toBe(4);
      for (let i = 0; i < 5; i++) expect(si.findPage(i)).toBe(-1);
      // the bytes are in the frames, as the CPU sees physical memory
      const pfn = si.findPage(6);
      const seen = new Uint8Array(PAGE_SIZE);
      s.soc.cpu.load(pfn * PAGE_SIZE, seen, 0, PAGE_SIZE, 'wb');
      same(seen, data.subarray(PAGE_SIZE - 100, 2 * PAGE_SIZE - 100));
      expect(pages.isAllocated(pfn)).toBe(true);
      expect(pages.pageblockType(pfn)).not.toBe('unmovable');
      // read back across the hole: zeros, then the data; the position moves
      await sys.lseek(fd, 0, SEEK_SET);
      const all = await sys.read(fd, 1 << 20);
      expect(all.length).toBe(si.size);
      expect(all.subarray(0, 5 * PAGE_SIZE + 100).every((b) => b === 0)).toBe(true);
      same(all.subarray(5 * PAGE_SIZE + 100), data);
      expect(await sys.read(fd, 10)).toEqual(new Uint8Array(0));
      expect(await sys.lseek(fd, 0, SEEK_END)).toBe(si.size);
      expect(si.nrPages).toBe(4);
    });
    // the last close gave every page back
    expect(pages.freeCount()).toBe(free0);
    expect(s.k.shmem.nrPages).toBe(0);
    expect(s.k.shmem.inodeCount).toBe(0);
  });

  it('maps the same frames write-back cached: stores are read() back and writes are loaded back; private maps copy on write', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const fd = await sys.memfd_create('map');
      await sys.ftruncate(fd, 2 * PAGE_SIZE);
      const a = await sys.mmap(0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      await sys.store(a + 10, Uint8Array.of(1, 2, 3));
      expect(await sys.pread(fd, 3, 10)).toEqual(Uint8Array.of(1, 2, 3));
      await sys.pwrite(fd, Uint8Array.of(9, 8), PAGE_SIZE + 4);
      expect(await sys.load(a + PAGE_SIZE + 4, 2)).toEqual(Uint8Array.of(9, 8));
      const p = await sys.mmap(0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
      await sys.store(p + 10, Uint8Array.of(7));
      expect(await sys.load(p + 10, 3)).toEqual(Uint8Array.of(7, 2, 3));
      expect(await sys.pread(fd, 3, 10)).toEqual(Uint8Array.of(1, 2, 3));
      expect(await sys.load(a + 10, 1)).toEqual(Uint8Array.of(1));
      expect((await sys.readFile('/proc/self/maps')).split('\n')[0]).toMatch(/ rw-p 00000000 00:01 \d+ +\/memfd:map \(deleted\)$/);
      // beyond the end of the file a mapping gets SIGBUS
      const big = await sys.mmap(0, 3 * PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
      const child = await sys.fork(async (c) => {
        await c.load(big + 2 * PAGE_SIZE, 1);
      });
      expect((await sys.wait(child)).status).toBe(128 + 7);
    });
  });

  it('truncation drops pages past the end from the cache and from every mapping, private copies included, and zeroes the tail', async () => {
    const s = setup();
    const pages = s.mm.pages;
    await run(s, async (sys) => {
      const fd = await sys.memfd_create('trunc');
      const pid = await sys.getpid();
      const si = inodeOf(s, pid, fd);
      await sys.write(fd, bytes(4 * PAGE_SIZE, 3));
      const a = await sys.mmap(0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      const p = await sys.mmap(0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
      await sys.load(a, 4 * PAGE_SIZE);
      await sys.store(p + 3 * PAGE_SIZE, Uint8Array.of(1));
      const free = pages.freeCount();
      await sys.ftruncate(fd, PAGE_SIZE + 10);
      expect(si.nrPages).toBe(2);
      // the two cache pages past the end, and the private copy of page 3 (a DRAM page too)
      expect(pages.freeCount()).toBe(free + 3);
      // grow again: the tail of the page the end fell in and the new pages read zero
      await sys.ftruncate(fd, 3 * PAGE_SIZE);
      const back = await sys.pread(fd, 3 * PAGE_SIZE, 0);
      same(back.subarray(0, PAGE_SIZE + 10), bytes(4 * PAGE_SIZE, 3).subarray(0, PAGE_SIZE + 10));
      expect(back.subarray(PAGE_SIZE + 10).every((b) => b === 0)).toBe(true);
      expect(await sys.load(a + 2 * PAGE_SIZE, 4)).toEqual(new Uint8Array(4));
      // the private copy of page 3 went with the truncation: past the end again, SIGBUS
      const child = await sys.fork(async (c) => {
        await c.load(p + 3 * PAGE_SIZE, 1);
      });
      expect((await sys.wait(child)).status).toBe(128 + 7);
      expect(await errno(sys.ftruncate(fd, -1))).toBe('EINVAL');
    });
  });

  it('reopens through /proc/self/fd on the same inode, read-only if asked, O_TRUNC included', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const fd = await sys.memfd_create('share', MFD_ALLOW_SEALING);
      await sys.write(fd, bytes(100, 5));
      const ro = await sys.open(`/proc/self/fd/${fd}`, O_RDONLY);
      expect(await sys.read(ro, 200)).toEqual(bytes(100, 5));
      expect(await errno(sys.write(ro, Uint8Array.of(1)))).toBe('EBADF');
      expect((await sys.fstat(ro)).st_ino).toBe((await sys.fstat(fd)).st_ino);
      await sys.fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK);
      expect(await errno(sys.open(`/proc/self/fd/${fd}`, O_RDWR | O_TRUNC))).toBe('EPERM');
      await sys.close(fd);
      // the inode lives while the reopened file does
      expect(await sys.pread(ro, 3, 0)).toEqual(bytes(3, 5));
    });
    expect(s.k.shmem.inodeCount).toBe(0);
  });
});

describe('memfd seals', () => {
  it('are F_SEAL_SEAL without MFD_ALLOW_SEALING; tmpfs files carry it too; other files have none (EINVAL)', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const fd = await sys.memfd_create('sealed');
      expect(await sys.fcntl(fd, F_GET_SEALS)).toBe(F_SEAL_SEAL);
      expect(await errno(sys.fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK))).toBe('EPERM');
      const tmp = await sys.open('/tmp/t', O_RDWR | O_CREAT);
      expect(await sys.fcntl(tmp, F_GET_SEALS)).toBe(F_SEAL_SEAL);
      expect(await errno(sys.fcntl(tmp, F_ADD_SEALS, F_SEAL_SHRINK))).toBe('EPERM');
      const dev = await sys.open('/dev/testbuf', O_RDWR);
      const a = { size: PAGE_SIZE, fd: -1, flags: O_RDWR };
      await sys.ioctl(dev, TEST_IOC_EXPORT, a);
      expect(await errno(sys.fcntl(a.fd, F_GET_SEALS))).toBe('EINVAL');
      expect(await errno(sys.fcntl(a.fd, F_ADD_SEALS, F_SEAL_SHRINK))).toBe('EINVAL');
      const ro = { size: PAGE_SIZE, fd: -1, flags: O_RDONLY };
      await sys.ioctl(dev, TEST_IOC_EXPORT, ro);
      // the write-access check comes first
      expect(await errno(sys.fcntl(ro.fd, F_ADD_SEALS, F_SEAL_SHRINK))).toBe('EPERM');
    });
  });

  it('shrink and grow seals stop ftruncate and growing writes (a write cut at the end returns what fit)', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const fd = await sys.memfd_create('sg', MFD_ALLOW_SEALING);
      expect(await sys.fcntl(fd, F_GET_SEALS)).toBe(0);
      await sys.ftruncate(fd, 2 * PAGE_SIZE);
      expect(await errno(sys.fcntl(fd, F_ADD_SEALS, 0x20))).toBe('EINVAL');
      expect(await errno(sys.fcntl(fd, F_ADD_SEALS, 2 ** 32))).toBe('EINVAL');
      await sys.fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK);
      expect(await errno(sys.ftruncate(fd, PAGE_SIZE))).toBe('EPERM');
      await sys.ftruncate(fd, 3 * PAGE_SIZE);
      await sys.fcntl(fd, F_ADD_SEALS, F_SEAL_GROW);
      expect(await sys.fcntl(fd, F_GET_SEALS)).toBe(F_SEAL_SHRINK | F_SEAL_GROW);
      expect(await errno(sys.ftruncate(fd, 4 * PAGE_SIZE))).toBe('EPERM');
      await sys.ftruncate(fd, 3 * PAGE_SIZE);
      expect(await sys.pwrite(fd, bytes(200, 1), 3 * PAGE_SIZE - 100)).toBe(100);
      expect(await errno(sys.pwrite(fd, bytes(10, 1), 3 * PAGE_SIZE))).toBe('EPERM');
      expect((await sys.fstat(fd)).st_size).toBe(3 * PAGE_SIZE);
      await sys.fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL);
      expect(await errno(sys.fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE))).toBe('EPERM');
      expect(await errno(sys.fcntl(fd, F_ADD_SEALS, 0))).toBe('EPERM');
    });
  });

  it('F_SEAL_WRITE: EBUSY while a shared mapping may write; then writes and shared writable-fd mappings are EPERM', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const fd = await sys.memfd_create('w', MFD_ALLOW_SEALING);
      await sys.write(fd, bytes(PAGE_SIZE, 2));
      const m = await sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
      expect(await errno(sys.fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE))).toBe('EBUSY');
      await sys.munmap(m, PAGE_SIZE);
      const priv = await sys.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
      await sys.fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE);
      expect(await errno(sys.write(fd, Uint8Array.of(1)))).toBe('EPERM');
      expect(await errno(sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0))).toBe('EPERM');
      await sys.store(priv, Uint8Array.of(0xee));
      expect(await sys.pread(fd, 1, 0)).toEqual(bytes(1, 2));
      // a read-only description may map it shared
      const ro = await sys.open(`/proc/self/fd/${fd}`, O_RDONLY);
      const r = await sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, ro, 0);
      expect(await sys.load(r, 4)).toEqual(bytes(4, 2));
    });
  });

  it('F_SEAL_FUTURE_WRITE: no writes, no new writable shared mappings, existing ones keep writing', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const fd = await sys.memfd_create('fw', MFD_ALLOW_SEALING);
      await sys.ftruncate(fd, PAGE_SIZE);
      const w = await sys.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      await sys.fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE);
      expect(await errno(sys.write(fd, Uint8Array.of(1)))).toBe('EPERM');
      expect(await errno(sys.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0))).toBe('EPERM');
      const r = await sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
      await sys.store(w, Uint8Array.of(5));
      expect(await sys.load(r, 1)).toEqual(Uint8Array.of(5));
    });
  });

  it('F_SEAL_WRITE waits about 150 ms of simulated time for other holders of its pages, then EBUSY; a release meanwhile lets it through', async () => {
    const s = setup();
    const clock = s.soc.clock;
    await run(s, async (sys) => {
      const fd = await sys.memfd_create('pins', MFD_ALLOW_SEALING);
      await sys.ftruncate(fd, 2 * PAGE_SIZE);
      const si = inodeOf(s, await sys.getpid(), fd);
      // a kernel user (as udmabuf does) holds page 1
      const pfn = si.readPage(1);
      let t0 = clock.now;
      expect(await errno(sys.fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE))).toBe('EBUSY');
      // the wait, plus the call's own few microseconds of CPU time
      expect(clock.now - t0).toBeGreaterThanOrEqual(150_000_000);
      expect(clock.now - t0).toBeLessThan(150_010_000);
      // the failed seal allows shared mappings again
      const m = await sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
      await sys.munmap(m, PAGE_SIZE);
      // released 25 ms in: the 10 ms check still sees it, the 30 ms one does not
      clock.after(25_000_000, () => si.putPage(pfn));
      t0 = clock.now;
      expect(await sys.fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE)).toBe(0);
      expect(clock.now - t0).toBe(30_000_000);
    });
  });

  it('pages someone else holds outlive the file and belong to nobody after it', async () => {
    const s = setup();
    const pages = s.mm.pages;
    const free0 = pages.freeCount();
    let held = -1;
    let si: ShmemInode | null = null;
    await run(s, async (sys) => {
      const fd = await sys.memfd_create('held');
      await sys.write(fd, bytes(2 * PAGE_SIZE, 9));
      si = inodeOf(s, await sys.getpid(), fd);
      held = si.readPage(1);
      expect(await errno(Promise.resolve().then(() => si!.readPage(2)))).toBe('EINVAL');
    });
    expect(pages.freeCount()).toBe(free0 - 1);
    expect(pageOwner(pages, held)).toBe(0);
    const seen = new Uint8Array(PAGE_SIZE);
    s.soc.cpu.load(held * PAGE_SIZE, seen, 0, PAGE_SIZE, 'wb');
    same(seen, bytes(2 * PAGE_SIZE, 9).subarray(PAGE_SIZE));
    si!.putPage(held);
    expect(pages.freeCount()).toBe(free0);
  });
});

describe('memfd pages and CMA', () => {
  it('are movable: a CMA allocation migrates them, the file keeps its bytes and its mappings refault the new frames', async () => {
    const s = setup({ mm: { cma: { default: 32 * 1024 * 1024 } } });
    const area = s.mm.defaultCma!;
    const data = bytes(8 * PAGE_SIZE, 4);
    await run(s, async (sys) => {
      const fd = await sys.memfd_create('movable');
      await sys.write(fd, data);
      const si = inodeOf(s, await sys.getpid(), fd);
      const before = Array.from({ length: 8 }, (_, i) => si.findPage(i));
      // CMA holds most free memory, so movable pages land there first
      expect(before.every((pfn) => area.contains(pfn))).toBe(true);
      const m = await sys.mmap(0, 8 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      same(await sys.load(m, 8 * PAGE_SIZE), data);
      const got = await area.alloc(area.count);
      expect(got).toBe(area.basePfn);
      const after = Array.from({ length: 8 }, (_, i) => si.findPage(i));
      expect(after.some((pfn) => area.contains(pfn))).toBe(false);
      same(await sys.pread(fd, data.length, 0), data);
      same(await sys.load(m, 8 * PAGE_SIZE), data);
      expect(si.vmas.size).toBe(1);
      for (const v of si.vmas) for (const p of v.pfns) expect(area.contains(p)).toBe(false);
      await sys.store(m + 5, Uint8Array.of(0x42));
      expect(await sys.pread(fd, 1, 5)).toEqual(Uint8Array.of(0x42));
      area.release(got!, area.count);
    });
  });

  it('held pages do not move: a page a kernel user references keeps CMA from its range', async () => {
    const s = setup({ mm: { cma: { default: 32 * 1024 * 1024 } } });
    const area = s.mm.defaultCma!;
    await run(s, async (sys) => {
      const fd = await sys.memfd_create('pinned');
      await sys.ftruncate(fd, PAGE_SIZE);
      const si = inodeOf(s, await sys.getpid(), fd);
      const pfn = si.readPage(0);
      expect(area.contains(pfn)).toBe(true);
      expect(await area.tryAlloc(area.count)).toBe(null);
      expect(si.findPage(0)).toBe(pfn);
      si.putPage(pfn);
    });
  });
});

describe('fsync and ftruncate', () => {
  it('work on tmpfs and memfds, are EINVAL where Linux says so', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const tmp = await sys.open('/tmp/f', O_RDWR | O_CREAT);
      await sys.write(tmp, bytes(10, 0));
      await sys.fsync(tmp);
      await sys.fdatasync(tmp);
      await sys.ftruncate(tmp, 4);
      expect((await sys.fstat(tmp)).st_size).toBe(4);
      await sys.ftruncate(tmp, 8);
      expect(await sys.pread(tmp, 8, 0)).toEqual(Uint8Array.of(0, 7, 14, 21, 0, 0, 0, 0));
      const ro = await sys.open('/tmp/f', O_RDONLY);
      expect(await errno(sys.ftruncate(ro, 0))).toBe('EINVAL');
      expect(await errno(sys.ftruncate(tmp, -1))).toBe('EINVAL');
      expect(await errno(sys.ftruncate(99, -1))).toBe('EINVAL');
      expect(await errno(sys.ftruncate(99, 0))).toBe('EBADF');
      expect(await errno(sys.ftruncate(tmp, 2 ** 31))).toBe('EFBIG');
      expect(await errno(sys.fsync(99))).toBe('EBADF');
      const dir = await sys.open('/tmp', O_RDONLY);
      await sys.fsync(dir);
      expect(await errno(sys.ftruncate(dir, 0))).toBe('EINVAL');
      const mfd = await sys.memfd_create('m');
      await sys.fsync(mfd);
      const [a] = await sys.socketpair();
      expect(await errno(sys.fsync(a))).toBe('EINVAL');
      expect(await errno(sys.ftruncate(a, 0))).toBe('EINVAL');
      const dev = await sys.open('/dev/testbuf', O_RDWR);
      expect(await errno(sys.fsync(dev))).toBe('EINVAL');
      expect(await errno(sys.ftruncate(dev, 0))).toBe('EINVAL');
    });
  });
});

