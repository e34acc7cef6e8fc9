import { describe, it, expect, vi } from 'vitest';
import { Soc } from '../../src/hw/index.ts';
import { KernelBug, MiB } from '../../src/lib/index.ts';
import { BackgroundLoad, bootMm, type MmConfig, pageAllocatorStats, PG_CONTIG, pinCount, registerPageOwner } from '../../src/mm/index.ts';
import { checkInvariants } from './helpers.ts';
import { fragmentationIndex } from '../../src/mm/page-stats.ts';

const BASE = 0x8000_0000;

function boot(cfg: MmConfig = {}, dramMiB = 64) {
  const soc = new Soc({
    seed: 3,
    banks: [{ name: 'dram0', base: BASE, size: dramMiB * MiB, kind: 'dram' }],
    cache: { size: 32 * 1024, ways: 4, lineSize: 64 },
    masters: [],
  });
  const mm = bootMm(soc, { cma: { default: 16 * MiB }, ...cfg });
  const bg = new BackgroundLoad(mm.pages, soc.mem, soc.cache, soc.prng);
  return { soc, mm, bg, area: mm.defaultCma! };
}

/** Fills memory with movable pages until the CMA area is at least `frac` borrowed, then frees other memory for migration targets. */
function fillArea(t: ReturnType<typeof boot>, frac: number, leaveFree: number): void {
  const { mm, bg, area } = t;
  while (pageAllocatorStats(mm.pages).freeByType.cma > area.count * (1 - frac) && bg.fillMovable(256) > 0);
  bg.freeMovableOutside(leaveFree, area.basePfn, area.basePfn + area.count);
}

describe('CMA areas at boot', () => {
  it('places the default area top-down in lowmem, pageblock aligned, and per-device areas below it', () => {
    const { mm, area } = boot({ cma: { default: 16 * MiB, areas: [{ name: 'display', size: 5 * MiB }] } });
    expect(area.name).toBe('reserved');
    expect(area.base).toBe(BASE + 48 * MiB);
    expect(area.count).toBe(4096);
    const d = mm.cma.get('display')!;
    expect(d.size).toBe(8 * MiB);
    expect(d.base).toBe(BASE + 40 * MiB);
    for (let p = area.basePfn; p < area.basePfn + area.count; p += 1024) expect(mm.pages.pageblockType(p)).toBe('cma');
    expect(mm.pages.pageblockType(area.basePfn - 1024)).toBe('cma');
    expect(mm.pages.pageblockType(area.basePfn - 3 * 1024)).toBe('movable');
  });

  it('honours a fixed base and rejects bad configurations', () => {
    const { mm } = boot({ cma: { areas: [{ name: 'fixed', size: 8 * MiB, base: BASE + 8 * MiB }] } });
    expect(mm.cma.get('fixed')!.base).toBe(BASE + 8 * MiB);
    expect(mm.defaultCma).toBeUndefined();
    expect(() => boot({ cma: { areas: [{ name: 'x', size: 4 * MiB, base: BASE + MiB }] } })).toThrow(/aligned/);
    expect(() => boot({ cma: { default: 128 * MiB } })).toThrow(/no room/);
    expect(() => boot({ cma: { areas: [{ name: 'a', size: 4 * MiB }, { name: 'a', size: 4 * MiB }] } })).toThrow(/twice/);
    expect(() =>
      boot({ reserved: [{ name: 'fw', base: BASE + 9 * MiB, size: 4096 }], cma: { areas: [{ name: 'x', size: 8 * MiB, base: BASE + 8 * MiB }] } }),
    ).toThrow(/overlaps/);
  });

  it('lends its memory to movable allocations only while no buffer needs it', () => {
    const { mm, area } = boot();
    const unmov: number[] = [];
    for (;;) {
      try {
        unmov.push(mm.pages.allocPages(0));
      } catch {
        break;
      }
    }
    for (const u of unmov) expect(area.contains(u)).toBe(false);
    expect(mm.pages.freeCount()).toBe(area.count);
    const mov = mm.pages.allocPages(0, { movable: true });
    expect(area.contains(mov)).toBe(true);
    expect(area.stats().borrowedPages).toBe(1);
  });
});

