import { describe, expect, it } from 'vitest';
import { DmaFault, type Translator } from '../../src/hw/index.ts';
import { pattern, smallSoc } from './helpers.ts';

const BUF = 0x8010_0000;

describe('non-coherent CPU cache and device DMA, byte by byte', () => {
  it('CPU write then device read without a clean: the device sees the old bytes', () => {
    const soc = smallSoc();
    const old = pattern(256, 1);
    soc.mem.write(BUF, old);
    soc.cpu.store(BUF, pattern(256, 2), 0, 256, 'wb');
    const seen = new Uint8Array(256);
    soc.master('dev').readNow(BUF, seen);
    expect(seen).toEqual(old);
  });

  it('CPU write, clean, device read: the device sees the new bytes', () => {
    const soc = smallSoc();
    soc.mem.write(BUF, pattern(256, 1));
    const fresh = pattern(256, 2);
    soc.cpu.store(BUF, fresh, 0, 256, 'wb');
    const ns = soc.cache.cleanRange(BUF, 256);
    expect(ns).toBeGreaterThan(0);
    const seen = new Uint8Array(256);
    soc.master('dev').readNow(BUF, seen);
    expect(seen).toEqual(fresh);
    expect(soc.cache.stats.cleanWritebacks).toBe(4);
  });

  it('device write then CPU read without an invalidate: the CPU sees stale bytes', () => {
    const soc = smallSoc();
    const before = pattern(256, 3);
    soc.mem.write(BUF, before);
    const warm = new Uint8Array(256);
    soc.cpu.load(BUF, warm, 0, 256, 'wb');
    soc.master('dev').writeNow(BUF, pattern(256, 4));
    const seen = new Uint8Array(256);
    soc.cpu.load(BUF, seen, 0, 256, 'wb');
    expect(seen).toEqual(before);
  });

  it('device write, invalidate, CPU read: the CPU sees the new bytes', () => {
    const soc = smallSoc();
    soc.mem.write(BUF, pattern(256, 3));
    soc.cpu.load(BUF, new Uint8Array(256), 0, 256, 'wb');
    const fresh = pattern(256, 4);
    soc.master('dev').writeNow(BUF, fresh);
    soc.cache.invalidateRange(BUF, 256);
    const seen = new Uint8Array(256);
    soc.cpu.load(BUF, seen, 0, 256, 'wb');
    expect(seen).toEqual(fresh);
  });

  it('an invalidate without a clean throws dirty CPU data away', () => {
    const soc = smallSoc();
    soc.cpu.store(BUF, pattern(64, 5), 0, 64, 'wb');
    soc.cache.invalidateRange(BUF, 64);
    expect(soc.cache.stats.discardedDirtyLines).toBe(1);
    const seen = new Uint8Array(64);
    soc.cpu.load(BUF, seen, 0, 64, 'wb');
    expect(seen).toEqual(new Uint8Array(64));
  });

  it('capacity evictions write dirty lines back at moments nobody chose', () => {
    const soc = smallSoc();
    const data = pattern(64, 6);
    soc.cpu.store(BUF, data, 0, 64, 'wb');
    expect(soc.mem.readBytes(BUF, 64)).toEqual(new Uint8Array(64));
    // Touch many lines of the same set until the dirty line is chosen as a victim.
    const setStride = soc.cache.sets * soc.cache.lineSize;
    const tmp = new Uint8Array(64);
    for (let i = 1; i < 200 && soc.cache.contains(BUF); i++) soc.cpu.load(BUF + i * setStride, tmp, 0, 64, 'wb');
    expect(soc.cache.contains(BUF)).toBe(false);
    expect(soc.cache.stats.evictionWritebacks).toBeGreaterThanOrEqual(1);
    expect(soc.mem.readBytes(BUF, 64)).toEqual(data);
  });

  it('picks eviction victims with the seeded PRNG: same seed, same order', () => {
    const victims = (seed: number) => {
      const soc = smallSoc({ seed });
      const stride = soc.cache.sets * soc.cache.lineSize;
      const out: number[] = [];
      for (let i = 0; i < 40; i++) {
        soc.cpu.store(BUF + i * stride, new Uint8Array([i]), 0, 1, 'wb');
        out.push(soc.cache.stats.evictionWritebacks);
      }
      return out.join(',') + '|' + Array.from(soc.mem.readBytes(BUF, 1)).join();
    };
    expect(victims(11)).toBe(victims(11));
  });

  it('a speculative prefetch through an unused cacheable alias brings a line in and corrupts an uncached view', () => {
    const soc = smallSoc({ prefetchProbability: 1 });
    // The kernel's linear map (cacheable) covers the page; a driver uses it through an uncached mapping.
    soc.cpu.mapRange(BUF, 4096, 'wb');
    const old = pattern(64, 7);
    soc.mem.write(BUF, old);
    soc.cpu.load(BUF, new Uint8Array(64), 0, 64, 'wc');
    expect(soc.cache.contains(BUF)).toBe(true);
    expect(soc.cpu.aliasPrefetches).toBe(1);
    // The device writes new data; the uncached CPU view hits the speculated line.
    soc.master('dev').writeNow(BUF, pattern(64, 8));
    const seen = new Uint8Array(64);
    soc.cpu.load(BUF, seen, 0, 64, 'wc');
    expect(seen).toEqual(old);
    expect(soc.cache.stats.mismatchedHits).toBeGreaterThan(0);
  });

  it('without a cacheable alias an uncached view is always fresh', () => {
    const soc = smallSoc({ prefetchProbability: 1 });
    soc.mem.write(BUF, pattern(64, 7));
    soc.cpu.load(BUF, new Uint8Array(64), 0, 64, 'wc');
    expect(soc.cache.contains(BUF)).toBe(false);
    const fresh = pattern(64, 8);
    soc.master('dev').writeNow(BUF, fresh);
    const seen = new Uint8Array(64);
    soc.cpu.load(BUF, seen, 0, 64, 'wc');
    expect(seen).toEqual(fresh);
  });

  it('write-through stores reach memory at once', () => {
    const soc = smallSoc();
    const d = pattern(100, 9);
    soc.cpu.store(BUF, d, 0, 100, 'wt');
    const seen = new Uint8Array(100);
    soc.master('dev').readNow(BUF, seen);
    expect(seen).toEqual(d);
  });

  it('an IO-coherent master snoops: it reads dirty lines and updates cached copies', () => {
    const soc = smallSoc({ masters: [{ name: 'dev', coherent: true, bandwidth: 1e9, latencyNs: 10 }] });
    const d = pattern(256, 10);
    soc.cpu.store(BUF, d, 0, 256, 'wb');
    const seen = new Uint8Array(256);
    soc.master('dev').readNow(BUF, seen);
    expect(seen).toEqual(d);
    const e = pattern(256, 11);
    soc.master('dev').writeNow(BUF, e);
    soc.cpu.load(BUF, seen, 0, 256, 'wb');
    expect(seen).toEqual(e);
  });

  it('a whole-cache clean+invalidate writes back every dirty line and costs the set/way walk', () => {
    const soc = smallSoc();
    for (let i = 0; i < 10; i++) soc.cpu.store(BUF + i * 192, pattern(64, i), 0, 64, 'wb');
    const ns = soc.cache.cleanInvalidateAll();
    expect(soc.cache.validLines).toBe(0);
    expect(soc.cache.stats.fullFlushes).toBe(1);
    expect(ns).toBe(soc.cache.wholeCostNs() + 10 * soc.cache.cfg.writebackNs);
    for (let i = 0; i < 10; i++) expect(soc.mem.readBytes(BUF + i * 192, 64)).toEqual(pattern(64, i));
  });

  it('prices range maintenance per line of the range', () => {
    const soc = smallSoc();
    expect(soc.cache.cleanRange(BUF + 10, 128)).toBe(3 * soc.cache.cfg.lineOpNs);
    expect(soc.cache.stats.cleanBytes).toBe(3 * 64);
  });
});

