import { crc32 } from 'node:zlib';
import { V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_XBGR32 } from '../uapi/index.ts';
import { growMemory, nextRegion, wasmHeap, wasmInstance, wasmKernels, type Kernels } from './kernels.ts';
import { frameFormat, type FrameFormat } from './pixel-format.ts';

/**
 * DOC: the synthetic video stream "UVD1" (version 2) — not H.264, but a
 * lossless format with a real decoder's shape: intra frames that stand
 * alone and predicted frames that copy from the previous decoded frame,
 * so a decoder must keep that frame (its reference) between jobs.
 *
 * One packet per frame. Header, 32 bytes, little endian:
 *   0  'U' 'V' 'D' '1'     magic
 *   4  u8 version = 2, u8 type (0 = I, 1 = P), 2 zero bytes
 *   8  u32 frame number
 *   12 u32 width, 16 u32 height
 *   20 u32 pixelformat     V4L2 fourcc of the decoded picture (NV12 or XBGR32 'XR24')
 *   24 u32 payload length  bytes after the header
 *   28 u32 checksum        CRC-32 (zlib's, as in gzip and PNG) of the decoded
 *                          frame's bytes; version 1 carried FNV-1a, which a
 *                          CPU computes a byte at a time, five times slower
 * Payload: the frame as rows of `stride` bytes (NV12: height luma rows then
 * height/2 chroma rows), each row coded on its own as a list of ops whose
 * lengths add up to the row exactly. An op is one byte, a LEB128 length n
 * (1 or more, at most 4 bytes) and its data:
 *   0x00 LIT   n literal bytes follow
 *   0x01 RUN   one byte follows, repeated n times
 *   0x10+dy+8  COPY (P-frames only, dy in -8..8): one signed byte dx
 *              (-32..32) follows; the n bytes come from the reference's
 *              row y+dy at column x+dx, x being where the op starts.
 * A row never codes larger than one LIT of the whole row, which bounds the
 * packet (uvdMaxPacketSize).
 */
export const UVD_HEADER = 32;
const MAGIC = 0x31445655; // 'UVD1' read little endian
const VERSION = 2;
const OP_LIT = 0x00;
const OP_RUN = 0x01;
const OP_COPY = 0x10;
/** Farthest row and column a COPY may reach from where it lands. */
export const UVD_MAX_DY = 8;
export const UVD_MAX_DX = 32;
const MAX_DIM = 8192;

/** A packet's header fields. */
export interface UvdHeader {
  frame: number;
  type: 'I' | 'P';
  width: number;
  height: number;
  /** V4L2 fourcc of the decoded picture. */
  pixelformat: number;
  /** Bytes after the header. */
  payload: number;
  /** CRC-32 of the decoded frame. */
  checksum: number;
  /** The decoded picture's layout. */
  fmt: FrameFormat;
}

/** The V4L2 fourcc of a decodable layout (NV12 or XBGR32); throws for others. */
export function uvdPixelformat(fmt: FrameFormat): number {
  if (fmt.fourcc === 'NV12') return V4L2_PIX_FMT_NV12;
  if (fmt.fourcc === 'XR24') return V4L2_PIX_FMT_XBGR32;
  throw new Error(`uvd: ${fmt.fourcc} frames cannot be coded (NV12 or XR24 only)`);
}

function varintLen(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x20_0000 ? 3 : 4;
}

/** Largest packet of a frame of `fmt`: the header and every row as one literal (the decoder's OUTPUT sizeimage). */
export function uvdMaxPacketSize(fmt: FrameFormat): number {
  const rows = fmt.size / fmt.stride;
  return UVD_HEADER + rows * (fmt.stride + 1 + varintLen(fmt.stride));
}

/** CRC-32 of the first `len` bytes (zlib's crc32, by Node's zlib): the checksum a packet carries of its decoded frame. */
export function uvdChecksum(bytes: Uint8Array, len: number): number {
  return crc32(len === bytes.length ? bytes : bytes.subarray(0, len));
}