describe('cma_alloc', () => {
  it('vacates a range by migration: the data moves, owners follow, time passes', async () => {
    const t = boot();
    const { soc, mm, bg, area } = t;
    fillArea(t, 0.9, 3000);
    const borrowed = area.stats().borrowedPages;
    expect(borrowed).toBeGreaterThanOrEqual(area.count * 0.9);
    const free0 = mm.pages.freeCount();
    const pfn = await soc.clock.runUntilSettled(area.alloc(2048, 4));
    expect(pfn).not.toBeNull();
    expect(pfn! % 16).toBe(0);
    expect(area.contains(pfn!, 2048)).toBe(true);
    const st = area.stats();
    expect(st.pagesMigrated).toBeGreaterThan(1000);
    expect(bg.stats.migrated).toBe(st.pagesMigrated);
    // Migration costs simulated time: at least the fixed and copy cost of every page.
    expect(soc.clock.now).toBeGreaterThanOrEqual(st.pagesMigrated * (1500 + 8192 / 2));
    expect(st.timeNs).toBe(soc.clock.now);
    expect(bg.verify()).toEqual({ checked: bg.movablePages, mismatches: 0, firstBadPfn: -1 });
    const f = mm.frames;
    for (let p = pfn!; p < pfn! + 2048; p++) expect(f.flags[f.index(p)]! & PG_CONTIG).toBe(PG_CONTIG);
    expect(mm.pages.freeCount()).toBe(free0 - 2048);
    expect(st.usedPages).toBe(2048);
    checkInvariants(mm.pages);
    expect(area.release(pfn!, 2048)).toBe(true);
    expect(mm.pages.freeCount()).toBe(free0);
    expect(area.stats().usedPages).toBe(0);
    checkInvariants(mm.pages);
  });

  it('aligns the pfn, not the bit index, when the base is less aligned than asked', async () => {
    const t = boot({ cma: { areas: [{ name: 'a', size: 32 * MiB, base: BASE + 4 * MiB }] } });
    const cma = t.mm.cma.get('a')!;
    const p1 = await t.soc.clock.runUntilSettled(cma.alloc(1, 12));
    expect(p1! % 4096).toBe(0);
    expect(p1).toBe((BASE + 16 * MiB) / 4096);
    const p2 = await t.soc.clock.runUntilSettled(cma.alloc(3, 0));
    expect(p2).toBe(cma.basePfn);
  });

  it('retries past a pinned page and fails cleanly when no range can be vacated', async () => {
    const t = boot();
    const { soc, mm, bg, area } = t;
    fillArea(t, 0.95, 3000);
    const inArea = [...bg.movablePfns()].filter((p) => area.contains(p)).sort((a, b) => a - b);
    const mid = inArea.find((p) => p >= area.basePfn + 1500)!;
    bg.pinPfn(mid);
    const pfn = await soc.clock.runUntilSettled(area.alloc(2048, 0));
    expect(pfn).not.toBeNull();
    expect(pfn!).toBeGreaterThan(mid);
    expect(area.stats().busyRetries).toBeGreaterThanOrEqual(1);
    area.release(pfn!, 2048);

    // Now pin one page in each half: no 3000-page range avoids both.
    const late = [...bg.movablePfns()].filter((p) => area.contains(p) && p >= area.basePfn + 3000).sort((a, b) => a - b)[0]!;
    bg.pinPfn(late);
    const free0 = mm.pages.freeCount();
    const failures0 = area.stats().failures;
    await expect(soc.clock.runUntilSettled(area.alloc(3000, 0))).rejects.toMatchObject({ name: 'KernelError', code: 'ENOMEM' });
    const st = area.stats();
    expect(st.failures).toBe(failures0 + 1);
    expect(st.usedPages).toBe(0);
    expect(st.buffers).toBe(0);
    expect(mm.pages.freeCount()).toBe(free0);
    for (let p = area.basePfn; p < area.basePfn + area.count; p += 1024) expect(mm.pages.pageblockType(p)).toBe('cma');
    expect(bg.verify().mismatches).toBe(0);
    checkInvariants(mm.pages);
    bg.unpinAll();
    const ok = await soc.clock.runUntilSettled(area.alloc(3000, 0));
    expect(ok).toBe(area.basePfn);
  });

  it('fails with nothing changed when no migration target is free (ENOMEM)', async () => {
    const t = boot();
    const { soc, mm, bg, area } = t;
    while (bg.fillMovable(1024) > 0);
    const unm: number[] = [];
    for (;;) {
      try {
        unm.push(mm.pages.allocPages(0));
      } catch {
        break;
      }
    }
    expect(mm.pages.freeCount()).toBe(0);
    await expect(soc.clock.runUntilSettled(area.alloc(64, 0))).rejects.toMatchObject({ name: 'KernelError', code: 'ENOMEM' });
    // The try variant, for callers with a fallback, says the same with null.
    expect(await soc.clock.runUntilSettled(area.tryAlloc(64, 0))).toBeNull();
    expect(area.stats().failures).toBe(2);
    expect(area.stats().usedPages).toBe(0);
    expect(mm.pages.freeCount()).toBe(0);
    expect(bg.verify().mismatches).toBe(0);
    for (let p = area.basePfn; p < area.basePfn + area.count; p += 1024) expect(mm.pages.pageblockType(p)).toBe('cma');
    checkInvariants(mm.pages);
  });

  it('runs one allocation at a time per area while other threads use memory', async () => {
    const t = boot();
    const { soc, bg, area } = t;
    fillArea(t, 0.9, 3000);
    const done: { pfn: number | null; at: number }[] = [];
    const run = (n: number) => soc.clock.spawn(async () => done.push({ pfn: await area.alloc(n, 0), at: soc.clock.now }));
    const churn = soc.clock.spawn(() => bg.churn(soc.clock, { durationNs: 20_000_000, periodNs: 1_000_000, pages: 64 }));
    const a = run(1024);
    const b = run(1024);
    await soc.clock.run();
    await Promise.all([a, b, churn]);
    expect(done.length).toBe(2);
    expect(done[0]!.pfn).not.toBeNull();
    expect(done[1]!.pfn).not.toBeNull();
    expect(Math.abs(done[0]!.pfn! - done[1]!.pfn!)).toBeGreaterThanOrEqual(1024);
    // The second waited for the first: the mutex was held back to back, never twice at once.
    expect(done[1]!.at).toBeGreaterThan(done[0]!.at);
    expect(done[0]!.at).toBeGreaterThan(0);
    expect(area.stats().timeNs).toBe(done[1]!.at);
    expect(bg.verify().mismatches).toBe(0);
    expect(bg.stats.freed).toBeGreaterThan(0);
    checkInvariants(t.mm.pages);
  });

  it('release with a wrong count, twice, or mid-buffer is a KernelBug and changes nothing', async () => {
    const { soc, mm, area } = boot();
    const pfn = (await soc.clock.runUntilSettled(area.alloc(100, 0)))!;
    const free = mm.pages.freeCount();
    expect(() => area.release(pfn, 99)).toThrow(KernelBug);
    expect(() => area.release(pfn, 99)).toThrow(new RegExp(pfn.toString(16)));
    expect(() => area.release(pfn + 1, 99)).toThrow(/not the start/);
    expect(area.release(area.basePfn - 5, 1)).toBe(false);
    expect(mm.pages.freeCount()).toBe(free);
    expect(area.stats().usedPages).toBe(100);
    expect(() => mm.pages.freePages(pfn, 0)).toThrow(/contiguous/);
    expect(area.release(pfn, 100)).toBe(true);
    expect(() => area.release(pfn, 100)).toThrow(KernelBug);
    expect(mm.pages.freeCount()).toBe(free + 100);
  });

  it('pinned buffers cannot be released until unpinned', async () => {
    const { soc, mm, area } = boot();
    const pfn = (await soc.clock.runUntilSettled(area.alloc(16, 0)))!;
    area.pin(pfn, 16);
    expect(pinCount(mm.pages, pfn + 15)).toBe(1);
    expect(area.stats().pinnedBuffers).toBe(1);
    expect(() => area.release(pfn, 16)).toThrow(/pinned/);
    expect(() => area.pin(pfn, 8)).toThrow(KernelBug);
    area.unpin(pfn, 16);
    expect(() => area.unpin(pfn, 16)).toThrow(/not pinned/);
    expect(area.release(pfn, 16)).toBe(true);
  });

  it('rejects a bad count with EINVAL, a count it cannot hold with ENOMEM (try: null), and counts the failures', async () => {
    const { soc, mm, area } = boot();
    await expect(soc.clock.runUntilSettled(area.alloc(0, 0))).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(soc.clock.runUntilSettled(area.tryAlloc(1.5, 0))).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(soc.clock.runUntilSettled(area.alloc(area.count + 1, 0))).rejects.toMatchObject({ code: 'ENOMEM' });
    expect(await soc.clock.runUntilSettled(area.tryAlloc(area.count + 1, 0))).toBeNull();
    expect(area.stats().failures).toBe(4);
    const all = await soc.clock.runUntilSettled(area.alloc(area.count, 0));
    expect(all).toBe(area.basePfn);
    // Exhausted: ENOMEM (try: null), and the area's one buffer is untouched.
    const free0 = mm.pages.freeCount();
    await expect(soc.clock.runUntilSettled(area.alloc(1, 0))).rejects.toMatchObject({ code: 'ENOMEM' });
    expect(await soc.clock.runUntilSettled(area.tryAlloc(1, 0))).toBeNull();
    expect(area.stats()).toMatchObject({ largestFreeRun: 0, buffers: 1, usedPages: area.count, failures: 6 });
    expect(mm.pages.freeCount()).toBe(free0);
    checkInvariants(mm.pages);
    expect(area.release(all, area.count)).toBe(true);
    expect(await soc.clock.runUntilSettled(area.alloc(1, 0))).toBe(area.basePfn);
  });
});

