import { hex } from '../lib/index.ts';

/** Makes bytes `srcOff..srcOff+n` of a source in `dst` at `dstOff` (a transfer whose source generates its bytes). */
export type ByteProducer = (dst: Uint8Array, dstOff: number, srcOff: number, n: number) => void;

/** One region of the physical address map: a DRAM bank or on-chip SRAM. */
export interface MemoryBankConfig {
  name: string;
  base: number;
  size: number;
  kind: 'dram' | 'sram';
}

export interface MemoryBank extends MemoryBankConfig {
  readonly end: number;
  /** Lazily materialised backing, one chunk per CHUNK_SIZE bytes. */
  readonly chunks: (Uint8Array | undefined)[];
  /** Per chunk taken from the pool: which of its pages still hold an earlier run's bytes (see `freshen`). */
  readonly stale: (Uint16Array | undefined)[];
  /** Per chunk not yet materialised: the pages whose bytes the page generator makes on demand (writeGeneratedPage). */
  readonly generated: (GeneratedPages | undefined)[];
  /** Per chunk: the memory's write stamp when something last wrote in it (0: never). */
  readonly written: Float64Array;
  /** Per chunk written since the bank was made or released: the stamp of each of its 4 KiB pages' last write (0: never). */
  readonly pageWritten: (Float64Array | undefined)[];
}

/** A chunk's generated pages: per 4 KiB page, whether it has one and the generator's two arguments. */
interface GeneratedPages {
  readonly has: Uint8Array;
  readonly a: Uint32Array;
  readonly b: Uint32Array;
}

/**
 * Writes the 4 KiB page of arguments (`a`, `b`) into `dst` at `dstOff`: a
 * pure function of its arguments, so the page's bytes can be made when
 * something first reads or writes near it rather than when it is written.
 */
export type PageGenerator = (a: number, b: number, dst: Uint8Array, dstOff: number) => void;

/** An access that no bank decodes: the master that issued it sees a bus error. */
export class BusError extends Error {
  readonly address: number;
  constructor(address: number, len: number) {
    super(`bus error: no memory decodes ${hex(address)}..${hex(address + len - 1)}`);
    this.name = 'BusError';
    this.address = address;
  }
}

/** Backing is materialised in 1 MiB chunks on the first write. */
export const CHUNK_SHIFT = 20;
export const CHUNK_SIZE = 1 << CHUNK_SHIFT;

/**
 * Bytes a large copy moves per call: one TypedArray.set of 512 KiB after
 * another ran 10 to 15% faster here than one set of 64 MiB, the pieces
 * keeping to what the host's caches take at once.
 */
const COPY_PIECE = 512 * 1024;

/** Copies `n` bytes of `src` from `srcOff` into `dst` at `dstOff` (not overlapping), in COPY_PIECE pieces. */
function copyBytes(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, n: number): void {
  for (let o = 0; o < n; o += COPY_PIECE) {
    const k = Math.min(COPY_PIECE, n - o);
    dst.set(src.subarray(srcOff + o, srcOff + o + k), dstOff + o);
  }
}

/** A reused chunk is zeroed in pieces of this size, each when first touched. */
const STALE_SHIFT = 12;
const STALE_PIECE = 1 << STALE_SHIFT;
/** Pieces per chunk; a stale map's last entry counts those still stale. */
const STALE_PIECES = CHUNK_SIZE >> STALE_SHIFT;
/** A generated page is one stale piece. */
const GEN_PAGE = STALE_PIECE;

/**
 * Backing chunks handed back by runs that are over, for the next run in the
 * same thread. A fresh chunk costs the host a page fault per 4 KiB on first
 * touch, about ten times a memset of it, and a 12 MP run under memory
 * pressure touches 2 GiB; a sweep worker runs one point after another, so
 * it keeps its chunks instead (see `recycleMemoryAfterRuns`). A reused
 * chunk is not zeroed as a whole: each 4 KiB piece is zeroed when first
 * touched, unless that touch writes all of it (a page's zeroing, a
 * background page's contents), so most of a run's memory is written once.
 */
