import { nextRegion, wasmHeap, wasmKernels } from '../formats/index.ts';
import type { CostLedger, Tracer } from '../lib/index.ts';
import type { PhysicalMemory } from './memory.ts';
import type { Prng } from './prng.ts';

/** Geometry and cost model of the CPU's data cache. */
export interface CacheConfig {
  /** Line size in bytes (default 64). */
  lineSize: number;
  /** Capacity in bytes. */
  size: number;
  ways: number;
  /** Cost of maintaining one line by address (DCCMVAC and friends), per line of the range. */
  lineOpNs: number;
  /** Cost of visiting one line slot in a whole-cache set/way operation. */
  setWayOpNs: number;
  /** Cost of writing one dirty line back to memory. */
  writebackNs: number;
  /** Cost of a CPU access that hits, per line touched. */
  hitNs: number;
  /** Cost of a linefill from memory. */
  missNs: number;
}

export const DEFAULT_CACHE: CacheConfig = {
  lineSize: 64,
  size: 512 * 1024,
  ways: 8,
  lineOpNs: 4,
  setWayOpNs: 1,
  writebackNs: 12,
  hitNs: 1,
  missNs: 40,
};

export interface CacheStats {
  hits: number;
  misses: number;
  evictions: number;
  /** Dirty lines written back by eviction (at moments nobody chose). */
  evictionWritebacks: number;
  /** Dirty lines written back by clean operations. */
  cleanWritebacks: number;
  /** Valid lines dropped by invalidate operations (dirty data included). */
  invalidatedLines: number;
  /** Dirty lines whose data an invalidate discarded. */
  discardedDirtyLines: number;
  cleanBytes: number;
  invalidateBytes: number;
  fullFlushes: number;
  prefetches: number;
  /** Non-cacheable accesses that hit a line brought in through another mapping. */
  mismatchedHits: number;
  /** Simulated ns spent in accesses and maintenance. */
  busyNs: number;
}

const INVALID = -1;

/**
 * A set-associative, write-back, write-allocate, physically tagged data cache
 * that really holds data. It is not coherent with device DMA: a device that
 * reads memory sees what was last written back, and a device write leaves a
 * valid line stale. Victims are chosen with the SoC's PRNG, so dirty lines
 * reach memory at moments nobody chose, as on real hardware.
 */
export class CpuCache {
  readonly cfg: CacheConfig;
  readonly sets: number;
  readonly ways: number;
  readonly lineSize: number;
  readonly slots: number;
  readonly stats: CacheStats = {
    hits: 0,
    misses: 0,
    evictions: 0,
    evictionWritebacks: 0,
    cleanWritebacks: 0,
    invalidatedLines: 0,
    discardedDirtyLines: 0,
    cleanBytes: 0,
    invalidateBytes: 0,
    fullFlushes: 0,
    prefetches: 0,
    mismatchedHits: 0,
    busyNs: 0,
  };
  /** Line number (address / lineSize) held by each slot, or -1. */
  private readonly tags: Float64Array;
  private readonly dirty: Uint8Array;
  private readonly data: Uint8Array;
  /** The same lines as 32-bit words, for linefills and writebacks that allocate nothing. */
  private readonly data32: Int32Array;
  private valid = 0;
  /** The slot of the last access, tried first: programs touch one line many times in a row. */
  private lastSlot = 0;
  private readonly setMask: number;
  /** Records maintenance operations on the CPU's lane when set. */
  tracer: Tracer | null = null;
  /** Charges the CPU time of accesses and maintenance to the thread doing them, when installed. */
  ledger: CostLedger | null = null;
  /** Simulated time of the maintenance being recorded (the CPU's clock). */
  now: () => number = () => 0;
  /**
   * Valid lines per 4 KiB page, so that maintenance of a large range can
   * skip the pages the cache holds nothing of instead of probing every line.
   */
  private readonly pageLines = new LineCounts();
  private readonly linesPerPage: number;
  private readonly mem: PhysicalMemory;
  private scratch = new Int32Array(0);
  private readonly prng: Prng;

  constructor(mem: PhysicalMemory, prng: Prng, cfg: Partial<CacheConfig> = {}) {
    this.cfg = { ...DEFAULT_CACHE, ...cfg };
    const { lineSize, size, ways } = this.cfg;
    if (!isPow2(lineSize) || lineSize < 16) throw new Error(`cache line size ${lineSize} must be a power of two >= 16`);
    if (size % (lineSize * ways) !== 0) throw new Error(`cache size ${size} is not a multiple of line size x ways`);
    this.lineSize = lineSize;
    this.ways = ways;
    this.sets = size / (lineSize * ways);
    this.slots = this.sets * ways;
    this.setMask = isPow2(this.sets) ? this.sets - 1 : -1;
    this.tags = new Float64Array(this.slots).fill(INVALID);
    this.dirty = new Uint8Array(this.slots);
    this.data = new Uint8Array(this.slots * lineSize);
    this.data32 = new Int32Array(this.data.buffer);
    this.mem = mem;
    this.prng = prng;
    this.linesPerPage = Math.max(1, 4096 / lineSize);
  }

