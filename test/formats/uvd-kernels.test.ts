import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameFormat, TestPattern, UVD_HEADER, UvdEncoder, uvdDecode, uvdMaxPacketSize } from '../../src/formats/index.ts';
import { codeRowsPlain } from '../../src/formats/uvd-encode-plain.ts';
import { uvdCodeRows, uvdDecodePlain } from '../../src/formats/uvd-stream.ts';

/*
 * The UVD1 encoder's WebAssembly row coder against its plain loops, byte
 * for byte: on frames built to exercise every op (runs of every length
 * around the RUN threshold, rows moved by every vector in and out of the
 * search window, noise) and on the sensor pattern the pipelines encode.
 */

/** A frame's bytes and its previous frame, built from pieces: runs, moved rows of the previous frame, noise. */
const framesArb = fc
  .record({
    stride: fc.integer({ min: 1, max: 200 }),
    rows: fc.integer({ min: 1, max: 12 }),
    seed: fc.integer(),
    pieces: fc.array(
      fc.oneof(
        fc.record({ kind: fc.constant('run' as const), len: fc.integer({ min: 1, max: 40 }), value: fc.nat(255) }),
        fc.record({ kind: fc.constant('moved' as const), len: fc.integer({ min: 1, max: 120 }), dy: fc.integer({ min: -3, max: 3 }), dx: fc.integer({ min: -40, max: 40 }) }),
        fc.record({ kind: fc.constant('noise' as const), len: fc.integer({ min: 1, max: 40 }) }),
      ),
      { minLength: 1, maxLength: 30 },
    ),
  })
  .map(({ stride, rows, seed, pieces }) => {
    const size = stride * rows;
    let s = seed | 1;
    const rand = () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return s & 0xff;
    };
    // the previous frame: noise with runs, so moved bytes are findable and runs repeat
    const ref = Uint8Array.from({ length: size }, (_, i) => (i % 23 < 7 ? 9 : rand()));
    const cur = new Uint8Array(size);
    let at = 0;
    for (let k = 0; at < size; k = (k + 1) % pieces.length) {
      const p = pieces[k]!;
      const n = Math.min(p.len, size - at);
      for (let i = 0; i < n; i++, at++) {
        if (p.kind === 'run') cur[at] = p.value;
        else if (p.kind === 'noise') cur[at] = rand();
        else cur[at] = ref[Math.min(size - 1, Math.max(0, at + p.dy * stride + p.dx))]!;
      }
    }
    return { stride, rows, cur, ref };
  });

describe('the UVD1 row coder in WebAssembly equals its plain loops', () => {
  it('on random frames of runs, moved rows and noise, intra and predicted, at any start in the packet', () => {
    fc.assert(
      fc.property(framesArb, fc.boolean(), fc.nat(40), ({ stride, rows, cur, ref }, intra, start) => {
        const fmtRoom = rows * (stride + 1 + 2) + 3 * stride + 16;
        const [a, b] = [new Uint8Array(start + fmtRoom).fill(0x77), new Uint8Array(start + fmtRoom).fill(0x77)];
        const endFast = uvdCodeRows(cur, ref, stride, rows, intra, a, start);
        const endPlain = codeRowsPlain(cur, ref, stride, rows, intra, b, start);
        expect(endFast).toBe(endPlain);
        expect(Buffer.compare(a.subarray(0, endFast), b.subarray(0, endPlain))).toBe(0);
        expect(a.subarray(endFast).every((x) => x === 0x77)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('the sensor pattern at 720p NV12 and 640x480 XR24: the same packets, which decode to the frames', () => {
    for (const fmt of [frameFormat(1280, 720, 'NV12'), frameFormat(640, 480, 'XR24')]) {
      const pattern = new TestPattern(fmt, 5);
      const enc = new UvdEncoder(fmt, { gop: 4 });
      const prev = new Uint8Array(fmt.size);
      const [out, ref] = [new Uint8Array(fmt.size), new Uint8Array(fmt.size)];
      for (let n = 0; n < 6; n++) {
        const frame = pattern.frame(n);
        const packet = enc.encode(frame);
        const plain = new Uint8Array(uvdMaxPacketSize(fmt) + 3 * fmt.stride + 16);
        const end = codeRowsPlain(frame, prev, fmt.stride, fmt.size / fmt.stride, n % 4 === 0, plain, UVD_HEADER);
        expect([n, packet.length]).toEqual([n, end]);
        expect(Buffer.compare(packet.subarray(UVD_HEADER), plain.subarray(UVD_HEADER, end))).toBe(0);
        uvdDecode(packet, packet.length, n % 4 === 0 ? null : ref, out);
        expect(Buffer.compare(out, frame)).toBe(0);
        ref.set(out);
        prev.set(frame);
      }
    }
  });

  it('the decoder in WebAssembly gives the frame its plain form gives, or the same error, for packets intact and corrupted', () => {
    fc.assert(
      fc.property(framesArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 3 }), fc.boolean(), ({ stride, rows, cur, ref }, flips, cut) => {
        // a frame of `stride` x `rows` as XR24 when the stride allows it, else as NV12 (rows of stride bytes, 2/3 of them luma)
        const fmt = stride % 4 === 0 ? frameFormat(stride / 4, rows, 'XR24') : rows % 3 === 0 ? frameFormat(stride, (rows / 3) * 2, 'NV12') : null;
        if (!fmt) return;
        const enc = new UvdEncoder(fmt, { gop: 2 });
        enc.encode(ref);
        const packet = enc.encode(cur).slice();
        for (const [at, x] of flips) packet[UVD_HEADER + (at % Math.max(1, packet.length - UVD_HEADER))] ^= x;
        const len = cut ? Math.max(UVD_HEADER, packet.length - 1) : packet.length;
        const outcome = (decode: typeof uvdDecode) => {
          const out = new Uint8Array(fmt.size);
          try {
            decode(packet, len, ref, out);
            return [...out];
          } catch (e) {
            return (e as Error).message;
          }
        };
        expect(outcome(uvdDecode)).toEqual(outcome(uvdDecodePlain));
      }),
      { numRuns: 300 },
    );
  });
});
