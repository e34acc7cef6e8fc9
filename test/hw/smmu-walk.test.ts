import { describe, expect, it } from 'vitest';
import { DmaFault, Smmu, Soc, type SmmuFault } from '../../src/hw/index.ts';
import { MiB } from '../../src/lib/index.ts';

/*
 * The walker against tables the test writes word by word. Every descriptor
 * is a literal derived by hand from the ARM ARM's short-descriptor format
 * (VMSAv7), with AP[0] as the access flag (SCTLR.AFE=1) and TEX remap off;
 * none comes from code that the SMMU or io-pgtable share.
 */

const DRAM = 0x1000_0000;
const L1 = DRAM; // 16 KiB aligned first-level table
const L2 = DRAM + 0x4000; // 1 KiB aligned second-level table

/*
 * Small page, PA 0x12345000, read-only, execute-never, unprivileged access,
 * write-back write-allocate, not shared, global:
 *   [31:12] PA[31:12]       0x12345 -> 0x12345000
 *   [11]    nG = 0, [10] S = 0
 *   [9]     AP[2] = 1 (RO)  -> 0x200
 *   [8:6]   TEX = 0b001     -> 0x040
 *   [5:4]   AP[1:0] = 0b11  -> 0x030 (AF, unprivileged)
 *   [3] C = 1 -> 0x8, [2] B = 1 -> 0x4
 *   [1]     1 (small page)  -> 0x2
 *   [0]     XN = 1          -> 0x1
 */
const SMALL_RO_XN = 0x1234527f;
/*
 * Large page, PA 0x12340000, read-write, normal non-cacheable, shareable:
 *   [31:16] PA[31:16]       -> 0x12340000
 *   [15]    XN = 0
 *   [14:12] TEX = 0b001     -> 0x1000
 *   [11]    nG = 0
 *   [10]    S = 1           -> 0x400
 *   [9]     AP[2] = 0 (RW)
 *   [5:4]   AP[1:0] = 0b11  -> 0x030
 *   [3:2]   C = 0, B = 0
 *   [1:0]   0b01 (large)    -> 0x1
 */
const LARGE_RW_NC_S = 0x12341431;
/*
 * Large page, PA 0x12350000, read-only, execute-never, write-back no
 * write-allocate (TEX 0b000, C, B):
 *   [31:16] -> 0x12350000, [15] XN -> 0x8000, [14:12] TEX 0, [9] AP[2] -> 0x200,
 *   [5:4] AP[1:0] = 0b11 -> 0x30, C 0x8, B 0x4, [1:0] 0b01
 */
const LARGE_RO_XN_WB = 0x1235823d;
/*
 * Section, PA 0x12300000, read-write, privileged only, shareable device
 * (TEX 0b000, C 0, B 1), execute-never:
 *   [31:20] PA[31:20]       -> 0x12300000
 *   [19] NS = 0, [18] 0 (section), [17] nG = 0, [16] S = 0, [15] AP[2] = 0
 *   [14:12] TEX = 0
 *   [11:10] AP[1:0] = 0b01  -> 0x400 (AF only: privileged)
 *   [8:5]   domain 0
 *   [4]     XN = 1          -> 0x10
 *   [3] C = 0, [2] B = 1    -> 0x4
 *   [1:0]   0b10 (section)  -> 0x2
 */
const SECTION_PRIV_DEV_XN = 0x12300416;
/*
 * Supersection, PA 0x11000000, read-write, write-back write-allocate:
 *   [31:24] PA[31:24]       -> 0x11000000
 *   [23:20] PA[35:32] = 0
 *   [18]    1 (supersection) -> 0x40000
 *   [14:12] TEX = 0b001     -> 0x1000
 *   [11:10] AP[1:0] = 0b11  -> 0xc00
 *   [8:5]   PA[39:36] = 0
 *   [3] C -> 0x8, [2] B -> 0x4, [1:0] 0b10 -> 0x2
 */
const SUPERSECTION_WB = 0x11041c0e;
/*
 * Supersection with a 40-bit PA 0x23_1100_0000: as above plus
 *   [23:20] PA[35:32] = 0x3 -> 0x300000
 *   [8:5]   PA[39:36] = 0x2 -> 0x40
 */
const SUPERSECTION_40BIT = 0x11341c4e;
/** Page-table pointer to L2: [31:10] base, [3] NS = 0, [1:0] 0b01. */
const TABLE_L2 = 0x10004001;

function setup() {
  const soc = new Soc({
    seed: 5,
    banks: [{ name: 'dram', base: DRAM, size: 64 * MiB, kind: 'dram' }],
    masters: [{ name: 'dev', coherent: false, bandwidth: 1e9, latencyNs: 10 }],
  });
  const smmu = new Smmu(soc, { name: 'smmu0', contexts: 2, tlbEntries: 16, walkNs: 100 });
  const ctx = smmu.context(0);
  ctx.bind('test');
  ctx.activate({ ttbr0: L1 });
  const faults: SmmuFault[] = [];
  ctx.handler = (f) => {
    faults.push(f);
    return 'terminate';
  };
  const w = (pa: number, v: number) => soc.mem.writeU32(pa, v);
  /** The fault a translation raises, as its handler saw it. */
  const faultOf = (iova: number, write: boolean) => {
    const n = faults.length;
    expect(() => ctx.translate(iova, write)).toThrow(DmaFault);
    expect(faults).toHaveLength(n + 1);
    const f = faults[n]!;
    return { kind: f.kind, level: f.level };
  };
  return { soc, smmu, ctx, w, faultOf };
}

