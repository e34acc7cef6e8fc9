import { AverageUnit, frameFormat, growMemory, nextRegion, ScalerUnit, TestPattern, UvdDecoderUnit, UvdEncoder, wasmInstance } from '../src/formats/index.ts';

/**
 * The per-pixel work of one video-playback frame, timed alone: what the
 * run must compute for each frame whatever else it does, in nanoseconds
 * per frame, kernel by kernel. Each kernel runs over buffers already in
 * its own memory (the copies in and out are the memory traffic the
 * pipeline row counts apart):
 *   encode:  the test pattern's frame and its packet (the scenario makes
 *            its stream file this way before the player starts);
 *   decode:  the video decoder's unit, I- and P-frames as the GOP has them;
 *   convert: the ISP's NV12 to XRGB8888;
 *   blend:   the GPU's average of the frame and the UI layer;
 *   check:   the checker's own pattern frame, conversion and average (its
 *            compare is memory traffic, counted as the bytes it checks).
 * Each kernel runs over `frames` frames in `rounds` rounds; its best round
 * is kept (the least disturbed, on a shared machine).
 */
export function videoPlaybackEngineNs(width: number, height: number, frames = 8, rounds = 5): Record<'encode' | 'decode' | 'convert' | 'blend' | 'check' | 'total', number> {
  const nv12 = frameFormat(width, height, 'NV12');
  const xr24 = frameFormat(width, height, 'XR24');
  const pattern = new TestPattern(nv12, 1);
  const raw = Array.from({ length: frames }, (_, n) => pattern.frame(n));
  const gop = 15;
  const encoder = new UvdEncoder(nv12, { gop });
  const packets = raw.map((f) => encoder.encode(f));
  const decoder = new UvdDecoderUnit(Math.max(...packets.map((p) => p.length)), nv12.size);
  const isp = new ScalerUnit(nv12, 1, xr24);
  const gpu = new AverageUnit();
  const checker = new CheckerFrames(nv12.size, xr24.size);

  const best = (run: () => number): number => {
    let min = Infinity;
    for (let r = 0; r < rounds; r++) min = Math.min(min, run());
    return min / frames;
  };
  const timed = (setup: (n: number) => void, kernel: (n: number) => void) => () => {
    let ns = 0;
    for (let n = 0; n < frames; n++) {
      setup(n);
      const t = performance.now();
      kernel(n);
      ns += (performance.now() - t) * 1e6;
    }
    return ns;
  };

  const encode = best(() => {
    const enc = new UvdEncoder(nv12, { gop });
    const t = performance.now();
    for (let n = 0; n < frames; n++) enc.encode(pattern.frame(n));
    return (performance.now() - t) * 1e6;
  });
  const decode = best(
    timed(
      (n) => {
        decoder.packet.set(packets[n]!);
        if (n > 0) decoder.ref.set(raw[n - 1]!);
      },
      (n) => decoder.decode(packets[n]!.length, n % gop !== 0),
    ),
  );
  const convert = best(
    timed(
      (n) => isp.input.set(raw[n]!),
      () => isp.convert(),
    ),
  );
  const ui = new TestPattern(xr24, 2).frame(0);
  const blend = best(
    timed(
      () => {
        const { a, b } = gpu.buffers(xr24.size);
        a.set(isp.output);
        b.set(ui);
      },
      () => gpu.average(),
    ),
  );
  const check = best(timed(() => checker.ui.set(ui), (n) => checker.expect(pattern, n)));
  return { encode, decode, convert, blend, check, total: encode + decode + convert + blend + check };
}

/** The checker's chain for one frame in a WebAssembly memory of its own: the source pattern, its conversion, the average with the UI layer. */
export class CheckerFrames {
  private readonly k = wasmInstance();
  private readonly src: Uint8Array;
  private readonly rgbAt: number;
  readonly ui: Uint8Array;
  /** The frame the display should show, after expect(). */
  readonly output: Uint8Array;
  private readonly outAt: number;

  constructor(
    nv12Size: number,
    private readonly xr24Size: number,
  ) {
    this.rgbAt = nextRegion(0, nv12Size);
    const uiAt = nextRegion(this.rgbAt, xr24Size);
    this.outAt = nextRegion(uiAt, xr24Size);
    growMemory(this.k, nextRegion(this.outAt, xr24Size));
    this.src = new Uint8Array(this.k.memory.buffer, 0, nv12Size);
    this.ui = new Uint8Array(this.k.memory.buffer, uiAt, xr24Size);
    this.output = new Uint8Array(this.k.memory.buffer, this.outAt, xr24Size);
  }

  /** Computes frame `n` of `pattern` (NV12) converted to XRGB8888 and averaged with `ui` into `output`. */
  expect(pattern: TestPattern, n: number): void {
    pattern.render(n, this.src);
    const { width, height } = pattern.fmt;
    this.k.checkToXrgb8888(0, width, height, 1, 0, this.rgbAt);
    this.k.checkAverage(this.rgbAt, this.ui.byteOffset, this.outAt, this.xr24Size);
  }
}
