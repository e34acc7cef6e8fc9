import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameFormat, ujpgDecode, ujpgEncode, ujpgMaxSize } from '../../src/formats/index.ts';
import { ujpgDecodePlain, ujpgEncodePlain } from '../../src/formats/ujpg-plain.ts';
import { KernelError } from '../../src/lib/index.ts';
import { UjpgStreamError, ujpgDecodeReference, ujpgDecodeReferencePlain } from '../../src/sim/reference/ujpg.ts';
import { V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUYV } from '../../src/uapi/index.ts';
import { mismatches } from '../dmabuf/helpers.ts';

const W = 64;
const H = 48;
const RAW = W * H * 2;

/** Incompressible bytes (an LCG), so the coder's literal path carries the frame. */
function noise(len: number, seed: number): Uint8Array {
  const a = new Uint8Array(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    a[i] = x >>> 24;
  }
  return a;
}

function gradient(len: number): Uint8Array {
  const a = new Uint8Array(len);
  for (let i = 0; i < len; i++) a[i] = (i * 3) & 0xff;
  return a;
}

describe('UJPG bitstream', () => {
  it('round-trips any frame byte for byte; the header says what it holds; smooth frames shrink, noise grows by at most 1/128', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 3000 }), fc.integer({ min: 0, max: 4 }), (noise, runs) => {
        // mix noise with runs so both codings are exercised
        const raw = new Uint8Array(noise.length * (runs + 1));
        for (let k = 0; k <= runs; k++) raw.set(k % 2 ? noise.map((_, i) => i & 7) : noise, k * noise.length);
        const f = { width: raw.length, height: 1, fourcc: 'YUYV' as const, stride: raw.length, size: raw.length };
        const out = new Uint8Array(ujpgMaxSize(raw.length));
        const len = ujpgEncode(raw, f, V4L2_PIX_FMT_YUYV, out);
        const back = new Uint8Array(raw.length);
        expect(ujpgDecode(out, len, back)).toBe(raw.length);
        expect(mismatches(back, raw)).toBe(0);
      }),
    );
    const fmt = frameFormat(W, H, 'YUYV');
    const out = new Uint8Array(ujpgMaxSize(RAW));
    const len = ujpgEncode(gradient(RAW), fmt, V4L2_PIX_FMT_YUYV, out);
    expect(len).toBeLessThan(RAW / 20);
    expect(String.fromCharCode(...out.subarray(0, 4))).toBe('UJPG');
    const v = new DataView(out.buffer);
    expect([v.getUint8(4), v.getUint32(8, true), v.getUint32(12, true), v.getUint32(16, true), v.getUint32(20, true), v.getUint32(24, true)]).toEqual([1, V4L2_PIX_FMT_YUYV, W, H, RAW, len - 32]);
    const noisy = ujpgEncode(noise(RAW, 3), fmt, V4L2_PIX_FMT_YUYV, new Uint8Array(ujpgMaxSize(RAW)));
    expect(noisy).toBeGreaterThan(RAW);
    expect(noisy).toBeLessThanOrEqual(ujpgMaxSize(RAW));
    expect(() => ujpgEncode(noise(RAW, 3), fmt, V4L2_PIX_FMT_YUYV, new Uint8Array(RAW / 2))).toThrow(/ENOSPC/);
    out[40] ^= 0x55;
    expect(() => ujpgDecode(out, len, new Uint8Array(RAW))).toThrow(/EINVAL/);
  });
});

/** Frames that exercise both codings: noise, runs of one delta (gradients, flat areas) of every length around 3 and 130. */
const rawFrame = fc
  .array(
    fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 200 }),
      fc.tuple(fc.integer({ min: 1, max: 300 }), fc.nat(255), fc.nat(255)).map(([len, start, step]) => Uint8Array.from({ length: len }, (_, i) => (start + i * step) & 0xff)),
    ),
    { minLength: 1, maxLength: 8 },
  )
  .map((parts) => {
    const raw = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      raw.set(p, o);
      o += p.length;
    }
    return raw;
  });

function encode(raw: Uint8Array): Uint8Array {
  const f = { width: raw.length, height: 1, fourcc: 'YUYV' as const, stride: raw.length, size: raw.length };
  const out = new Uint8Array(ujpgMaxSize(raw.length));
  return out.subarray(0, ujpgEncode(raw, f, V4L2_PIX_FMT_YUYV, out));
}

