/*
 * The UVD1 encoder's row coder as plain loops: the definition the
 * WebAssembly coder (wasm/uvd.ts, which uvd-stream.ts runs) must match
 * byte for byte (test/formats/uvd-kernels.test.ts).
 */

const OP_LIT = 0x00;
const OP_RUN = 0x01;
const OP_COPY = 0x10;
const UVD_MAX_DY = 8;
const UVD_MAX_DX = 32;
/** The encoder's motion search: rows and columns it tries. */
const SEARCH_DY = 2;
const SEARCH_DX = UVD_MAX_DX;
/** Shortest COPY and RUN worth an op (each costs at most 5 bytes, and a split literal 2 more). */
const MIN_COPY = 6;
const MIN_RUN = 6;
/** While literals pile up the full search runs on every SEARCH_EVERY-th byte, so noise costs little. */
const SEARCH_EVERY = 4;

function varintLen(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x20_0000 ? 3 : 4;
}

/**
 * Codes the rows of frame `cur` into `out` from `o`, as uvdCodeRows does
 * (see there); returns where the ops end.
 */
export function codeRowsPlain(cur: Uint8Array, ref: Uint8Array, stride: number, rows: number, intra: boolean, out: Uint8Array, o: number): number {
  const bound = stride + 1 + varintLen(stride);
  for (let y = 0; y < rows; y++) {
    const o0 = o;
    o = intra ? emitRaw(cur, y * stride, (y + 1) * stride, out, o) : predictRow(cur, ref, y, stride, rows, out, o);
    if (o - o0 > bound) o = emitLit(cur, y * stride, stride, out, o0);
  }
  return o;
}

/** Codes row y of `cur` against the reference: COPY where a vector matches, literals and runs between. */
function predictRow(cur: Uint8Array, ref: Uint8Array, y: number, stride: number, rows: number, out: Uint8Array, o: number): number {
  const base = y * stride;
  let x = 0;
  let lit = 0;
  let vdy = 0;
  let vdx = 0;
  while (x < stride) {
    let best = match(cur, base + x, ref, y + vdy, x + vdx, stride, rows, stride - x);
    let bdy = vdy;
    let bdx = vdx;
    // a copy shorter than MIN_COPY is never taken, so a search needs MIN_COPY bytes left and a candidate whose first two match
    if (best < MIN_COPY && (x - lit) % SEARCH_EVERY === 0 && stride - x >= MIN_COPY) {
      const c = cur[base + x]!;
      const c1 = cur[base + x + 1]!;
      search: for (let dy = -SEARCH_DY; dy <= SEARCH_DY; dy++) {
        const ry = y + dy;
        if (ry < 0 || ry >= rows) continue;
        const rb = ry * stride;
        for (let dx = -SEARCH_DX; dx <= SEARCH_DX; dx++) {
          const sx = x + dx;
          if (sx < 0 || sx >= stride - 1 || ref[rb + sx] !== c || ref[rb + sx + 1] !== c1) continue;
          const l = match(cur, base + x, ref, ry, sx, stride, rows, stride - x);
          if (l > best) {
            best = l;
            bdy = dy;
            bdx = dx;
            if (best === stride - x) break search;
          }
        }
      }
    }
    if (best >= MIN_COPY) {
      o = emitRaw(cur, base + lit, base + x, out, o);
      out[o++] = OP_COPY + bdy + UVD_MAX_DY;
      o = writeVarint(out, o, best);
      out[o++] = bdx & 0xff;
      x += best;
      lit = x;
      vdy = bdy;
      vdx = bdx;
    } else x++;
  }
  return emitRaw(cur, base + lit, base + stride, out, o);
}

/** How many bytes from cur[ci] equal the reference's row ry from column sx, at most `max`; 0 outside the frame. */
function match(cur: Uint8Array, ci: number, ref: Uint8Array, ry: number, sx: number, stride: number, rows: number, max: number): number {
  if (ry < 0 || ry >= rows || sx < 0 || sx >= stride) return 0;
  const lim = Math.min(max, stride - sx);
  const ri = ry * stride + sx;
  // a moved row usually matches to its end: one native compare settles that case
  if (lim >= NATIVE_COMPARE_MIN && Buffer.from(cur.buffer, cur.byteOffset + ci, lim).equals(Buffer.from(ref.buffer, ref.byteOffset + ri, lim))) return lim;
  let l = 0;
  while (l < lim && cur[ci + l] === ref[ri + l]) l++;
  return l;
}

/** Runs at least this long are first compared whole (memcmp) before byte by byte. */
const NATIVE_COMPARE_MIN = 64;

function writeVarint(out: Uint8Array, o: number, n: number): number {
  while (n >= 0x80) {
    out[o++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[o++] = n;
  return o;
}

function emitLit(src: Uint8Array, from: number, n: number, out: Uint8Array, o: number): number {
  out[o++] = OP_LIT;
  o = writeVarint(out, o, n);
  out.set(src.subarray(from, from + n), o);
  return o + n;
}

/** Codes src[from, to) as runs (6 or more equal bytes) and literals between them. */
function emitRaw(src: Uint8Array, from: number, to: number, out: Uint8Array, o: number): number {
  let s = from;
  let i = from;
  while (i < to) {
    const v = src[i]!;
    let j = i + 1;
    while (j < to && src[j] === v) j++;
    if (j - i >= MIN_RUN) {
      if (s < i) o = emitLit(src, s, i - s, out, o);
      out[o++] = OP_RUN;
      o = writeVarint(out, o, j - i);
      out[o++] = v;
      s = j;
    }
    i = j;
  }
  if (s < to) o = emitLit(src, s, to - s, out, o);
  return o;
}
