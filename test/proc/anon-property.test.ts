import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import type { Process } from '../../src/proc/index.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, MREMAP_DONTUNMAP, MREMAP_MAYMOVE, PROT_READ, PROT_WRITE } from '../../src/uapi/index.ts';
import { run, setup } from './helpers.ts';

type Op =
  | { op: 'mmap'; pages: number }
  | { op: 'munmap'; which: number; first: number; n: number }
  | { op: 'store'; which: number; page: number; value: number }
  | { op: 'mremap'; which: number; pages: number; dontunmap: boolean }
  | { op: 'pin'; which: number; write: boolean }
  | { op: 'unpin'; which: number }
  | { op: 'migrate' }
  | { op: 'fork'; which: number; page: number; value: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('mmap' as const), pages: fc.integer({ min: 1, max: 4 }) }) },
  fc.record({ op: fc.constant('munmap' as const), which: fc.nat(), first: fc.nat(), n: fc.integer({ min: 1, max: 3 }) }),
  { weight: 4, arbitrary: fc.record({ op: fc.constant('store' as const), which: fc.nat(), page: fc.nat(), value: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('mremap' as const), which: fc.nat(), pages: fc.integer({ min: 1, max: 5 }), dontunmap: fc.boolean() }) },
  fc.record({ op: fc.constant('pin' as const), which: fc.nat(), write: fc.boolean() }),
  fc.record({ op: fc.constant('unpin' as const), which: fc.nat() }),
  fc.record({ op: fc.constant('migrate' as const) }),
  fc.record({ op: fc.constant('fork' as const), which: fc.nat(), page: fc.nat(), value: fc.integer({ min: 1, max: 255 }) }),
);

/** A mapping the model knows to be one VMA: its pages' first bytes (0 = never written). */
interface Region {
  addr: number;
  bytes: number[];
}

describe('anonymous memory under random mmap/munmap/mremap/fork/pin/migration', () => {
  it('every page reads what was last stored there, and every page comes back once the process exits and pins are dropped', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
        const s = setup({ mm: { cma: { default: 32 * 1024 * 1024 } } });
        const pages = s.mm.pages;
        const area = s.mm.defaultCma!;
        const free0 = pages.freeCount();
        const pins: Uint32Array[] = [];
        let proc: Process | null = null;
        await run(s, async (sys) => {
          const p = s.k.processes.get(await sys.getpid())!;
          proc = p;
          const regions: Region[] = [];
          const pick = (n: number): Region | undefined => (regions.length ? regions[n % regions.length] : undefined);
          const check = async (r: Region): Promise<void> => {
            for (let i = 0; i < r.bytes.length; i++) expect((await sys.load(r.addr + i * PAGE_SIZE, 1))[0]).toBe(r.bytes[i]);
          };
          for (const o of ops) {
            switch (o.op) {
              case 'mmap': {
                const addr = await sys.mmap(0, o.pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                regions.push({ addr, bytes: new Array<number>(o.pages).fill(0) });
                break;
              }
              case 'munmap': {
                const r = pick(o.which);
                if (!r) break;
                const first = o.first % r.bytes.length;
                const n = Math.min(o.n, r.bytes.length - first);
                await sys.munmap(r.addr + first * PAGE_SIZE, n * PAGE_SIZE);
                regions.splice(regions.indexOf(r), 1);
                if (first > 0) regions.push({ addr: r.addr, bytes: r.bytes.slice(0, first) });
                if (first + n < r.bytes.length) regions.push({ addr: r.addr + (first + n) * PAGE_SIZE, bytes: r.bytes.slice(first + n) });
                break;
              }
              case 'store': {
                const r = pick(o.which);
                if (!r) break;
                const i = o.page % r.bytes.length;
                await sys.store(r.addr + i * PAGE_SIZE, Uint8Array.of(o.value));
                r.bytes[i] = o.value;
                break;
              }
              case 'mremap': {
                const r = pick(o.which);
                if (!r) break;
                const oldLen = r.bytes.length * PAGE_SIZE;
                const dont = o.dontunmap;
                const newPages = dont ? r.bytes.length : o.pages;
                const to = await sys.mremap(r.addr, oldLen, newPages * PAGE_SIZE, MREMAP_MAYMOVE | (dont ? MREMAP_DONTUNMAP : 0));
                const moved = r.bytes.slice(0, newPages);
                while (moved.length < newPages) moved.push(0);
                if (dont) r.bytes.fill(0);
                else regions.splice(regions.indexOf(r), 1);
                regions.push({ addr: to, bytes: moved });
                break;
              }
              case 'pin': {
                const r = pick(o.which);
                if (!r) break;
                const got = p.pinUserPages(r.addr, r.bytes.length * PAGE_SIZE, o.write);
                expect(got.length).toBe(r.bytes.length);
                pins.push(got);
                break;
              }
              case 'unpin': {
                if (!pins.length) break;
                p.unpinUserPages(pins.splice(o.which % pins.length, 1)[0]!);
                break;
              }
              case 'migrate': {
                const got = await area.tryAlloc(area.count);
                // pinned pages in the area keep it from succeeding; without pins it must
                if (pins.length === 0) expect(got).toBe(area.basePfn);
                if (got !== null) area.release(got, area.count);
                break;
              }
              case 'fork': {
                const r = pick(o.which);
                if (!r) break;
                const i = o.page % r.bytes.length;
                const want = r.bytes[i]!;
                const child = await sys.fork(async (c) => {
                  if ((await c.load(r.addr + i * PAGE_SIZE, 1))[0] !== want) return 1;
                  await c.store(r.addr + i * PAGE_SIZE, Uint8Array.of(o.value));
                  return 0;
                });
                expect((await sys.wait(child)).status).toBe(0);
                break;
              }
            }
          }
          for (const r of regions) await check(r);
        });
        expect(proc).not.toBeNull();
        for (const pin of pins) proc!.unpinUserPages(pin);
        expect(s.k.anon.nrPages).toBe(0);
        expect(s.k.anon.objectCount).toBe(0);
        expect(pages.freeCount()).toBe(free0);
      }),
      { numRuns: 200, seed: 515151 },
    );
  });
});
