/*
 * The UVD1 encoder's row coder (formats/uvd-stream.ts): the same ops, in
 * the same order, byte for byte, as codeRowsPlain in
 * formats/uvd-encode-plain.ts, with the two scans that cost most run 16
 * bytes a step: the search for the next pair of equal bytes (where a RUN
 * may start) and the length of a match against the reference.
 */

const OP_LIT: u8 = 0x00;
const OP_RUN: u8 = 0x01;
const OP_COPY: i32 = 0x10;
const MAX_DY: i32 = 8;
const SEARCH_DY: i32 = 2;
const SEARCH_DX: i32 = 32;
/** Farthest column a COPY may reach from where it lands (UVD_MAX_DX). */
const MAX_DX: i32 = 32;
const MIN_COPY: i32 = 6;
const MIN_RUN: i32 = 6;
const SEARCH_EVERY: i32 = 4;

// @ts-ignore: decorator
@inline function writeVarint(o: usize, n: i32): usize {
  while (n >= 0x80) {
    store<u8>(o++, (n & 0x7f) | 0x80);
    n >>>= 7;
  }
  store<u8>(o++, n);
  return o;
}

function emitLit(src: usize, n: i32, o: usize): usize {
  store<u8>(o++, OP_LIT);
  o = writeVarint(o, n);
  memory.copy(o, src, n);
  return o + n;
}

/** The first k in [i, last) with byte k equal to byte k+1, else `last`. */
// @ts-ignore: decorator
@inline function nextPair(i: usize, last: usize): usize {
  while (i + 16 <= last) {
    const m = i8x16.bitmask(i8x16.eq(v128.load(i), v128.load(i, 1)));
    if (m != 0) return i + ctz(m);
    i += 16;
  }
  while (i < last && load<u8>(i) != load<u8>(i, 1)) i++;
  return i;
}

/** Codes src[from, to) as runs (6 or more equal bytes) and literals between them. */
function emitRaw(from: usize, to: usize, o: usize): usize {
  let s = from;
  let i = from;
  while (i < to) {
    // bytes before the next equal pair are runs of one: skip them
    i = nextPair(i, to - 1);
    if (i >= to - 1) break;
    const v = load<u8>(i);
    let j = i + 2;
    while (j < to && load<u8>(j) == v) j++;
    if (<i32>(j - i) >= MIN_RUN) {
      if (s < i) o = emitLit(s, <i32>(i - s), o);
      store<u8>(o++, OP_RUN);
      o = writeVarint(o, <i32>(j - i));
      store<u8>(o++, v);
      s = j;
    }
    i = j;
  }
  if (s < to) o = emitLit(s, <i32>(to - s), o);
  return o;
}

/** How many bytes from a equal those from b, at most `lim`. */
// @ts-ignore: decorator
@inline function common(a: usize, b: usize, lim: i32): i32 {
  let l = 0;
  while (l + 16 <= lim) {
    const m = i8x16.bitmask(i8x16.eq(v128.load(a + l), v128.load(b + l))) ^ 0xffff;
    if (m != 0) return l + ctz(m);
    l += 16;
  }
  while (l < lim && load<u8>(a + l) == load<u8>(b + l)) l++;
  return l;
}

/** How many bytes from cur at ci equal the reference's row ry from column sx, at most `max`; 0 outside the frame. */
// @ts-ignore: decorator
@inline function match(ci: usize, ref: usize, ry: i32, sx: i32, stride: i32, rows: i32, max: i32): i32 {
  if (ry < 0 || ry >= rows || sx < 0 || sx >= stride) return 0;
  return common(ci, ref + <usize>(ry * stride + sx), min(max, stride - sx));
}