const chunkPool: Uint8Array[] = [];
/**
 * Chunks the pool keeps at most: what a run lets go beyond it is left to
 * the garbage collector, so that a thread that ran one big system does not
 * hold its memory for good. A sweep worker keeps all (recycleMemoryAfterRuns).
 */
const POOL_CHUNKS = 256;
let poolLimit = POOL_CHUNKS;
function allZero(src: Int32Array, si: number, words: number): boolean {
  for (let k = 0; k < words; k++) if (src[si + k] !== 0) return false;
  return true;
}

/** A range watched for its next write (PhysicalMemory.watchWrites). */
interface WriteWatch {
  lo: number;
  hi: number;
  beforeWrite: () => void;
}

/** Zeros to lend for memory with no backing (forEachView); never written. */
let zeros = new Uint8Array(0);
function zeroView(n: number): Uint8Array {
  if (zeros.length < n) zeros = new Uint8Array(Math.max(n, CHUNK_SIZE));
  return zeros.subarray(0, n);
}

/** Chunks per slab: fresh chunks are carved from one host allocation of this many. */
const SLAB_CHUNKS = 32;
let slab: ArrayBuffer | null = null;
let slabUsed = SLAB_CHUNKS;

/**
 * A fresh, zeroed chunk, carved from a slab of SLAB_CHUNKS: a copy between
 * chunks of one host allocation runs at the speed of a copy inside one
 * buffer (measured 5 to 10% faster than between separately allocated
 * 1 MiB arrays). The host commits a slab's pages only as they are touched,
 * so an untouched chunk costs no resident memory.
 */
function newChunk(): Uint8Array {
  if (slabUsed === SLAB_CHUNKS) {
    slab = new ArrayBuffer(SLAB_CHUNKS * CHUNK_SIZE);
    slabUsed = 0;
  }
  return new Uint8Array(slab!, CHUNK_SIZE * slabUsed++, CHUNK_SIZE);
}

/** The memories built since the last `reclaimMemory`, while recycling is on; null when off. */
let liveMemories: PhysicalMemory[] | null = null;

/**
 * Keeps the backing of every physical memory built from now on for reuse:
 * `reclaimMemory` takes it back once the runs using it are over. A host-side
 * speed measure with no kernel counterpart; only a thread that runs one
 * simulated system at a time and knows when it ends (a sweep worker) turns it on.
 */
export function recycleMemoryAfterRuns(): void {
  liveMemories ??= [];
  poolLimit = Infinity;
}

/**
 * Takes the backing of every physical memory built since the last call into
 * the pool; those memories read as zero from then on. Call it only when no
 * simulated system built since is still in use.
 */
export function reclaimMemory(): void {
  if (!liveMemories) return;
  for (const m of liveMemories) m.releaseBacking();
  liveMemories.length = 0;
}

/**
 * Byte-accurate, sparse physical memory. Unwritten memory reads as zero and
 * costs nothing, so a 64 GiB address map is free until touched. Every access
 * names a physical address range; one outside every bank throws BusError
 * before anything is changed.
 */
export class PhysicalMemory {
  readonly banks: MemoryBank[];
  private last: MemoryBank;
  /** Bytes of backing materialised so far. */
  materialised = 0;
  /**
   * Counts writes: each write stamps the chunks it wrote with the count so
   * far, so that a reader that keeps what it read can tell whether a range
   * still holds it (lastWrite) without reading it again.
   */
  private stamp = 0;
  /** The stamp of the last releaseBacking, which changes every byte. */
  private releasedAt = 0;
  /** Ranges whose next write calls their `beforeWrite` first (watchWrites). */
  private watches: WriteWatch[] = [];