describe('SMMU walker on hand-written short descriptors', () => {
  it('a small page at 0x12345000: read-only, execute-never, 4 KiB', () => {
    const { ctx, w, faultOf } = setup();
    // iova 0x00405000: L1 index 0x004, L2 index 0x05.
    w(L1 + 0x004 * 4, TABLE_L2);
    w(L2 + 0x05 * 4, SMALL_RO_XN);
    expect(ctx.translate(0x00405abc, false)).toEqual({ pa: 0x12345abc, run: 0x1000 - 0xabc });
    expect(faultOf(0x00405abc, true)).toEqual({ kind: 'permission', level: 2 });
    const leaf = ctx.resolve(0x00405010)!;
    expect(leaf.pa).toBe(0x12345010);
    expect(leaf.size).toBe(0x1000);
    expect(leaf.af).toBe(true);
    expect(leaf.attrs).toEqual({ write: false, unpriv: true, xn: true, mem: 'wb-wa', shared: false, ns: false, ng: false });
    // The neighbouring slots are empty: translation fault at level 2.
    expect(faultOf(0x00406000, false)).toEqual({ kind: 'translation', level: 2 });
  });

  it('64 KiB large pages, their words in 16 slots each', () => {
    const { ctx, w, faultOf } = setup();
    // iova 0x00430000..0x0043ffff: L2 indexes 0x30..0x3f.
    w(L1 + 0x004 * 4, TABLE_L2);
    for (let i = 0x30; i < 0x40; i++) w(L2 + i * 4, LARGE_RW_NC_S);
    expect(ctx.translate(0x00439876, true)).toEqual({ pa: 0x12349876, run: 0x10000 - 0x9876 });
    const leaf = ctx.resolve(0x0043fff0)!;
    expect(leaf.pa).toBe(0x1234fff0);
    expect(leaf.size).toBe(0x10000);
    expect(leaf.attrs).toEqual({ write: true, unpriv: true, xn: false, mem: 'nc', shared: true, ns: false, ng: false });
    for (let i = 0x40; i < 0x50; i++) w(L2 + i * 4, LARGE_RO_XN_WB);
    expect(ctx.resolve(0x00441000)!.attrs).toEqual({ write: false, unpriv: true, xn: true, mem: 'wb', shared: false, ns: false, ng: false });
    expect(faultOf(0x00441000, true)).toEqual({ kind: 'permission', level: 2 });
  });

  it('a 1 MiB section for privileged device access only', () => {
    const { ctx, w, faultOf } = setup();
    // iova 0x00700000: L1 index 0x007.
    w(L1 + 0x007 * 4, SECTION_PRIV_DEV_XN);
    expect(faultOf(0x00712345, false)).toEqual({ kind: 'permission', level: 1 });
    ctx.privileged = true;
    expect(ctx.translate(0x00712345, true)).toEqual({ pa: 0x12312345, run: MiB - 0x12345 });
    const leaf = ctx.resolve(0x00700000)!;
    expect(leaf.size).toBe(MiB);
    expect(leaf.attrs).toEqual({ write: true, unpriv: false, xn: true, mem: 'device', shared: false, ns: false, ng: false });
  });

  it('a 16 MiB supersection, including the extended PA[39:32] bits', () => {
    const { ctx, w } = setup();
    // iova 0x02000000..0x02ffffff: L1 indexes 0x020..0x02f.
    for (let i = 0x20; i < 0x30; i++) w(L1 + i * 4, SUPERSECTION_WB);
    expect(ctx.translate(0x02abcdef, true)).toEqual({ pa: 0x11abcdef, run: 16 * MiB - 0xabcdef });
    expect(ctx.resolve(0x02000000)!.size).toBe(16 * MiB);
    for (let i = 0x30; i < 0x40; i++) w(L1 + i * 4, SUPERSECTION_40BIT);
    // Beyond 32 bits nothing decodes it, but the hardware translation says where it goes.
    expect(ctx.resolve(0x03123456)!.pa).toBe(0x23_1112_3456);
  });

  it('faults on invalid entries with the kind and level the architecture gives', () => {
    const { ctx, w, faultOf } = setup();
    // First-level 0b00: fault entry.
    expect(faultOf(0x00100000, false)).toEqual({ kind: 'translation', level: 1 });
    // First-level 0b11: a section with PXN, which this SMMU does not implement.
    w(L1 + 0x001 * 4, 0x12300c03);
    expect(faultOf(0x00100000, false)).toEqual({ kind: 'translation', level: 1 });
    // A section with AP[0] (the access flag) clear: 0x12300416 without 0x400.
    w(L1 + 0x002 * 4, 0x12300016);
    expect(faultOf(0x00200000, false)).toEqual({ kind: 'access-flag', level: 1 });
    // A small page with AP[0] clear: SMALL_RO_XN without 0x010.
    w(L1 + 0x004 * 4, TABLE_L2);
    w(L2 + 0x07 * 4, 0x1234526f);
    expect(faultOf(0x00407000, false)).toEqual({ kind: 'access-flag', level: 2 });
    // A page-table pointer into memory nothing decodes: external abort on the second fetch.
    w(L1 + 0x005 * 4, 0x00000401);
    expect(faultOf(0x00500000, false)).toEqual({ kind: 'external', level: 2 });
    // A TTBR pointing at nothing: external abort on the first fetch.
    const c1 = ctx.smmu.context(1);
    c1.bind('t');
    c1.activate({ ttbr0: 0x0000_4000 });
    c1.handler = () => 'terminate';
    expect(() => c1.translate(0, false)).toThrow(/external fault \(level 1\)/);
  });
});
