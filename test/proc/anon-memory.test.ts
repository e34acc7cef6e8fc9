import { describe, it, expect } from 'vitest';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import type { Process, Sys } from '../../src/proc/index.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, MREMAP_DONTUNMAP, MREMAP_MAYMOVE, O_RDWR, PROT_READ, PROT_WRITE } from '../../src/uapi/index.ts';
import { TEST_IOC_EXPORT, run, setup, type Setup } from './helpers.ts';
import { pinCount } from '../../src/mm/index.ts';

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff);
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const RW = PROT_READ | PROT_WRITE;
const CMA = { cma: { default: 32 * 1024 * 1024 } };

function same(a: Uint8Array, b: Uint8Array): void {
  expect(a.length).toBe(b.length);
  expect(Buffer.compare(a, b)).toBe(0);
}

async function self(s: Setup, sys: Sys): Promise<Process> {
  return s.k.processes.get(await sys.getpid())!;
}

/** The frames page by page behind [addr, addr+len) as the process's page table has them (-1 where none). */
function framesOf(p: Process, addr: number, len: number): number[] {
  const out: number[] = [];
  for (let a = addr; a < addr + len; a += PAGE_SIZE) {
    const v = p.mm.find(a)!;
    out.push(v.pfns[(a - v.start) / PAGE_SIZE]!);
  }
  return out;
}

