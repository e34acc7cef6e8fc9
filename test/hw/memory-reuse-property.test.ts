import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { PhysicalMemory, reclaimMemory, recycleMemoryAfterRuns } from '../../src/hw/index.ts';
import { CHUNK_SIZE } from '../../src/hw/memory.ts';

// A memory built on chunks an earlier run left full of bytes must read
// exactly as a fresh one: zero wherever this run has not written, whatever
// mix of whole-page writes (which skip the zeroing), partial writes, bytes
// made in place, cache line transfers, copies and fills touches it. A
// plain array is the model.

const BASE = 0x8000_0000;
const SIZE = 3 * CHUNK_SIZE;
const PAGE = 4096;

type Op =
  | { kind: 'write'; off: number; len: number; seed: number }
  | { kind: 'writeFrom'; off: number; len: number; seed: number }
  | { kind: 'fill'; off: number; len: number; value: number }
  | { kind: 'copy'; dst: number; src: number; len: number }
  | { kind: 'writeLine'; line: number; seed: number }
  | { kind: 'readLine'; line: number }
  | { kind: 'read'; off: number; len: number }
  | { kind: 'readU32'; off: number }
  | { kind: 'generate'; page: number; a: number; b: number }
  | { kind: 'copyPage'; dst: number; src: number };

/** An offset near a page or chunk edge more often than not, where the zeroing's pieces meet. */
const offset = fc.oneof(
  fc.integer({ min: 0, max: SIZE - 1 }),
  fc.tuple(fc.integer({ min: 0, max: SIZE / PAGE - 1 }), fc.integer({ min: -3, max: 3 })).map(([p, d]) => Math.min(SIZE - 1, Math.max(0, p * PAGE + d))),
);
const length = fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constantFrom(PAGE, 2 * PAGE, 3 * PAGE), fc.integer({ min: 1, max: 3 * PAGE + 7 }));
const clip = (off: number, len: number) => Math.max(1, Math.min(len, SIZE - off));
const LINES = SIZE / 64;

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), off: offset, len: length, seed: fc.integer({ min: 1, max: 250 }) }),
  fc.record({ kind: fc.constant('writeFrom' as const), off: offset, len: length, seed: fc.integer({ min: 1, max: 250 }) }),
  fc.record({ kind: fc.constant('fill' as const), off: offset, len: length, value: fc.constantFrom(0, 0x5a) }),
  fc.record({ kind: fc.constant('copy' as const), dst: offset, src: offset, len: length }),
  fc.record({ kind: fc.constant('writeLine' as const), line: fc.integer({ min: 0, max: LINES - 1 }), seed: fc.integer({ min: 1, max: 250 }) }),
  fc.record({ kind: fc.constant('readLine' as const), line: fc.integer({ min: 0, max: LINES - 1 }) }),
  fc.record({ kind: fc.constant('read' as const), off: offset, len: length }),
  fc.record({ kind: fc.constant('readU32' as const), off: fc.integer({ min: 0, max: SIZE - 4 }) }),
  fc.record({ kind: fc.constant('generate' as const), page: fc.integer({ min: 0, max: SIZE / PAGE - 1 }), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('copyPage' as const), dst: fc.integer({ min: 0, max: SIZE / PAGE - 1 }), src: fc.integer({ min: 0, max: SIZE / PAGE - 1 }) }),
);

/** A page generator: bytes that depend on both arguments and on the offset. */
function generate(a: number, b: number, dst: Uint8Array, off: number): void {
  for (let i = 0; i < PAGE; i++) dst[off + i] = (a + i * 7 + (b >> (i & 15))) & 0xff;
}

function bytes(len: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (seed + i * 31) & 0xff || 1);
}

/** Leaves `chunks` chunks of 0xEE in the pool, as a finished run would. */
function dirtyPool(chunks: number): void {
  const old = new PhysicalMemory([{ name: 'old', base: BASE, size: chunks * CHUNK_SIZE, kind: 'dram' }]);
  old.fill(BASE, chunks * CHUNK_SIZE, 0xee);
  reclaimMemory();
}