  /** Number of valid lines. */
  get validLines(): number {
    return this.valid;
  }

  /** True when the line holding `pa` is in the cache. */
  contains(pa: number): boolean {
    return this.lookup(Math.floor(pa / this.lineSize)) >= 0;
  }

  /** True when the line holding `pa` is in the cache and dirty. */
  isDirty(pa: number): boolean {
    const s = this.lookup(Math.floor(pa / this.lineSize));
    return s >= 0 && this.dirty[s] === 1;
  }

  /** A cacheable read: hits come from the cache, misses allocate a line. */
  read(pa: number, dst: Uint8Array, dstOff: number, len: number): void {
    const b0 = this.stats.busyNs;
    const L = this.lineSize;
    const line = Math.floor(pa / L);
    const lo = pa - line * L;
    if (len <= 8 && lo + len <= L) {
      // a program's word access, inside one line: readLines' first and only step
      const base = this.slotFor(line, true) * L + lo;
      for (let k = 0; k < len; k++) dst[dstOff + k] = this.data[base + k]!;
    } else this.readLines(pa, dst, dstOff, len);
    this.chargeAccess(b0, len);
  }

  private readLines(pa: number, dst: Uint8Array, dstOff: number, len: number): void {
    const L = this.lineSize;
    const dst32 = wordView(dst, len);
    let done = 0;
    while (done < len) {
      const a = pa + done;
      const line = Math.floor(a / L);
      const lo = a - line * L;
      const n = Math.min(len - done, L - lo);
      const s = this.slotFor(line, true);
      const base = s * L + lo;
      if (n === L && dst32 && ((dstOff + done) & 3) === 0) {
        const d = (dstOff + done) >> 2;
        const w = base >> 2;
        for (let k = 0; k < L >> 2; k++) dst32[d + k] = this.data32[w + k]!;
      } else if (n <= 8) {
        // a program's word access: no subarray view to allocate for a few bytes
        for (let k = 0; k < n; k++) dst[dstOff + done + k] = this.data[base + k]!;
      } else {
        dst.set(this.data.subarray(base, base + n), dstOff + done);
      }
      done += n;
    }
  }

  /** A cacheable write-back write: allocates on miss and leaves the line dirty. */
  write(pa: number, src: Uint8Array, srcOff: number, len: number): void {
    const b0 = this.stats.busyNs;
    const L = this.lineSize;
    const line = Math.floor(pa / L);
    const lo = pa - line * L;
    if (len <= 8 && lo + len <= L) {
      // a program's word access, inside one line: writeLines' first and only step
      const s = this.slotFor(line, true);
      const at = s * L + lo;
      for (let k = 0; k < len; k++) this.data[at + k] = src[srcOff + k]!;
      this.dirty[s] = 1;
    } else this.writeLines(pa, src, srcOff, len);
    this.chargeAccess(b0, len);
  }

  private writeLines(pa: number, src: Uint8Array, srcOff: number, len: number): void {
    const L = this.lineSize;
    const src32 = wordView(src, len);
    const bulk = this.bulkLines(pa, len);
    if (bulk) {
      const { head, first, last } = bulk;
      if (head > 0) this.writeLines(pa, src, srcOff, head);
      const at = srcOff + head;
      const whole = (last - first + 1) * L;
      const aligned = src32 !== null && (at & 3) === 0;
      this.storeWholeLines(
        first,
        last,
        false,
        () => this.mem.write(first * L, src, at, whole),
        (s, line) => {
          const r = at + (line - first) * L;
          if (aligned) {
            const w = (s * L) >> 2;
            const v = r >> 2;
            for (let k = 0; k < L >> 2; k++) this.data32[w + k] = src32[v + k]!;
          } else this.data.set(src.subarray(r, r + L), s * L);
        },
      );
      const done = head + whole;
      if (done < len) this.writeLines(pa + done, src, srcOff + done, len - done);
      return;
    }
    let done = 0;
    while (done < len) {
      const a = pa + done;
      const line = Math.floor(a / L);
      const lo = a - line * L;
      const n = Math.min(len - done, L - lo);
      // A write of a whole line needs no linefill.
      const s = this.slotFor(line, n !== L);
      if (n === L && src32 && ((srcOff + done) & 3) === 0) {
        const r = (srcOff + done) >> 2;
        const w = (s * L) >> 2;
        for (let k = 0; k < L >> 2; k++) this.data32[w + k] = src32[r + k]!;
      } else if (n <= 8) {
        // a program's word access: no subarray view to allocate for a few bytes
        const at = s * L + lo;
        for (let k = 0; k < n; k++) this.data[at + k] = src[srcOff + done + k]!;
      } else {
        this.data.set(src.subarray(srcOff + done, srcOff + done + n), s * L + lo);
      }
      this.dirty[s] = 1;
      done += n;
    }
  }

