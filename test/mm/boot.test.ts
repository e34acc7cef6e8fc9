import { describe, it, expect } from 'vitest';
import { Soc } from '../../src/hw/index.ts';
import { GiB, MiB } from '../../src/lib/index.ts';
import { bootMm } from '../../src/mm/index.ts';

describe('bootMm', () => {
  it('boots 64 GiB of RAM with every page free', () => {
    const soc = new Soc({ seed: 1, banks: [{ name: 'dram0', base: 0x8_0000_0000, size: 64 * GiB, kind: 'dram' }], masters: [] });
    const mm = bootMm(soc, { cma: { default: 256 * MiB } });
    expect(mm.pages.totalPages()).toBe(16 * 1024 * 1024);
    expect(mm.pages.freeCount()).toBe(16 * 1024 * 1024);
    expect(mm.kas.isLowmem(0x8_0000_0000 / 4096 + 16 * 1024 * 1024 - 1)).toBe(true);
    expect(mm.defaultCma!.size).toBe(256 * MiB);
    const p = mm.pages.allocPages(10, { movable: true });
    mm.pages.freePages(p, 10);
  });

  it('starts the background load when asked and keeps its data intact', () => {
    const soc = new Soc({ seed: 2, banks: [{ name: 'dram0', base: 0x8000_0000, size: 64 * MiB, kind: 'dram' }], masters: [] });
    const mm = bootMm(soc, { cma: { default: 16 * MiB }, background: { fill: 0.5, unmovable: 50 } });
    const bg = mm.background!;
    expect(bg.unmovablePages).toBe(50);
    expect(bg.movablePages).toBeGreaterThan(0.45 * (16384 - 50));
    expect(mm.defaultCma!.stats().borrowedPages).toBeGreaterThan(0);
    expect(bg.verify().mismatches).toBe(0);
  });

  it('is deterministic for a seed', () => {
    const run = () => {
      const soc = new Soc({ seed: 9, banks: [{ name: 'dram0', base: 0x8000_0000, size: 32 * MiB, kind: 'dram' }], masters: [] });
      const mm = bootMm(soc, { cma: { default: 8 * MiB }, background: { fill: 0.7, unmovable: 20 } });
      return [...mm.background!.movablePfns().slice(0, 50), ...soc.mem.readBytes(mm.background!.movablePfns()[7]! * 4096, 32)];
    };
    expect(run()).toEqual(run());
  });
});
