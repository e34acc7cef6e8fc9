import { describe, expect, it } from 'vitest';
import { DmaFault, Smmu, Soc, type SmmuFault } from '../../src/hw/index.ts';
import { MiB } from '../../src/lib/index.ts';

const DRAM = 0x8000_0000;
const L1_TABLE_BYTES = 0x4000;

// Descriptors as the ARM ARM lays them out (short-descriptor format), with
// the attributes every mapping here shares: AP[1:0] = 0b11 (access flag,
// unprivileged access), TEX = 0b001 with C and B (write-back write-allocate),
// XN set, not shared, global.
/** Section: PA[31:20] | TEX[14:12]=001 0x1000 | AP[1:0] at [11:10] 0x0c00 | XN bit 4 0x10 | C 0x8 | B 0x4 | type 0b10. */
const section = (pa: number, priv = false) => ((pa & 0xfff00000) | (priv ? 0x141e : 0x1c1e)) >>> 0;
/** Supersection: a section word with bit 18 set, PA[31:24]. */
const supersection = (pa: number) => ((pa & 0xff000000) | 0x40000 | 0x1c1e) >>> 0;
/** Page-table pointer: table base [31:10] | type 0b01. */
const table = (pa: number) => ((pa & 0xfffffc00) | 0x1) >>> 0;
/** Small page: PA[31:12] | TEX[8:6]=001 0x40 | AP[1:0] at [5:4] 0x30 | C 0x8 | B 0x4 | bit 1 | XN bit 0; AP[2] (bit 9, 0x200) for read-only. */
const small = (pa: number, ro = false) => ((pa & 0xfffff000) | (ro ? 0x27f : 0x7f)) >>> 0;
/** Large page: PA[31:16] | XN bit 15 0x8000 | TEX[14:12]=001 0x1000 | AP[1:0] 0x30 | C | B | type 0b01. */
const large = (pa: number) => ((pa & 0xffff0000) | 0x903d) >>> 0;

function setup(tlbEntries = 16) {
  const soc = new Soc({
    seed: 7,
    banks: [{ name: 'dram', base: DRAM, size: 64 * MiB, kind: 'dram' }],
    masters: [
      { name: 'cam', coherent: false, bandwidth: 1e9, latencyNs: 10 },
      { name: 'isp', coherent: false, bandwidth: 1e9, latencyNs: 10 },
    ],
  });
  const smmu = new Smmu(soc, { name: 'smmu0', contexts: 4, tlbEntries, walkNs: 100 });
  const l1 = DRAM; // 16 KiB aligned
  const l2 = DRAM + L1_TABLE_BYTES; // 1 KiB aligned
  const w = (pa: number, v: number) => soc.mem.writeU32(pa, v);
  return { soc, smmu, l1, l2, w };
}