/** Parses and checks a packet's header; throws an Error naming what is wrong (bad magic, version, type, format, size, or a payload past `len`). */
export function uvdParseHeader(bytes: Uint8Array, len: number): UvdHeader {
  if (len < UVD_HEADER || bytes.length < len) throw new Error(`uvd: ${len} bytes hold no header`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, UVD_HEADER);
  if (v.getUint32(0, true) !== MAGIC) throw new Error('uvd: bad magic');
  if (v.getUint8(4) !== VERSION) throw new Error(`uvd: version ${v.getUint8(4)}`);
  const t = v.getUint8(5);
  if (t > 1 || v.getUint16(6, true) !== 0) throw new Error(`uvd: frame type ${t}`);
  const width = v.getUint32(12, true);
  const height = v.getUint32(16, true);
  const pixelformat = v.getUint32(20, true);
  if (width < 1 || height < 1 || width > MAX_DIM || height > MAX_DIM) throw new Error(`uvd: frame size ${width}x${height}`);
  let fourcc: FrameFormat['fourcc'];
  if (pixelformat === V4L2_PIX_FMT_NV12) fourcc = 'NV12';
  else if (pixelformat === V4L2_PIX_FMT_XBGR32) fourcc = 'XR24';
  else throw new Error(`uvd: picture format 0x${pixelformat.toString(16)}`);
  const payload = v.getUint32(24, true);
  if (UVD_HEADER + payload > len) throw new Error(`uvd: payload of ${payload} bytes in a ${len}-byte packet`);
  return { frame: v.getUint32(8, true), type: t === 0 ? 'I' : 'P', width, height, pixelformat, payload, checksum: v.getUint32(28, true), fmt: frameFormat(width, height, fourcc) };
}

/** Where the last readVarint stopped (module state: decoding is synchronous). */
let varintEnd = 0;

function readVarint(p: Uint8Array, i: number, end: number): number {
  let n = 0;
  for (let k = 0; k < 4; k++) {
    if (i >= end) throw new Error('uvd: length past the end of the payload');
    const b = p[i++]!;
    n += (b & 0x7f) * 2 ** (7 * k);
    if (!(b & 0x80)) {
      varintEnd = i;
      return n;
    }
  }
  throw new Error('uvd: length longer than 4 bytes');
}

/**
 * Decodes a packet of `len` bytes into `out` (the first fmt.size bytes);
 * `ref` is the previous decoded frame, needed by P-frames and read only.
 * Throws an Error with the reason for a corrupt packet, a P-frame without
 * a reference, a checksum mismatch, or a frame that does not fit `out` or
 * `ref`. `ref` and `out` must not overlap: a P-frame reads rows of the
 * reference that it has already written. Runs the ops in WebAssembly
 * (wasm/uvd.ts); a packet they do not fit is decoded again by
 * uvdDecodePlain, for the reason it gives.
 */
export function uvdDecode(packet: Uint8Array, len: number, ref: Uint8Array | null, out: Uint8Array): void {
  const h = uvdHeaderFor(packet, len, ref, out);
  const { stride, size } = h.fmt;
  const end = UVD_HEADER + h.payload;
  const refAt = nextRegion(0, end);
  const outAt = nextRegion(refAt, h.type === 'P' ? size : 0);
  const heap = wasmHeap(nextRegion(outAt, size));
  heap.set(packet.subarray(0, end), 0);
  if (h.type === 'P') heap.set(ref!.length === size ? ref! : ref!.subarray(0, size), refAt);
  if (wasmKernels().uvdDecodeOps(0, UVD_HEADER, end, refAt, h.type === 'P' ? 1 : 0, outAt, stride, size / stride) !== 0) {
    uvdDecodePlain(packet, len, ref, out);
    throw new Error('uvd: the decoder refused a packet its plain form took');
  }
  out.set(heap.subarray(outAt, outAt + size));
  if (uvdChecksum(out, size) !== h.checksum) throw new Error(`uvd: checksum mismatch in frame ${h.frame}`);
}

/**
 * A decoder's three buffers (the packet, the reference picture and the
 * decoded one) in a WebAssembly memory of their own, with uvdDecode run
 * over them in place: the DMA fills `packet` and `ref`, decode() leaves
 * the picture in `picture`, and nothing is copied in or out of the
 * kernels' memory. One per stream context, sized for its largest packet
 * and its picture.
 */
export class UvdDecoderUnit {
  private readonly k: Kernels = wasmInstance();
  readonly packet: Uint8Array;
  readonly ref: Uint8Array;
  readonly picture: Uint8Array;

