import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameFormat, wasmHeap, type FrameFormat } from '../../src/formats/index.ts';
import { ExpectedFrames } from '../../src/sim/pipeline/expected.ts';
import { planFormats, stageNamed } from '../../src/sim/pipeline/plan.ts';
import { STAGES } from '../../src/sim/pipeline/stage-table.ts';
import { arenaKernels, ReferenceArena } from '../../src/sim/reference/arena.ts';
import { averageReference, averageReferencePlain } from '../../src/sim/reference/blend.ts';
import { PatternReference } from '../../src/sim/reference/test-pattern.ts';
import { convertReference, convertReferencePlain } from '../../src/sim/reference/yuv.ts';
import { loadScenario } from '../../src/sim/scenario.ts';
import { uiLayer, uiLayerInto } from '../../src/sim/stages/ui-layer.ts';

/*
 * The checker's reference kernels on frames in a ReferenceArena run in
 * place, on the arena's own memory: the bytes must be those of the plain
 * definitions, and the shared scratch memory (the copy path's) untouched.
 */

/** Marks the first bytes of the shared scratch memory, where the copy path puts its first input. */
function markScratch(): void {
  wasmHeap(64).fill(0x5a, 0, 64);
}

/** Whether the shared scratch memory still holds the mark (no copy went through it). */
function scratchUntouched(): boolean {
  return wasmHeap(64).subarray(0, 64).every((v) => v === 0x5a);
}

/** A view from `arena` holding `bytes`. */
function inArena(arena: ReferenceArena, bytes: Uint8Array): Uint8Array {
  const view = arena.alloc(bytes.length);
  expect(arena.holds(view)).toBe(true);
  view.set(bytes);
  return view;
}

/** A source frame size for `scale` the ISP takes (multiples of 4 * scale), non-square too. */
function sizeArb(scale: 1 | 2): fc.Arbitrary<[number, number]> {
  const fixed: [number, number][] = scale === 1 ? [[4, 4], [8, 4], [12, 8], [36, 20]] : [[8, 8], [16, 8], [24, 16], [72, 40]];
  const any = fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 6 })).map(([w, h]): [number, number] => [4 * scale * w, 4 * scale * h]);
  return fc.oneof(fc.constantFrom(...fixed), any);
}