  /** A cacheable memset. */
  fill(pa: number, len: number, value: number): void {
    const b0 = this.stats.busyNs;
    this.fillLines(pa, len, value);
    this.chargeAccess(b0, len);
  }

  private fillLines(pa: number, len: number, value: number): void {
    const L = this.lineSize;
    // the byte the fill stores, four times over: a whole line is filled word by word
    fillByte[0] = value;
    const word = fillByte[0]! * 0x01010101;
    const bulk = this.bulkLines(pa, len);
    if (bulk) {
      const { head, first, last } = bulk;
      if (head > 0) this.fillLines(pa, head, value);
      const whole = (last - first + 1) * L;
      this.storeWholeLines(
        first,
        last,
        (value & 0xff) === 0,
        () => this.mem.fill(first * L, whole, value),
        (s) => this.data32.fill(word, (s * L) >> 2, ((s + 1) * L) >> 2),
        word,
      );
      const done = head + whole;
      if (done < len) this.fillLines(pa + done, len - done, value);
      return;
    }
    let done = 0;
    while (done < len) {
      const a = pa + done;
      const line = Math.floor(a / L);
      const lo = a - line * L;
      const n = Math.min(len - done, L - lo);
      const s = this.slotFor(line, n !== L);
      if (n === L) {
        const w = (s * L) >> 2;
        for (let k = 0; k < L >> 2; k++) this.data32[w + k] = word;
      } else this.data.fill(value, s * L + lo, s * L + lo + n);
      this.dirty[s] = 1;
      done += n;
    }
  }

  /** A write-through write: memory is updated, and a line already present too; no allocation. */
  writeThrough(pa: number, src: Uint8Array, srcOff: number, len: number): void {
    const b0 = this.stats.busyNs;
    this.writeThroughLines(pa, src, srcOff, len);
    this.chargeAccess(b0, len);
  }

  private writeThroughLines(pa: number, src: Uint8Array, srcOff: number, len: number): void {
    this.mem.write(pa, src, srcOff, len);
    this.forEachPresent(pa, len, (s, lo, off, n) => {
      this.data.set(src.subarray(srcOff + off, srcOff + off + n), s * this.lineSize + lo);
    });
    this.stats.busyNs += this.cfg.missNs * Math.ceil(len / this.lineSize);
  }

  /**
   * A non-cacheable read. The architecture calls a hit on a line brought in
   * through a cacheable alias UNPREDICTABLE; real cores return the cached
   * (stale) line, which is the silent corruption the aliasing rule exists to
   * prevent, so that is what happens here.
   */
  readUncached(pa: number, dst: Uint8Array, dstOff: number, len: number): void {
    const b0 = this.stats.busyNs;
    this.readUncachedLines(pa, dst, dstOff, len);
    this.chargeAccess(b0, len);
  }

  private readUncachedLines(pa: number, dst: Uint8Array, dstOff: number, len: number): void {
    this.mem.read(pa, dst, dstOff, len);
    this.stats.busyNs += this.cfg.missNs * Math.ceil(len / this.lineSize);
    if (this.valid === 0) return;
    this.forEachPresent(pa, len, (s, lo, off, n) => {
      this.stats.mismatchedHits++;
      const b = s * this.lineSize + lo;
      dst.set(this.data.subarray(b, b + n), dstOff + off);
    });
  }

  /** A non-cacheable write: memory changes, a line held through an alias stays stale. */
  writeUncached(pa: number, src: Uint8Array, srcOff: number, len: number): void {
    const b0 = this.stats.busyNs;
    this.writeUncachedLines(pa, src, srcOff, len);
    this.chargeAccess(b0, len);
  }

  private writeUncachedLines(pa: number, src: Uint8Array, srcOff: number, len: number): void {
    this.mem.write(pa, src, srcOff, len);
    this.stats.busyNs += this.cfg.missNs * Math.ceil(len / this.lineSize);
    if (this.valid === 0) return;
    this.forEachPresent(pa, len, () => {
      this.stats.mismatchedHits++;
    });
  }