  constructor(packetBytes: number, pictureBytes: number) {
    const refAt = nextRegion(0, packetBytes);
    const picAt = nextRegion(refAt, pictureBytes);
    growMemory(this.k, nextRegion(picAt, pictureBytes));
    const mem = this.k.memory.buffer;
    this.packet = new Uint8Array(mem, 0, packetBytes);
    this.ref = new Uint8Array(mem, refAt, pictureBytes);
    this.picture = new Uint8Array(mem, picAt, pictureBytes);
  }

  /** uvdDecode of the first `len` bytes of `packet` into `picture`, against `ref` when `withRef` (else as with no reference); the same errors. */
  decode(len: number, withRef: boolean): void {
    const ref = withRef ? this.ref : null;
    const h = uvdHeaderFor(this.packet, len, ref, this.picture);
    const { stride, size } = h.fmt;
    if (this.k.uvdDecodeOps(0, UVD_HEADER, UVD_HEADER + h.payload, this.ref.byteOffset, h.type === 'P' ? 1 : 0, this.picture.byteOffset, stride, size / stride) !== 0) {
      uvdDecodePlain(this.packet, len, ref, this.picture);
      throw new Error('uvd: the decoder refused a packet its plain form took');
    }
    if (uvdChecksum(this.picture, size) !== h.checksum) throw new Error(`uvd: checksum mismatch in frame ${h.frame}`);
  }
}

/** The header of a packet, checked against the buffers it is to be decoded with. */
function uvdHeaderFor(packet: Uint8Array, len: number, ref: Uint8Array | null, out: Uint8Array): UvdHeader {
  const h = uvdParseHeader(packet, len);
  const { size } = h.fmt;
  if (out.length < size) throw new Error(`uvd: ${size}-byte frame does not fit a ${out.length}-byte buffer`);
  if (h.type === 'P') {
    if (!ref) throw new Error(`uvd: P-frame ${h.frame} without a reference`);
    if (ref.length < size) throw new Error(`uvd: reference of ${ref.length} bytes for a ${size}-byte frame`);
    if (ref.buffer === out.buffer && ref.byteOffset < out.byteOffset + size && out.byteOffset < ref.byteOffset + size) throw new Error('uvd: reference and output overlap');
  }
  return h;
}

/** uvdDecode with every op run in TypeScript, one at a time: its plain reference, and the source of its errors. */
export function uvdDecodePlain(packet: Uint8Array, len: number, ref: Uint8Array | null, out: Uint8Array): void {
  const h = uvdHeaderFor(packet, len, ref, out);
  const { stride, size } = h.fmt;
  const rows = size / stride;
  const end = UVD_HEADER + h.payload;
  let i = UVD_HEADER;
  for (let y = 0; y < rows; y++) {
    const base = y * stride;
    let x = 0;
    while (x < stride) {
      if (i >= end) throw new Error(`uvd: payload ends in row ${y}`);
      const op = packet[i++]!;
      const n = readVarint(packet, i, end);
      i = varintEnd;
      if (n === 0 || x + n > stride) throw new Error(`uvd: op of ${n} bytes at column ${x} of a ${stride}-byte row`);
      if (op === OP_LIT) {
        if (i + n > end) throw new Error('uvd: literal past the end of the payload');
        out.set(packet.subarray(i, i + n), base + x);
        i += n;
      } else if (op === OP_RUN) {
        if (i >= end) throw new Error('uvd: run past the end of the payload');
        out.fill(packet[i++]!, base + x, base + x + n);
      } else if (op >= OP_COPY && op <= OP_COPY + 2 * UVD_MAX_DY) {
        if (h.type !== 'P') throw new Error('uvd: copy in an I-frame');
        if (i >= end) throw new Error('uvd: copy past the end of the payload');
        const dx = (packet[i++]! << 24) >> 24;
        const ry = y + op - OP_COPY - UVD_MAX_DY;
        const sx = x + dx;
        if (dx < -UVD_MAX_DX || dx > UVD_MAX_DX || ry < 0 || ry >= rows || sx < 0 || sx + n > stride) throw new Error(`uvd: copy from row ${ry} column ${sx} outside the reference`);
        const s = ry * stride + sx;
        out.set(ref!.subarray(s, s + n), base + x);
      } else throw new Error(`uvd: unknown op 0x${op.toString(16)}`);
      x += n;
    }
  }
  if (i !== end) throw new Error(`uvd: ${end - i} bytes after the last row`);
  if (uvdChecksum(out, size) !== h.checksum) throw new Error(`uvd: checksum mismatch in frame ${h.frame}`);
}