  constructor(banks: MemoryBankConfig[]) {
    if (banks.length === 0) throw new Error('physical memory needs at least one bank');
    const sorted = [...banks].sort((a, b) => a.base - b.base);
    for (let i = 1; i < sorted.length; i++) {
      const p = sorted[i - 1]!;
      if (p.base + p.size > sorted[i]!.base) throw new Error(`memory banks ${p.name} and ${sorted[i]!.name} overlap`);
    }
    this.banks = sorted.map((b) => ({
      ...b,
      end: b.base + b.size,
      chunks: new Array<Uint8Array | undefined>(Math.ceil(b.size / CHUNK_SIZE)),
      stale: new Array<Uint16Array | undefined>(Math.ceil(b.size / CHUNK_SIZE)),
      generated: new Array<GeneratedPages | undefined>(Math.ceil(b.size / CHUNK_SIZE)),
      written: new Float64Array(Math.ceil(b.size / CHUNK_SIZE)),
      pageWritten: new Array<Float64Array | undefined>(Math.ceil(b.size / CHUNK_SIZE)),
    }));
    this.last = this.banks[0]!;
    liveMemories?.push(this);
  }

  /**
   * Gives every full-size backing chunk to the pool and forgets the rest:
   * the memory reads as zero afterwards. What it lent (forEachView) is
   * copied out first by its watchers, unless `endOfSystem`: the system
   * using this memory is over, so nobody looks at those views again and
   * the watches are dropped unfired.
   */
  releaseBacking(endOfSystem = false): void {
    if (endOfSystem) this.watches = [];
    else if (this.watches.length) this.fireWatches(-Infinity, Infinity);
    for (const b of this.banks) {
      for (let i = 0; i < b.chunks.length; i++) {
        const c = b.chunks[i];
        if (c && c.length === CHUNK_SIZE && chunkPool.length < poolLimit) chunkPool.push(c);
        b.chunks[i] = undefined;
        b.stale[i] = undefined;
        b.generated[i] = undefined;
        b.pageWritten[i] = undefined;
      }
    }
    this.materialised = 0;
    this.releasedAt = ++this.stamp;
  }

  /** The write stamp now: lastWrite of a range not written after this call stays at or below it. */
  writeStamp(): number {
    return this.stamp;
  }

  /**
   * The write stamp of the last write anywhere in [pa, pa+len), at 4 KiB
   * page granularity (a write next to the range in the same page counts);
   * BusError when no bank decodes it.
   */
  lastWrite(pa: number, len: number): number {
    const b = this.bankOf(pa, len);
    const off = pa - b.base;
    const endOff = off + Math.max(len, 1);
    let last = this.releasedAt;
    for (let ci = Math.floor(off / CHUNK_SIZE), end = Math.floor((endOff - 1) / CHUNK_SIZE); ci <= end; ci++) {
      // a chunk's stamp is its pages' latest: only a chunk written after `last` has a page that can raise it
      if (b.written[ci]! <= last) continue;
      const pages = b.pageWritten[ci]!;
      const base = ci * CHUNK_SIZE;
      for (let p = Math.max(off - base, 0) >> STALE_SHIFT, lp = (Math.min(endOff - base, CHUNK_SIZE) - 1) >> STALE_SHIFT; p <= lp; p++) if (pages[p]! > last) last = pages[p]!;
    }
    return last;
  }

  /** Stamps bytes co..co+n of chunk `ci` (all in it) as written now: the chunk and each 4 KiB page they touch. */
  private stampRun(b: MemoryBank, ci: number, co: number, n: number): void {
    const s = ++this.stamp;
    b.written[ci] = s;
    let pages = b.pageWritten[ci];
    if (!pages) b.pageWritten[ci] = pages = new Float64Array(STALE_PIECES);
    const first = co >> STALE_SHIFT;
    const last = (co + Math.max(n, 1) - 1) >> STALE_SHIFT;
    if (first === last) pages[first] = s;
    else pages.fill(s, first, last + 1);
  }

  /**
   * Calls `beforeWrite` once, before anything changes, when a write into
   * [pa, pa+len) next begins (or one over a range that holds it: a write
   * is watched whole, not byte by byte); returns the function that stops
   * watching. A reader that keeps no copy of what it read (a scanout that
   * only may be looked at later) copies it then, as memory still holds it.
   * BusError when no bank decodes the range.
   */
  watchWrites(pa: number, len: number, beforeWrite: () => void): () => void {
    this.bankOf(pa, len);
    const w: WriteWatch = { lo: pa, hi: pa + len, beforeWrite };
    this.watches.push(w);
    return () => {
      const i = this.watches.indexOf(w);
      if (i >= 0) this.watches.splice(i, 1);
    };
  }

