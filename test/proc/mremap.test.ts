import { describe, it, expect } from 'vitest';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
} from '../../src/uapi/index.ts';
import { DRAM_BASE, TEST_IOC_EXPORT, errno, run, setup } from './helpers.ts';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const P = PAGE_SIZE;

describe('mremap', () => {
  it('grows anonymous memory in place when the room after it is free, else moves it with MREMAP_MAYMOVE, bytes kept', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const a = await sys.mmap(0x100000, 2 * P, RW, ANON, -1, 0);
      await sys.store(a + 100, Uint8Array.of(1, 2, 3));
      expect(await sys.mremap(a, 2 * P, 4 * P, 0)).toBe(a);
      expect(await sys.load(a + 100, 3)).toEqual(Uint8Array.of(1, 2, 3));
      await sys.store(a + 3 * P, Uint8Array.of(4));
      // something right after it: no room in place
      await sys.mmap(a + 4 * P, P, RW, ANON | MAP_FIXED, -1, 0);
      expect(await errno(sys.mremap(a, 4 * P, 8 * P, 0))).toBe('ENOMEM');
      const b = await sys.mremap(a, 4 * P, 8 * P, MREMAP_MAYMOVE);
      expect(b).not.toBe(a);
      expect(await sys.load(b + 100, 3)).toEqual(Uint8Array.of(1, 2, 3));
      expect(await sys.load(b + 3 * P, 1)).toEqual(Uint8Array.of(4));
      expect(await sys.load(b + 7 * P, 1)).toEqual(Uint8Array.of(0));
      const maps = await sys.readFile('/proc/self/maps');
      expect(maps).not.toContain(a.toString(16).padStart(8, '0') + '-');
      // shrinking unmaps the tail
      expect(await sys.mremap(b, 8 * P, 3 * P, 0)).toBe(b);
      const child = await sys.fork(async (c) => {
        await c.load(b + 3 * P, 1);
      });
      expect((await sys.wait(child)).status).toBe(128 + 11);
    });
  });

  it('checks flags, alignment and the old range as Linux does', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const a = await sys.mmap(0, 2 * P, RW, ANON, -1, 0);
      expect(await errno(sys.mremap(a, P, 2 * P, 8))).toBe('EINVAL');
      expect(await errno(sys.mremap(a, P, 2 * P, MREMAP_FIXED, 0x200000))).toBe('EINVAL');
      expect(await errno(sys.mremap(a, P, 2 * P, MREMAP_DONTUNMAP | MREMAP_MAYMOVE))).toBe('EINVAL');
      expect(await errno(sys.mremap(a + 1, P, P, 0))).toBe('EINVAL');
      expect(await errno(sys.mremap(a, P, 0, 0))).toBe('EINVAL');
      expect(await errno(sys.mremap(0x1000, P, 2 * P, MREMAP_MAYMOVE))).toBe('EFAULT');
      expect(await errno(sys.mremap(a, 3 * P, 4 * P, MREMAP_MAYMOVE))).toBe('EFAULT');
      expect(await errno(sys.mremap(a, 0, P, MREMAP_MAYMOVE))).toBe('EINVAL');
      expect(await errno(sys.mremap(a, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, a + P))).toBe('EINVAL');
      expect(await errno(sys.mremap(a, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x123))).toBe('EINVAL');
    });
  });

  it('MREMAP_FIXED moves to the given address over what was there; MREMAP_DONTUNMAP leaves the old range mapped and empty', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const a = await sys.mmap(0x100000, 2 * P, RW, ANON, -1, 0);
      await sys.store(a, Uint8Array.of(5));
      const old = await sys.mmap(0x300000, 4 * P, RW, ANON | MAP_FIXED, -1, 0);
      await sys.store(old + 3 * P, Uint8Array.of(6));
      expect(await sys.mremap(a, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x300000)).toBe(0x300000);
      expect(await sys.load(0x300000, 1)).toEqual(Uint8Array.of(5));
      // the rest of the mapping that was there stays
      expect(await sys.load(old + 3 * P, 1)).toEqual(Uint8Array.of(6));
      const d = await sys.mremap(0x300000, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
      expect(await sys.load(d, 1)).toEqual(Uint8Array.of(5));
      expect(await sys.load(0x300000, 1)).toEqual(Uint8Array.of(0));
    });
  });

  it('is EFAULT for growing a remap_pfn_range mapping (VM_DONTEXPAND|VM_PFNMAP), which may still move or shrink', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const dev = await sys.open('/dev/testbuf', O_RDWR);
      const arg = { size: 4 * P, fd: -1 };
      await sys.ioctl(dev, TEST_IOC_EXPORT, arg);
      const b = s.dev.bufs[0]!;
      const m = await sys.mmap(0, 2 * P, RW, MAP_SHARED, arg.fd, 0);
      await sys.store(m + P, Uint8Array.of(0x77));
      expect(await errno(sys.mremap(m, 2 * P, 3 * P, MREMAP_MAYMOVE))).toBe('EFAULT');
      expect(await errno(sys.mremap(m, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP))).toBe('EINVAL');
      expect(b.vmas).toBe(1);
      const moved = await sys.mremap(m, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x400000);
      expect(moved).toBe(0x400000);
      expect(b.vmas).toBe(1);
      expect(await sys.load(moved + P, 1)).toEqual(Uint8Array.of(0x77));
      // still the device's frames, cacheable mappings accounted for where they now are
      expect(s.soc.cpu.cacheableMappings(b.pa + P)).toBe(1);
      expect(await sys.mremap(moved, 2 * P, P, 0)).toBe(moved);
      expect(s.soc.cpu.cacheableMappings(b.pa + P)).toBe(0);
      expect(b.vmas).toBe(1);
      expect(DRAM_BASE).toBeLessThan(b.pa);
    });
  });

  it('grows a memfd mapping; pages past the end of the file are SIGBUS until the file grows', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const fd = await sys.memfd_create('grow');
      await sys.ftruncate(fd, 2 * P);
      const m = await sys.mmap(0, P, RW, MAP_SHARED, fd, 0);
      await sys.store(m, Uint8Array.of(1));
      const g = await sys.mremap(m, P, 3 * P, MREMAP_MAYMOVE);
      await sys.store(g + P, Uint8Array.of(2));
      expect(await sys.pread(fd, 1, P)).toEqual(Uint8Array.of(2));
      const child = await sys.fork(async (c) => {
        await c.load(g + 2 * P, 1);
      });
      expect((await sys.wait(child)).status).toBe(128 + 7);
      await sys.ftruncate(fd, 3 * P);
      expect(await sys.load(g + 2 * P, 1)).toEqual(Uint8Array.of(0));
    });
    expect(s.k.shmem.inodeCount).toBe(0);
  });

  it('grown shared anonymous memory stays shared with a forked child; its new pages are SIGBUS', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const a = await sys.mmap(0x100000, P, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
      const child = await sys.fork(async (c) => {
        await s.soc.clock.sleep(1_000_000);
        return (await c.load(0x100000, 1))[0] === 9 ? 0 : 1;
      });
      const g = await sys.mremap(a, P, 2 * P, MREMAP_MAYMOVE);
      await sys.store(g, Uint8Array.of(9));
      expect((await sys.wait(child)).status).toBe(0);
      const child2 = await sys.fork(async (c) => {
        await c.load(g + P, 1);
      });
      expect((await sys.wait(child2)).status).toBe(128 + 7);
    });
  });
});
