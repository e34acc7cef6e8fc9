import { kerr } from '../lib/index.ts';
import type { FrameFormat } from './pixel-format.ts';
import { UJPG_HEADER, ujpgParse } from './ujpg.ts';

/*
 * The UJPG codec as plain loops, one byte a step: the definitions the
 * WebAssembly codec (wasm/ujpg.ts, which ujpg.ts runs) must match byte
 * for byte (test/formats/ujpg.test.ts).
 */

const MAGIC = 0x47504a55; // 'UJPG' read little endian

/**
 * Encodes `raw` (a frame of `fmt` with V4L2 `pixelformat`) into `out`;
 * returns the bitstream's length. ENOSPC when `out` is too small. The
 * plain reference of ujpgEncode.
 */
export function ujpgEncodePlain(raw: Uint8Array, fmt: FrameFormat, pixelformat: number, out: Uint8Array): number {
  const n = fmt.size;
  if (out.length < UJPG_HEADER) throw kerr('ENOSPC', 'ujpg: no room for the header');
  let o = UJPG_HEADER;
  let sum = 0;
  let lit = -1; // index of the pending literal run's control byte
  let prev = 0;
  let i = 0;
  const cap = out.length;
  while (i < n) {
    const d = (raw[i]! - prev) & 0xff;
    // length of the run of equal deltas starting at i
    let r = 1;
    let p = raw[i]!;
    while (r < 130 && i + r < n && ((raw[i + r]! - p) & 0xff) === d) {
      p = raw[i + r]!;
      r++;
    }
    if (r >= 3) {
      if (o + 2 > cap) throw kerr('ENOSPC', 'ujpg: bitstream buffer too small');
      out[o++] = r + 125;
      out[o++] = d;
      lit = -1;
    } else {
      r = 1;
      if (lit < 0 || out[lit] === 127) {
        if (o + 1 > cap) throw kerr('ENOSPC', 'ujpg: bitstream buffer too small');
        lit = o;
        out[o++] = 0xff; // becomes 0 with the first literal
      }
      if (o + 1 > cap) throw kerr('ENOSPC', 'ujpg: bitstream buffer too small');
      out[lit] = (out[lit]! + 1) & 0xff;
      out[o++] = d;
    }
    for (let k = 0; k < r; k++) sum = (sum + raw[i + k]!) >>> 0;
    prev = raw[i + r - 1]!;
    i += r;
  }
  const v = new DataView(out.buffer, out.byteOffset, UJPG_HEADER);
  v.setUint32(0, MAGIC, true);
  v.setUint32(4, 1, true);
  v.setUint32(8, pixelformat >>> 0, true);
  v.setUint32(12, fmt.width, true);
  v.setUint32(16, fmt.height, true);
  v.setUint32(20, n, true);
  v.setUint32(24, o - UJPG_HEADER, true);
  v.setUint32(28, sum, true);
  return o;
}

/**
 * Decodes a bitstream of `len` bytes into `out` (which must hold exactly
 * the header's raw size); returns the raw size. EINVAL for a corrupt
 * payload or checksum. The plain reference of ujpgDecode.
 */
export function ujpgDecodePlain(bits: Uint8Array, len: number, out: Uint8Array): number {
  const h = ujpgParse(bits, len);
  if (out.length < h.raw) throw kerr('ENOSPC', `ujpg: ${h.raw}-byte frame in a ${out.length}-byte buffer`);
  const end = UJPG_HEADER + h.payload;
  let i = UJPG_HEADER;
  let o = 0;
  let prev = 0;
  let sum = 0;
  while (i < end) {
    const c = bits[i++]!;
    if (c < 128) {
      const m = c + 1;
      if (i + m > end || o + m > h.raw) throw kerr('EINVAL', 'ujpg: literal past the end');
      for (let k = 0; k < m; k++) {
        prev = (prev + bits[i + k]!) & 0xff;
        out[o + k] = prev;
        sum = (sum + prev) >>> 0;
      }
      i += m;
      o += m;
    } else {
      const m = c - 125;
      if (i + 1 > end || o + m > h.raw) throw kerr('EINVAL', 'ujpg: run past the end');
      const d = bits[i++]!;
      for (let k = 0; k < m; k++) {
        prev = (prev + d) & 0xff;
        out[o + k] = prev;
        sum = (sum + prev) >>> 0;
      }
      o += m;
    }
  }
  if (o !== h.raw) throw kerr('EINVAL', `ujpg: payload gave ${o} of ${h.raw} bytes`);
  if (sum !== h.checksum) throw kerr('EINVAL', 'ujpg: checksum mismatch');
  return o;
}