  /**
   * Lends [pa, pa+len) as it is now, piece by piece in order, with no copy:
   * `fn` gets each piece (a view into the backing, or zeros where there is
   * none) and its offset in the range, and returns false to stop. The
   * pieces are valid only during the call. Returns whether every piece was
   * visited; BusError before any when no bank decodes the range.
   */
  forEachView(pa: number, len: number, fn: (view: Uint8Array, at: number) => boolean): boolean {
    let going = true;
    this.forEachRun(pa, len, (b, ci, co, done, n) => {
      if (!going) return;
      const c = b.chunks[ci] ?? (b.generated[ci] ? this.chunk(b, ci) : undefined);
      if (c && b.stale[ci]) this.freshen(b, ci, co, n, false);
      going = fn(c ? c.subarray(co, co + n) : zeroView(n), done);
    });
    return going;
  }

  /** Calls and drops every watch over a range that [lo, hi) overlaps, before a write there. */
  private fireWatches(lo: number, hi: number): void {
    // called on every write while a watch is held (a display's picture, most of a run): a miss allocates nothing
    let hit: WriteWatch[] | null = null;
    for (const w of this.watches) if (w.lo < hi && lo < w.hi) (hit ??= []).push(w);
    if (!hit) return;
    this.watches = this.watches.filter((w) => !hit.includes(w));
    for (const w of hit) w.beforeWrite();
  }

  /** Returns the bank that decodes [pa, pa+len), or throws BusError. */
  bankOf(pa: number, len = 1): MemoryBank {
    const l = this.last;
    if (pa >= l.base && pa + len <= l.end) return l;
    for (const b of this.banks) {
      if (pa >= b.base && pa + len <= b.end) {
        this.last = b;
        return b;
      }
    }
    throw new BusError(pa, len);
  }

  /** True when [pa, pa+len) lies inside one bank. */
  decodes(pa: number, len = 1): boolean {
    for (const b of this.banks) if (pa >= b.base && pa + len <= b.end) return true;
    return false;
  }

  /**
   * True when no byte of [pa, pa+len) (inside one bank) has host memory or
   * a generated page behind it: the range reads as zeros, and zeros written
   * over it leave it so.
   */
  unbacked(pa: number, len: number): boolean {
    if (len <= 0) return true;
    const b = this.bankOf(pa, len);
    const off = pa - b.base;
    for (let ci = Math.floor(off / CHUNK_SIZE), end = Math.floor((off + len - 1) / CHUNK_SIZE); ci <= end; ci++) {
      if (b.chunks[ci] || b.generated[ci]) return false;
    }
    return true;
  }

  /**
   * Copies `words` 32-bit words at `pa` into `dst` from index `di`, for a
   * cache linefill: `pa` is word aligned and the range lies in one chunk
   * (a cache line never crosses one). Copying whole words allocates
   * nothing, which matters on the CPU's hottest path.
   */
  readWords(pa: number, dst: Int32Array, di: number, words: number): void {
    const b = this.bankOf(pa, words * 4);
    const off = pa - b.base;
    const ci = Math.floor(off / CHUNK_SIZE);
    const c = b.chunks[ci] ?? (b.generated[ci] ? this.chunk(b, ci) : undefined);
    if (!c) {
      dst.fill(0, di, di + words);
      return;
    }
    if (b.stale[ci]) this.freshen(b, ci, off - ci * CHUNK_SIZE, words * 4, false);
    const w = this.words(b, ci, c);
    const wi = (off - ci * CHUNK_SIZE) >> 2;
    for (let k = 0; k < words; k++) dst[di + k] = w[wi + k]!;
  }

