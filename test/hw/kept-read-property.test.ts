import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { sgDmaMove, sgDmaReadKept } from '../../src/hw/engines/sg-dma.ts';
import { DmaFault, type DmaMaster, type SgSegment, type Translator } from '../../src/hw/index.ts';
import { KeptRead } from '../../src/hw/kept-read.ts';
import { pattern, smallSoc } from './helpers.ts';

const PAGE = 4096;
const IOVA = 0x1000_0000;
/** Physical pages the bus pages may map to: in three chunks, the first two shared with other pages that get written. */
const FRAMES = [0x8010_0000, 0x8010_3000, 0x8012_0000, 0x8030_5000, 0x8030_6000, 0x8050_0000];

/** An IOMMU stand-in: bus page i maps to `map[i]` (a physical page), or faults when it maps nothing. */
class PageMap implements Translator {
  constructor(
    readonly map: (number | null)[],
    private readonly master: string,
  ) {}
  translate(addr: number, write: boolean, len = 1): { pa: number; run: number } {
    const i = Math.floor((addr - IOVA) / PAGE);
    const pa = this.map[i];
    if (pa === null || pa === undefined) throw new DmaFault(this.master, addr, write, 'unmapped');
    const off = (addr - IOVA) % PAGE;
    let run = PAGE - off;
    // physically contiguous pages come back as one run, as an SMMU walk may give them
    for (let k = i + 1; run < len && this.map[k] === pa + (k - i) * PAGE; k++) run += PAGE;
    return { pa: pa + off, run };
  }
}

type Op =
  | { op: 'read'; segs: 0 | 1 }
  | { op: 'mem-write' | 'other-dma' | 'cpu-store' | 'fill' | 'copy-in' | 'gen-page'; frame: number; off: number; len: number; seed: number }
  | { op: 'remap'; page: number; frame: number | null }
  | { op: 'release' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('read' as const), segs: fc.constantFrom(0 as const, 1 as const) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constantFrom('mem-write' as const, 'other-dma' as const, 'cpu-store' as const, 'fill' as const, 'copy-in' as const, 'gen-page' as const),
      frame: fc.nat(FRAMES.length - 1),
      // a write next to the pages read (in the same chunk, another page) as often as one in them
      off: fc.integer({ min: -PAGE, max: 2 * PAGE }),
      len: fc.integer({ min: 1, max: 700 }),
      seed: fc.nat(255),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('remap' as const), page: fc.nat(3), frame: fc.option(fc.nat(FRAMES.length - 1), { freq: 6 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'release' as const }) },
);

/** Two segment lists over the four bus pages: one segment, or three with the middle one crossing a page. */
const SEGS: SgSegment[][] = [
  [{ addr: IOVA + 100, len: 3 * PAGE }],
  [
    { addr: IOVA, len: 1000 },
    { addr: IOVA + PAGE - 200, len: PAGE + 400 },
    { addr: IOVA + 3 * PAGE + 8, len: 900 },
  ],
];
const LEN = 3 * PAGE;

/**
 * What a fresh read of `segs` gives, and which bytes of the buffer it
 * wrote before any fault: read twice, over zeros and over 0xff, a byte
 * written is the same in both.
 */
function readPlain(m: DmaMaster, segs: readonly SgSegment[]): { bytes: Uint8Array; written: boolean[]; error: string | null; moved: number } {
  const run = (fill: number) => {
    const bytes = new Uint8Array(LEN).fill(fill);
    try {
      return { bytes, error: null, moved: sgDmaMove(m, segs, bytes, LEN, false) };
    } catch (e) {
      return { bytes, error: (e as Error).message, moved: -1 };
    }
  };
  const a = run(0);
  const b = run(0xff);
  return { ...a, written: Array.from(a.bytes, (x, i) => x === b.bytes[i]) };
}