describe('cma_alloc and a broken invariant', () => {
  it('lets a KernelBug raised while migrating propagate (it used to read as -ENOMEM), with the area left consistent', async () => {
    const t = boot();
    const { soc, mm, area } = t;
    fillArea(t, 0.9, 3000);
    const spy = vi.spyOn(mm.pages, 'allocPages').mockImplementation(() => {
      throw new KernelBug('free list corrupted');
    });
    await expect(soc.clock.runUntilSettled(area.alloc(64, 0))).rejects.toThrow(KernelBug);
    spy.mockRestore();
    expect(area.stats()).toMatchObject({ usedPages: 0, buffers: 0, failures: 0 });
    for (let p = area.basePfn; p < area.basePfn + area.count; p += 1024) expect(mm.pages.pageblockType(p)).toBe('cma');
    const pfn = await soc.clock.runUntilSettled(area.alloc(64, 0));
    expect(area.release(pfn, 64)).toBe(true);
  });
});

describe('migration and the CPU cache', () => {
  it('moves what the CPU sees, dirty cache lines included, and zeroed pages read zero in every view', async () => {
    const { soc, mm, area } = boot();
    const { pages, kas } = mm;
    let moved = -1;
    const owner = registerPageOwner(pages, { name: 'test', migratePage: (_o, n) => (moved = n) });
    const others: number[] = [];
    let mine = -1;
    while (mine < 0) {
      const p = pages.allocPages(0, { movable: true, owner });
      if (area.contains(p)) mine = p;
      else others.push(p);
    }
    for (const o of others) pages.freePages(o, 0);
    const data = new Uint8Array(4096).map((_, i) => (i * 13 + 1) & 0xff);
    kas.store(kas.pfnToVirt(mine), data, 0, 4096);
    expect(soc.mem.readBytes(mine * 4096, 16).every((b) => b === 0)).toBe(true); // still only in the cache
    const clean0 = soc.cache.stats.cleanBytes;
    const buf = await soc.clock.runUntilSettled(area.alloc(area.count, 0));
    expect(buf).toBe(area.basePfn);
    expect(moved).toBeGreaterThanOrEqual(0);
    expect(area.contains(moved)).toBe(false);
    expect(soc.mem.readBytes(moved * 4096, 4096)).toEqual(data);
    const back = new Uint8Array(4096);
    kas.load(kas.pfnToVirt(moved), back, 0, 4096);
    expect(back).toEqual(data);
    // Migration is a CPU copy, not cache maintenance.
    expect(soc.cache.stats.cleanBytes).toBe(clean0);

    // A page freed with dirty lines and reallocated zeroed reads zero through the cache and in memory.
    pages.freePages(moved, 0);
    const z = pages.allocPages(0, { zero: true, movable: true });
    expect(z).toBe(moved);
    kas.load(kas.pfnToVirt(z), back, 0, 4096);
    expect(back.every((b) => b === 0)).toBe(true);
    soc.cache.cleanInvalidateAll();
    expect(soc.mem.readBytes(z * 4096, 4096).every((b) => b === 0)).toBe(true);
  });
});

describe('background load', () => {
  it('verify catches data that did not move with its page', () => {
    const { soc, bg } = boot();
    bg.fillMovable(100);
    expect(bg.verify().mismatches).toBe(0);
    const victim = bg.movablePfns()[42]!;
    soc.mem.fill(victim * 4096 + 100, 1, 0xee ^ soc.mem.readBytes(victim * 4096 + 100, 1)[0]!);
    expect(bg.verify()).toMatchObject({ mismatches: 1, firstBadPfn: victim });
  });

  it('fragments memory with unmovable pages spread over stolen pageblocks', () => {
    const { mm, bg } = boot();
    const kept = bg.fragment(200);
    expect(kept).toBe(200);
    expect(bg.unmovablePages).toBe(200);
    expect(fragmentationIndex(mm.pages, 10)).toBe(-1);
    expect(pageAllocatorStats(mm.pages).counters.pageblockSteals).toBeGreaterThan(0);
    bg.releaseAll();
    expect(mm.pages.freeCount()).toBe(mm.pages.totalPages());
  });
});