describe('ReferenceArena', () => {
  const arena = new ReferenceArena(1 << 20);

  for (const from of ['NV12', 'YUYV'] as const)
    for (const scale of [1, 2] as const)
      it(`convertReference ${from} to XR24 at 1/${scale} in place gives the plain definition's bytes`, () => {
        const inputs = sizeArb(scale).chain(([w, h]) => fc.tuple(fc.constant(frameFormat(w, h, from)), fc.uint8Array({ minLength: frameFormat(w, h, from).size, maxLength: frameFormat(w, h, from).size })));
        fc.assert(
          fc.property(inputs, ([inFmt, bytes]: [FrameFormat, Uint8Array]) => {
            const outFmt = frameFormat(inFmt.width / scale, inFmt.height / scale, 'XR24');
            const src = inArena(arena, bytes);
            // 16 stale bytes past the frame, which the kernel must leave alone
            const got = arena.alloc(outFmt.size + 16).fill(0xa5);
            const want = new Uint8Array(outFmt.size + 16).fill(0xa5);
            markScratch();
            convertReference(src, inFmt, outFmt, scale, got);
            expect(scratchUntouched()).toBe(true);
            convertReferencePlain(bytes, inFmt, outFmt, scale, want);
            expect(Buffer.compare(got, want)).toBe(0);
            expect([arena.free(src), arena.free(got)]).toEqual([true, true]);
          }),
          { numRuns: 25 },
        );
      });

  it('averageReference in place gives the plain definition\'s bytes for any length, and with out as an input or overlapping one', () => {
    const len = fc.integer({ min: 1, max: 4099 });
    fc.assert(
      fc.property(len.chain((n) => fc.tuple(fc.uint8Array({ minLength: n, maxLength: n }), fc.uint8Array({ minLength: n, maxLength: n }), fc.integer({ min: 1, max: n }))), ([x, y, shift]) => {
        const n = x.length;
        const want = new Uint8Array(n);
        averageReferencePlain(x, y, want);
        const [a, b, out] = [inArena(arena, x), inArena(arena, y), arena.alloc(n)];
        markScratch();
        averageReference(a, b, out);
        expect(scratchUntouched()).toBe(true);
        expect(Buffer.compare(out, want)).toBe(0);
        // out is a: still in place, each byte read before it is written
        out.set(x);
        averageReference(out, b, out);
        expect(scratchUntouched()).toBe(true);
        expect(Buffer.compare(out, want)).toBe(0);
        // out `shift` bytes after a, overlapping it (but for shift n): the copy path, which reads all of a first
        const both = arena.alloc(n + shift);
        both.set(x);
        const shifted = both.subarray(shift, shift + n);
        averageReference(both.subarray(0, n), b, shifted);
        expect(Buffer.compare(shifted, want)).toBe(0);
        for (const v of [a, b, out, both]) expect(arena.free(v)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('reuses a freed region for the same size, keeps every view attached with its bytes, and takes back only what it handed out', () => {
    const own = new ReferenceArena(64 * 1024);
    const a = own.alloc(1000).fill(1);
    const b = own.alloc(1000).fill(2);
    expect(b.byteOffset).toBeGreaterThanOrEqual(a.byteOffset + 1000 + 64);
    expect(b.byteOffset % 64).toBe(0);
    expect(own.free(a)).toBe(true);
    expect(own.free(a)).toBe(false);
    expect(own.free(new Uint8Array(1000))).toBe(false);
    expect(own.free(b.subarray(0, 500))).toBe(false);
    const other = own.alloc(500);
    expect(other.byteOffset).not.toBe(a.byteOffset);
    const again = own.alloc(1000);
    expect(again.byteOffset).toBe(a.byteOffset);
    for (let i = 0; i < 20; i++) own.alloc(1000 + i);
    expect([b.length, b.every((v) => v === 2), other.length]).toEqual([1000, true, 500]);
  });

  it('a full arena hands out plain arrays, and the kernels give the right bytes with one operand in it and one not', () => {
    const inFmt = frameFormat(36, 20, 'NV12');
    const outFmt = frameFormat(36, 20, 'XR24');
    // room for the source and a 2000-byte array, not for the output
    const small = new ReferenceArena(3400);
    const src = small.alloc(inFmt.size);
    const tooBig = small.alloc(outFmt.size);
    expect([small.holds(src), small.holds(tooBig), small.free(tooBig)]).toEqual([true, false, false]);
    const bytes = Uint8Array.from({ length: inFmt.size }, (_, i) => (i * 7919) >>> 3);
    src.set(bytes);
    const want = new Uint8Array(outFmt.size);
    convertReferencePlain(bytes, inFmt, outFmt, 1, want);
    convertReference(src, inFmt, outFmt, 1, tooBig);
    expect(Buffer.compare(tooBig, want)).toBe(0);
    const back = small.alloc(2000);
    expect(small.holds(back)).toBe(true);
    const halfFmt = frameFormat(18, 10, 'XR24');
    convertReference(bytes, inFmt, halfFmt, 2, back.subarray(0, halfFmt.size));
    const half = new Uint8Array(halfFmt.size);
    convertReferencePlain(bytes, inFmt, halfFmt, 2, half);
    expect(Buffer.compare(back.subarray(0, half.length), half)).toBe(0);
    const avg = new Uint8Array(1000);
    averageReferencePlain(bytes.subarray(0, 1000), want.subarray(0, 1000), avg);
    const out = back.subarray(0, 1000);
    averageReference(src.subarray(0, 1000), want, out);
    expect(Buffer.compare(out, avg)).toBe(0);
  });

  it('the UI layer drawn into stale arena memory is the UI layer', () => {
    for (const fmt of [frameFormat(64, 24, 'XR24'), frameFormat(32, 16, 'NV12')]) {
      const view = arena.alloc(fmt.size).fill(0xcc);
      uiLayerInto(fmt, 7, view);
      expect(Buffer.compare(view, uiLayer(fmt, 7))).toBe(0);
      arena.free(view);
    }
  });
});

describe('ExpectedFrames on its arena', () => {
  it('video-playback\'s composed frames are made in its arena, in place, frame after frame, as the plain definitions give them', () => {
    const spec = { ...loadScenario('video-playback').spec, format: { width: 64, height: 32, fourcc: 'NV12' as const } };
    const stages = spec.processes!;
    const formats = planFormats(spec, STAGES);
    const frames = new ExpectedFrames(stages, stages.map((st) => stageNamed(STAGES, st.stage)), formats, 5);
    const [decode, convert, compose] = ['decode', 'convert', 'compose'].map((name) => stages.findIndex((st) => st.stage === name)) as [number, number, number];
    const source = new PatternReference(formats[decode]!.outFmt!, 5);
    const [yuv, rgb, want] = [new Uint8Array(formats[decode]!.outFmt!.size), new Uint8Array(formats[convert]!.outFmt!.size), new Uint8Array(formats[compose]!.outFmt!.size)];
    const ui = uiLayer(formats[compose]!.outFmt!, 5);
    markScratch();
    // more frames than the cache and its spares hold: evicted frames must go back, or the arena fills and the copies return
    for (let n = 0; n < 40; n++) {
      const got = frames.output(compose, n);
      expect(arenaKernels(got)).not.toBeNull();
      source.render(n, yuv);
      convertReferencePlain(yuv, formats[convert]!.inFmt!, formats[convert]!.outFmt!, stages[convert]!.scale, rgb);
      averageReferencePlain(rgb, ui, want);
      expect(Buffer.compare(got, want)).toBe(0);
    }
    expect(scratchUntouched()).toBe(true);
  });
});