  /** A non-cacheable memset. */
  fillUncached(pa: number, len: number, value: number): void {
    const b0 = this.stats.busyNs;
    this.fillUncachedLines(pa, len, value);
    this.chargeAccess(b0, len);
  }

  private fillUncachedLines(pa: number, len: number, value: number): void {
    this.mem.fill(pa, len, value);
    this.stats.busyNs += this.cfg.missNs * Math.ceil(len / this.lineSize);
  }

  /** An IO-coherent device read: memory, overlaid by whatever the cache holds. */
  snoopRead(pa: number, dst: Uint8Array, dstOff: number, len: number): void {
    this.mem.read(pa, dst, dstOff, len);
    if (this.valid === 0) return;
    this.forEachPresent(pa, len, (s, lo, off, n) => {
      const b = s * this.lineSize + lo;
      dst.set(this.data.subarray(b, b + n), dstOff + off);
    });
  }

  /** An IO-coherent device write: memory and any cached copy both change. */
  snoopWrite(pa: number, src: Uint8Array, srcOff: number, len: number): void {
    this.mem.write(pa, src, srcOff, len);
    if (this.valid === 0) return;
    this.forEachPresent(pa, len, (s, lo, off, n) => {
      this.data.set(src.subarray(srcOff + off, srcOff + off + n), s * this.lineSize + lo);
    });
  }

  /** Pulls the line holding `pa` in, as a speculative prefetch does; true when it was absent. */
  prefetch(pa: number): boolean {
    const line = Math.floor(pa / this.lineSize);
    if (this.lookup(line) >= 0) return false;
    if (!this.mem.decodes(line * this.lineSize, this.lineSize)) return false;
    this.allocate(line, true);
    this.stats.prefetches++;
    return true;
  }

  /** Cleans [pa, pa+len) by address (dmac_clean_range): dirty lines are written back. Returns the cost in ns. */
  cleanRange(pa: number, len: number): number {
    return this.rangeOp(pa, len, true, false);
  }

  /** Invalidates [pa, pa+len) by address (dmac_inv_range): lines are dropped, dirty data included. */
  invalidateRange(pa: number, len: number): number {
    return this.rangeOp(pa, len, false, true);
  }

  /** Cleans and invalidates [pa, pa+len) by address (dmac_flush_range). */
  cleanInvalidateRange(pa: number, len: number): number {
    return this.rangeOp(pa, len, true, true);
  }

  /** Cleans the whole cache by set/way (flush_cache_all without the invalidate). */
  cleanAll(): number {
    return this.wholeOp(true, false);
  }

  /** Invalidates the whole cache by set/way; dirty data anywhere is lost. */
  invalidateAll(): number {
    return this.wholeOp(false, true);
  }

  /** Cleans and invalidates the whole cache by set/way (flush_cache_all). */
  cleanInvalidateAll(): number {
    return this.wholeOp(true, true);
  }

  /** The cost in ns a range operation over `len` bytes would take with no dirty lines. */
  rangeCostNs(len: number): number {
    return Math.ceil(len / this.lineSize) * this.cfg.lineOpNs;
  }

  /** The cost in ns of a whole-cache operation with no dirty lines. */
  wholeCostNs(): number {
    return this.slots * this.cfg.setWayOpNs;
  }

  /** Charges the access time spent since busyNs was `b0` to the thread that made the access. */
  private chargeAccess(b0: number, len: number): void {
    const ns = this.stats.busyNs - b0;
    if (this.ledger && ns > 0) this.ledger.chargeAccess(ns, len);
  }

  private rangeOp(pa: number, len: number, clean: boolean, inval: boolean): number {
    if (len <= 0) return 0;
    const L = this.lineSize;
    const first = Math.floor(pa / L);
    const last = Math.floor((pa + len - 1) / L);
    const lines = last - first + 1;
    let ns = lines * this.cfg.lineOpNs;
    if (clean) this.stats.cleanBytes += lines * L;
    if (inval) this.stats.invalidateBytes += lines * L;
    if (this.valid > 0) {
      this.forEachCachedLine(first, last, (slot) => {
        ns += this.maintain(slot, clean, inval);
      });
    }
    this.stats.busyNs += ns;
    this.ledger?.charge(inval && !clean ? 'cache-invalidate' : 'cache-clean', ns, lines * L);
    if (this.tracer) this.traceOp(clean && inval ? 'clean+invalidate range' : clean ? 'clean range' : 'invalidate range', ns, { addr: '0x' + pa.toString(16), bytes: len });
    return ns;
  }

