import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CpuCache, PageCounters, PhysicalMemory, Prng, type CacheConfig } from '../../src/hw/index.ts';
import { createDmaContext, DMA_FROM_DEVICE, type Device } from '../../src/dma/index.ts';
import { CostLedger, newCpuContext, runAsCpuContext, type CostKind } from '../../src/lib/index.ts';
import { smallSoc } from './helpers.ts';

// The cache's shortcuts (a word access inside one line, the last slot tried
// first, sets by mask, per-page line counts in typed chunks, fills by
// words) against a plain model of the same documented behaviour: a slot
// per way, victims drawn from the same PRNG, a linefill unless a whole
// line is written, a writeback of a dirty victim.

const BASE = 0x8000_0000;
const SPAN = 16 * 1024;

interface Plain {
  read(pa: number, len: number): Uint8Array;
  write(pa: number, src: Uint8Array): void;
  fill(pa: number, len: number, value: number): void;
  range(pa: number, len: number, clean: boolean, inval: boolean): number;
  /** A whole-cache operation by set/way: every slot, valid or not, costs its set/way step. */
  whole(clean: boolean, inval: boolean): number;
  dirty(line: number): boolean;
  present(line: number): boolean;
  stats: { hits: number; misses: number; evictions: number; evictionWritebacks: number; cleanWritebacks: number; invalidatedLines: number; discardedDirtyLines: number; busyNs: number };
  mem: Uint8Array;
}

function plainCache(cfg: CacheConfig, seed: number, span = SPAN): Plain {
  const L = cfg.lineSize;
  const sets = cfg.size / (L * cfg.ways);
  const prng = new Prng(seed);
  const tags: number[] = new Array<number>(sets * cfg.ways).fill(-1);
  const dirty: boolean[] = new Array<boolean>(sets * cfg.ways).fill(false);
  const data: Uint8Array[] = tags.map(() => new Uint8Array(L));
  const mem = new Uint8Array(span);
  const stats = { hits: 0, misses: 0, evictions: 0, evictionWritebacks: 0, cleanWritebacks: 0, invalidatedLines: 0, discardedDirtyLines: 0, busyNs: 0 };
  const find = (line: number) => {
    for (let w = 0; w < cfg.ways; w++) if (tags[(line % sets) * cfg.ways + w] === line) return (line % sets) * cfg.ways + w;
    return -1;
  };
  const writeback = (s: number) => {
    mem.set(data[s]!, tags[s]! * L - BASE);
    dirty[s] = false;
  };
  const slot = (line: number, fillFromMem: boolean) => {
    let s = find(line);
    if (s >= 0) {
      stats.hits++;
      stats.busyNs += cfg.hitNs;
      return s;
    }
    stats.misses++;
    stats.busyNs += cfg.missNs;
    const base = (line % sets) * cfg.ways;
    s = tags.slice(base, base + cfg.ways).indexOf(-1);
    if (s >= 0) s += base;
    else {
      s = base + prng.int(cfg.ways);
      stats.evictions++;
      if (dirty[s]) {
        writeback(s);
        stats.evictionWritebacks++;
        stats.busyNs += cfg.writebackNs;
      }
    }
    if (fillFromMem) data[s]!.set(mem.subarray(line * L - BASE, line * L - BASE + L));
    tags[s] = line;
    dirty[s] = false;
    return s;
  };
  // one slot cleaned and/or invalidated; the writeback's cost
  const maintain = (s: number, clean: boolean, inval: boolean) => {
    let ns = 0;
    if (clean && dirty[s]) {
      writeback(s);
      stats.cleanWritebacks++;
      ns += cfg.writebackNs;
    }
    if (inval) {
      if (dirty[s]) stats.discardedDirtyLines++;
      tags[s] = -1;
      dirty[s] = false;
      stats.invalidatedLines++;
    }
    return ns;
  };
  const each = (pa: number, len: number, fn: (line: number, lo: number, off: number, n: number) => void) => {
    for (let off = 0; off < len; ) {
      const line = Math.floor((pa + off) / L);
      const lo = pa + off - line * L;
      const n = Math.min(len - off, L - lo);
      fn(line, lo, off, n);
      off += n;
    }
  };
  return {
    stats,
    mem,
    read(pa, len) {
      const out = new Uint8Array(len);
      each(pa, len, (line, lo, off, n) => out.set(data[slot(line, true)]!.subarray(lo, lo + n), off));
      return out;
    },
    write(pa, src) {
      each(pa, src.length, (line, lo, off, n) => {
        const s = slot(line, n !== L);
        data[s]!.set(src.subarray(off, off + n), lo);
        dirty[s] = true;
      });
    },
    fill(pa, len, value) {
      each(pa, len, (line, lo, _off, n) => {
        const s = slot(line, n !== L);
        data[s]!.fill(value, lo, lo + n);
        dirty[s] = true;
      });
    },
    range(pa, len, clean, inval) {
      const first = Math.floor(pa / L);
      const last = Math.floor((pa + len - 1) / L);
      let ns = (last - first + 1) * cfg.lineOpNs;
      for (let line = first; line <= last; line++) {
        const s = find(line);
        if (s >= 0) ns += maintain(s, clean, inval);
      }
      stats.busyNs += ns;
      return ns;
    },
    whole(clean, inval) {
      let ns = tags.length * cfg.setWayOpNs;
      for (let s = 0; s < tags.length; s++) if (tags[s] !== -1) ns += maintain(s, clean, inval);
      stats.busyNs += ns;
      return ns;
    },
    dirty: (line) => find(line) >= 0 && dirty[find(line)] === true,
    present: (line) => find(line) >= 0,
  };
}