describe('anonymous memory in DRAM', () => {
  it('is allocated zeroed on first touch, is what the CPU sees at its frames, and munmap frees exactly the unmapped pages', async () => {
    const s = setup();
    const pages = s.mm.pages;
    const anon = s.k.anon;
    const free0 = pages.freeCount();
    await run(s, async (sys) => {
      const p = await self(s, sys);
      const a = await sys.mmap(0, 4 * PAGE_SIZE, RW, ANON, -1, 0);
      expect(anon.nrPages).toBe(0);
      expect(await sys.load(a + PAGE_SIZE, 8)).toEqual(new Uint8Array(8));
      expect(anon.nrPages).toBe(1);
      const data = bytes(4 * PAGE_SIZE, 1);
      await sys.store(a, data);
      expect(anon.nrPages).toBe(4);
      expect(pages.freeCount()).toBe(free0 - 4);
      const pfns = framesOf(p, a, 4 * PAGE_SIZE);
      for (let i = 0; i < 4; i++) {
        const seen = new Uint8Array(PAGE_SIZE);
        s.soc.cpu.load(pfns[i]! * PAGE_SIZE, seen, 0, PAGE_SIZE, 'wb');
        same(seen, data.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE));
      }
      // a hole in the middle: two pieces keep their bytes, one page goes back
      await sys.munmap(a + PAGE_SIZE, PAGE_SIZE);
      expect(anon.nrPages).toBe(3);
      expect(pages.freeCount()).toBe(free0 - 3);
      same(await sys.load(a, PAGE_SIZE), data.subarray(0, PAGE_SIZE));
      same(await sys.load(a + 2 * PAGE_SIZE, 2 * PAGE_SIZE), data.subarray(2 * PAGE_SIZE));
      expect(framesOf(p, a + 2 * PAGE_SIZE, 2 * PAGE_SIZE)).toEqual(pfns.slice(2));
      await sys.munmap(a, 4 * PAGE_SIZE);
      expect(anon.nrPages).toBe(0);
      expect(pages.freeCount()).toBe(free0);
    });
    expect(pages.freeCount()).toBe(free0);
  });

  it('private copies of file pages are DRAM pages; fork copies private memory and shares shared memory; nothing leaks after exit', async () => {
    const s = setup();
    const pages = s.mm.pages;
    const free0 = pages.freeCount();
    await run(s, async (sys) => {
      const fd = await sys.memfd_create('cow');
      await sys.write(fd, bytes(2 * PAGE_SIZE, 5));
      const priv = await sys.mmap(0, 2 * PAGE_SIZE, RW, MAP_PRIVATE, fd, 0);
      await sys.store(priv + 3, Uint8Array.of(0xaa));
      expect(s.k.anon.nrPages).toBe(1);
      expect(await sys.pread(fd, 1, 3)).toEqual(Uint8Array.of(bytes(4, 5)[3]!));
      const a = await sys.mmap(0, 2 * PAGE_SIZE, RW, ANON, -1, 0);
      const sh = await sys.mmap(0, PAGE_SIZE, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
      await sys.store(a, Uint8Array.of(1, 2, 3));
      await sys.store(sh, Uint8Array.of(4));
      const child = await sys.fork(async (c) => {
        if ((await c.load(a, 3)).join() !== '1,2,3' || (await c.load(priv + 3, 1))[0] !== 0xaa) return 1;
        await c.store(a, Uint8Array.of(9));
        await c.store(priv + 3, Uint8Array.of(0xbb));
        await c.store(sh, Uint8Array.of(5));
        return 0;
      });
      expect((await sys.wait(child)).status).toBe(0);
      expect(await sys.load(a, 1)).toEqual(Uint8Array.of(1));
      expect(await sys.load(priv + 3, 1)).toEqual(Uint8Array.of(0xaa));
      expect(await sys.load(sh, 1)).toEqual(Uint8Array.of(5));
      // mremap carries the pages: moved, grown, and DONTUNMAP leaves zeros behind
      const m = await sys.mremap(a, 2 * PAGE_SIZE, 4 * PAGE_SIZE, MREMAP_MAYMOVE);
      expect(await sys.load(m, 3)).toEqual(Uint8Array.of(1, 2, 3));
      const d = await sys.mremap(m, 4 * PAGE_SIZE, 4 * PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
      expect(await sys.load(d, 3)).toEqual(Uint8Array.of(1, 2, 3));
      expect(await sys.load(m, 3)).toEqual(new Uint8Array(3));
    });
    expect(s.k.anon.nrPages).toBe(0);
    expect(s.k.anon.objectCount).toBe(0);
    expect(pages.freeCount()).toBe(free0);
  });

  it('survives CMA migration with the same bytes; the page table refaults the new frames', async () => {
    const s = setup({ mm: CMA });
    const area = s.mm.defaultCma!;
    const data = bytes(8 * PAGE_SIZE, 7);
    await run(s, async (sys) => {
      const p = await self(s, sys);
      const a = await sys.mmap(0, 8 * PAGE_SIZE, RW, ANON, -1, 0);
      await sys.store(a, data);
      const fd = await sys.memfd_create('cow');
      await sys.write(fd, bytes(PAGE_SIZE, 3));
      const priv = await sys.mmap(0, PAGE_SIZE, RW, MAP_PRIVATE, fd, 0);
      await sys.store(priv, Uint8Array.of(0x77));
      const before = [...framesOf(p, a, 8 * PAGE_SIZE), ...framesOf(p, priv, PAGE_SIZE)];
      // CMA holds most free memory, so movable pages land there first
      expect(before.every((pfn) => area.contains(pfn))).toBe(true);
      const got = await area.alloc(area.count);
      expect(got).toBe(area.basePfn);
      expect(framesOf(p, a, 8 * PAGE_SIZE).every((pfn) => pfn === -1)).toBe(true);
      same(await sys.load(a, 8 * PAGE_SIZE), data);
      expect(await sys.load(priv, 2)).toEqual(Uint8Array.of(0x77, bytes(2, 3)[1]!));
      const after = [...framesOf(p, a, 8 * PAGE_SIZE), ...framesOf(p, priv, PAGE_SIZE)];
      expect(after.some((pfn) => pfn < 0 || area.contains(pfn))).toBe(false);
      area.release(got!, area.count);
    });
  });
});

describe('shared anonymous memory in DRAM', () => {
  it('is one set of pages across fork and split; migration repoints both processes; exec frees what only it held', async () => {
    const s = setup({ mm: CMA });
    const area = s.mm.defaultCma!;
    const pages = s.mm.pages;
    const free0 = pages.freeCount();
    await run(s, async (sys) => {
      const sh = await sys.mmap(0, 3 * PAGE_SIZE, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
      await sys.store(sh, bytes(3 * PAGE_SIZE, 2));
      await sys.munmap(sh + PAGE_SIZE, PAGE_SIZE);
      const child = await sys.fork(async (c) => {
        // migrate while both processes map the pages; the child then writes through its refaulted frames
        const got = await area.alloc(area.count);
        if (got !== area.basePfn) return 2;
        area.release(got, area.count);
        await c.store(sh + 2 * PAGE_SIZE, Uint8Array.of(0xcd));
        return 0;
      });
      expect((await sys.wait(child)).status).toBe(0);
      expect(await sys.load(sh + 2 * PAGE_SIZE, 2)).toEqual(Uint8Array.of(0xcd, bytes(2 * PAGE_SIZE + 2, 2)[2 * PAGE_SIZE + 1]!));
      same(await sys.load(sh, PAGE_SIZE), bytes(PAGE_SIZE, 2));
      // the object keeps the unmapped middle page while any piece maps it (as shmem does)
      expect(s.k.anon.nrPages).toBe(3);
      await sys.exec(async () => 0, []);
    });
    expect(s.k.anon.nrPages).toBe(0);
    expect(pages.freeCount()).toBe(free0);
  });
});

describe('pinUserPages (pin_user_pages_fast)', () => {
  it('faults pages in and pins them: CMA cannot take them until they are unpinned', async () => {
    const s = setup({ mm: CMA });
    const area = s.mm.defaultCma!;
    const pages = s.mm.pages;
    await run(s, async (sys) => {
      const p = await self(s, sys);
      const a = await sys.mmap(0, 4 * PAGE_SIZE, RW, ANON, -1, 0);
      await sys.store(a + PAGE_SIZE, Uint8Array.of(1, 2));
      // an unaligned range covers every page it touches, faulting the untouched ones in
      const pinned = p.pinUserPages(a + 100, 2 * PAGE_SIZE, true);
      expect(pinned.length).toBe(3);
      expect(Array.from(pinned)).toEqual(framesOf(p, a, 3 * PAGE_SIZE));
      for (const pfn of pinned) {
        expect(pinCount(pages, pfn)).toBe(1);
        expect(area.contains(pfn)).toBe(true);
      }
      expect(await area.tryAlloc(area.count)).toBe(null);
      expect(Array.from(pinned)).toEqual(framesOf(p, a, 3 * PAGE_SIZE));
      // a device writes through the pinned frame; the process sees it
      s.soc.mem.write(pinned[2]! * PAGE_SIZE, Uint8Array.of(0x5a));
      expect(await sys.load(a + 2 * PAGE_SIZE, 1)).toEqual(Uint8Array.of(0x5a));
      p.unpinUserPages(pinned);
      for (const pfn of pinned) expect(pinCount(pages, pfn)).toBe(0);
      const got = await area.alloc(area.count);
      expect(got).toBe(area.basePfn);
      expect(await sys.load(a + PAGE_SIZE, 2)).toEqual(Uint8Array.of(1, 2));
      expect(await sys.load(a + 2 * PAGE_SIZE, 1)).toEqual(Uint8Array.of(0x5a));
      area.release(got!, area.count);
    });
  });

  it('a pinned page outlives munmap and exit, and is freed by the unpin', async () => {
    const s = setup();
    const pages = s.mm.pages;
    const free0 = pages.freeCount();
    let pinned: Uint32Array | null = null;
    let proc: Process | null = null;
    await run(s, async (sys) => {
      proc = await self(s, sys);
      const a = await sys.mmap(0, 2 * PAGE_SIZE, RW, ANON, -1, 0);
      await sys.store(a, Uint8Array.of(0x11));
      pinned = proc.pinUserPages(a, 2 * PAGE_SIZE, false);
      await sys.munmap(a, 2 * PAGE_SIZE);
      expect(pages.freeCount()).toBe(free0 - 2);
      const seen = new Uint8Array(1);
      s.soc.cpu.load(pinned[0]! * PAGE_SIZE, seen, 0, 1, 'wb');
      expect(seen[0]).toBe(0x11);
    });
    expect(pages.freeCount()).toBe(free0 - 2);
    proc!.unpinUserPages(pinned!);
    expect(pages.freeCount()).toBe(free0);
  });

  it('is EFAULT outside a mapping, for a write to a read-only mapping, and for VM_PFNMAP memory, pinning nothing', async () => {
    const s = setup();
    const pages = s.mm.pages;
    await run(s, async (sys) => {
      const p = await self(s, sys);
      const a = await sys.mmap(0, 2 * PAGE_SIZE, RW, ANON, -1, 0);
      const ro = await sys.mmap(0, PAGE_SIZE, PROT_READ, ANON, -1, 0);
      const free = pages.freeCount();
      const code = (f: () => unknown): string => {
        try {
          f();
          return 'ok';
        } catch (e) {
          return (e as { code: string }).code;
        }
      };
      expect(code(() => p.pinUserPages(0x10000, PAGE_SIZE, false))).toBe('EFAULT');
      // the range runs off the end of the mapping into nothing: no page stays pinned
      await sys.munmap(a + PAGE_SIZE, PAGE_SIZE);
      expect(code(() => p.pinUserPages(a, 2 * PAGE_SIZE, true))).toBe('EFAULT');
      expect(code(() => p.pinUserPages(ro, PAGE_SIZE, true))).toBe('EFAULT');
      const roPin = p.pinUserPages(ro, PAGE_SIZE, false);
      expect(pinCount(pages, roPin[0]!)).toBe(1);
      p.unpinUserPages(roPin);
      const dev = await sys.open('/dev/testbuf', O_RDWR);
      const arg = { size: PAGE_SIZE, fd: -1 };
      await sys.ioctl(dev, TEST_IOC_EXPORT, arg);
      const buf = await sys.mmap(0, PAGE_SIZE, RW, MAP_SHARED, arg.fd, 0);
      expect(code(() => p.pinUserPages(buf, PAGE_SIZE, false))).toBe('EFAULT');
      const [f] = framesOf(p, a, PAGE_SIZE);
      expect(pinCount(pages, f!)).toBe(0);
      // faulted in, not pinned: page 0 of `a` and the read-only page
      expect(pages.freeCount()).toBe(free - 2);
    });
  });
});
