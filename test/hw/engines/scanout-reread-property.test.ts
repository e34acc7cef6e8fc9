import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameFormat, type LentFrame } from '../../../src/formats/index.ts';
import { ScanoutEngine, type SgSegment } from '../../../src/hw/index.ts';
import { pattern, smallSoc } from '../helpers.ts';
import { gather, gatherThroughCache, segments } from './helpers.ts';

const fmt = frameFormat(20, 6, 'XR24'); // 480 bytes
// Two framebuffers, each over three chunks of memory; the second shares a chunk with the first's last segment.
const fbA = segments([0x8010_0007, 0x8030_0000, 0x8050_0101], [123, 200], fmt.size);
const fbB = segments([0x8050_0400, 0x8070_0000, 0x8020_0040], [64, 300], fmt.size);
const around = [0x8010_0000, 0x8030_0000, 0x8050_0000, 0x8070_0000, 0x8020_0000];

type Op =
  | { op: 'scanout'; fb: 0 | 1 }
  | { op: 'mem-write' | 'dma-write' | 'cpu-store' | 'fill' | 'copy-in' | 'make' | 'gen-page'; at: number; len: number; seed: number }
  | { op: 'clean' | 'release' };

const where = fc.record({ chunk: fc.nat(around.length - 1), off: fc.nat(2000), len: fc.integer({ min: 1, max: 300 }), seed: fc.nat(255) });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('scanout' as const), fb: fc.constantFrom(0 as const, 1 as const) }) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.constantFrom('mem-write' as const, 'dma-write' as const, 'cpu-store' as const, 'fill' as const, 'copy-in' as const, 'make' as const, 'gen-page' as const), where)
      .map(([op, w]) => ({ op, at: around[w.chunk]! + w.off, len: w.len, seed: w.seed })),
  },
  { weight: 1, arbitrary: fc.constantFrom({ op: 'clean' as const }, { op: 'release' as const }) },
);

/** A picture's bytes as its pieces lend them, copied together. */
function piecesOf(pic: LentFrame): Uint8Array {
  const out = new Uint8Array(pic.length);
  let end = 0;
  pic.forEachPiece((piece, at) => {
    expect(at).toBe(end);
    out.set(piece, at);
    end = at + piece.length;
    return true;
  });
  expect(end).toBe(pic.length);
  return out;
}

