import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../src/hw/index.ts';
import { CHUNK_SIZE } from '../../src/hw/memory.ts';
import { pattern } from './helpers.ts';

// A copy over several chunks that lie one after another in their host
// allocation goes as one host copy: the bytes must be those of a copy
// chunk by chunk, whatever the offsets, lengths and overlap.

const BASE = 0x8000_0000;

/** A memory of `chunks` chunks, all materialised in address order (so they follow each other in their slab). */
function filled(chunks: number, seed: number): { m: PhysicalMemory; model: Uint8Array } {
  const size = chunks * CHUNK_SIZE;
  const m = new PhysicalMemory([{ name: 'dram', base: BASE, size, kind: 'dram' }]);
  const model = pattern(size, seed);
  m.write(BASE, model);
  return { m, model };
}

describe('PhysicalMemory copies across chunks of one slab', () => {
  it('copies runs of whole chunks, and runs that start and end inside chunks, as the bytes say', () => {
    for (const [dst, src, len] of [
      [6 * CHUNK_SIZE, 0, 4 * CHUNK_SIZE],
      [6 * CHUNK_SIZE + 4096, 4096, 3 * CHUNK_SIZE + 5],
      [5 * CHUNK_SIZE + 77, 77, 2 * CHUNK_SIZE - 200],
      [5 * CHUNK_SIZE + 10, 3, 3 * CHUNK_SIZE],
    ] as const) {
      const { m, model } = filled(10, dst + len);
      m.copy(BASE + dst, BASE + src, len);
      model.copyWithin(dst, src, src + len);
      expect(Buffer.from(m.readBytes(BASE, model.length)).equals(Buffer.from(model))).toBe(true);
    }
  });

  it('copies overlapping runs (a memmove) forward and backward', () => {
    for (const [dst, src] of [
      [CHUNK_SIZE, 0],
      [0, CHUNK_SIZE],
      [2 * CHUNK_SIZE + 64, 64],
    ] as const) {
      const { m, model } = filled(8, dst + 1);
      const len = 4 * CHUNK_SIZE;
      m.copy(BASE + dst, BASE + src, len);
      model.copyWithin(dst, src, src + len);
      expect(Buffer.from(m.readBytes(BASE, model.length)).equals(Buffer.from(model))).toBe(true);
    }
  });
});