  private wholeOp(clean: boolean, inval: boolean): number {
    let ns = this.slots * this.cfg.setWayOpNs;
    this.stats.fullFlushes++;
    if (this.valid > 0 && this.lineSize % 16 === 0) ns += this.wholeOpInBulk(clean, inval);
    else {
      for (let s = 0; s < this.slots && this.valid > 0; s++) {
        if (this.tags[s] !== INVALID) ns += this.maintain(s, clean, inval);
      }
    }
    this.stats.busyNs += ns;
    this.ledger?.charge('cache-flush-all', ns, this.slots * this.lineSize);
    if (this.tracer) this.traceOp(clean && inval ? 'flush whole cache' : clean ? 'clean whole cache' : 'invalidate whole cache', ns);
    return ns;
  }

  /**
   * wholeOp over every slot at once, with what maintain does slot by slot:
   * the dirty lines listed in WebAssembly and written back (nonzero ones
   * first; the lines of zeros over memory no backing holds, which would
   * change nothing, passed over together), then, for an invalidate, every
   * slot emptied. Returns the writebacks' cost.
   */
  private wholeOpInBulk(clean: boolean, inval: boolean): number {
    const n = this.slots;
    const L = this.lineSize;
    // each region starts where the one before it (start, size) ends
    const tagsAt = 0;
    const dirtyAt = nextRegion(tagsAt, n * 8);
    const slotsAt = nextRegion(dirtyAt, n);
    const zerosAt = nextRegion(slotsAt, n * 4);
    const countsAt = nextRegion(zerosAt, n * 4);
    const dataAt = nextRegion(countsAt, 16);
    const heap = wasmHeap(nextRegion(dataAt, n * L));
    new Float64Array(heap.buffer, tagsAt, n).set(this.tags);
    heap.set(this.dirty, dirtyAt);
    const dirtyCount = wasmKernels().cacheDirtySlots(tagsAt, dirtyAt, n, slotsAt);
    let ns = 0;
    if (clean) {
      if (dirtyCount > 0) new Int32Array(heap.buffer, dataAt, n * (L >> 2)).set(this.data32);
      this.writebackVictims(heap, slotsAt, dirtyCount, { dataAt, zerosAt, oldAt: tagsAt, countsAt });
      this.dirty.fill(0);
      this.stats.cleanWritebacks += dirtyCount;
      ns = dirtyCount * this.cfg.writebackNs;
    }
    if (inval) {
      if (!clean) this.stats.discardedDirtyLines += dirtyCount;
      this.stats.invalidatedLines += this.valid;
      this.tags.fill(INVALID);
      this.dirty.fill(0);
      this.pageLines.clear();
      this.valid = 0;
    }
    return ns;
  }

  /** Cleans and/or invalidates one slot; returns the writeback cost. */
  private maintain(s: number, clean: boolean, inval: boolean): number {
    let ns = 0;
    if (clean && this.dirty[s] === 1) {
      this.writeback(s);
      this.stats.cleanWritebacks++;
      ns += this.cfg.writebackNs;
    }
    if (inval) {
      if (this.dirty[s] === 1) this.stats.discardedDirtyLines++;
      this.unindex(this.tags[s]!);
      this.tags[s] = INVALID;
      this.dirty[s] = 0;
      this.valid--;
      this.stats.invalidatedLines++;
    }
    return ns;
  }

  /** The set a line maps to: a mask when the set count is a power of two (`%` of a double is a floating-point remainder). */
  private setOf(line: number): number {
    return this.setMask >= 0 ? line & this.setMask : line % this.sets;
  }

  private lookup(line: number): number {
    const base = this.setOf(line) * this.ways;
    for (let w = 0; w < this.ways; w++) if (this.tags[base + w] === line) return base + w;
    return -1;
  }

  /** Returns the slot of `line`, allocating it (and filling it from memory when `fill`). */
  private slotFor(line: number, fill: boolean): number {
    // a line is in one slot at most, so the slot last used still holding it is the lookup's answer
    let s = this.lastSlot;
    if (this.tags[s] !== line) s = this.lookup(line);
    if (s >= 0) {
      this.stats.hits++;
      this.stats.busyNs += this.cfg.hitNs;
      this.lastSlot = s;
      return s;
    }
    this.stats.misses++;
    this.stats.busyNs += this.cfg.missNs;
    s = this.allocate(line, fill);
    this.lastSlot = s;
    return s;
  }