/** The first index where `a` and `b` differ, or -1 (toEqual compares a typed array element by element, slowly). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length))) return -1;
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return Math.min(a.length, b.length);
}

describe('a device read into its own buffer, kept between reads', () => {
  it.each([false, true])('leaves the buffer as a fresh read would, whatever was written or remapped between (coherent: %s)', async (coherent) => {
    await fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 30 }), (ops) => {
        const soc = smallSoc({ masters: [{ name: 'dev', coherent, bandwidth: 1e9, latencyNs: 100 }, { name: 'other', coherent: false, bandwidth: 1e9, latencyNs: 100 }] });
        const dev = soc.master('dev');
        const map = new PageMap([FRAMES[0]!, FRAMES[1]!, FRAMES[3]!, FRAMES[4]!], 'dev');
        dev.translator = map;
        for (const [i, f] of FRAMES.entries()) soc.mem.write(f, pattern(PAGE, i + 1));
        soc.cpu.mapRange(0x8000_0000, 16 << 20, 'wb');
        soc.mem.setPageGenerator((a, b, dst, off) => dst.fill((a * 7 + b) & 0xff, off, off + PAGE));
        // the buffer is only ever written by the kept reads; what a fresh read gives is read apart, into its own
        const buf = new Uint8Array(LEN);
        const kept: KeptRead[] = [];
        for (const o of ops) {
          if (o.op === 'read') {
            const want = readPlain(dev, SEGS[o.segs]!);
            const before = buf.slice();
            let error: string | null = null;
            let moved = -1;
            try {
              moved = sgDmaReadKept(dev, SEGS[o.segs]!, buf, LEN, kept);
            } catch (e) {
              error = (e as Error).message;
            }
            expect(error).toBe(want.error);
            expect(moved).toBe(want.moved);
            // the bytes a fresh read writes, over what the buffer held (all of them when it completes)
            const expected = before.map((x, i) => (want.written[i] ? want.bytes[i]! : x));
            expect(firstDifference(buf, expected)).toBe(-1);
          } else if (o.op === 'remap') {
            map.map[o.page] = o.frame === null ? null : FRAMES[o.frame]!;
          } else if (o.op === 'release') {
            soc.mem.releaseBacking();
          } else {
            const at = Math.max(0x8000_0000, FRAMES[o.frame]! + o.off);
            const bytes = pattern(o.len, o.seed);
            if (o.op === 'mem-write') soc.mem.write(at, bytes);
            else if (o.op === 'other-dma') soc.master('other').writeNow(at, bytes);
            else if (o.op === 'cpu-store') {
              soc.cpu.store(at, bytes, 0, o.len, 'wb');
              soc.cache.cleanRange(at, o.len);
            } else if (o.op === 'fill') soc.mem.fill(at, o.len, o.seed);
            else if (o.op === 'copy-in') soc.mem.copy(at, 0x80f0_0000 + o.seed, o.len);
            else soc.mem.writeGeneratedPage(at - (at % PAGE), o.seed, o.len);
          }
        }
      }),
      // a snooping master reads as readNow does every time: fewer runs show it
      { numRuns: coherent ? 50 : 300 },
    );
  });

  it('copies nothing the second time when neither the translation nor memory under it changed, and carries the port as a read each time', () => {
    const soc = smallSoc();
    const dev = soc.master('dev');
    const map = new PageMap([FRAMES[0]!, FRAMES[1]!, FRAMES[3]!, FRAMES[4]!], 'dev');
    dev.translator = map;
    for (const [i, f] of FRAMES.entries()) soc.mem.write(f, pattern(PAGE, i + 1));
    const buf = new Uint8Array(LEN);
    const kept = new KeptRead();
    const read = vi.spyOn(soc.mem, 'read');
    const t1 = dev.readNowKept(IOVA + 100, buf, 0, LEN, kept);
    const copies = read.mock.calls.length;
    expect(copies).toBeGreaterThan(0);
    const first = buf.slice();
    // a write in the same chunk as a page read, on a page not read
    soc.mem.write(FRAMES[0]! + 2 * PAGE, pattern(64, 3));
    const t2 = dev.readNowKept(IOVA + 100, buf, 0, LEN, kept);
    expect(read.mock.calls.length).toBe(copies);
    expect(t2).toBe(t1);
    expect(buf).toEqual(first);
    // a write in a page read: the read copies again, and brings it
    soc.mem.write(FRAMES[3]! + 10, Uint8Array.of(0xab));
    dev.readNowKept(IOVA + 100, buf, 0, LEN, kept);
    expect(read.mock.calls.length).toBeGreaterThan(copies);
    expect(buf[2 * PAGE - 100 + 10]).toBe(0xab);
    // a page mapped elsewhere, with no write anywhere: the new translation brings the other page's bytes
    const calls = read.mock.calls.length;
    map.map[1] = FRAMES[2]!;
    dev.readNowKept(IOVA + 100, buf, 0, LEN, kept);
    expect(read.mock.calls.length).toBeGreaterThan(calls);
    expect(buf.subarray(PAGE - 100, 2 * PAGE - 100)).toEqual(pattern(PAGE, 3));
  });
});
