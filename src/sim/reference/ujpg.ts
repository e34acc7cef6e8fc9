/*
 * A UJPG (version 1) decoder written from the bitstream's definition
 * (the DOC block of formats/ujpg.ts), sharing no code with the codec:
 *   header, 32 bytes little endian: 'U' 'J' 'P' 'G', u8 version 1 and 3
 *   zero bytes, u32 pixelformat, u32 width, u32 height, u32 raw size,
 *   u32 payload length, u32 checksum (sum of the raw bytes mod 2^32);
 *   payload: control byte c < 128 then c+1 literal deltas, or c >= 128
 *   then one delta used c-125 times; raw[i] = raw[i-1] + delta[i] mod 256
 *   with raw[-1] = 0.
 */
const HEADER = 32;
const TWO_32 = 4294967296;
/** A stream that is not a well-formed UJPG bitstream: the one error the checker counts as a wrong frame. */
export class UjpgStreamError extends Error {
  override readonly name = 'UjpgStreamError';
}

/** The header fields of a UJPG bitstream. */
export interface UjpgReferenceHeader {
  pixelformat: number;
  width: number;
  height: number;
  raw: number;
  payload: number;
  checksum: number;
}

function u32le(b: Uint8Array, at: number): number {
  return b[at]! + b[at + 1]! * 0x100 + b[at + 2]! * 0x10000 + b[at + 3]! * 0x1000000;
}

/**
 * Decodes the bitstream `bits` into `out`, which must be exactly the
 * header's raw size; returns the header. UjpgStreamError for anything
 * the definition does not allow: bad magic or version, a payload past
 * the stream's end, a code past the payload or the frame, a short
 * frame, a wrong checksum. Bytes after the payload are not the stream's.
 */
export function ujpgDecodeReference(bits: Uint8Array, out: Uint8Array): UjpgReferenceHeader {
  const h = referenceHeader(bits, out);
  const end = HEADER + h.payload;
  const raw = h.raw;
  let pos = HEADER;
  let n = 0;
  let prev = 0;
  // one bounds check per code, not per byte: a code that reaches past the frame is refused whole
  while (pos < end) {
    const c = bits[pos++]!;
    if (c < 128) {
      if (pos + c + 1 > end) throw new UjpgStreamError('literal past the payload');
      if (n + c + 1 > raw) throw new UjpgStreamError('payload codes past the frame');
      for (let k = 0; k <= c; k++) {
        prev = (prev + bits[pos + k]!) & 0xff;
        out[n + k] = prev;
      }
      pos += c + 1;
      n += c + 1;
    } else {
      if (pos + 1 > end) throw new UjpgStreamError('run past the payload');
      const delta = bits[pos++]!;
      const m = c - 125;
      if (n + m > raw) throw new UjpgStreamError('payload codes past the frame');
      if (delta === 0) out.fill(prev, n, n + m);
      else
        for (let k = 0; k < m; k++) {
          prev = (prev + delta) & 0xff;
          out[n + k] = prev;
        }
      n += m;
    }
  }
  if (n !== raw) throw new UjpgStreamError(`payload gave ${n} of ${raw} bytes`);
  // the sum stays exact in a double (at most 255 * 2^32), reduced once
  let sum = 0;
  for (let i = 0; i < n; i++) sum += out[i]!;
  if (sum % TWO_32 !== h.checksum) throw new UjpgStreamError('checksum mismatch');
  return h;
}

/** The header of `bits`, checked against the definition and against `out`'s size. */
function referenceHeader(bits: Uint8Array, out: Uint8Array): UjpgReferenceHeader {
  if (bits.length < HEADER) throw new UjpgStreamError(`${bits.length} bytes hold no header`);
  if (bits[0] !== 0x55 || bits[1] !== 0x4a || bits[2] !== 0x50 || bits[3] !== 0x47) throw new UjpgStreamError('bad magic');
  if (bits[4] !== 1 || bits[5] !== 0 || bits[6] !== 0 || bits[7] !== 0) throw new UjpgStreamError('bad version');
  const h: UjpgReferenceHeader = {
    pixelformat: u32le(bits, 8),
    width: u32le(bits, 12),
    height: u32le(bits, 16),
    raw: u32le(bits, 20),
    payload: u32le(bits, 24),
    checksum: u32le(bits, 28),
  };
  if (h.raw !== out.length) throw new UjpgStreamError(`a ${h.raw}-byte frame where ${out.length} were expected`);
  const end = HEADER + h.payload;
  if (end > bits.length) throw new UjpgStreamError(`payload of ${h.payload} bytes past the stream's ${bits.length}`);
  return h;
}

/** ujpgDecodeReference one byte at a time, each byte checked as the definition states it: its plain reference. */
export function ujpgDecodeReferencePlain(bits: Uint8Array, out: Uint8Array): UjpgReferenceHeader {
  const h = referenceHeader(bits, out);
  const end = HEADER + h.payload;
  let pos = HEADER;
  let n = 0;
  let prev = 0;
  const put = (delta: number) => {
    if (n >= h.raw) throw new UjpgStreamError('payload codes past the frame');
    prev = (prev + delta) % 256;
    out[n++] = prev;
  };
  while (pos < end) {
    const c = bits[pos++]!;
    if (c < 128) {
      if (pos + c + 1 > end) throw new UjpgStreamError('literal past the payload');
      for (let k = 0; k <= c; k++) put(bits[pos + k]!);
      pos += c + 1;
    } else {
      if (pos + 1 > end) throw new UjpgStreamError('run past the payload');
      const delta = bits[pos++]!;
      for (let k = 0; k < c - 125; k++) put(delta);
    }
  }
  if (n !== h.raw) throw new UjpgStreamError(`payload gave ${n} of ${h.raw} bytes`);
  let sum = 0;
  for (let i = 0; i < n; i++) sum = (sum + out[i]!) % TWO_32;
  if (sum !== h.checksum) throw new UjpgStreamError('checksum mismatch');
  return h;
}