/**
 * Codes the `rows` rows of `stride` bytes of frame `cur` as UVD1 ops into
 * `out` from `o` (intra: each row alone, as runs and literals; else
 * against `ref`, the previous frame, with copies where the motion search
 * finds them), a row that would code larger than one literal of itself as
 * that literal; returns where the ops end. Runs in WebAssembly
 * (wasm/uvd.ts), 16 bytes a step where it scans; codeRowsPlain
 * (uvd-encode-plain.ts) makes the same bytes one at a time.
 */
export function uvdCodeRows(cur: Uint8Array, ref: Uint8Array, stride: number, rows: number, intra: boolean, out: Uint8Array, o: number): number {
  const size = stride * rows;
  const refAt = nextRegion(0, size);
  const outAt = nextRegion(refAt, size);
  const room = out.length - o;
  const heap = wasmHeap(nextRegion(outAt, room));
  heap.set(cur.length === size ? cur : cur.subarray(0, size), 0);
  if (!intra) heap.set(ref.length === size ? ref : ref.subarray(0, size), refAt);
  const end = wasmKernels().uvdCodeRows(0, refAt, stride, rows, intra ? 1 : 0, outAt);
  // the coder writes at most a literal row past its bound per row, which `out` must hold (uvdMaxPacketSize plus slack)
  if (end - outAt > room) throw new Error(`uvd: ${end - outAt} bytes of ops overran a ${room}-byte buffer`);
  out.set(heap.subarray(outAt, end), o);
  return o + end - outAt;
}

/**
 * The stream's encoder (what a camera pipeline's hardware encoder would
 * make): frame 0 and every `gop`-th frame are I-frames, the others
 * P-frames against the previous frame, found by a small motion search
 * (rows within 2, columns within 32) per run of bytes. Keeps its own copy
 * of the previous frame; the work buffer is allocated once.
 */
export class UvdEncoder {
  readonly fmt: FrameFormat;
  readonly gop: number;
  readonly pixelformat: number;
  private readonly ref: Uint8Array;
  private readonly work: Uint8Array;
  private n = 0;

  /** Throws for a layout other than NV12 or XR24, or a gop below 1. */
  constructor(fmt: FrameFormat, opts: { gop?: number } = {}) {
    this.pixelformat = uvdPixelformat(fmt);
    const gop = opts.gop ?? 30;
    if (!Number.isInteger(gop) || gop < 1) throw new Error(`uvd: gop ${gop}`);
    this.fmt = fmt;
    this.gop = gop;
    this.ref = new Uint8Array(fmt.size);
    // a row may code larger than its bound before the encoder falls back to one literal
    this.work = new Uint8Array(uvdMaxPacketSize(fmt) + 3 * fmt.stride + 16);
  }

  /** Number of the next frame. */
  get frame(): number {
    return this.n;
  }

  /** Codes the next frame (`raw`, fmt.size bytes) and returns its packet. */
  encode(raw: Uint8Array): Uint8Array {
    const { stride, size } = this.fmt;
    if (raw.length < size) throw new Error(`uvd: ${raw.length}-byte frame, ${size} expected`);
    const rows = size / stride;
    const intra = this.n % this.gop === 0;
    const out = this.work;
    const o = uvdCodeRows(raw, this.ref, stride, rows, intra, out, UVD_HEADER);
    const v = new DataView(out.buffer, out.byteOffset, UVD_HEADER);
    v.setUint32(0, MAGIC, true);
    v.setUint8(4, VERSION);
    v.setUint8(5, intra ? 0 : 1);
    v.setUint16(6, 0, true);
    v.setUint32(8, this.n >>> 0, true);
    v.setUint32(12, this.fmt.width, true);
    v.setUint32(16, this.fmt.height, true);
    v.setUint32(20, this.pixelformat, true);
    v.setUint32(24, o - UVD_HEADER, true);
    v.setUint32(28, uvdChecksum(raw, size), true);
    this.ref.set(raw.subarray(0, size));
    this.n++;
    return out.slice(0, o);
  }
}
