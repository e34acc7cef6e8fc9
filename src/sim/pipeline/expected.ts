import { frameBytesOf, frameEquals, nextRegion, type FrameBytes } from '../../formats/index.ts';
import { ReferenceArena } from '../reference/arena.ts';
import { PatternReference } from '../reference/test-pattern.ts';
import type { ProcessStageSpec } from '../scenario-schema.ts';
import type { CheckContext, StageDescriptor, StageFormats } from './descriptor.ts';

/** Frames the cache keeps (those of the frames in flight). */
const CACHED_FRAMES = 6;
/** Arrays a stage holds outside the cache at once: the frame it makes, two pattern frames it blends (render), its once value. */
const HELD_PER_STAGE = 4;
/** Spare regions of each frame size, for frees that come after the next alloc. */
const SPARE_PER_SIZE = 2;

/**
 * What every stage of a process pipeline should give for each frame,
 * computed outside the simulation by each stage descriptor's expected
 * transform, which uses the reference implementations in ../reference
 * (they share no code with the transforms the devices run). The runner
 * compares what the sinks consumed with it, byte for byte. Its frames
 * live in a ReferenceArena of their own, made on the first one a stage
 * asks for, so the reference kernels run on them in place.
 */
export class ExpectedFrames {
  private readonly cache = new Map<string, Uint8Array>();
  /** Where frame arrays come from and go back to when no cache entry holds them (no garbage per frame). */
  private arena: ReferenceArena | null = null;
  private readonly patterns = new Map<number, PatternReference>();
  private readonly contexts: CheckContext[];

  constructor(
    private readonly stages: readonly ProcessStageSpec[],
    private readonly descriptors: readonly StageDescriptor[],
    private readonly formats: readonly StageFormats[],
    private readonly seed: number,
  ) {
    this.contexts = stages.map((st, i) => {
      const kept = new Map<string, unknown>();
      return {
        st,
        inFmt: formats[i]!.inFmt,
        outFmt: formats[i]!.outFmt,
        seed,
        input: (n) => this.output(i - 1, n),
        output: (n) => this.output(i, n),
        pattern: (n) => {
          const out = this.alloc(formats[i]!.outFmt!.size);
          this.pattern(i).render(n, out);
          return out;
        },
        alloc: (size) => this.alloc(size),
        free: (bytes) => {
          this.arena?.free(bytes);
        },
        once: <T>(make: () => T): T => {
          if (!kept.has('once')) kept.set('once', make());
          return kept.get('once') as T;
        },
      } satisfies CheckContext;
    });
  }

  private alloc(size: number): Uint8Array {
    this.arena ??= new ReferenceArena(this.arenaBytes());
    return this.arena.alloc(size);
  }

  /**
   * Room for every array the stages may hold at once, from the plan's
   * frame sizes: the cache's frames and spares of each size (a region
   * goes back to its own size only), and what each stage holds beyond them.
   */
  private arenaBytes(): number {
    const sizes = this.formats.flatMap((f) => (f.outFmt ? [nextRegion(0, f.outFmt.size)] : []));
    let bytes = 0;
    for (const region of new Set(sizes)) bytes += (CACHED_FRAMES + SPARE_PER_SIZE) * region;
    for (const region of sizes) bytes += HELD_PER_STAGE * region;
    return bytes;
  }

  private pattern(i: number): PatternReference {
    let p = this.patterns.get(i);
    if (!p) {
      p = new PatternReference(this.formats[i]!.outFmt!, this.seed);
      this.patterns.set(i, p);
    }
    return p;
  }

  /** The stage whose pattern reaches stage `i`'s input unchanged (only readers in between), or -1. */
  private untouchedSource(i: number): number {
    for (let j = i - 1; j >= 0; j--) {
      const d = this.descriptors[j]!;
      if (d.makesPattern) return j;
      if (!d.passesThrough?.(this.stages[j]!)) return -1;
    }
    return -1;
  }

  /** Frame `n` as stage `i` gives it out. */
  output(i: number, n: number): Uint8Array {
    const key = `${i}:${n}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const d = this.descriptors[i]!;
    const x = this.contexts[i]!;
    const out = d.expect ? d.expect(x, n) : x.input(n);
    // Only the frames in flight are worth keeping; an evicted array no other entry shares goes back for reuse.
    if (this.cache.size >= CACHED_FRAMES) {
      const [oldKey, old] = this.cache.entries().next().value!;
      this.cache.delete(oldKey);
      if (![...this.cache.values()].includes(old) && old !== out) this.arena?.free(old);
    }
    this.cache.set(key, out);
    return out;
  }

  /**
   * Whether `bytes`, what stage `i` consumed of frame `n`, is right: by
   * the stage's own check (an encoder's bitstream decodes to its input),
   * else it is the frame the stage should have received.
   */
  matches(i: number, n: number, bytes: FrameBytes): boolean {
    const d = this.descriptors[i]!;
    if (d.check) return d.check(this.contexts[i]!, n, frameBytesOf(bytes));
    // A frame that no stage changed is checked against the pattern directly, without building it.
    const src = this.untouchedSource(i);
    if (src >= 0) return this.pattern(src).matches(n, bytes);
    return frameEquals(bytes, this.output(i - 1, n));
  }

}
