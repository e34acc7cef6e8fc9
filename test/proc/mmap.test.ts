import { describe, it, expect } from 'vitest';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import { SegfaultError, ProcessUnwind } from '../../src/proc/errors.ts';
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  O_RDONLY,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
} from '../../src/uapi/index.ts';
import { exportTestBuf, errno, fdinfoMap, run, setup, type Setup } from './helpers.ts';

const RW = PROT_READ | PROT_WRITE;

function dram(s: Setup, pa: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  s.soc.mem.read(pa, out);
  return out;
}

describe('mmap of a device buffer', () => {
  it('loads and stores go through the CPU cache: DRAM is stale until a clean, a device write is unseen until an invalidate', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const fd = await exportTestBuf(sys, 4 * PAGE_SIZE);
      const b = s.dev.bufs[0]!;
      const addr = await sys.mmap(0, 4 * PAGE_SIZE, RW, MAP_SHARED, fd, 0);
      expect(s.soc.cpu.cacheableMappings(b.pa)).toBe(1);
      await sys.store(addr + 100, new Uint8Array([1, 2, 3, 4]));
      expect([...(await sys.load(addr + 100, 4))]).toEqual([1, 2, 3, 4]);
      expect([...dram(s, b.pa + 100, 4)]).toEqual([0, 0, 0, 0]);
      s.soc.cache.cleanRange(b.pa, 4 * PAGE_SIZE);
      expect([...dram(s, b.pa + 100, 4)]).toEqual([1, 2, 3, 4]);
      // a device writes behind the cache's back
      s.soc.mem.write(b.pa + 100, new Uint8Array([9, 9, 9, 9]));
      expect([...(await sys.load(addr + 100, 4))]).toEqual([1, 2, 3, 4]);
      s.soc.cache.invalidateRange(b.pa, 4 * PAGE_SIZE);
      expect([...(await sys.load(addr + 100, 4))]).toEqual([9, 9, 9, 9]);
      // a range spanning pages comes back in one piece
      const big = new Uint8Array(3 * PAGE_SIZE).map((_, i) => i & 0xff);
      await sys.store(addr + 10, big);
      expect(await sys.load(addr + 10, big.length)).toEqual(big);
      await sys.munmap(addr, 4 * PAGE_SIZE);
      expect(s.soc.cpu.cacheableMappings(b.pa)).toBe(0);
    });
  });

  it('a write-combined mapping bypasses the cache and is not registered as cacheable', async () => {
    const s = setup();
    s.dev.memType = 'wc';
    await run(s, async (sys) => {
      const fd = await exportTestBuf(sys, PAGE_SIZE);
      const b = s.dev.bufs[0]!;
      const addr = await sys.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, 0);
      expect(s.soc.cpu.cacheableMappings(b.pa)).toBe(0);
      await sys.store(addr, new Uint8Array([5, 6]));
      expect([...dram(s, b.pa, 2)]).toEqual([5, 6]);
    });
  });

  it('a mapping holds a file reference: count goes up on mmap and down on munmap, release waits for both', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const fd = await exportTestBuf(sys, 2 * PAGE_SIZE);
      const count = async (f: number) => Number(fdinfoMap(await sys.readFile(`/proc/self/fdinfo/${f}`)).count);
      expect(await count(fd)).toBe(1);
      const d = await sys.dup(fd);
      expect(await count(fd)).toBe(2);
      const addr = await sys.mmap(0, 2 * PAGE_SIZE, RW, MAP_SHARED, fd, 0);
      expect(await count(fd)).toBe(3);
      await sys.close(d);
      expect(await count(fd)).toBe(2);
      await sys.close(fd);
      expect(s.dev.bufs[0]!.released).toBe(0);
      await sys.store(addr, new Uint8Array([1]));
      await sys.munmap(addr, 2 * PAGE_SIZE);
      expect(s.dev.bufs[0]!.released).toBe(1);
    });
  });

  it('checks permissions and arguments as Linux does', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const ro = await exportTestBuf(sys, 4 * PAGE_SIZE, O_RDONLY);
      expect(await errno(sys.mmap(0, PAGE_SIZE, RW, MAP_SHARED, ro, 0))).toBe('EACCES');
      const a = await sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, ro, 0);
      expect(await errno(sys.mmap(0, PAGE_SIZE, RW, MAP_PRIVATE, ro, 0))).toBe('ok');
      expect(await errno(sys.mmap(0, 0, PROT_READ, MAP_SHARED, ro, 0))).toBe('EINVAL');
      expect(await errno(sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, ro, 100))).toBe('EINVAL');
      expect(await errno(sys.mmap(0, PAGE_SIZE, PROT_READ, 0, ro, 0))).toBe('EINVAL');
      expect(await errno(sys.mmap(0, 5 * PAGE_SIZE, PROT_READ, MAP_SHARED, ro, 0))).toBe('EINVAL');
      expect(await errno(sys.mmap(0, 2 * PAGE_SIZE, PROT_READ, MAP_SHARED, ro, 3 * PAGE_SIZE))).toBe('EINVAL');
      expect(await errno(sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, 99, 0))).toBe('EBADF');
      expect(await errno(sys.mmap(a + 1, PAGE_SIZE, PROT_READ, MAP_SHARED | MAP_FIXED, ro, 0))).toBe('EINVAL');
      const tmp = await sys.open('/tmp/f', 0o100 | O_RDWR);
      expect(await errno(sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, tmp, 0))).toBe('ENODEV');
      expect(await errno(sys.munmap(a + 1, PAGE_SIZE))).toBe('EINVAL');
      expect(await errno(sys.munmap(a, 0))).toBe('EINVAL');
      // a len of 100 maps one page; the mapping shows the last page from an offset
      const last = await sys.mmap(0, 100, PROT_READ, MAP_SHARED, ro, 3 * PAGE_SIZE);
      const maps = await sys.readFile('/proc/self/maps');
      const line = maps.split('\n').find((l) => l.startsWith(last.toString(16)))!;
      expect(line).toMatch(/^[0-9a-f]+-[0-9a-f]+ r--s 00003000 00:0a 1 +\/dmabuf:$/);
      expect(line.indexOf('/dmabuf:')).toBe(73);
    });
  });

  it('a store to a read-only mapping is SIGSEGV: the call rejects with EFAULT and the process dies with 128+11', async () => {
    const s = setup();
    let caught: unknown;
    let after: unknown;
    const status = await run(s, async (sys) => {
      const fd = await exportTestBuf(sys, PAGE_SIZE);
      const addr = await sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
      try {
        await sys.store(addr, new Uint8Array([1]));
      } catch (e) {
        caught = e;
      }
      try {
        await sys.getpid();
      } catch (e) {
        after = e;
      }
      return 0;
    });
    expect(caught).toBeInstanceOf(SegfaultError);
    expect((caught as SegfaultError).code).toBe('EFAULT');
    expect((caught as SegfaultError).errno).toBe(14);
    expect((caught as SegfaultError).signal).toBe('SIGSEGV');
    expect(after).toBeInstanceOf(ProcessUnwind);
    expect(status).toBe(139);
    expect(s.dev.bufs[0]!.released).toBe(1);
    expect(s.k.vfs.openFileCount).toBe(0);
    expect(s.soc.cpu.cacheableMappings(s.dev.bufs[0]!.pa)).toBe(0);
  });

  it('an access outside every mapping is SIGSEGV, even one byte past the end', async () => {
    const s = setup();
    let caught: SegfaultError | undefined;
    const status = await run(s, async (sys) => {
      const fd = await exportTestBuf(sys, PAGE_SIZE);
      const addr = await sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
      await sys.load(addr, PAGE_SIZE);
      caught = await sys.load(addr + PAGE_SIZE - 1, 2).then(() => undefined, (e: SegfaultError) => e);
    });
    expect(caught?.signal).toBe('SIGSEGV');
    expect(caught?.addr).toBeGreaterThan(0);
    expect(status).toBe(139);
  });

  it('a partial munmap splits the mapping; the pieces keep working and the hole faults', async () => {
    const s = setup();
    const status = await run(s, async (sys) => {
      const fd = await exportTestBuf(sys, 4 * PAGE_SIZE);
      const b = s.dev.bufs[0]!;
      const addr = await sys.mmap(0, 4 * PAGE_SIZE, RW, MAP_SHARED, fd, 0);
      await sys.store(addr, new Uint8Array(4 * PAGE_SIZE).fill(7));
      await sys.munmap(addr + PAGE_SIZE, PAGE_SIZE);
      expect(b.vmas).toBe(2);
      expect(s.soc.cpu.cacheableMappings(b.pa)).toBe(1);
      expect(s.soc.cpu.cacheableMappings(b.pa + PAGE_SIZE)).toBe(0);
      expect(s.soc.cpu.cacheableMappings(b.pa + 2 * PAGE_SIZE)).toBe(1);
      expect((await sys.load(addr + 3 * PAGE_SIZE, 1))[0]).toBe(7);
      const maps = (await sys.readFile('/proc/self/maps')).trim().split('\n');
      expect(maps.length).toBe(2);
      expect(maps[1]).toContain(' rw-s 00002000 00:0a 1 ');
      await sys.close(fd);
      await sys.load(addr + PAGE_SIZE, 1);
    });
    expect(status).toBe(139);
    expect(s.dev.bufs[0]!.vmas).toBe(0);
    expect(s.dev.bufs[0]!.released).toBe(1);
  });

  it('MAP_PRIVATE copies on write: the buffer never sees the private store', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const fd = await exportTestBuf(sys, PAGE_SIZE, O_RDONLY);
      const b = s.dev.bufs[0]!;
      s.soc.mem.write(b.pa, new Uint8Array([4, 4, 4, 4]));
      const shared = await sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
      const priv = await sys.mmap(0, PAGE_SIZE, RW, MAP_PRIVATE, fd, 0);
      await sys.store(priv + 1, new Uint8Array([8]));
      expect([...(await sys.load(priv, 4))]).toEqual([4, 8, 4, 4]);
      expect([...(await sys.load(shared, 4))]).toEqual([4, 4, 4, 4]);
      s.soc.cache.cleanInvalidateRange(b.pa, PAGE_SIZE);
      expect([...dram(s, b.pa, 4)]).toEqual([4, 4, 4, 4]);
    });
  });

  it('anonymous memory: private copies across fork, shared stays shared', async () => {
    const s = setup();
    const status = await run(s, async (sys) => {
      const priv = await sys.mmap(0, 2 * PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      const shr = await sys.mmap(0, PAGE_SIZE, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
      expect([...(await sys.load(priv + PAGE_SIZE, 2))]).toEqual([0, 0]);
      await sys.store(priv, new Uint8Array([1]));
      await sys.store(shr, new Uint8Array([1]));
      const child = await sys.fork(async (c) => {
        expect((await c.load(priv, 1))[0]).toBe(1);
        await c.store(priv, new Uint8Array([2]));
        await c.store(shr, new Uint8Array([3]));
        return 5;
      });
      const w = await sys.wait(child);
      expect(w).toEqual({ pid: child, status: 5, signal: 0 });
      expect((await sys.load(priv, 1))[0]).toBe(1);
      expect((await sys.load(shr, 1))[0]).toBe(3);
      const maps = await sys.readFile('/proc/self/maps');
      expect(maps).toContain(' rw-p 00000000 00:00 0 \n');
      expect(maps).toContain(' rw-s 00000000 00:00 0 \n');
    });
    expect(status).toBe(0);
  });

  it('fork shares device mappings: both see the same bytes, and the CPU counts two mappings', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const fd = await exportTestBuf(sys, PAGE_SIZE);
      const b = s.dev.bufs[0]!;
      const addr = await sys.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, 0);
      const child = await sys.fork(async (c) => {
        expect(s.soc.cpu.cacheableMappings(b.pa)).toBe(2);
        await c.store(addr, new Uint8Array([42]));
        return 0;
      });
      expect((await sys.wait(child)).status).toBe(0);
      expect(s.soc.cpu.cacheableMappings(b.pa)).toBe(1);
      expect((await sys.load(addr, 1))[0]).toBe(42);
      expect(b.vmas).toBe(1);
    });
  });
});