type Op =
  | { op: 'read' | 'write'; at: number; len: number; seed: number }
  | { op: 'fill'; at: number; len: number; value: number }
  | { op: 'clean' | 'invalidate' | 'flush'; at: number; len: number }
  | { op: 'clean-all' | 'invalidate-all' | 'flush-all'; at: number; len: number };

const at = fc.integer({ min: 0, max: SPAN - 1 });
// mostly a program's words (1..8 bytes), some copies across lines, a few stores of more than the cache (stored in bulk)
const len = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(1, 2, 4, 8) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 700 }) },
  { weight: 1, arbitrary: fc.integer({ min: 700, max: SPAN }) },
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constantFrom('read' as const, 'write' as const), at, len, seed: fc.nat(255) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('fill' as const), at, len, value: fc.integer({ min: -300, max: 300 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('clean' as const, 'invalidate' as const, 'flush' as const), at, len }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('clean-all' as const, 'invalidate-all' as const, 'flush-all' as const), at, len }) },
);

/** Runs the ops on both caches; the same bytes, dirty lines, statistics and costs throughout. */
function compare(cfg: Partial<CacheConfig>, ops: Op[], seed: number, span = SPAN): void {
  const SPAN = span;
  const mem = new PhysicalMemory([{ name: 'dram', base: BASE, size: SPAN, kind: 'dram' }]);
  const cache = new CpuCache(mem, new Prng(seed), cfg);
  const plain = plainCache(cache.cfg, seed, SPAN);
  for (const o of ops) {
    const n = Math.min(o.len, SPAN - o.at);
    const pa = BASE + o.at;
    if (o.op === 'read') {
      const got = new Uint8Array(n + 3);
      cache.read(pa, got, 3, n);
      expect(firstDifference(got.subarray(3), plain.read(pa, n))).toBe(-1);
    } else if (o.op === 'write') {
      const src = Uint8Array.from({ length: n }, (_, i) => (i * 13 + o.seed) & 0xff);
      cache.write(pa, src, 0, n);
      plain.write(pa, src);
    } else if (o.op === 'fill') {
      cache.fill(pa, n, o.value);
      plain.fill(pa, n, o.value);
    } else if (o.op === 'clean-all' || o.op === 'invalidate-all' || o.op === 'flush-all') {
      const ns = o.op === 'clean-all' ? cache.cleanAll() : o.op === 'invalidate-all' ? cache.invalidateAll() : cache.cleanInvalidateAll();
      expect(ns).toBe(plain.whole(o.op !== 'invalidate-all', o.op !== 'clean-all'));
    } else {
      const clean = o.op !== 'invalidate';
      const inval = o.op !== 'clean';
      const ns = clean && inval ? cache.cleanInvalidateRange(pa, n) : clean ? cache.cleanRange(pa, n) : cache.invalidateRange(pa, n);
      expect(ns).toBe(plain.range(pa, n, clean, inval));
    }
  }
  const { hits, misses, evictions, evictionWritebacks, cleanWritebacks, invalidatedLines, discardedDirtyLines, busyNs } = cache.stats;
  expect({ hits, misses, evictions, evictionWritebacks, cleanWritebacks, invalidatedLines, discardedDirtyLines, busyNs }).toEqual(plain.stats);
  const L = cache.lineSize;
  const lines = (present: (pa: number) => boolean, dirty: (pa: number) => boolean) => {
    let s = '';
    for (let a = BASE; a < BASE + SPAN; a += L) s += dirty(a) ? 'D' : present(a) ? 'c' : '.';
    return s;
  };
  const held = lines((a) => cache.contains(a), (a) => cache.isDirty(a));
  expect(held).toBe(lines((a) => plain.present(a / L), (a) => plain.dirty(a / L)));
  expect(cache.validLines).toBe(held.replaceAll('.', '').length);
  // what reached memory, and then what the cache still held
  expect(firstDifference(mem.readBytes(BASE, SPAN), plain.mem)).toBe(-1);
  // a range operation finds every line by its page's count of lines
  expect(cache.cleanInvalidateRange(BASE, SPAN)).toBe(plain.range(BASE, SPAN, true, true));
  expect(cache.validLines).toBe(0);
  expect(firstDifference(mem.readBytes(BASE, SPAN), plain.mem)).toBe(-1);
}