  /** Writes `words` 32-bit words from `src` at index `si` to `pa` (a cache line writeback); same rules as readWords. */
  writeWords(pa: number, src: Int32Array, si: number, words: number): void {
    const b = this.bankOf(pa, words * 4);
    const off = pa - b.base;
    const ci = Math.floor(off / CHUNK_SIZE);
    // zeros written where nothing was ever written change nothing: the backing stays unmade (as fill does)
    if (!b.chunks[ci] && !b.generated[ci] && allZero(src, si, words)) return;
    if (this.watches.length) this.fireWatches(pa, pa + words * 4);
    this.stampRun(b, ci, off - ci * CHUNK_SIZE, words * 4);
    const w = this.words(b, ci, this.chunk(b, ci));
    if (b.stale[ci]) this.freshen(b, ci, off - ci * CHUNK_SIZE, words * 4, true);
    const wi = (off - ci * CHUNK_SIZE) >> 2;
    for (let k = 0; k < words; k++) w[wi + k] = src[si + k]!;
  }

  /** Copies [pa, pa+len) into `dst` at `dstOff`. */
  read(pa: number, dst: Uint8Array, dstOff = 0, len = dst.length - dstOff): void {
    this.forEachRun(pa, len, (b, ci, co, done, n) => {
      const c = b.chunks[ci] ?? (b.generated[ci] ? this.chunk(b, ci) : undefined);
      if (c) {
        if (b.stale[ci]) this.freshen(b, ci, co, n, false);
        copyBytes(dst, dstOff + done, c, co, n);
      } else dst.fill(0, dstOff + done, dstOff + done + n);
    });
  }

  /** Returns a fresh copy of [pa, pa+len). */
  readBytes(pa: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.read(pa, out, 0, len);
    return out;
  }

  /** Writes `src[srcOff .. srcOff+len)` at `pa`. */
  write(pa: number, src: Uint8Array, srcOff = 0, len = src.length - srcOff): void {
    if (this.watches.length) this.fireWatches(pa, pa + len);
    this.forEachRun(pa, len, (b, ci, co, done, n) => {
      const c = this.chunk(b, ci);
      this.stampRun(b, ci, co, n);
      if (b.stale[ci]) this.freshen(b, ci, co, n, true);
      copyBytes(c, co, src, srcOff + done, n);
    });
  }

  /**
   * Writes [pa, pa+len) with bytes `produce` makes in place: it is called
   * with each piece of backing in turn (`dst` from `dstOff`, the bytes
   * `srcOff..srcOff+n` of the range), so a source that can generate its
   * bytes (a sensor's pattern) needs no buffer of its own.
   */
  writeFrom(pa: number, len: number, produce: ByteProducer): void {
    if (this.watches.length) this.fireWatches(pa, pa + len);
    this.forEachRun(pa, len, (b, ci, co, done, n) => {
      const c = this.chunk(b, ci);
      this.stampRun(b, ci, co, n);
      // a reused chunk's stale pieces the range covers whole are the producer's to fill; the rest are zeroed first
      if (b.stale[ci]) this.freshen(b, ci, co, n, true);
      produce(c, co, done, n);
    });
  }

  /** Fills [pa, pa+len) with `value` (memset). */
  fill(pa: number, len: number, value: number): void {
    if (this.watches.length) this.fireWatches(pa, pa + len);
    this.forEachRun(pa, len, (b, ci, co, _done, n) => {
      const c = b.chunks[ci] ?? (value !== 0 || b.generated[ci] ? this.chunk(b, ci) : undefined);
      if (!c) return;
      this.stampRun(b, ci, co, n);
      if (b.stale[ci]) this.freshen(b, ci, co, n, true);
      c.fill(value, co, co + n);
    });
  }