describe('SMMU walker (ARMv7 short descriptors)', () => {
  it('translates sections, supersections, large and small pages, one page run per call', () => {
    const { soc, smmu, l1, l2, w } = setup();
    // 1 MiB section: iova 0x100000 -> DRAM+8MiB
    w(l1 + 1 * 4, section(DRAM + 8 * MiB));
    // 16 MiB supersection at iova 0x1000000 -> DRAM+16MiB (16 replicated entries)
    for (let i = 0; i < 16; i++) w(l1 + (16 + i) * 4, supersection(DRAM + 16 * MiB));
    // second-level table for iova 0x200000..: small page at +0x3000, large page at +0x10000
    w(l1 + 2 * 4, table(l2));
    w(l2 + 3 * 4, small(DRAM + 0x50000));
    for (let i = 0; i < 16; i++) w(l2 + (16 + i) * 4, large(DRAM + 0x60000));

    const ctx = smmu.context(0);
    ctx.bind('test');
    ctx.activate({ ttbr0: l1 });
    expect(ctx.translate(0x100000 + 0x1234, false)).toEqual({ pa: DRAM + 8 * MiB + 0x1234, run: MiB - 0x1234 });
    expect(ctx.translate(0x1000000 + 5 * MiB + 7, true)).toEqual({ pa: DRAM + 21 * MiB + 7, run: 11 * MiB - 7 });
    expect(ctx.translate(0x203010, false)).toEqual({ pa: DRAM + 0x50010, run: 0x1000 - 0x10 });
    expect(ctx.translate(0x21f000, false)).toEqual({ pa: DRAM + 0x6f000, run: 0x1000 });
    expect(smmu.stats.walks).toBe(4);
    // section + supersection fetch one descriptor, small and large pages two.
    expect(smmu.stats.walkNs).toBe((1 + 1 + 2 + 2) * 100);
    // Same pages again: TLB hits, no walk.
    ctx.translate(0x100000, false);
    ctx.translate(0x210000, false);
    expect(smmu.stats.tlbHits).toBe(2);
    expect(smmu.stats.walks).toBe(4);

    // A DMA master behind the context moves the bytes through the mapping.
    const cam = soc.master('cam');
    ctx.connect(cam);
    const data = new Uint8Array(0x2000).map((_, i) => i & 0xff);
    // Crosses from the section into the next MiB, where only +0x3000 and
    // +0x10000 are mapped: the first page lands, then the transaction faults.
    expect(() => cam.writeNow(0x100000 + MiB - 0x1000, data)).toThrow(/translation fault \(level 2\)/);
    expect(soc.mem.readBytes(DRAM + 9 * MiB - 0x1000, 0x1000)).toEqual(data.subarray(0, 0x1000));
    expect(smmu.stats.faults).toBe(1);
  });

  it('faults with no handler: warning, finding, DmaFault; a handler can fix and retry', () => {
    const { soc, smmu, l1, l2, w } = setup();
    const ctx = smmu.context(1);
    ctx.bind('t');
    ctx.activate({ ttbr0: l1 });
    const cam = soc.master('cam');
    ctx.connect(cam);
    expect(() => cam.readNow(0x300000, new Uint8Array(16))).toThrow(DmaFault);
    expect(smmu.warningCount).toBe(1);
    expect(smmu.warnings[0]).toMatch(/unhandled translation fault \(level 1\).*0x00300000/);
    expect(soc.findings.ofKind('iommu-fault')).toHaveLength(1);

    const seen: SmmuFault[] = [];
    ctx.handler = (f) => {
      seen.push(f);
      w(l1 + 3 * 4, table(l2));
      w(l2 + 0, small(DRAM + 0x7000));
      return 'retry';
    };
    soc.mem.write(DRAM + 0x7000, new Uint8Array([9, 8, 7]));
    const out = new Uint8Array(3);
    cam.readNow(0x300000, out);
    expect(out).toEqual(new Uint8Array([9, 8, 7]));
    expect(seen).toHaveLength(1);
    expect(seen[0]!.kind).toBe('translation');
    expect(smmu.warningCount).toBe(1);

    // Write to a read-only page: permission fault; the handler terminates.
    w(l2 + 4, small(DRAM + 0x8000, true));
    ctx.handler = (f) => {
      seen.push(f);
      return 'terminate';
    };
    expect(() => cam.writeNow(0x301000, new Uint8Array(4))).toThrow(/permission fault.*terminated by the fault handler/);
    expect(seen[1]!.kind).toBe('permission');
    expect(soc.mem.readBytes(DRAM + 0x8000, 4)).toEqual(new Uint8Array(4));
    // A handler that keeps asking for retries without fixing anything is cut off.
    ctx.handler = () => 'retry';
    expect(() => cam.readNow(0x400000, new Uint8Array(1))).toThrow(/still faulting after 8 retries/);
  });

  it('unprivileged transactions fault on privileged-only pages; disabled contexts terminate', () => {
    const { soc, smmu, l1, w } = setup();
    w(l1 + 1 * 4, section(DRAM + MiB, true));
    const ctx = smmu.context(0);
    ctx.bind('t');
    ctx.activate({ ttbr0: l1 });
    expect(() => ctx.translate(0x100000, false)).toThrow(/permission/);
    ctx.privileged = true;
    expect(ctx.translate(0x100000, false).pa).toBe(DRAM + MiB);
    ctx.deactivate();
    const cam = soc.master('cam');
    ctx.connect(cam);
    expect(() => cam.readNow(0x100000, new Uint8Array(1))).toThrow(/disabled fault/);
  });

  it('serves a stale entry after a page-table change until invalidated, and reports it once', () => {
    const { soc, smmu, l1, w } = setup();
    w(l1 + 1 * 4, section(DRAM + 4 * MiB));
    soc.mem.write(DRAM + 4 * MiB, new Uint8Array([1, 1]));
    soc.mem.write(DRAM + 5 * MiB, new Uint8Array([2, 2]));
    const ctx = smmu.context(0);
    ctx.bind('t');
    ctx.activate({ ttbr0: l1 });
    const cam = soc.master('cam');
    ctx.connect(cam);
    const b = new Uint8Array(2);
    cam.readNow(0x100000, b);
    expect(b).toEqual(new Uint8Array([1, 1]));
    // Remap without TLB maintenance: the old translation is still used.
    w(l1 + 1 * 4, section(DRAM + 5 * MiB));
    cam.readNow(0x100000, b);
    expect(b).toEqual(new Uint8Array([1, 1]));
    cam.readNow(0x100004, b);
    expect(smmu.stats.staleHits).toBe(2);
    const stale = soc.findings.ofKind('stale-tlb');
    expect(stale).toHaveLength(1);
    expect(stale[0]!.message).toMatch(/iova 0x00100000 used a stale TLB entry to pa 0x80400000/);
    ctx.tlbInvalidateVa(0x100000);
    ctx.tlbSync();
    cam.readNow(0x100000, b);
    expect(b).toEqual(new Uint8Array([2, 2]));
    expect(smmu.stats.staleHits).toBe(2);
  });

  it('shares one TLB between contexts, replacing with the PRNG when full', () => {
    const { smmu, l1, l2, w } = setup(8);
    w(l1 + 0, table(l2));
    for (let i = 0; i < 256; i++) w(l2 + i * 4, small(DRAM + MiB + i * 0x1000));
    const a = smmu.context(0);
    const b = smmu.context(1);
    a.bind('a');
    b.bind('b');
    a.activate({ ttbr0: l1 });
    b.activate({ ttbr0: l1 });
    for (let i = 0; i < 6; i++) a.translate(i * 0x1000, false);
    for (let i = 0; i < 6; i++) b.translate(i * 0x1000, false);
    expect(smmu.tlb.size).toBe(8);
    expect(smmu.tlb.entriesOf(0) + smmu.tlb.entriesOf(1)).toBe(8);
    expect(smmu.stats.tlbMisses).toBe(12);
    // Invalidating one context leaves the other's entries.
    const before1 = smmu.tlb.entriesOf(1);
    a.tlbInvalidateAll();
    expect(smmu.tlb.entriesOf(0)).toBe(0);
    expect(smmu.tlb.entriesOf(1)).toBe(before1);
    // Same seed, same victims: a second SMMU fed the same sequence ends with the same TLB.
    const again = setup(8);
    again.w(again.l1, table(again.l2));
    for (let i = 0; i < 256; i++) again.w(again.l2 + i * 4, small(DRAM + MiB + i * 0x1000));
    const a2 = again.smmu.context(0);
    const b2 = again.smmu.context(1);
    a2.bind('a');
    b2.bind('b');
    a2.activate({ ttbr0: again.l1 });
    b2.activate({ ttbr0: again.l1 });
    for (let i = 0; i < 6; i++) a2.translate(i * 0x1000, false);
    for (let i = 0; i < 6; i++) b2.translate(i * 0x1000, false);
    expect(Array.from(again.smmu.tlb.va)).toEqual(Array.from(smmu.tlb.va));
  });

  it('splits the address space between TTBR0 and TTBR1 with TTBCR.N', () => {
    const { smmu, l1, w } = setup();
    const high = DRAM + 0x10000; // another 16 KiB-aligned table
    w(l1 + 1 * 4, section(DRAM + 2 * MiB));
    w(high + 0x801 * 4, section(DRAM + 3 * MiB));
    const ctx = smmu.context(2);
    ctx.bind('t');
    ctx.activate({ ttbr0: l1, ttbr1: high, split: 1 });
    expect(ctx.translate(0x100010, false).pa).toBe(DRAM + 2 * MiB + 0x10);
    expect(ctx.translate(0x80100010, false).pa).toBe(DRAM + 3 * MiB + 0x10);
    expect(ctx.resolve(0x80100000)?.attrs.mem).toBe('wb-wa');
    expect(ctx.resolve(0x80200000)).toBeNull();
  });

  it('with a length, returns one run over contiguous pages with exactly the counts and TLB of per-page calls', () => {
    const build = () => {
      const r = setup(8);
      // 1 MiB of small pages, physically contiguous except a jump after page 40; page 60 read-only; page 70 unmapped.
      r.w(r.l1 + 0, table(r.l2));
      for (let i = 0; i < 256; i++) {
        if (i === 70) continue;
        const pa = DRAM + 2 * MiB + i * 0x1000 + (i > 40 ? 0x10000 : 0);
        r.w(r.l2 + i * 4, small(pa, i === 60));
      }
      const ctx = r.smmu.context(0);
      ctx.bind('t');
      ctx.activate({ ttbr0: r.l1 });
      return { ...r, ctx };
    };
    const a = build();
    const b = build();
    // Per-page calls, the way a master without a length hint walks.
    const perPage: { pa: number; run: number }[] = [];
    for (let va = 0x3000; va < 0x29000; ) {
      const t = a.ctx.translate(va, false);
      perPage.push({ ...t });
      va += t.run;
    }
    // One call with the length: stops where the physical run breaks (after page 40).
    const first = { ...b.ctx.translate(0x3000, false, 0x30000) };
    expect(first).toEqual({ pa: DRAM + 2 * MiB + 0x3000, run: 0x26000 });
    const second = { ...b.ctx.translate(0x29000, false, 0x1000) };
    expect(second.pa).toBe(DRAM + 2 * MiB + 0x29000 + 0x10000);
    a.ctx.translate(0x29000, false);
    expect(b.smmu.stats).toEqual(a.smmu.stats);
    expect(Array.from(b.smmu.tlb.va)).toEqual(Array.from(a.smmu.tlb.va));
    // A write run stops before the read-only page and leaves it to the next call, which faults.
    const w = b.ctx.translate(0x30000, true, 0x20000);
    expect(w.run).toBe(0xc000); // pages 48..59
    expect(() => b.ctx.translate(0x3c000, true, 0x1000)).toThrow(/permission fault/);
    // A read run stops before the unmapped page 70.
    const rr = b.ctx.translate(0x41000, false, 0x10000);
    expect(rr.run).toBe(0x5000);
    expect(b.smmu.stats.faults).toBe(1);
  });
});