/** Dirty lines of zeros, stored line by line (a quarter of a cache of `size` each): over memory that holds data, then over memory never written. */
function zeroLines(size: number): Op[] {
  return [
    { op: 'write', at: 0, len: size, seed: 5 },
    { op: 'clean', at: 0, len: size },
    { op: 'fill', at: 0, len: size / 4, value: 0 },
    { op: 'fill', at: SPAN - size / 4, len: size / 4, value: 0 },
  ];
}

/** The first index where two byte arrays differ (or the shorter length), -1 when equal. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

describe('the CPU cache’s shortcuts behave as the plain model', () => {
  it('a whole-cache flush of a thousand slots, hundreds of them lines of zeros (the lists the flush makes do not overlap)', () => {
    const cfg = { size: 64 * 1024, ways: 4, lineSize: 64 };
    const span = 256 * 1024;
    const ops: Op[] = [
      { op: 'write', at: 0, len: 32 * 1024, seed: 5 },
      { op: 'clean', at: 0, len: 32 * 1024 },
      { op: 'fill', at: 0, len: 24 * 1024, value: 0 },
      { op: 'fill', at: span - 16 * 1024, len: 16 * 1024, value: 0 },
      { op: 'write', at: 64 * 1024, len: 16 * 1024, seed: 8 },
    ];
    for (const whole of ['clean-all', 'flush-all'] as const) {
      for (let seed = 0; seed < 3; seed++) compare(cfg, [...ops, { op: whole, at: 0, len: 0 }], seed, span);
    }
  });
  it('a store of more lines than one call of the walk takes (walked in pieces) over a full cache', () => {
    // 16-byte lines: 40,000 lines of store are two pieces of the walk, which goes on from one piece to the next
    const cfg = { size: 1024, ways: 2, lineSize: 16 };
    const span = 1 << 20;
    const dirtyAll: Op[] = [
      { op: 'write', at: 0, len: 1024, seed: 7 },
      { op: 'write', at: span - 1024, len: 1024, seed: 9 },
    ];
    for (const store of [{ op: 'fill', at: 1029, len: 40_000 * 16, value: 0 } as Op, { op: 'write', at: 2051, len: 40_000 * 16, seed: 3 } as Op]) {
      for (let seed = 0; seed < 3; seed++) compare(cfg, [...dirtyAll, store], seed, span);
    }
  });

  const geometries: [string, Partial<CacheConfig>][] = [
    ['16 sets of 4 ways, 64-byte lines', { size: 4096, ways: 4, lineSize: 64 }],
    ['3 sets (not a power of two) of 4 ways', { size: 768, ways: 4, lineSize: 64 }],
    ['16-byte lines, 2 ways', { size: 1024, ways: 2, lineSize: 16 }],
    ['3 ways (not a power of two: the victim drawn as Prng.int does)', { size: 3 * 8 * 64, ways: 3, lineSize: 64 }],
    ['direct-mapped', { size: 1024, ways: 1, lineSize: 64 }],
  ];
  for (const [name, cfg] of geometries) {
    it(`${name}: a store of more than the cache over a full cache writes back the dirty lines it evicts, above and below it`, () => {
      const size = cfg.size!;
      // every way dirty with lines above and below the store, none of its own, then a store (fill or copy) of twice the cache
      const dirtyAll: Op[] = [
        { op: 'write', at: 0, len: size, seed: 7 },
        { op: 'write', at: SPAN - size, len: size, seed: 9 },
      ];
      for (const store of [{ op: 'fill', at: size + 5, len: 2 * size, value: 0 } as Op, { op: 'write', at: size + 3, len: 2 * size, seed: 3 } as Op]) {
        for (let seed = 0; seed < 20; seed++) compare(cfg, [...dirtyAll, store, { op: 'read', at: 0, len: SPAN, seed: 0 }], seed);
      }
    });
    it(`${name}: zeros stored over memory that holds data leave that data beneath the lines still cached`, () => {
      const size = cfg.size!;
      const written: Op[] = [
        { op: 'write', at: 0, len: SPAN, seed: 5 },
        { op: 'clean', at: 0, len: SPAN },
      ];
      for (const len of [Math.ceil(size / 8), 2 * size]) {
        for (let seed = 0; seed < 10; seed++) compare(cfg, [...written, { op: 'fill', at: size + 5, len, value: 0 }], seed);
      }
    });
    it(`${name}: lines of zeros a store evicts reach memory that holds data, as they would one by one`, () => {
      const size = cfg.size!;
      // dirty lines of zeros (stored line by line) over memory holding data, and over memory never written, then a store of twice the cache
      const zeroed = zeroLines(size);
      for (const store of [{ op: 'fill', at: size + 5, len: 2 * size, value: 0 } as Op, { op: 'write', at: size + 3, len: 2 * size, seed: 3 } as Op]) {
        for (let seed = 0; seed < 20; seed++) compare(cfg, [...zeroed, store], seed);
        // only over memory never written: nothing to write back anywhere
        for (let seed = 0; seed < 5; seed++) compare(cfg, [zeroed[3]!, store], seed);
      }
    });
    it(`${name}: a whole-cache clean, invalidate or flush over lines of zeros and of data, over memory that holds data and memory never written`, () => {
      const size = cfg.size!;
      const mixed: Op[] = [...zeroLines(size), { op: 'write', at: size, len: size / 4, seed: 8 }];
      for (const whole of ['clean-all', 'invalidate-all', 'flush-all'] as const) {
        for (let seed = 0; seed < 5; seed++) compare(cfg, [...mixed, { op: whole, at: 0, len: 0 }, { op: 'read', at: 0, len: SPAN, seed: 0 }], seed);
      }
    });
    it(`${name}: the same bytes, dirty lines, statistics and costs on random access sequences`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 150 }), fc.nat(1000), (ops, seed) => compare(cfg, ops, seed)),
        { numRuns: 60 },
      );
    });
  }
});

type Charge = { access: true; ns: number; bytes: number } | { access: false; kind: CostKind; ns: number; bytes: number } | { tick: number } | { kind: CostKind; within: number };

const chargeArb: fc.Arbitrary<Charge> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ access: fc.constant(true as const), ns: fc.integer({ min: 1, max: 60 }), bytes: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ access: fc.constant(false as const), kind: fc.constantFrom<CostKind>('syscall', 'cache-clean', 'tlb-miss-walk', 'fence-wait'), ns: fc.nat(50), bytes: fc.nat(10) }) },
  { weight: 1, arbitrary: fc.record({ tick: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom<CostKind>('bounce', 'page-zero', 'fence-wait'), within: fc.integer({ min: 1, max: 4 }) }) },
);

/** Plays the charges with a fresh ledger, in a batch or one by one; returns every record and the thread's debts. */
function play(charges: Charge[], inBatch: boolean, mode: 'user' | 'sys') {
  let now = 0;
  const ledger = new CostLedger(() => now);
  const ctx = newCpuContext('process', 7, () => 'prog');
  ctx.mode = mode;
  const step = (i: number): number => {
    const c = charges[i]!;
    if ('tick' in c) now += c.tick;
    else if ('within' in c) {
      // the next charges run with another access kind
      const end = Math.min(charges.length, i + 1 + c.within);
      ledger.withAccessKind(c.kind, () => {
        for (let j = i + 1; j < end; ) j = step(j);
      });
      return end;
    } else if (c.access) ledger.chargeAccess(c.ns, c.bytes);
    else ledger.charge(c.kind, c.ns, c.bytes);
    return i + 1;
  };
  const all = () => {
    for (let i = 0; i < charges.length; ) i = step(i);
  };
  runAsCpuContext(ctx, () => (inBatch ? ledger.batch(all) : all()));
  const records = Array.from({ length: ledger.length }, (_, i) => {
    const r = ledger.at(i);
    return { t: r.timeNs, kind: r.kind, ns: r.ns, bytes: r.bytes, site: r.site };
  });
  return { records, userDebt: ctx.userDebtNs, sysDebt: ctx.sysDebtNs };
}

