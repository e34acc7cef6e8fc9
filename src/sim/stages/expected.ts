import type { FrameFormat } from '../../formats/index.ts';
import { V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_XBGR32, V4L2_PIX_FMT_YUYV } from '../../uapi/index.ts';
import { averageReference } from '../reference/blend.ts';
import { cpuOverlayReference } from '../reference/overlay.ts';
import { PatternReference } from '../reference/test-pattern.ts';
import { UjpgStreamError, ujpgDecodeReference } from '../reference/ujpg.ts';
import { convertReference } from '../reference/yuv.ts';
import type { ProcessStageSpec } from '../scenario-schema.ts';
import type { StageFormats } from './plan.ts';
import { cpuOverlayValue, RENDER_TEXTURES, uiLayer } from './ui-layer.ts';

/** The V4L2 pixelformat a UJPG header names for each frame layout (the uapi fourccs). */
const PIXELFORMAT: Record<FrameFormat['fourcc'], number> = { YUYV: V4L2_PIX_FMT_YUYV, NV12: V4L2_PIX_FMT_NV12, XR24: V4L2_PIX_FMT_XBGR32 };

/**
 * What every stage of a process pipeline should give for each frame,
 * computed outside the simulation by the reference implementations in
 * ../reference, which share no code with the transforms the devices run:
 * the source's pattern, the ISP's conversion, the GPU's blend with the
 * compositor's layer, the CPU's drawing, the JPEG decoder. The runner
 * compares what the sinks consumed with it, byte for byte.
 */
export class ExpectedFrames {
  private readonly cache = new Map<string, Uint8Array>();
  /** Frame arrays no cache entry holds any more, by size, for the next frames to reuse (no garbage per frame). */
  private readonly spare = new Map<number, Uint8Array[]>();
  private readonly patterns = new Map<number, PatternReference>();
  private readonly ui = new Map<number, Uint8Array>();
  private scratch = new Uint8Array(0);

  constructor(
    private readonly stages: readonly ProcessStageSpec[],
    private readonly formats: readonly StageFormats[],
    private readonly seed: number,
  ) {}

  /** The source frame `n` of a stage that makes frames (the sensor pattern, or what the stream and photos encode). */
  source(i: number, n: number): Uint8Array {
    const p = this.pattern(i);
    const out = this.alloc(this.formats[i]!.outFmt!.size);
    p.render(n, out);
    return out;
  }

  private alloc(size: number): Uint8Array {
    return this.spare.get(size)?.pop() ?? new Uint8Array(size);
  }

  /** The stage whose pattern reaches stage `i`'s input unchanged (only readers in between), or -1. */
  private untouchedSource(i: number): number {
    for (let j = i - 1; j >= 0; j--) {
      const st = this.stages[j]!;
      if (st.stage === 'capture' || st.stage === 'decode') return j;
      if (st.stage !== 'cpu' || st.rows > 0) return -1;
    }
    return -1;
  }

  private pattern(i: number): PatternReference {
    let p = this.patterns.get(i);
    if (!p) {
      p = new PatternReference(this.formats[i]!.outFmt!, this.seed);
      this.patterns.set(i, p);
    }
    return p;
  }

  /** Frame `n` as stage `i` takes it in. */
  input(i: number, n: number): Uint8Array {
    return this.output(i - 1, n);
  }

  /** Frame `n` as stage `i` gives it out. */
  output(i: number, n: number): Uint8Array {
    const key = `${i}:${n}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const st = this.stages[i]!;
    const { inFmt, outFmt } = this.formats[i]!;
    let out: Uint8Array;
    switch (st.stage) {
      case 'capture':
      case 'decode':
      case 'jpeg-decode':
        out = this.source(i, n);
        break;
      case 'render': {
        // The GPU blends textures n and n+1 (modulo their count), which are pattern frames.
        const k = RENDER_TEXTURES;
        out = this.alloc(outFmt!.size);
        averageReference(this.source(i, n % k), this.source(i, (n + 1) % k), out);
        break;
      }
      case 'convert':
        out = this.alloc(outFmt!.size);
        convertReference(this.input(i, n), inFmt!, outFmt!, st.scale, out);
        break;
      case 'compose': {
        let ui = this.ui.get(i);
        if (!ui) {
          ui = uiLayer(outFmt!, this.seed);
          this.ui.set(i, ui);
        }
        out = this.alloc(outFmt!.size);
        averageReference(this.input(i, n), ui, out);
        break;
      }
      case 'cpu':
        out = this.input(i, n);
        if (st.rows > 0) {
          const drawn = this.alloc(out.length);
          drawn.set(out);
          out = drawn;
          cpuOverlayReference(out, st.rows, inFmt!.stride, cpuOverlayValue(n));
        }
        break;
      default:
        out = this.input(i, n);
    }
    // Only the frames in flight are worth keeping; an evicted array no other entry shares is reused.
    if (this.cache.size >= 6) {
      const [oldKey, old] = this.cache.entries().next().value!;
      this.cache.delete(oldKey);
      if (![...this.cache.values()].includes(old) && old !== out) {
        const list = this.spare.get(old.length) ?? [];
        if (list.length < 2) list.push(old);
        this.spare.set(old.length, list);
      }
    }
    this.cache.set(key, out);
    return out;
  }

  /**
   * Whether `bytes`, what stage `i` consumed of frame `n`, is right: the
   * frame it should have received, or for the encoder a bitstream that
   * decodes to it.
   */
  matches(i: number, n: number, bytes: Uint8Array): boolean {
    const st = this.stages[i]!;
    let want: Uint8Array;
    let got = bytes;
    if (st.stage === 'encode') {
      want = this.input(i, n);
      got = this.scratch.length === want.length ? this.scratch : (this.scratch = new Uint8Array(want.length));
      const fmt = this.formats[i]!.inFmt!;
      try {
        const h = ujpgDecodeReference(bytes, got);
        if (h.pixelformat !== PIXELFORMAT[fmt.fourcc] || h.width !== fmt.width || h.height !== fmt.height) return false;
      } catch (e) {
        if (e instanceof UjpgStreamError) return false;
        throw e;
      }
    } else if (st.stage === 'jpeg-decode') {
      want = this.output(i, n);
    } else {
      // A frame that no stage changed is checked against the pattern directly, without building it.
      const src = this.untouchedSource(i);
      if (src >= 0) return this.pattern(src).matches(n, bytes);
      want = this.input(i, n);
    }
    return got.length === want.length && Buffer.from(got.buffer, got.byteOffset, got.length).equals(Buffer.from(want.buffer, want.byteOffset, want.length));
  }
}