describe('a scanout of a framebuffer shown again', () => {
  // A master that sees memory as it is lends the picture where it lies; a snooping one copies it.
  it.each([false, true])('shows memory as it was when the fetch began, whatever writes it after, and carries a whole fetch on the port each time (coherent: %s)', async (coherent) => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        const soc = smallSoc({ masters: [{ name: 'dev', coherent, bandwidth: 1e9, latencyNs: 100 }, { name: 'other', coherent: false, bandwidth: 1e9, latencyNs: 100 }] });
        const dev = soc.master('dev');
        const eng = new ScanoutEngine(dev, soc.clock, fmt);
        for (const fb of [fbA, fbB]) for (const s of fb) soc.mem.write(s.addr, pattern(s.len, s.addr & 0xff));
        soc.mem.write(0x80f0_0000, pattern(16 * 1024, 9));
        soc.cpu.mapRange(0x8000_0000, 16 << 20, 'wb');
        soc.mem.setPageGenerator((a, b, dst, off) => dst.fill((a * 7 + b) & 0xff, off, off + 4096));
        let fetches = 0;
        let picture: LentFrame | null = null;
        let was: Uint8Array | null = null;
        for (const [i, o] of ops.entries()) {
          if (o.op === 'scanout') {
            const segs: SgSegment[] = o.fb === 0 ? fbA : fbB;
            const read0 = dev.port.bytesRead;
            picture = await soc.clock.runUntilSettled(eng.scanout(segs));
            fetches++;
            // what a snooping master sees: memory with the CPU's dirty lines over it
            was = coherent ? gatherThroughCache(soc, segs) : gather(soc, segs);
            expect(Buffer.from(piecesOf(picture)).equals(Buffer.from(was))).toBe(true);
            expect(dev.port.bytesRead - read0).toBe(fmt.size);
          } else if (o.op === 'mem-write') soc.mem.write(o.at, pattern(o.len, o.seed));
          else if (o.op === 'dma-write') soc.master('other').writeNow(o.at, pattern(o.len, o.seed));
          else if (o.op === 'cpu-store') soc.cpu.store(o.at, pattern(o.len, o.seed), 0, o.len, 'wb');
          else if (o.op === 'fill') soc.mem.fill(o.at, o.len, o.seed);
          else if (o.op === 'copy-in') soc.mem.copy(o.at, 0x80f0_0000 + o.seed * 64, o.len);
          else if (o.op === 'make') soc.mem.writeFrom(o.at, o.len, (dst, off, _s, n) => dst.fill(o.seed, off, off + n));
          else if (o.op === 'gen-page') soc.mem.writeGeneratedPage(o.at - (o.at % 4096), o.seed, o.len);
          else if (o.op === 'clean') soc.cache.cleanAll();
          else soc.mem.releaseBacking();
          // the last picture stays what its fetch read, lent in pieces or asked for whole (on alternate steps)
          if (picture && was) expect(Buffer.from(i % 2 ? picture.bytes() : piecesOf(picture)).equals(Buffer.from(was))).toBe(true);
        }
        expect(eng.scanouts).toBe(fetches);
      }),
      { numRuns: 150 },
    );
  });

  // Each way memory changes, alone between two fetches of one framebuffer.
  const writers: [string, (soc: ReturnType<typeof smallSoc>, at: number) => void][] = [
    ['a store', (soc, at) => soc.mem.write(at, pattern(64, 3))],
    ['a CPU cache line written back', (soc, at) => {
      soc.cpu.mapRange(at - (at % 4096), 4096, 'wb');
      soc.cpu.store(at, pattern(64, 4), 0, 64, 'wb');
      soc.cache.cleanAll();
    }],
    ['another device\'s DMA', (soc, at) => soc.master('other').writeNow(at, pattern(64, 5))],
    ['a memset', (soc, at) => soc.mem.fill(at, 64, 0x5a)],
    ['a copy from memory elsewhere', (soc, at) => {
      soc.mem.write(0x80f0_0000, pattern(64, 6));
      soc.mem.copy(at, 0x80f0_0000, 64);
    }],
    ['a copy within the chunk', (soc, at) => soc.mem.copy(at, at + 1000, 64)],
    ['a device making its bytes in place', (soc, at) => soc.mem.writeFrom(at, 64, (dst, off, _s, n) => dst.fill(0x77, off, off + n))],
    ['a generated page', (soc, at) => {
      soc.mem.setPageGenerator((a, b, dst, off) => dst.fill((a + b) & 0xff, off, off + 4096));
      soc.mem.writeGeneratedPage(at - (at % 4096), 1, 2);
    }],
    ['the backing released', (soc) => soc.mem.releaseBacking()],
  ];
  for (const [what, write] of writers) {
    it(`shows what ${what} wrote since the last fetch`, async () => {
      const soc = smallSoc({ masters: [{ name: 'dev', coherent: false, bandwidth: 1e9, latencyNs: 100 }, { name: 'other', coherent: false, bandwidth: 1e9, latencyNs: 100 }] });
      const eng = new ScanoutEngine(soc.master('dev'), soc.clock, fmt);
      for (const s of fbA) soc.mem.write(s.addr, pattern(s.len, 1));
      const first = (await soc.clock.runUntilSettled(eng.scanout(fbA))).bytes().slice();
      expect(Buffer.from(first).equals(Buffer.from(gather(soc, fbA)))).toBe(true);
      write(soc, fbA[1]!.addr + 8);
      const shown = piecesOf(await soc.clock.runUntilSettled(eng.scanout(fbA)));
      expect(Buffer.from(shown).equals(Buffer.from(first))).toBe(false);
      expect(Buffer.from(shown).equals(Buffer.from(gather(soc, fbA)))).toBe(true);
    });
  }

  it('is fetched again through a master with a translation, whose tables may have changed', () => {
    const soc = smallSoc();
    const dev = soc.master('dev');
    const stamp = dev.memoryStamp();
    expect(dev.readUnchangedSince(fbA[0]!.addr, fbA[0]!.len, stamp)).toBe(true);
    dev.translator = { translate: (addr) => ({ pa: addr, run: 4096 - (addr % 4096) }) };
    expect(dev.readUnchangedSince(fbA[0]!.addr, fbA[0]!.len, stamp)).toBe(false);
  });
});