  /** Copies `len` bytes from `src` to `dst`; overlapping ranges behave as memmove. */
  copy(dst: number, src: number, len: number): void {
    if (len === 0) return;
    if (this.watches.length) this.fireWatches(dst, dst + len);
    // a page still only noted (a migration of a background page) moves as its note: the same bytes, no backing made
    if (len === GEN_PAGE && src % GEN_PAGE === 0 && dst % GEN_PAGE === 0 && this.generator) {
      const at = this.generatedAt(src);
      if (at) {
        this.writeGeneratedPage(dst, at[0], at[1]);
        return;
      }
    }
    const sb = this.bankOf(src, len);
    const db = this.bankOf(dst, len);
    const forward = dst <= src || dst >= src + len;
    if (forward) {
      let done = 0;
      while (done < len) done += this.copyRun(db, dst + done, sb, src + done, len - done);
    } else {
      // Overlapping with dst above src: copy runs from the end backwards.
      let left = len;
      while (left > 0) {
        const n = Math.min(left, this.tailRun(db, dst + left), this.tailRun(sb, src + left));
        left -= n;
        this.copyRun(db, dst + left, sb, src + left, n);
      }
    }
  }

  /** Reads a little-endian 32-bit word (used by page-table walkers). */
  readU32(pa: number): number {
    const b = this.bankOf(pa, 4);
    const off = pa - b.base;
    const ci = Math.floor(off / CHUNK_SIZE);
    const c = b.chunks[ci] ?? (b.generated[ci] ? this.chunk(b, ci) : undefined);
    if (!c) return 0;
    const co = off - ci * CHUNK_SIZE;
    if (b.stale[ci]) this.freshen(b, ci, co, Math.min(4, CHUNK_SIZE - co), false);
    if (co + 4 <= CHUNK_SIZE) return (c[co]! | (c[co + 1]! << 8) | (c[co + 2]! << 16) | (c[co + 3]! << 24)) >>> 0;
    const tmp = this.readBytes(pa, 4);
    return (tmp[0]! | (tmp[1]! << 8) | (tmp[2]! << 16) | (tmp[3]! << 24)) >>> 0;
  }

  /** Writes a little-endian 32-bit word. */
  writeU32(pa: number, v: number): void {
    const tmp = new Uint8Array(4);
    tmp[0] = v & 0xff;
    tmp[1] = (v >>> 8) & 0xff;
    tmp[2] = (v >>> 16) & 0xff;
    tmp[3] = (v >>> 24) & 0xff;
    this.write(pa, tmp);
  }

  /** Total bytes of every bank of one kind. */
  totalBytes(kind?: 'dram' | 'sram'): number {
    return this.banks.filter((b) => !kind || b.kind === kind).reduce((s, b) => s + b.size, 0);
  }

  /**
   * Splits [pa, pa+len) into runs that stay inside one backing chunk and
   * calls `fn(bank, chunkIndex, offsetInChunk, offsetInRange, bytes)` for
   * each; BusError before any run when no bank decodes the whole range.
   */
  private forEachRun(pa: number, len: number, fn: (b: MemoryBank, ci: number, co: number, done: number, n: number) => void): void {
    if (len === 0) return;
    const b = this.bankOf(pa, len);
    let off = pa - b.base;
    let done = 0;
    while (done < len) {
      const ci = Math.floor(off / CHUNK_SIZE);
      const co = off - ci * CHUNK_SIZE;
      const n = Math.min(len - done, CHUNK_SIZE - co);
      fn(b, ci, co, done, n);
      done += n;
      off += n;
    }
  }

  private readonly wordViews = new WeakMap<Uint8Array, Int32Array>();
  private lastWordsOf: Uint8Array | null = null;
  private lastWords: Int32Array = new Int32Array(0);

  /** The chunk as 32-bit words (chunks are host-endian typed arrays; the words are only ever copied whole). */
  private words(_b: MemoryBank, _ci: number, c: Uint8Array): Int32Array {
    // linefills and writebacks come in runs on one chunk
    if (c === this.lastWordsOf) return this.lastWords;
    let w = this.wordViews.get(c);
    if (!w) {
      w = new Int32Array(c.buffer, c.byteOffset, c.length >> 2);
      this.wordViews.set(c, w);
    }
    this.lastWordsOf = c;
    this.lastWords = w;
    return w;
  }