function predictRow(cur: usize, ref: usize, y: i32, stride: i32, rows: i32, o: usize): usize {
  const base = cur + <usize>(y * stride);
  let x = 0;
  let lit = 0;
  let vdy = 0;
  let vdx = 0;
  while (x < stride) {
    let best = match(base + x, ref, y + vdy, x + vdx, stride, rows, stride - x);
    let bdy = vdy;
    let bdx = vdx;
    if (best < MIN_COPY && (x - lit) % SEARCH_EVERY == 0 && stride - x >= MIN_COPY) {
      // candidates are the columns whose first two bytes match, found 16 columns a step, tried in the order dy, dx
      const c = i8x16.splat(load<u8>(base + x));
      const c1 = i8x16.splat(load<u8>(base + x, 1));
      const lo = max(0, x - SEARCH_DX);
      const hi = min(stride - 2, x + SEARCH_DX);
      let found = false;
      for (let dy = -SEARCH_DY; dy <= SEARCH_DY && !found; dy++) {
        const ry = y + dy;
        if (ry < 0 || ry >= rows) continue;
        const rb = ref + <usize>(ry * stride);
        for (let sx0 = lo; sx0 <= hi && !found; sx0 += 16) {
          let m = i8x16.bitmask(v128.and(i8x16.eq(v128.load(rb + sx0), c), i8x16.eq(v128.load(rb + sx0, 1), c1)));
          if (hi - sx0 < 15) m &= (2 << (hi - sx0)) - 1;
          while (m != 0) {
            const sx = sx0 + ctz(m);
            m &= m - 1;
            const l = common(base + x, rb + sx, min(stride - x, stride - sx));
            if (l > best) {
              best = l;
              bdy = dy;
              bdx = sx - x;
              if (best == stride - x) {
                found = true;
                break;
              }
            }
          }
        }
      }
    }
    if (best >= MIN_COPY) {
      o = emitRaw(base + lit, base + x, o);
      store<u8>(o++, <u8>(OP_COPY + bdy + MAX_DY));
      o = writeVarint(o, best);
      store<u8>(o++, <u8>(bdx & 0xff));
      x += best;
      lit = x;
      vdy = bdy;
      vdx = bdx;
    } else x++;
  }
  return emitRaw(base + lit, base + stride, o);
}

/**
 * Codes the `rows` rows of `stride` bytes of the frame at `cur` (intra:
 * alone; else against the previous frame at `ref`) as ops from `out`, a
 * row that codes larger than one literal of itself as that literal, and
 * returns the end of the ops (uvd-encode-plain.ts codeRowsPlain).
 */
export function uvdCodeRows(cur: usize, ref: usize, stride: i32, rows: i32, intra: i32, out: usize): usize {
  const bound = stride + 1 + (stride < 0x80 ? 1 : stride < 0x4000 ? 2 : stride < 0x20_0000 ? 3 : 4);
  let o = out;
  for (let y = 0; y < rows; y++) {
    const o0 = o;
    const row = cur + <usize>(y * stride);
    o = intra ? emitRaw(row, row + <usize>stride, o) : predictRow(cur, ref, y, stride, rows, o);
    if (<i32>(o - o0) > bound) o = emitLit(row, stride, o0);
  }
  return o;
}

/**
 * Decodes the ops from `i` to `end` of a packet (after its header) into
 * the `rows` rows of `stride` bytes at `out`, copies reading the previous
 * frame at `ref` (0 for an I-frame, where a copy is an error). Returns 0
 * when the ops fill the frame exactly, else 1: the caller then decodes
 * the packet with the plain decoder for the reason (uvdDecodePlain).
 */
export function uvdDecodeOps(packet: usize, i: usize, end: usize, ref: usize, predicted: i32, out: usize, stride: i32, rows: i32): i32 {
  for (let y = 0; y < rows; y++) {
    const base = out + <usize>(y * stride);
    let x = 0;
    while (x < stride) {
      if (i >= end) return 1;
      const op = <i32>load<u8>(packet + i++);
      // the LEB128 length, at most 4 bytes
      let n = 0;
      let k = 0;
      for (; k < 4; k++) {
        if (i >= end) return 1;
        const b = <i32>load<u8>(packet + i++);
        n |= (b & 0x7f) << (7 * k);
        if (!(b & 0x80)) break;
      }
      if (k == 4 || n == 0 || x + n > stride) return 1;
      if (op == OP_LIT) {
        if (i + <usize>n > end) return 1;
        memory.copy(base + <usize>x, packet + i, n);
        i += <usize>n;
      } else if (op == OP_RUN) {
        if (i >= end) return 1;
        memory.fill(base + <usize>x, load<u8>(packet + i++), n);
      } else if (op >= OP_COPY && op <= OP_COPY + 2 * MAX_DY) {
        if (!predicted || i >= end) return 1;
        const dx = <i32>load<i8>(packet + i++);
        const ry = y + op - OP_COPY - MAX_DY;
        const sx = x + dx;
        if (dx < -MAX_DX || dx > MAX_DX || ry < 0 || ry >= rows || sx < 0 || sx + n > stride) return 1;
        memory.copy(base + <usize>x, ref + <usize>(ry * stride + sx), n);
      } else return 1;
      x += n;
    }
  }
  return i == end ? 0 : 1;
}
