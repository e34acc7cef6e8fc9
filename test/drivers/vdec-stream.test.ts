import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TestPattern, UVD_HEADER, UvdDecoderUnit, UvdEncoder, frameFormat, uvdChecksum, uvdDecode, uvdMaxPacketSize, uvdParseHeader, type FrameFormat } from '../../src/formats/index.ts';
import { V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_UVD1, V4L2_PIX_FMT_XBGR32, fourccToString } from '../../src/uapi/index.ts';

/** Decodes every packet in order, each P-frame against the previous output; returns the pictures. */
function decodeAll(fmt: FrameFormat, packets: Uint8Array[]): Uint8Array[] {
  let ref: Uint8Array | null = null;
  return packets.map((p) => {
    const out = new Uint8Array(fmt.size);
    uvdDecode(p, p.length, ref, out);
    ref = out;
    return out;
  });
}

/** The reason uvdDecode gives, or 'ok'. */
function reason(f: () => void): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    return (e as Error).message;
  }
}

describe('UVD1 stream', () => {
  it('has the fourcc UVD1', () => {
    expect(fourccToString(V4L2_PIX_FMT_UVD1)).toBe('UVD1');
  });

  it('codes TestPattern frames losslessly: I-frame, then P-frames under 10% of the raw frame; the header says what each holds', () => {
    for (const [w, h, fcc, pf] of [
      [160, 120, 'NV12', V4L2_PIX_FMT_NV12],
      [64, 48, 'XR24', V4L2_PIX_FMT_XBGR32],
    ] as const) {
      const fmt = frameFormat(w, h, fcc);
      const tp = new TestPattern(fmt, 11);
      const enc = new UvdEncoder(fmt, { gop: 5 });
      const frames = Array.from({ length: 7 }, (_, n) => tp.frame(n));
      const packets = frames.map((f) => enc.encode(f));
      const out = decodeAll(fmt, packets);
      for (let n = 0; n < frames.length; n++) expect(Buffer.compare(out[n]!, frames[n]!)).toBe(0);
      packets.forEach((p, n) => {
        const hd = uvdParseHeader(p, p.length);
        expect([hd.frame, hd.type, hd.width, hd.height, hd.pixelformat, hd.payload + UVD_HEADER, hd.checksum]).toEqual([n, n % 5 === 0 ? 'I' : 'P', w, h, pf, p.length, uvdChecksum(frames[n]!, fmt.size)]);
        expect(p.length).toBeLessThanOrEqual(uvdMaxPacketSize(fmt));
        if (hd.type === 'P') expect(p.length).toBeLessThan(fmt.size / 10);
      });
      expect(String.fromCharCode(...packets[0]!.subarray(0, 4))).toBe('UVD1');
    }
  });

  it('property: decode(encode(frames)) == frames for any small frames (noise, shifted copies, runs) and GOP', () => {
    const arb = fc.record({
      w: fc.integer({ min: 1, max: 24 }),
      h: fc.integer({ min: 1, max: 12 }),
      rgb: fc.boolean(),
      gop: fc.integer({ min: 1, max: 5 }),
      seed: fc.integer({ min: 0, max: 1 << 30 }),
      steps: fc.array(fc.record({ kind: fc.constantFrom('noise', 'shift', 'run', 'same'), dx: fc.integer({ min: -40, max: 40 }), dy: fc.integer({ min: -3, max: 3 }), v: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 }),
    });
    fc.assert(
      fc.property(arb, ({ w, h, rgb, gop, seed, steps }) => {
        const fmt = frameFormat(w * 2, h * 2, rgb ? 'XR24' : 'NV12');
        const rows = fmt.size / fmt.stride;
        let x = seed >>> 0 || 1;
        const rnd = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) >>> 24;
        let prev = new Uint8Array(fmt.size).map(rnd);
        const frames: Uint8Array[] = [];
        for (const s of steps) {
          const f = new Uint8Array(fmt.size);
          if (s.kind === 'noise') f.set(f.map(rnd));
          else if (s.kind === 'run') f.fill(s.v);
          else if (s.kind === 'same') f.set(prev);
          else {
            // a moved copy of the previous frame with a few new bytes
            for (let y = 0; y < rows; y++)
              for (let c = 0; c < fmt.stride; c++) {
                const sy = y + s.dy;
                const sx = c + s.dx;
                f[y * fmt.stride + c] = sy >= 0 && sy < rows && sx >= 0 && sx < fmt.stride ? prev[sy * fmt.stride + sx]! : rnd();
              }
          }
          frames.push(f);
          prev = f;
        }
        const enc = new UvdEncoder(fmt, { gop });
        const packets = frames.map((f) => enc.encode(f));
        for (const p of packets) expect(p.length).toBeLessThanOrEqual(uvdMaxPacketSize(fmt));
        const out = decodeAll(fmt, packets);
        for (let n = 0; n < frames.length; n++) expect(Buffer.compare(out[n]!, frames[n]!)).toBe(0);
      }),
      { numRuns: 150 },
    );
  });

  it('property: a packet with any byte changed either fails with a reason or decodes to the same picture', () => {
    const fmt = frameFormat(32, 16, 'NV12');
    const tp = new TestPattern(fmt, 4);
    const enc = new UvdEncoder(fmt, { gop: 3 });
    const frames = [0, 1, 2].map((n) => tp.frame(n));
    const packets = frames.map((f) => enc.encode(f));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (n, at, flip) => {
        const p = packets[n]!.slice();
        p[at % p.length] ^= flip;
        const out = new Uint8Array(fmt.size);
        const r = reason(() => uvdDecode(p, p.length, n > 0 ? frames[n - 1]! : null, out));
        if (r === 'ok') expect(Buffer.compare(out, frames[n]!)).toBe(0);
        else expect(r).toMatch(/^uvd: /);
      }),
      { numRuns: 300 },
    );
  });

  it('a decoder unit decodes in its own memory: the pictures of uvdDecode, and its errors', () => {
    const fmt = frameFormat(48, 20, 'NV12');
    const tp = new TestPattern(fmt, 4);
    const enc = new UvdEncoder(fmt, { gop: 3 });
    const unit = new UvdDecoderUnit(uvdMaxPacketSize(fmt), fmt.size);
    for (let n = 0; n < 5; n++) {
      const p = enc.encode(tp.frame(n));
      unit.packet.set(p);
      if (n > 0) unit.ref.set(tp.frame(n - 1));
      unit.decode(p.length, n > 0);
      expect(Buffer.compare(unit.picture, tp.frame(n))).toBe(0);
      if (n % 3 !== 0) expect(reason(() => unit.decode(p.length, false))).toMatch(new RegExp(`P-frame ${n} without a reference`));
    }
    unit.ref.set(tp.frame(0));
    expect(reason(() => unit.decode(unit.packet.length, true))).toMatch(/checksum mismatch|payload of/);
  });

  it('names what is wrong: P-frame without a reference, checksum, size, truncation, bad header, overlap', () => {
    const fmt = frameFormat(32, 16, 'XR24');
    const tp = new TestPattern(fmt, 2);
    const enc = new UvdEncoder(fmt);
    const i0 = enc.encode(tp.frame(0));
    const p1 = enc.encode(tp.frame(1));
    const out = new Uint8Array(fmt.size);
    expect(reason(() => uvdDecode(p1, p1.length, null, out))).toMatch(/P-frame 1 without a reference/);
    // a wrong reference decodes to other bytes: the checksum catches it
    expect(reason(() => uvdDecode(p1, p1.length, tp.frame(5), out))).toMatch(/checksum mismatch in frame 1/);
    expect(reason(() => uvdDecode(i0, i0.length, null, new Uint8Array(fmt.size - 1)))).toMatch(/does not fit/);
    expect(reason(() => uvdDecode(i0, i0.length - 1, null, out))).toMatch(/payload of/);
    expect(reason(() => uvdDecode(i0, 20, null, out))).toMatch(/no header/);
    const bad = i0.slice();
    bad[0] = 0x41;
    expect(reason(() => uvdDecode(bad, bad.length, null, out))).toMatch(/bad magic/);
    const big = new Uint8Array(fmt.size * 2);
    uvdDecode(i0, i0.length, null, big.subarray(0, fmt.size));
    expect(reason(() => uvdDecode(p1, p1.length, big.subarray(0, fmt.size), big.subarray(8)))).toMatch(/overlap/);
    uvdDecode(p1, p1.length, big.subarray(0, fmt.size), big.subarray(fmt.size));
    expect(Buffer.compare(big.subarray(fmt.size), tp.frame(1))).toBe(0);
    expect(() => new UvdEncoder(frameFormat(8, 8, 'YUYV'))).toThrow(/NV12 or XR24/);
    expect(() => new UvdEncoder(fmt, { gop: 0 })).toThrow(/gop/);
  });
});
