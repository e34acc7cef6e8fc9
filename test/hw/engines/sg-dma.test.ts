import { describe, expect, it } from 'vitest';
import type { SgSegment } from '../../../src/hw/index.ts';
import { sgDmaEnd, sgDmaRead, sgDmaWrite } from '../../../src/hw/engines/sg-dma.ts';
import { pattern, smallSoc } from '../helpers.ts';

const BASE = 0x8020_0000;
/** Odd lengths at odd offsets, out of address order, one of them crossing a cache line and a page. */
const SEGS: SgSegment[] = [
  { addr: BASE + 4093, len: 7 },
  { addr: BASE + 3, len: 61 },
  { addr: BASE + 0x9001, len: 333 },
  { addr: BASE + 0x2fff, len: 129 },
];
const TOTAL = 7 + 61 + 333 + 129;

/** What the segments hold in memory, concatenated in chain order. */
function gather(soc: ReturnType<typeof smallSoc>, segs: SgSegment[], len: number): Uint8Array {
  const out = new Uint8Array(len);
  let off = 0;
  for (const s of segs) {
    const n = Math.min(s.len, len - off);
    soc.mem.read(s.addr, out, off, n);
    off += n;
  }
  return out;
}

describe('scatter-gather DMA (hw/engines/sg-dma)', () => {
  it('reads exactly the segments, in chain order, across odd boundaries, and stops at len inside a segment', async () => {
    const soc = smallSoc();
    soc.mem.write(BASE, pattern(0x10000, 3));
    const dst = new Uint8Array(TOTAL + 8).fill(0xee);
    const len = TOTAL - 100;
    const moved = await soc.clock.runUntilSettled(sgDmaRead(soc.master('dev'), soc.clock, SEGS, dst, len, 't', { dstOff: 5 }));
    expect(moved).toBe(len);
    expect(dst.subarray(5, 5 + len)).toEqual(gather(soc, SEGS, len));
    expect(dst.subarray(0, 5)).toEqual(new Uint8Array(5).fill(0xee));
    expect(dst.subarray(5 + len)).toEqual(new Uint8Array(dst.length - 5 - len).fill(0xee));
  });

  it('writes exactly the segments and nothing between or after them; a short list reports what it moved', async () => {
    const soc = smallSoc();
    soc.mem.fill(BASE, 0x10000, 0x11);
    const src = pattern(TOTAL + 50, 9);
    const moved = await soc.clock.runUntilSettled(sgDmaWrite(soc.master('dev'), soc.clock, SEGS, src, TOTAL + 50, 't'));
    expect(moved).toBe(TOTAL);
    expect(gather(soc, SEGS, TOTAL)).toEqual(src.subarray(0, TOTAL));
    // bytes just around each segment are untouched
    for (const s of SEGS) {
      expect(soc.mem.readBytes(s.addr - 1, 1)[0]).toBe(0x11);
      expect(soc.mem.readBytes(s.addr + s.len, 1)[0]).toBe(0x11);
    }
    expect(sgDmaEnd(SEGS, TOTAL - 129 + 10)).toBe(BASE + 0x2fff + 10);
  });

  it('reads memory, not the CPU cache: dirty lines the CPU did not clean stay invisible to the device', async () => {
    const soc = smallSoc();
    const old = pattern(0x10000, 1);
    soc.mem.write(BASE, old);
    soc.cpu.store(BASE + 0x9001, pattern(333, 2), 0, 333, 'wb');
    const dst = new Uint8Array(TOTAL);
    await soc.clock.runUntilSettled(sgDmaRead(soc.master('dev'), soc.clock, SEGS, dst, TOTAL, 't'));
    expect(dst.subarray(68, 68 + 333)).toEqual(old.subarray(0x9001, 0x9001 + 333));
    soc.cache.cleanRange(BASE + 0x9001, 333);
    await soc.clock.runUntilSettled(sgDmaRead(soc.master('dev'), soc.clock, SEGS, dst, TOTAL, 't'));
    expect(dst.subarray(68, 68 + 333)).toEqual(pattern(333, 2));
  });

  it('takes one latency plus len / bandwidth; a write lands at completion, a read samples at its start or end as asked', async () => {
    // the helper SoC's port: 1 GB/s, 100 ns per transaction
    const soc = smallSoc();
    const m = soc.master('dev');
    soc.mem.fill(BASE, 0x10000, 0);
    const src = pattern(TOTAL, 5);
    const t0 = soc.clock.now;
    const w = soc.clock.spawn(() => sgDmaWrite(m, soc.clock, SEGS, src, TOTAL, 'w'));
    await soc.clock.run(t0 + 100 + TOTAL - 1);
    expect(gather(soc, SEGS, TOTAL)).toEqual(new Uint8Array(TOTAL));
    await soc.clock.runUntilSettled(w);
    expect(soc.clock.now).toBe(t0 + 100 + TOTAL);
    expect(gather(soc, SEGS, TOTAL)).toEqual(src);

    for (const at of ['start', 'end'] as const) {
      soc.mem.fill(BASE, 0x10000, 0x22);
      const dst = new Uint8Array(TOTAL);
      const t1 = soc.clock.now;
      const r = soc.clock.spawn(() => sgDmaRead(m, soc.clock, SEGS, dst, TOTAL, 'r', { at }));
      // memory changes while the transfer runs
      soc.clock.at(t1 + 50, () => soc.mem.fill(BASE, 0x10000, 0x33));
      await soc.clock.runUntilSettled(r);
      expect(soc.clock.now).toBe(t1 + 100 + TOTAL);
      expect(dst).toEqual(new Uint8Array(TOTAL).fill(at === 'start' ? 0x22 : 0x33));
    }
  });

  it('counts every segment as one burst on the port', async () => {
    const soc = smallSoc();
    const port = soc.bus.port('dev');
    await soc.clock.runUntilSettled(sgDmaRead(soc.master('dev'), soc.clock, SEGS, new Uint8Array(TOTAL), TOTAL, 'r'));
    expect(port.transfers).toBe(SEGS.length);
    expect(port.bytesRead).toBe(TOTAL);
  });
});