  private chunk(b: MemoryBank, ci: number): Uint8Array {
    let c = b.chunks[ci];
    if (!c) {
      const len = Math.min(CHUNK_SIZE, b.size - ci * CHUNK_SIZE);
      const reused = len === CHUNK_SIZE ? chunkPool.pop() : undefined;
      if (reused) {
        const stale = new Uint16Array(STALE_PIECES + 1).fill(1);
        stale[STALE_PIECES] = STALE_PIECES;
        b.stale[ci] = stale;
      }
      c = reused ?? (len === CHUNK_SIZE ? newChunk() : new Uint8Array(len));
      b.chunks[ci] = c;
      this.materialised += c.length;
      const g = b.generated[ci];
      if (g) {
        b.generated[ci] = undefined;
        for (let p = 0; p < g.has.length; p++) {
          if (!g.has[p]) continue;
          if (b.stale[ci]) this.freshen(b, ci, p * GEN_PAGE, GEN_PAGE, true);
          this.generator!(g.a[p]!, g.b[p]!, c, p * GEN_PAGE);
        }
      }
    }
    return c;
  }

  private generator: PageGenerator | null = null;

  /**
   * Sets what makes the bytes of the pages writeGeneratedPage writes; false,
   * changing nothing, when the memory has another already (one generator a
   * memory: a second background load writes its pages eagerly).
   */
  setPageGenerator(gen: PageGenerator): boolean {
    if (this.generator && this.generator !== gen) return false;
    this.generator = gen;
    return true;
  }

  /**
   * Writes the page at `pa` (4 KiB aligned) with the generator's bytes for
   * (`a`, `b`): at once into a materialised chunk, else only noted, so that
   * memory nothing else touches (a background load's pages) costs the host
   * no backing. The bytes are made when anything first reads or writes the
   * chunk, and every access sees exactly what an eager write would have left.
   */
  writeGeneratedPage(pa: number, a: number, b: number): void {
    if (!this.generator) throw new Error('physical memory: writeGeneratedPage without a page generator');
    const bank = this.bankOf(pa, GEN_PAGE);
    if (this.watches.length) this.fireWatches(pa, pa + GEN_PAGE);
    const off = pa - bank.base;
    const ci = Math.floor(off / CHUNK_SIZE);
    const co = off - ci * CHUNK_SIZE;
    const c = bank.chunks[ci];
    this.stampRun(bank, ci, co, GEN_PAGE);
    if (c) {
      if (bank.stale[ci]) this.freshen(bank, ci, co, GEN_PAGE, true);
      this.generator(a, b, c, co);
      return;
    }
    let g = bank.generated[ci];
    if (!g) {
      const pagesIn = Math.ceil(Math.min(CHUNK_SIZE, bank.size - ci * CHUNK_SIZE) / GEN_PAGE);
      bank.generated[ci] = g = { has: new Uint8Array(pagesIn), a: new Uint32Array(pagesIn), b: new Uint32Array(pagesIn) };
    }
    const p = co / GEN_PAGE;
    g.has[p] = 1;
    g.a[p] = a;
    g.b[p] = b;
  }

  /** The generator's arguments of the not yet materialised page at `pa`, or null. */
  private generatedAt(pa: number): [number, number] | null {
    const bank = this.bankOf(pa, GEN_PAGE);
    const off = pa - bank.base;
    const ci = Math.floor(off / CHUNK_SIZE);
    const g = bank.generated[ci];
    if (!g || bank.chunks[ci]) return null;
    const p = (off - ci * CHUNK_SIZE) / GEN_PAGE;
    return g.has[p] ? [g.a[p]!, g.b[p]!] : null;
  }

  /**
   * Zeroes the stale pieces of reused chunk `ci` that [co, co+n) touches,
   * before that access: a piece the access will write whole (`overwrite`)
   * is only marked, since nothing of its old bytes can show through.
   */
  private freshen(b: MemoryBank, ci: number, co: number, n: number, overwrite: boolean): void {
    const stale = b.stale[ci]!;
    const c = b.chunks[ci]!;
    const end = co + n;
    for (let p = co >> STALE_SHIFT, last = (end - 1) >> STALE_SHIFT; p <= last; p++) {
      if (stale[p] === 0) continue;
      stale[p] = 0;
      stale[STALE_PIECES]!--;
      const ps = p << STALE_SHIFT;
      if (!overwrite || ps < co || ps + STALE_PIECE > end) c.fill(0, ps, ps + STALE_PIECE);
    }
    if (stale[STALE_PIECES] === 0) b.stale[ci] = undefined;
  }

