import { describe, expect, it } from 'vitest';
import { BusError, PhysicalMemory, reclaimMemory, recycleMemoryAfterRuns } from '../../src/hw/index.ts';
import { CHUNK_SIZE } from '../../src/hw/memory.ts';
import { GiB, MiB } from '../../src/lib/index.ts';
import { pattern } from './helpers.ts';
import { expectBytes } from '../util/bytes.ts';

describe('PhysicalMemory', () => {
  const mk = () =>
    new PhysicalMemory([
      { name: 'dram0', base: 0x8000_0000, size: 64 * GiB, kind: 'dram' },
      { name: 'sram', base: 0x0010_0000, size: 256 * 1024, kind: 'sram' },
    ]);

  it('costs nothing until touched, even for a 64 GiB map', () => {
    const m = mk();
    expect(m.materialised).toBe(0);
    expect(m.readBytes(0x8000_0000 + 40 * GiB, 16)).toEqual(new Uint8Array(16));
    m.fill(0x8000_0000 + 50 * GiB, 1 * MiB, 0);
    expect(m.materialised).toBe(0);
    m.write(0x8000_0000 + 63 * GiB, new Uint8Array([1, 2, 3]));
    expect(m.materialised).toBe(CHUNK_SIZE);
  });

  it('reads back exactly what was written, across chunk boundaries', () => {
    const m = mk();
    const data = pattern(3 * CHUNK_SIZE + 123, 5);
    const at = 0x8000_0000 + CHUNK_SIZE - 77;
    m.write(at, data);
    expectBytes(m.readBytes(at, data.length), data);
    expect(m.readBytes(at - 1, 1)[0]).toBe(0);
  });

  it('copies like memmove when ranges overlap in either direction', () => {
    const m = mk();
    const base = 0x8000_0000 + CHUNK_SIZE - 1000;
    const data = pattern(5000, 9);
    m.write(base, data);
    m.copy(base + 300, base, 5000);
    expect(m.readBytes(base + 300, 5000)).toEqual(data);
    m.write(base, data);
    m.copy(base, base + 300, 4700);
    expect(m.readBytes(base, 4700)).toEqual(data.subarray(300));
  });

  it('keeps SRAM separate from DRAM', () => {
    const m = mk();
    m.write(0x0010_0000, new Uint8Array([9, 8, 7]));
    expect(m.readBytes(0x0010_0000, 3)).toEqual(new Uint8Array([9, 8, 7]));
    expect(m.readBytes(0x8000_0000, 3)).toEqual(new Uint8Array(3));
  });

  it('raises a bus error for an access outside every bank and changes nothing', () => {
    const m = mk();
    expect(() => m.write(0x0010_0000 + 256 * 1024 - 2, new Uint8Array(4))).toThrow(BusError);
    expect(m.readBytes(0x0010_0000 + 256 * 1024 - 2, 2)).toEqual(new Uint8Array(2));
    expect(() => m.readBytes(0x4000_0000, 4)).toThrow(/bus error/);
    expect(() => m.copy(0x8000_0000, 0x10, 4)).toThrow(BusError);
  });

  it('reads and writes little-endian words for page-table walkers', () => {
    const m = mk();
    m.writeU32(0x8000_0100, 0xdeadbeef);
    expect(m.readU32(0x8000_0100)).toBe(0xdeadbeef);
    expect(Array.from(m.readBytes(0x8000_0100, 4))).toEqual([0xef, 0xbe, 0xad, 0xde]);
  });

  it('tells which 4 KiB pages each kind of write touched (lastWrite): another page of the same chunk keeps its stamp', () => {
    const m = mk();
    m.setPageGenerator((a, _b, dst, off) => dst.fill(a, off, off + 4096));
    const page = 0x8000_3000;
    const writes: [string, (at: number) => void][] = [
      ['write', (at) => m.write(at + 5, new Uint8Array([1]))],
      ['writeU32', (at) => m.writeU32(at + 8, 7)],
      ['writeWords', (at) => m.writeWords(at + 64, new Int32Array([1, 2]), 0, 2)],
      ['fill', (at) => m.fill(at + 100, 10, 3)],
      ['writeFrom', (at) => m.writeFrom(at + 200, 4, (dst, off, _s, n) => dst.fill(9, off, off + n))],
      ['copy', (at) => m.copy(at + 300, 0x8000_0000, 8)],
      ['writeGeneratedPage', (at) => m.writeGeneratedPage(at, 4, 0)],
    ];
    m.write(0x8000_0000, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    for (const [name, write] of writes) {
      const before = m.lastWrite(page, 4096);
      const other = m.lastWrite(page + 4096, 4096);
      write(page);
      expect(m.lastWrite(page, 4096), name).toBeGreaterThan(before);
      expect(m.lastWrite(page + 4096, 4096), name).toBe(other);
      expect(m.lastWrite(page + 4095, 2), name).toBe(m.lastWrite(page, 4096));
      expect(m.lastWrite(page, 1), name).toBeLessThanOrEqual(m.writeStamp());
    }
    // a copy over a chunk boundary stamps the pages on both sides, and no other
    const tail = 0x8010_0000 - 4096;
    const quiet = m.lastWrite(tail - 4096, 4096);
    const s0 = m.writeStamp();
    m.copy(tail + 4000, 0x8000_0000, 200);
    expect(m.lastWrite(tail, 4096)).toBeGreaterThan(s0);
    expect(m.lastWrite(0x8010_0000, 4096)).toBeGreaterThan(s0);
    expect(m.lastWrite(0x8010_0000 + 4096, 4096)).toBeLessThanOrEqual(s0);
    expect(m.lastWrite(tail - 4096, 4096)).toBe(quiet);
    // a release changes every byte
    m.releaseBacking();
    expect(m.lastWrite(page + 8192, 4)).toBe(m.writeStamp());
  });

  it('rejects overlapping banks', () => {
    expect(
      () =>
        new PhysicalMemory([
          { name: 'a', base: 0, size: 2 * MiB, kind: 'dram' },
          { name: 'b', base: MiB, size: MiB, kind: 'dram' },
        ]),
    ).toThrow(/overlap/);
  });
});

describe('PhysicalMemory backing recycled between runs (a sweep worker)', () => {
  it('hands a finished run\'s chunks to the next memory, which still reads zero where it never wrote', () => {
    recycleMemoryAfterRuns();
    const first = new PhysicalMemory([{ name: 'dram', base: 0x8000_0000, size: 8 * MiB, kind: 'dram' }]);
    first.write(0x8000_0000, pattern(CHUNK_SIZE, 1));
    first.write(0x8000_0000 + 3 * CHUNK_SIZE + 100, pattern(4096, 2));
    expect(first.materialised).toBe(2 * CHUNK_SIZE);
    reclaimMemory();
    // the old run's memory let go of its bytes
    expect(first.materialised).toBe(0);
    expectBytes(first.readBytes(0x8000_0000, 64), new Uint8Array(64));

    const next = new PhysicalMemory([{ name: 'dram', base: 0x4000_0000, size: 8 * MiB, kind: 'dram' }]);
    next.write(0x4000_0000 + 10, pattern(16, 3));
    next.write(0x4000_0000 + CHUNK_SIZE + 5, pattern(16, 4));
    // a reused chunk is zeroed: nothing of the first run's pattern shows through around the new writes
    const a = next.readBytes(0x4000_0000, CHUNK_SIZE);
    const b = next.readBytes(0x4000_0000 + CHUNK_SIZE, CHUNK_SIZE);
    const wantA = new Uint8Array(CHUNK_SIZE);
    wantA.set(pattern(16, 3), 10);
    const wantB = new Uint8Array(CHUNK_SIZE);
    wantB.set(pattern(16, 4), 5);
    expectBytes(a, wantA);
    expectBytes(b, wantB);
    reclaimMemory();
  });

  it('at the end of its system drops what it lent unfired, lends zeros after, and the next memory still reads zero', () => {
    const first = new PhysicalMemory([{ name: 'dram', base: 0x8000_0000, size: 8 * MiB, kind: 'dram' }]);
    first.write(0x8000_0000, pattern(2 * CHUNK_SIZE, 5));
    let fired = 0;
    first.watchWrites(0x8000_0000, 4096, () => fired++);
    first.releaseBacking(true);
    // the system is over: nobody is told to copy out what it was lent
    expect(fired).toBe(0);
    expect(first.materialised).toBe(0);
    const lent: Uint8Array[] = [];
    first.forEachView(0x8000_0000, 4096, (v) => (lent.push(v.slice()), true));
    expectBytes(lent[0]!, new Uint8Array(4096));
    // a write after the release finds no watch left to call
    first.write(0x8000_0000, pattern(16, 6));
    expect(fired).toBe(0);

    const next = new PhysicalMemory([{ name: 'dram', base: 0x8000_0000, size: 8 * MiB, kind: 'dram' }]);
    next.write(0x8000_0000 + 7, pattern(9, 7));
    const want = new Uint8Array(2 * CHUNK_SIZE);
    want.set(pattern(9, 7), 7);
    expectBytes(next.readBytes(0x8000_0000, 2 * CHUNK_SIZE), want);
  });

  it('by default copies out what it lent before letting go (the watchers are told)', () => {
    const m = new PhysicalMemory([{ name: 'dram', base: 0x8000_0000, size: 8 * MiB, kind: 'dram' }]);
    m.write(0x8000_0000, pattern(4096, 8));
    let seen: Uint8Array | null = null;
    m.watchWrites(0x8000_0000, 4096, () => (seen = m.readBytes(0x8000_0000, 4096)));
    m.releaseBacking();
    expectBytes(seen!, pattern(4096, 8));
  });
});
