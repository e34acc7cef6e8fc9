/*
 * The UJPG codec's payload (formats/ujpg.ts): delta coding with
 * PackBits-style runs, byte for byte as the plain loops in
 * formats/ujpg-plain.ts. The encoder looks for the next run 16 positions
 * a step; the byte sum both sides check is taken 16 bytes a step.
 */

/** Whether the deltas at k, k+1 and k+2 are equal (a run of three or more starts at k); `prev` is the byte before k. */
// @ts-ignore: decorator
@inline function runAt(raw: usize, k: i32, n: i32): bool {
  if (k + 2 >= n) return false;
  const p = k == 0 ? 0 : <i32>load<u8>(raw + <usize>(k - 1));
  const a = <i32>load<u8>(raw + <usize>k);
  const b = <i32>load<u8>(raw + <usize>k, 1);
  const c = <i32>load<u8>(raw + <usize>k, 2);
  return ((a - p) & 0xff) == ((b - a) & 0xff) && ((b - a) & 0xff) == ((c - b) & 0xff);
}

/** The first k from `i` where a run starts, else `n`. */
function nextRun(raw: usize, i: i32, n: i32): i32 {
  while (i < 1 && i < n) {
    if (runAt(raw, i, n)) return i;
    i++;
  }
  // 16 positions a step while the three loads of each stay inside the frame
  while (i + 18 <= n) {
    const q = raw + <usize>i;
    const x0 = v128.load(q - 1);
    const x1 = v128.load(q);
    const x2 = v128.load(q, 1);
    const x3 = v128.load(q, 2);
    const d0 = i8x16.sub(x1, x0);
    const d1 = i8x16.sub(x2, x1);
    const d2 = i8x16.sub(x3, x2);
    const m = i8x16.bitmask(v128.and(i8x16.eq(d0, d1), i8x16.eq(d1, d2)));
    if (m != 0) return i + ctz(m);
    i += 16;
  }
  while (i < n) {
    if (runAt(raw, i, n)) return i;
    i++;
  }
  return n;
}

/**
 * Codes the `n` bytes at `raw` into `out` from byte 32 (after the header)
 * up to `cap` bytes of `out`; returns the end, or -1 when `cap` is too
 * small (ENOSPC) (ujpg-plain.ts ujpgPayloadPlain).
 */
export function ujpgEncodePayload(raw: usize, n: i32, out: usize, cap: i32): i32 {
  let o = 32;
  let lit = -1;
  let i = 0;
  while (i < n) {
    const k = nextRun(raw, i, n);
    // the bytes before the run are literals, 128 to a control byte (which counts them less one)
    while (i < k) {
      if (lit < 0 || load<u8>(out + <usize>lit) == 127) {
        if (o + 1 > cap) return -1;
        lit = o;
        store<u8>(out + <usize>(o++), 0xff);
      }
      const m = min(k - i, 127 - <i32>(<u8>(load<u8>(out + <usize>lit) + 1)) + 1);
      if (o + m > cap) return -1;
      store<u8>(out + <usize>lit, <u8>(load<u8>(out + <usize>lit) + m));
      let j = 0;
      if (i == 0) {
        store<u8>(out + <usize>o, load<u8>(raw));
        j = 1;
      }
      // 16 deltas a step; the last step may write past the literals, into bytes the coder writes next or the slack
      const d = out + <usize>o;
      const q = raw + <usize>i;
      for (; j < m; j += 16) v128.store(d + <usize>j, i8x16.sub(v128.load(q + <usize>j), v128.load(q + <usize>j - 1)));
      o += m;
      i += m;
    }
    if (i >= n) break;
    // a run of equal deltas, at most 130
    let p = <i32>load<u8>(raw + <usize>i);
    const d = (p - (i == 0 ? 0 : <i32>load<u8>(raw + <usize>(i - 1)))) & 0xff;
    let r = 1;
    while (r < 130 && i + r < n && ((<i32>load<u8>(raw + <usize>(i + r)) - p) & 0xff) == d) {
      p = load<u8>(raw + <usize>(i + r));
      r++;
    }
    if (o + 2 > cap) return -1;
    store<u8>(out + <usize>(o++), <u8>(r + 125));
    store<u8>(out + <usize>(o++), <u8>d);
    lit = -1;
    i += r;
  }
  return o;
}

/**
 * Decodes the payload bytes [`i`, `end`) into `out` (room for `raw`
 * bytes); returns the bytes made, or -1 for a literal and -2 for a run
 * past the end of the payload or of the frame (ujpg-plain.ts).
 */
export function ujpgDecodePayload(bits: usize, i: usize, end: usize, out: usize, raw: i32): i32 {
  let o = 0;
  let prev: u32 = 0;
  while (i < end) {
    const c = <i32>load<u8>(bits + i++);
    if (c < 128) {
      const m = c + 1;
      if (i + <usize>m > end || o + m > raw) return -1;
      // running sums of the deltas, 16 a step: four shifted adds, then the byte before
      let k = 0;
      const z = i8x16.splat(0);
      for (; k + 16 <= m; k += 16) {
        let v = v128.load(bits + i + <usize>k);
        v = i8x16.add(v, i8x16.shuffle(z, v, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30));
        v = i8x16.add(v, i8x16.shuffle(z, v, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29));
        v = i8x16.add(v, i8x16.shuffle(z, v, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27));
        v = i8x16.add(v, i8x16.shuffle(z, v, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23));
        v = i8x16.add(v, i8x16.splat(<u8>prev));
        v128.store(out + <usize>(o + k), v);
        prev = i8x16.extract_lane_u(v, 15);
      }
      for (; k < m; k++) {
        prev = (prev + load<u8>(bits + i + <usize>k)) & 0xff;
        store<u8>(out + <usize>(o + k), <u8>prev);
      }
      i += <usize>m;
      o += m;
    } else {
      const m = c - 125;
      if (i + 1 > end || o + m > raw) return -2;
      const d = <u32>load<u8>(bits + i++);
      if (d == 0) memory.fill(out + <usize>o, <u8>prev, m);
      else
        for (let k = 0; k < m; k++) {
          prev = (prev + d) & 0xff;
          store<u8>(out + <usize>(o + k), <u8>prev);
        }
      o += m;
    }
  }
  return o;
}

/** The sum of the `n` bytes at `p`, mod 2^32 (the UJPG checksum). */
export function byteSum(p: usize, n: i32): u32 {
  let acc = i32x4.splat(0);
  const vecs = n & ~15;
  for (let i = 0; i < vecs; i += 16) acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(v128.load(p + <usize>i))));
  let sum = <u32>(i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3));
  for (let i = vecs; i < n; i++) sum += load<u8>(p + <usize>i);
  return sum;
}