describe('DMA master', () => {
  it('moves bytes with the interconnect timing and counts them per master', async () => {
    const soc = smallSoc();
    const dev = soc.master('dev');
    soc.mem.write(BUF, pattern(4096, 12));
    let at = -1;
    soc.clock.spawn(async () => {
      await dev.copy(BUF + 0x10000, BUF, 4096);
      at = soc.clock.now;
    });
    await soc.clock.run();
    expect(soc.mem.readBytes(BUF + 0x10000, 4096)).toEqual(pattern(4096, 12));
    expect(at).toBe(Math.round(dev.timeFor(4096)));
    expect(dev.port.bytesRead).toBe(4096);
    expect(dev.port.bytesWritten).toBe(4096);
  });

  it('lands a DMA write only when the transfer completes', async () => {
    const soc = smallSoc();
    const dev = soc.master('dev');
    const p = soc.clock.spawn(() => dev.write(BUF, pattern(1024, 13)));
    await soc.clock.run(50);
    expect(soc.mem.readBytes(BUF, 16)).toEqual(new Uint8Array(16));
    await soc.clock.run();
    await p;
    expect(soc.mem.readBytes(BUF, 1024)).toEqual(pattern(1024, 13));
  });

  it('sees a bus error outside every bank', () => {
    const soc = smallSoc();
    expect(() => soc.master('dev').readNow(0x4000_0000, new Uint8Array(4))).toThrow(/bus error/);
  });

  it('goes through its translator and fails when it terminates the transaction', () => {
    const soc = smallSoc();
    const dev = soc.master('dev');
    const t: Translator = {
      translate(addr, write) {
        if (addr >= 0x2000) throw new DmaFault('dev', addr, write, 'translation fault');
        const page = Math.floor(addr / 4096);
        return { pa: BUF + (1 - page) * 4096 + (addr % 4096), run: 4096 - (addr % 4096) };
      },
    };
    dev.translator = t;
    const d = pattern(8192, 14);
    dev.writeNow(0, d);
    expect(soc.mem.readBytes(BUF + 4096, 4096)).toEqual(d.subarray(0, 4096));
    expect(soc.mem.readBytes(BUF, 4096)).toEqual(d.subarray(4096));
    expect(() => dev.readNow(0x1ff0, new Uint8Array(32))).toThrow(DmaFault);
  });
});