describe('PhysicalMemory on reused chunks, with generated pages', () => {
  afterAll(() => reclaimMemory());

  it('reads as a fresh memory with eager writes would, zero wherever nothing was written, whatever the access mix', () => {
    recycleMemoryAfterRuns();
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), (ops) => {
        dirtyPool(SIZE / CHUNK_SIZE);
        const m = new PhysicalMemory([{ name: 'dram', base: BASE, size: SIZE, kind: 'dram' }]);
        expect(m.setPageGenerator(generate)).toBe(true);
        const model = new Uint8Array(SIZE);
        const words = new Int32Array(16);
        for (const o of ops) {
          switch (o.kind) {
            case 'write': {
              const b = bytes(clip(o.off, o.len), o.seed);
              m.write(BASE + o.off, b);
              model.set(b, o.off);
              break;
            }
            case 'writeFrom': {
              // a device that makes its bytes in place (a sensor's pattern), piece by piece
              const b = bytes(clip(o.off, o.len), o.seed);
              m.writeFrom(BASE + o.off, b.length, (dst, dstOff, from, k) => dst.set(b.subarray(from, from + k), dstOff));
              model.set(b, o.off);
              break;
            }
            case 'fill': {
              const n = clip(o.off, o.len);
              m.fill(BASE + o.off, n, o.value);
              model.fill(o.value, o.off, o.off + n);
              break;
            }
            case 'copy': {
              const n = Math.max(1, Math.min(o.len, SIZE - o.dst, SIZE - o.src));
              m.copy(BASE + o.dst, BASE + o.src, n);
              model.copyWithin(o.dst, o.src, o.src + n);
              break;
            }
            case 'writeLine': {
              const b = bytes(64, o.seed);
              m.writeWords(BASE + o.line * 64, new Int32Array(b.buffer), 0, 16);
              model.set(b, o.line * 64);
              break;
            }
            case 'readLine': {
              m.readWords(BASE + o.line * 64, words, 0, 16);
              expect(new Uint8Array(words.buffer)).toEqual(model.subarray(o.line * 64, o.line * 64 + 64));
              break;
            }
            case 'read': {
              const n = clip(o.off, o.len);
              expect(m.readBytes(BASE + o.off, n)).toEqual(model.subarray(o.off, o.off + n));
              break;
            }
            case 'generate':
              m.writeGeneratedPage(BASE + o.page * PAGE, o.a, o.b);
              generate(o.a, o.b, model, o.page * PAGE);
              break;
            case 'copyPage':
              m.copy(BASE + o.dst * PAGE, BASE + o.src * PAGE, PAGE);
              model.copyWithin(o.dst * PAGE, o.src * PAGE, o.src * PAGE + PAGE);
              break;
            case 'readU32': {
              const want = (model[o.off]! | (model[o.off + 1]! << 8) | (model[o.off + 2]! << 16) | (model[o.off + 3]! << 24)) >>> 0;
              expect(m.readU32(BASE + o.off)).toBe(want);
              break;
            }
          }
        }
        expect(Buffer.from(m.readBytes(BASE, SIZE)).equals(Buffer.from(model))).toBe(true);
        reclaimMemory();
      }),
      { numRuns: 200 },
    );
  });


  it('holds no backing for generated pages nothing else touches, and moves one by a page copy without making it', () => {
    const m = new PhysicalMemory([{ name: 'dram', base: BASE, size: SIZE, kind: 'dram' }]);
    m.setPageGenerator(generate);
    m.writeGeneratedPage(BASE, 1, 2);
    m.writeGeneratedPage(BASE + 2 * CHUNK_SIZE + PAGE, 3, 4);
    m.copy(BASE + CHUNK_SIZE, BASE, PAGE);
    expect(m.materialised).toBe(0);
    const want = new Uint8Array(PAGE);
    generate(1, 2, want, 0);
    expect(m.readBytes(BASE + CHUNK_SIZE, PAGE)).toEqual(want);
    // the read made the bytes of that one chunk
    expect(m.materialised).toBe(CHUNK_SIZE);
  });

  it('takes one page generator: a second is refused, and its owner writes eagerly', () => {
    const m = new PhysicalMemory([{ name: 'dram', base: BASE, size: SIZE, kind: 'dram' }]);
    expect(m.setPageGenerator(generate)).toBe(true);
    expect(m.setPageGenerator(() => {})).toBe(false);
    expect(m.setPageGenerator(generate)).toBe(true);
  });
});