describe('UJPG: the encoder against the reference decoder written from the definition', () => {
  it('round-trips every frame byte for byte, with the header the encoder was given', () => {
    fc.assert(
      fc.property(rawFrame, (raw) => {
        const bits = encode(raw);
        const back = new Uint8Array(raw.length);
        const h = ujpgDecodeReference(bits, back);
        expect(Buffer.compare(back, raw)).toBe(0);
        expect(h).toEqual({ pixelformat: V4L2_PIX_FMT_YUYV, width: raw.length, height: 1, raw: raw.length, payload: bits.length - 32, checksum: raw.reduce((s, b) => (s + b) >>> 0, 0) });
        expect(bits.length).toBeLessThanOrEqual(ujpgMaxSize(raw.length));
      }),
    );
    const fmt = frameFormat(6, 4, 'NV12');
    const raw = Uint8Array.from({ length: fmt.size }, (_, i) => i);
    const bits = new Uint8Array(ujpgMaxSize(fmt.size));
    const len = ujpgEncode(raw, fmt, V4L2_PIX_FMT_NV12, bits);
    expect(ujpgDecodeReference(bits.subarray(0, len), new Uint8Array(fmt.size))).toMatchObject({ pixelformat: V4L2_PIX_FMT_NV12, width: 6, height: 4, raw: 36 });
  });

  it('the codec\'s decoder and the reference agree on corrupted streams: the same frame, or both refuse', () => {
    fc.assert(
      fc.property(rawFrame, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }), (raw, flips) => {
        const bits = encode(raw).slice();
        // corrupt the payload only: the header's stricter checks (version padding) are the reference's own
        if (bits.length === 32) return;
        for (const [at, x] of flips) bits[32 + (at % (bits.length - 32))] ^= x;
        const a = new Uint8Array(raw.length);
        const b = new Uint8Array(raw.length);
        let fast: unknown = null;
        let ref: unknown = null;
        try {
          ujpgDecode(bits, bits.length, a);
        } catch (e) {
          fast = e;
        }
        try {
          ujpgDecodeReference(bits, b);
        } catch (e) {
          ref = e;
        }
        if (fast) expect(fast).toBeInstanceOf(KernelError);
        if (ref) expect(ref).toBeInstanceOf(UjpgStreamError);
        expect(fast === null).toBe(ref === null);
        if (!fast) expect(Buffer.compare(a, b)).toBe(0);
      }),
    );
  });

  it('the checker\'s decoder (a bounds check per code) equals its plain form (a check per byte): the same frame and header, or the same error, on good and corrupted streams', () => {
    fc.assert(
      fc.property(rawFrame, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 3 }), fc.constantFrom(0, 0, 0, 0, -1, 1), (raw, flips, resize) => {
        const bits = encode(raw).slice();
        for (const [at, x] of flips) bits[at % bits.length] ^= x;
        const outcome = (decode: typeof ujpgDecodeReference) => {
          const out = new Uint8Array(Math.max(0, raw.length + resize));
          try {
            return { h: decode(bits, out), out: [...out] };
          } catch (e) {
            if (e instanceof UjpgStreamError) return e.message;
            throw e;
          }
        };
        expect(outcome(ujpgDecodeReference)).toEqual(outcome(ujpgDecodeReferencePlain));
      }),
      { numRuns: 300 },
    );
  });

  it('the reference refuses what the definition does not allow, each with UjpgStreamError', () => {
    const raw = Uint8Array.from({ length: 100 }, (_, i) => (i * i) & 0xff);
    const good = encode(raw);
    const bad = (edit: (b: Uint8Array) => Uint8Array, size = raw.length) => () => ujpgDecodeReference(edit(good.slice()), new Uint8Array(size));
    expect(bad((b) => b)).not.toThrow();
    expect(bad((b) => b.subarray(0, 31))).toThrow(UjpgStreamError);
    expect(bad((b) => ((b[0] = 0x56), b))).toThrow(/magic/);
    expect(bad((b) => ((b[4] = 2), b))).toThrow(/version/);
    expect(bad((b) => ((b[6] = 1), b))).toThrow(/version/);
    expect(bad((b) => b, 99)).toThrow(/100-byte frame/);
    expect(bad((b) => b.subarray(0, b.length - 1))).toThrow(/payload of/);
    expect(bad((b) => ((b[28] ^= 1), b))).toThrow(/checksum/);
    // a payload that stops early or codes past the frame
    expect(bad((b) => ((b[24] -= 1), b))).toThrow(UjpgStreamError);
    expect(() => ujpgDecodeReference(encode(raw), new Uint8Array(0))).toThrow(UjpgStreamError);
    // bytes after the payload are not the stream's
    const longer = new Uint8Array(good.length + 10);
    longer.set(good);
    expect(ujpgDecodeReference(longer, new Uint8Array(raw.length)).raw).toBe(100);
  });
});