function totals(records: { kind: CostKind; ns: number; bytes: number }[]) {
  const m: Record<string, [number, number]> = {};
  for (const r of records) {
    const e = (m[r.kind] ??= [0, 0]);
    e[0] += r.ns;
    e[1] += r.bytes;
  }
  return m;
}

describe('a batch’s accesses that join its last cost record', () => {
  it('a user thread: the same records and debt as charged one by one', () => {
    fc.assert(
      fc.property(fc.array(chargeArb, { maxLength: 80 }), (charges) => {
        expect(play(charges, true, 'user')).toEqual(play(charges, false, 'user'));
      }),
      { numRuns: 200 },
    );
  });

  it('the kernel on a thread’s behalf: the same debt and totals per kind', () => {
    fc.assert(
      fc.property(fc.array(chargeArb, { maxLength: 80 }), (charges) => {
        const a = play(charges, true, 'sys');
        const b = play(charges, false, 'sys');
        expect([a.userDebt, a.sysDebt, totals(a.records)]).toEqual([b.userDebt, b.sysDebt, totals(b.records)]);
      }),
      { numRuns: 200 },
    );
  });
});

describe('dma-debug’s memory of a page no device owns', () => {
  it('forgets it when a device maps the page: the next CPU access to it is a missing-sync', () => {
    const soc = smallSoc();
    const ctx = createDmaContext(soc, null as never, { flushThreshold: 1 << 20 });
    const page = 0x8020_0000;
    const dev = { name: 'cam', removed: false, dmaMaskBits: 32, coherentMaskBits: 32, iommu: null } as unknown as Device;
    const word = new Uint8Array(4);
    soc.cpu.store(page + 8, word, 0, 4, 'wb');
    soc.cpu.store(page + 16, word, 0, 4, 'wb');
    expect(soc.findings.ofKind('missing-sync')).toEqual([]);
    ctx.debug.add(dev, 'page', page, 4096, DMA_FROM_DEVICE, [[page, 4096]], 'dma_map_page');
    soc.cpu.store(page + 16, word, 0, 4, 'wb');
    expect(soc.findings.ofKind('missing-sync')).toHaveLength(1);
  });
});