  /**
   * How far a copy of up to `max` bytes, whose first `n` end both chunks
   * `sci` and `dci` together, may go on through the chunks after them:
   * as long as each next pair is materialised, fresh, and lies right after
   * the one before in its host allocation (a slab), on both sides.
   */
  private slabRun(sb: MemoryBank, sci: number, db: MemoryBank, dci: number, n: number, max: number): number {
    const s0 = sb.chunks[sci]!;
    const d0 = db.chunks[dci]!;
    let total = n;
    for (let k = 1; total < max; k++) {
      const s = sb.chunks[sci + k];
      const d = db.chunks[dci + k];
      if (!s || !d || sb.stale[sci + k] || db.stale[dci + k] || s.length !== CHUNK_SIZE || d.length !== CHUNK_SIZE) break;
      if (s.buffer !== s0.buffer || d.buffer !== d0.buffer || s.byteOffset !== s0.byteOffset + k * CHUNK_SIZE || d.byteOffset !== d0.byteOffset + k * CHUNK_SIZE) break;
      total = Math.min(max, total + CHUNK_SIZE);
    }
    return total;
  }

  /** Copies the longest run starting at the given addresses that stays inside one chunk on both sides (or runs of chunks next to each other in their slabs). */
  private copyRun(db: MemoryBank, dst: number, sb: MemoryBank, src: number, max: number): number {
    const so = src - sb.base;
    const dOff = dst - db.base;
    const sci = Math.floor(so / CHUNK_SIZE);
    const dci = Math.floor(dOff / CHUNK_SIZE);
    const sco = so - sci * CHUNK_SIZE;
    const dco = dOff - dci * CHUNK_SIZE;
    const n = Math.min(max, CHUNK_SIZE - sco, CHUNK_SIZE - dco);
    const sc = sb.chunks[sci] ?? (sb.generated[sci] ? this.chunk(sb, sci) : undefined);
    if (sc) {
      // the source's stale pieces first: when both are one chunk, a destination piece marked fresh is not read
      if (sb.stale[sci]) this.freshen(sb, sci, sco, n, false);
      const dc = this.chunk(db, dci);
      if (db.stale[dci]) this.freshen(db, dci, dco, n, true);
      if (sc === dc) {
        this.stampRun(db, dci, dco, n);
        dc.copyWithin(dco, sco, sco + n);
      } else {
        const total = sco === dco && n === CHUNK_SIZE - sco ? this.slabRun(sb, sci, db, dci, n, max) : n;
        for (let k = dci, end = Math.floor((dOff + total - 1) / CHUNK_SIZE); k <= end; k++) {
          const from = Math.max(dOff, k * CHUNK_SIZE);
          this.stampRun(db, k, from - k * CHUNK_SIZE, Math.min(dOff + total, (k + 1) * CHUNK_SIZE) - from);
        }
        if (total === n) copyBytes(dc, dco, sc, sco, n);
        // chunks that follow each other in their slabs on both sides move as one range
        else copyBytes(new Uint8Array(dc.buffer, dc.byteOffset + dco, total), 0, new Uint8Array(sc.buffer, sc.byteOffset + sco, total), 0, total);
        return total;
      }
    } else {
      const dc = db.chunks[dci] ?? (db.generated[dci] ? this.chunk(db, dci) : undefined);
      if (dc) {
        this.stampRun(db, dci, dco, n);
        if (db.stale[dci]) this.freshen(db, dci, dco, n, true);
        dc.fill(0, dco, dco + n);
      }
    }
    return n;
  }

  /** Bytes from the start of the chunk holding `end - 1` up to `end`. */
  private tailRun(b: MemoryBank, end: number): number {
    const off = end - b.base;
    const r = off % CHUNK_SIZE;
    return r === 0 ? CHUNK_SIZE : r;
  }
}
