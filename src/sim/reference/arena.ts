import { growMemory, nextRegion, wasmInstance, type Kernels } from '../../formats/index.ts';

/*
 * The checker's frames live in a WebAssembly memory of their own, so its
 * kernels (wasm/checker.ts) run on them where they are: no copy into the
 * shared scratch memory and back for each stage of each frame. The
 * memory grows once, when the arena is made, because a grow detaches
 * every view of it handed out before; V8 commits its pages only as they
 * are touched, so a generous capacity costs address space, not memory.
 */

/** Each arena by its memory's buffer (an arena never grows again, so the buffer stays the same object). */
const arenas = new WeakMap<ArrayBufferLike, ReferenceArena>();

/** The most an arena takes: offsets stay below 2^31, as the kernels' 32-bit parameters read them. */
const MAX_CAPACITY = 2 ** 31 - 65536;

/**
 * Frame arrays for the checker in one kernels instance's memory (no kernel
 * counterpart: the checker's own). Regions are handed out from the bottom,
 * each aligned and followed by room for a kernel's read past its end, and
 * given back by size for the next array of that size. When no room is
 * left an array is a plain one, and the kernels take the copy path.
 */
export class ReferenceArena {
  /** The kernels instance whose memory the arena is. */
  readonly kernels: Kernels;
  /** Bytes the regions may take, from offset 0 (the memory has room past it for a read past the end). */
  readonly capacity: number;
  private readonly buffer: ArrayBufferLike;
  /** Where the next new region starts. */
  private top = 0;
  /** Offsets of regions given back, by the size they were handed out with. */
  private readonly spare = new Map<number, number[]>();
  /** Size of each region handed out and not given back, by offset. */
  private readonly live = new Map<number, number>();

  constructor(capacity: number) {
    this.kernels = wasmInstance();
    let cap = Math.min(Math.max(0, Math.floor(capacity)), MAX_CAPACITY);
    try {
      growMemory(this.kernels, nextRegion(cap, 0));
    } catch (e) {
      // No address space for it: every array is a plain one.
      if (!(e instanceof RangeError)) throw e;
      cap = 0;
    }
    this.capacity = cap;
    this.buffer = this.kernels.memory.buffer;
    arenas.set(this.buffer, this);
  }

  /** An array of `size` bytes: a region given back earlier, a new one, or a plain array when none fits (its bytes are stale: the caller writes all of them). */
  alloc(size: number): Uint8Array {
    let at = this.spare.get(size)?.pop();
    if (at === undefined) {
      const end = nextRegion(this.top, size);
      if (end > this.capacity) return new Uint8Array(size);
      at = this.top;
      this.top = end;
    }
    this.live.set(at, size);
    return new Uint8Array(this.buffer, at, size);
  }

  /** Takes back a region alloc handed out, for the next alloc of its size; false (and nothing done) for any other array or one already back. */
  free(view: Uint8Array): boolean {
    const at = view.byteOffset;
    if (view.buffer !== this.buffer || this.live.get(at) !== view.length) return false;
    this.live.delete(at);
    const list = this.spare.get(view.length);
    if (list) list.push(at);
    else this.spare.set(view.length, [at]);
    return true;
  }

  /** Whether `view` lies in the arena's regions (so a kernel may read up to 64 bytes past its end). */
  holds(view: Uint8Array): boolean {
    return view.buffer === this.buffer && view.byteOffset + view.length <= this.capacity;
  }
}

/** The kernels of the arena that holds every one of `views`, or null (one is elsewhere). */
export function arenaKernels(...views: Uint8Array[]): Kernels | null {
  const arena = arenas.get(views[0]!.buffer);
  if (!arena) return null;
  for (const v of views) if (!arena.holds(v)) return null;
  return arena.kernels;
}

/** Whether the first `aLen` bytes of `a` and the first `bLen` of `b` (views of one buffer) share no byte. */
export function disjoint(a: Uint8Array, aLen: number, b: Uint8Array, bLen: number): boolean {
  return a.byteOffset + aLen <= b.byteOffset || b.byteOffset + bLen <= a.byteOffset;
}