describe('page counters’ shortcuts (none counted at all, the last chunk kept)', () => {
  it('get and any answer as a plain map of counts, across chunk boundaries', () => {
    // pages on both sides of the 64 Ki-page chunk boundary
    const pfn = fc.integer({ min: 65536 - 40, max: 65536 + 40 });
    const opArb = fc.record({ pfn, n: fc.integer({ min: 1, max: 30 }), up: fc.boolean(), probe: pfn, span: fc.integer({ min: 1, max: 30 }) });
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const pc = new PageCounters();
        const plain = new Map<number, number>();
        for (const o of ops) {
          // a count goes down only where it is above zero, as unmaps follow maps
          const delta = o.up || [...Array(o.n).keys()].some((i) => (plain.get(o.pfn + i) ?? 0) === 0) ? 1 : -1;
          pc.add(o.pfn, o.n, delta);
          for (let i = 0; i < o.n; i++) plain.set(o.pfn + i, (plain.get(o.pfn + i) ?? 0) + delta);
          expect(pc.get(o.probe)).toBe(plain.get(o.probe) ?? 0);
          expect(pc.any(o.probe, o.span)).toBe([...Array(o.span).keys()].some((i) => (plain.get(o.probe + i) ?? 0) > 0));
        }
      }),
      { numRuns: 150 },
    );
  });
});
