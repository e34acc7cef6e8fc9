/**
 * Word-at-a-time bitmap helpers over Uint32Array (lib/bitmap.c). Bit i lives
 * in word i>>>5 at position i&31. Scans skip whole words, so a search over a
 * mostly full or mostly empty map costs one step per 32 bits, not per bit.
 */

/** Returns the first clear bit in [from, end), or `end` (find_next_zero_bit). */
export function findNextZeroBit(map: Uint32Array, from: number, end: number): number {
  if (from >= end) return end;
  let w = from >>> 5;
  // Mask out bits below `from` in the first word by treating them as set.
  let word = ~(map[w]! | ((1 << (from & 31)) - 1));
  const lastW = (end - 1) >>> 5;
  while (true) {
    if (word !== 0) {
      const bit = (w << 5) + ctz(word);
      return bit < end ? bit : end;
    }
    if (++w > lastW) return end;
    word = ~map[w]!;
  }
}

/** Returns the first set bit in [from, end), or `end` (find_next_bit). */
export function findNextSetBit(map: Uint32Array, from: number, end: number): number {
  if (from >= end) return end;
  let w = from >>> 5;
  let word = map[w]! & ~((1 << (from & 31)) - 1);
  const lastW = (end - 1) >>> 5;
  while (true) {
    if (word !== 0) {
      const bit = (w << 5) + ctz(word);
      return bit < end ? bit : end;
    }
    if (++w > lastW) return end;
    word = map[w]!;
  }
}

/** Sets bits [start, start+n) (bitmap_set). */
export function setBits(map: Uint32Array, start: number, n: number): void {
  fillBits(map, start, n, true);
}

/** Clears bits [start, start+n) (bitmap_clear). */
export function clearBits(map: Uint32Array, start: number, n: number): void {
  fillBits(map, start, n, false);
}

/** True when every bit of [start, start+n) is set. */
export function allSet(map: Uint32Array, start: number, n: number): boolean {
  return findNextZeroBit(map, start, start + n) === start + n;
}

/** True when every bit of [start, start+n) is clear. */
export function allClear(map: Uint32Array, start: number, n: number): boolean {
  return findNextSetBit(map, start, start + n) === start + n;
}

/** Counts set bits in [start, start+n) (bitmap_weight over a range). */
export function countSet(map: Uint32Array, start: number, n: number): number {
  let c = 0;
  let i = start;
  const end = start + n;
  while (i < end) {
    const s = findNextSetBit(map, i, end);
    if (s === end) break;
    const z = findNextZeroBit(map, s, end);
    c += z - s;
    i = z;
  }
  return c;
}

/**
 * Finds `n` clear bits in [from, end) whose start s satisfies
 * (s + alignOffset) % (alignMask + 1) === 0; returns the start or -1
 * (bitmap_find_next_zero_area_off).
 */
export function findZeroArea(map: Uint32Array, from: number, end: number, n: number, alignMask: number, alignOffset: number): number {
  let i = from;
  while (true) {
    let s = findNextZeroBit(map, i, end);
    s = alignStart(s, alignMask, alignOffset);
    if (s + n > end) return -1;
    const busy = findNextSetBit(map, s, s + n);
    if (busy === s + n) return s;
    i = busy + 1;
  }
}

/** Rounds bit index `s` up so that (s + offset) is a multiple of mask+1. */
export function alignStart(s: number, alignMask: number, alignOffset: number): number {
  if (alignMask === 0) return s;
  const a = alignMask + 1;
  return Math.ceil((s + alignOffset) / a) * a - alignOffset;
}

function fillBits(map: Uint32Array, start: number, n: number, on: boolean): void {
  if (n <= 0) return;
  const end = start + n;
  let w = start >>> 5;
  const lastW = (end - 1) >>> 5;
  const firstMask = ~0 << (start & 31);
  const lastMask = (end & 31) === 0 ? ~0 : (1 << (end & 31)) - 1;
  if (w === lastW) {
    const m = firstMask & lastMask;
    map[w] = on ? map[w]! | m : map[w]! & ~m;
    return;
  }
  map[w] = on ? map[w]! | firstMask : map[w]! & ~firstMask;
  w++;
  if (lastW > w) map.fill(on ? 0xffffffff : 0, w, lastW);
  map[lastW] = on ? map[lastW]! | lastMask : map[lastW]! & ~lastMask;
}

/** Count of trailing zero bits of a non-zero 32-bit word. */
function ctz(x: number): number {
  return 31 - Math.clz32(x & -x);
}