  private allocate(line: number, fill: boolean): number {
    const L = this.lineSize;
    const base = this.setOf(line) * this.ways;
    let s = -1;
    for (let w = 0; w < this.ways; w++) {
      if (this.tags[base + w] === INVALID) {
        s = base + w;
        break;
      }
    }
    if (s < 0) {
      s = base + this.prng.int(this.ways);
      this.stats.evictions++;
      if (this.dirty[s] === 1) {
        this.writeback(s);
        this.stats.evictionWritebacks++;
        this.stats.busyNs += this.cfg.writebackNs;
      }
      this.unindex(this.tags[s]!);
      this.valid--;
    }
    if (fill) this.mem.readWords(line * L, this.data32, (s * L) >> 2, L >> 2);
    const page = Math.floor(line / this.linesPerPage);
    this.pageLines.add(page, 1);
    this.tags[s] = line;
    this.dirty[s] = 0;
    this.valid++;
    return s;
  }

  /**
   * The whole lines of a store over [pa, pa+len) worth storing in bulk
   * (storeWholeLines): at least a cache's worth, inside one memory bank.
   * `head` is the bytes before the first whole line; null when the store
   * goes line by line.
   */
  private bulkLines(pa: number, len: number): { head: number; first: number; last: number } | null {
    const L = this.lineSize;
    const first = Math.ceil(pa / L);
    const last = Math.floor((pa + len) / L) - 1;
    if (last - first + 1 < this.slots || !this.mem.decodes(first * L, (last - first + 1) * L)) return null;
    return { head: first * L - pa, first, last };
  }

  /**
   * Stores whole lines first..last (none needs a linefill) with the outcome
   * of storing them one at a time: the same hits, misses, victims (the
   * same PRNG draws, in the same order), writebacks and statistics. Only
   * the tags move line by line; the bytes move once: memory takes
   * `toMemory` over the whole range (what every line of it evicted during
   * the store wrote back), then gets its earlier bytes back under the
   * lines still cached, which stay dirty with memory stale beneath them,
   * and those lines take their bytes from `toLine`. A line cached before
   * the store and evicted by it is written back as it is met, with the
   * bytes it held.
   */
  private storeWholeLines(first: number, last: number, zeros: boolean, toMemory: () => void, toLine: (s: number, line: number) => void, fillWord?: number): void {
    const n = this.slots;
    const L = this.lineSize;
    const words = L >> 2;
    const { tags, dirty } = this;
    // the per-slot work after the walk runs in WebAssembly too, over a copy of the lines' bytes, when a line is whole vectors
    const inWasm = L % 16 === 0;
    // The walk runs in WebAssembly over copies of the tags and dirty bits, with the PRNG's state;
    // then it lists the slots it changed and those holding the store's lines.
    const oldAt = nextRegion(0, n * 8);
    const dirtyAt = nextRegion(oldAt, n * 8);
    const stateAt = nextRegion(dirtyAt, n);
    const countsAt = nextRegion(stateAt, 24);
    const victimsAt = nextRegion(countsAt, 24);
    const changedAt = nextRegion(victimsAt, n * 4);
    const heldAt = nextRegion(changedAt, n * 4);
    const zerosAt = nextRegion(heldAt, n * 4);
    const dataAt = nextRegion(zerosAt, n * 4);
    const heap = wasmHeap(nextRegion(dataAt, inWasm ? n * L : 0));
    const newTags = new Float64Array(heap.buffer, 0, n);
    newTags.set(tags);
    new Float64Array(heap.buffer, oldAt, n).set(tags);
    heap.set(dirty, dirtyAt);
    const state = new Uint32Array(heap.buffer, stateAt, 4);
    this.prng.save(state);
    const k = wasmKernels();
    // In pieces, one call each: WebAssembly runs a call to its end in the code it began in, and a store of
    // tens of megabytes begun in the baseline tier would end there; between pieces the optimized code takes over.
    let listed = 0;
    let hits = 0;
    let misses = 0;
    let evictions = 0;
    let writebacks = 0;
    let lastSlot = this.lastSlot;
    for (let from = first; from <= last; from += STORE_WALK_LINES) {
      const to = Math.min(last, from + STORE_WALK_LINES - 1);
      listed += k.cacheStoreTags(0, dirtyAt, this.ways, this.sets, this.setMask, first, from, to, stateAt, victimsAt + listed * 4, countsAt);
      const c = new Int32Array(heap.buffer, countsAt, 5);
      hits += c[0]!;
      misses += c[1]!;
      evictions += c[2]!;
      writebacks += c[3]!;
      lastSlot = c[4]!;
    }
    this.prng.restore(state);
    k.cacheStoreDiff(oldAt, 0, n, first, last, changedAt, heldAt, countsAt);
    const [nChanged, nHeld] = new Int32Array(heap.buffer, countsAt, 2);
    const [lo, hi] = new Float64Array(heap.buffer, countsAt + 8, 2);
    // lines cached before the store and evicted by it leave with the bytes they held (their slots are not yet overwritten)
    // the lines' bytes go to the heap only for work there: victims to split, or a memset's lines to fill
    const data = inWasm && (listed > 0 || fillWord !== undefined) ? new Int32Array(heap.buffer, dataAt, n * words) : null;
    if (data) data.set(this.data32);
    this.writebackVictims(heap, victimsAt, listed, data ? { dataAt, zerosAt, oldAt, countsAt } : null);
    const changed = new Int32Array(heap.buffer, changedAt, nChanged);
    // every slot the walk changed took a line of the store: its pages' counts grow together, page by page
    const lpp = this.linesPerPage;
    const p0 = Math.floor(first / lpp);
    const added = new Int32Array(Math.floor(last / lpp) - p0 + 1);
    for (let i = 0; i < nChanged; i++) {
      const s = changed[i]!;
      const was = tags[s]!;
      if (was === INVALID) this.valid++;
      else this.unindex(was);
      added[Math.floor(newTags[s]! / lpp) - p0]!++;
    }
    for (let p = 0; p < added.length; p++) if (added[p] !== 0) this.pageLines.add(p0 + p, added[p]!);
    tags.set(newTags);
    dirty.set(heap.subarray(dirtyAt, dirtyAt + n));
    const held = new Int32Array(heap.buffer, heldAt, nHeld);
    const st = this.stats;
    st.hits += hits;
    st.misses += misses;
    st.evictions += evictions;
    st.evictionWritebacks += writebacks;
    st.busyNs += hits * this.cfg.hitNs + misses * this.cfg.missNs + writebacks * this.cfg.writebackNs;
    this.lastSlot = lastSlot;
    // The lines the store left cached keep memory's old bytes beneath them. Those lie in one
    // span (mostly the store's tail), read in one go before memory takes the store; zeros
    // over memory never written leave it as it was, with nothing to read or put back.
    const span = (hi - lo + 1) * L;
    const before = nHeld > 0 && !(zeros && this.mem.unbacked(lo * L, span)) ? this.scratchWords(span >> 2) : null;
    if (before) this.mem.read(lo * L, new Uint8Array(before.buffer, 0, span));
    toMemory();
    const data32 = this.data32;
    // a memset's lines all take one word: set in the copy, which then comes back whole
    const filled = data !== null && fillWord !== undefined;
    if (filled) {
      k.cacheFillSlots(dataAt, words, heldAt, nHeld, fillWord);
      data32.set(data);
    }
    for (let i = 0; i < nHeld; i++) {
      const s = held[i]!;
      const line = tags[s]!;
      if (!filled) toLine(s, line);
      if (!before) continue;
      const b = (line - lo) * words;
      const d = s * words;
      // a line whose old bytes equal the new ones leaves memory untouched
      for (let w = 0; w < words; w++) {
        if (data32[d + w] !== before[b + w]) {
          this.mem.writeWords(line * L, before, b, words);
          break;
        }
      }
    }
  }