describe('the UJPG codec in WebAssembly equals its plain loops', () => {
  /** Frames of pieces that hit every path: noise, constant runs, gradients (equal deltas), runs just under and over 3 and 130. */
  const frameArb = fc
    .array(
      fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 60 }),
        fc.tuple(fc.nat(255), fc.integer({ min: 1, max: 300 })).map(([v, n]) => new Uint8Array(n).fill(v)),
        fc.tuple(fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 300 })).map(([v, d, n]) => Uint8Array.from({ length: n }, (_, i) => v + d * i)),
      ),
      { maxLength: 20 },
    )
    .map((parts) => Uint8Array.from(parts.flatMap((p) => [...p])));

  it('encodes every frame to the same bitstream, ENOSPC at the same buffer sizes, and decodes it the same way', () => {
    fc.assert(
      fc.property(frameArb, fc.nat(100), (raw, short) => {
        const f = { width: raw.length, height: 1, fourcc: 'YUYV' as const, stride: raw.length, size: raw.length };
        const [a, b] = [new Uint8Array(ujpgMaxSize(raw.length)), new Uint8Array(ujpgMaxSize(raw.length))];
        const la = ujpgEncode(raw, f, V4L2_PIX_FMT_YUYV, a);
        const lb = ujpgEncodePlain(raw, f, V4L2_PIX_FMT_YUYV, b);
        expect(la).toBe(lb);
        expect(Buffer.compare(a, b)).toBe(0);
        // a buffer `short` bytes short of the stream: both run out of room, or neither
        const cap = Math.max(32, lb - short);
        const outcome = (enc: typeof ujpgEncode) => {
          try {
            return enc(raw, f, V4L2_PIX_FMT_YUYV, new Uint8Array(cap));
          } catch (e) {
            if (e instanceof KernelError) return e.code;
            throw e;
          }
        };
        expect(outcome(ujpgEncode)).toBe(outcome(ujpgEncodePlain));
        const [da, db] = [new Uint8Array(raw.length), new Uint8Array(raw.length)];
        expect(ujpgDecode(a, la, da)).toBe(ujpgDecodePlain(b, lb, db));
        expect(Buffer.compare(da, raw)).toBe(0);
        expect(Buffer.compare(db, raw)).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('a corrupt stream fails both decoders with the same error (a flipped byte, a cut payload)', () => {
    fc.assert(
      fc.property(frameArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (raw, at, flip) => {
        const f = { width: raw.length || 1, height: 1, fourcc: 'YUYV' as const, stride: raw.length, size: raw.length };
        const bits = new Uint8Array(ujpgMaxSize(raw.length));
        const len = ujpgEncode(raw, f, V4L2_PIX_FMT_YUYV, bits);
        if (len > 32) bits[32 + (at % (len - 32))] ^= flip;
        const cut = new Uint8Array(bits.subarray(0, len));
        new DataView(cut.buffer).setUint32(24, Math.max(0, len - 32 - 1 - (at % 3)), true);
        for (const [stream, n] of [[bits, len], [cut, cut.length]] as const) {
          const result = (dec: typeof ujpgDecode) => {
            try {
              return dec(stream, n, new Uint8Array(raw.length));
            } catch (e) {
              if (e instanceof KernelError) return e.message;
              throw e;
            }
          };
          expect(result(ujpgDecode)).toBe(result(ujpgDecodePlain));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('a 12 MP YUYV frame of noise and gradients: the same stream, and it decodes', () => {
    const fmt = frameFormat(4000, 3000, 'YUYV');
    const raw = noise(fmt.size, 9);
    for (let i = 0; i < fmt.size; i += 4096) raw.fill(i & 0xff, i, i + 1000);
    const [a, b] = [new Uint8Array(ujpgMaxSize(fmt.size)), new Uint8Array(ujpgMaxSize(fmt.size))];
    const la = ujpgEncode(raw, fmt, V4L2_PIX_FMT_YUYV, a);
    expect(la).toBe(ujpgEncodePlain(raw, fmt, V4L2_PIX_FMT_YUYV, b));
    expect(Buffer.compare(a.subarray(0, la), b.subarray(0, la))).toBe(0);
    const back = new Uint8Array(fmt.size);
    expect(ujpgDecode(a, la, back)).toBe(fmt.size);
    expect(Buffer.compare(back, raw)).toBe(0);
  });
});