  /**
   * Writes back the `listed` victims of a store (slots at `victimsAt` in the
   * kernels' heap). With the lines' bytes copied into the heap, the lines of
   * zeros over memory no backing holds are passed over together: written
   * back one by one they would change nothing (PhysicalMemory.writeWords).
   */
  private writebackVictims(heap: Uint8Array, victimsAt: number, listed: number, copy: { dataAt: number; zerosAt: number; oldAt: number; countsAt: number } | null): void {
    if (listed === 0) return;
    if (!copy) {
      const victims = new Int32Array(heap.buffer, victimsAt, listed);
      for (let i = 0; i < listed; i++) this.writeback(victims[i]!);
      return;
    }
    const L = this.lineSize;
    const nonzero = wasmKernels().cacheVictimSplit(copy.dataAt, L >> 2, copy.oldAt, victimsAt, listed, copy.zerosAt, copy.countsAt);
    const [lo, hi] = new Float64Array(heap.buffer, copy.countsAt, 2);
    const victims = new Int32Array(heap.buffer, victimsAt, nonzero);
    for (let i = 0; i < nonzero; i++) this.writeback(victims[i]!);
    const zero = listed - nonzero;
    const span = (hi - lo + 1) * L;
    if (zero === 0 || (this.mem.decodes(lo * L, span) && this.mem.unbacked(lo * L, span))) return;
    const zeros = new Int32Array(heap.buffer, copy.zerosAt, zero);
    for (let i = 0; i < zero; i++) this.writeback(zeros[i]!);
  }

  /** A reused word buffer of at least `words` words (storeWholeLines' snapshot of memory). */
  private scratchWords(words: number): Int32Array {
    if (this.scratch.length >= words) return this.scratch;
    // kept up to a few caches' worth (the span a store leaves cached, under random replacement); a longer one is the call's own
    if (words > this.slots * this.lineSize) return new Int32Array(words);
    this.scratch = new Int32Array(Math.min(Math.max(words, this.scratch.length * 2), this.slots * this.lineSize));
    return this.scratch;
  }

  private traceOp(name: string, ns: number, args?: Record<string, unknown>): void {
    const t = this.tracer!;
    t.complete(t.lane('hardware', 'cpu cache'), name, 'cache', this.now(), ns, args);
  }

  private unindex(line: number): void {
    const page = Math.floor(line / this.linesPerPage);
    this.pageLines.add(page, -1);
  }

  private writeback(s: number): void {
    const L = this.lineSize;
    this.mem.writeWords(this.tags[s]! * L, this.data32, (s * L) >> 2, L >> 2);
    this.dirty[s] = 0;
  }

  /** Calls `fn(slot, offsetInLine, offsetInRange, bytes)` for every cached line overlapping the range. */
  private forEachPresent(pa: number, len: number, fn: (s: number, lo: number, off: number, n: number) => void): void {
    const L = this.lineSize;
    this.forEachCachedLine(Math.floor(pa / L), Math.floor((pa + len - 1) / L), (s, line) => {
      const start = Math.max(pa, line * L);
      const end = Math.min(pa + len, (line + 1) * L);
      fn(s, start - line * L, start - pa, end - start);
    });
  }

  /**
   * Calls `fn(slot, line)` for every cached line numbered first..last:
   * by scanning the slots when the range is bigger than the cache, else
   * page by page, probing only the pages the cache holds something of.
   */
  private forEachCachedLine(first: number, last: number, fn: (s: number, line: number) => void): void {
    if (last - first + 1 > this.slots) {
      for (let s = 0; s < this.slots; s++) {
        const t = this.tags[s]!;
        if (t >= first && t <= last) fn(s, t);
      }
      return;
    }
    const lpp = this.linesPerPage;
    for (let line = first; line <= last; ) {
      const page = Math.floor(line / lpp);
      const pageEnd = Math.min(last, (page + 1) * lpp - 1);
      // the page's count is exact, and fn changes no other line's presence: once that many are found, none is left
      let left = this.pageLines.get(page);
      for (let l = line; l <= pageEnd && left > 0; l++) {
        const s = this.lookup(l);
        if (s >= 0) {
          left--;
          fn(s, l);
        }
      }
      line = pageEnd + 1;
    }
  }
}

/**
 * A word view of a byte array whose start is word aligned, worth making for
 * copies of several lines (whole lines then move as words, allocating
 * nothing per line); null otherwise.
 */
function wordView(a: Uint8Array, len: number): Int32Array | null {
  if (len < 256 || (a.byteOffset & 3) !== 0) return null;
  return new Int32Array(a.buffer, a.byteOffset, a.length >> 2);
}

const fillByte = new Uint8Array(1);

const COUNT_CHUNK = 1 << 16;
/** Lines a call of the store's tag walk takes (storeWholeLines). */
const STORE_WALK_LINES = 1 << 15;

/**
 * Small counts per page number (valid lines per page), sparse in chunks
 * of 64 Ki pages: a Map entry per page cost a hash look-up and an update
 * at every linefill and eviction.
 */
class LineCounts {
  private readonly chunks = new Map<number, Uint16Array>();
  private lastIndex = -1;
  private lastChunk: Uint16Array = new Uint16Array(0);

  /** Every count back to zero (the cache emptied). */
  clear(): void {
    this.chunks.clear();
    this.lastIndex = -1;
    this.lastChunk = new Uint16Array(0);
  }

  get(page: number): number {
    const ci = Math.floor(page / COUNT_CHUNK);
    const c = ci === this.lastIndex ? this.lastChunk : this.chunks.get(ci);
    return c ? c[page - ci * COUNT_CHUNK]! : 0;
  }

  add(page: number, delta: number): void {
    const ci = Math.floor(page / COUNT_CHUNK);
    let c = ci === this.lastIndex ? this.lastChunk : this.chunks.get(ci);
    if (!c) {
      c = new Uint16Array(COUNT_CHUNK);
      this.chunks.set(ci, c);
    }
    this.lastIndex = ci;
    this.lastChunk = c;
    c[page - ci * COUNT_CHUNK]! += delta;
  }
}

function isPow2(x: number): boolean {
  return x > 0 && (x & (x - 1)) === 0;
}
