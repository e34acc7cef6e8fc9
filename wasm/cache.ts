/*
 * The CPU cache's store of whole lines (hw/cache.ts storeWholeLines): the
 * walk of the tags, line by line, that storing lines first..last one at a
 * time makes. A hit keeps its slot; a miss takes the set's first free way,
 * or a victim drawn from the SoC's PRNG (xoshiro128**, hw/prng.ts, whose
 * state comes in and goes back out at `state`) exactly as Prng.int(ways)
 * draws it. No bytes move here: the caller writes back the victims listed
 * at `victims` (lines cached before the store, with the bytes they held)
 * and moves the store's bytes once. A store may be walked in pieces, one
 * call each, in order: `storeFirst` is where the whole store began.
 *
 * tags: f64 per slot (line number, -1 when free); dirty: u8 per slot;
 * counts out: i32 hits, misses, evictions, dirty evictions, last slot.
 * Returns how many victims it listed.
 */

// @ts-ignore: decorator
@inline function slotAt(tags: usize, s: i32): f64 {
  return load<f64>(tags + ((<usize>s) << 3));
}

// the PRNG's state and the walk's tallies, for the inline steps below
let a: u32 = 0;
let b: u32 = 0;
let c: u32 = 0;
let d: u32 = 0;
let listed = 0;
let writebacks = 0;

/** Prng.nextU32, then int(ways) = floor(u32 / 2^32 * ways): the way a victim is drawn from. */
// @ts-ignore: decorator
@inline function drawWay(ways: i32): i32 {
  const r = rotl<u32>(b * 5, 7) * 9;
  const t9 = b << 9;
  c ^= a;
  d ^= b;
  b ^= c;
  a ^= d;
  c ^= t9;
  d = rotl<u32>(d, 11);
  return <i32>Math.floor((<f64>r / 4294967296.0) * <f64>ways);
}

/** Evicts slot `s` for `line`: a dirty victim cached before the store (which began at `storeFirst`) is listed for writeback (one this store already wrote reaches memory with the rest of it). */
// @ts-ignore: decorator
@inline function evict(tags: usize, dirty: usize, s: i32, storeFirst: f64, line: f64, victims: usize): void {
  if (load<u8>(dirty + <usize>s)) {
    const victim = slotAt(tags, s);
    if (victim < storeFirst || victim >= line) {
      store<i32>(victims + ((<usize>listed) << 2), s);
      listed++;
    }
    writebacks++;
  }
}

// @ts-ignore: decorator
@inline function setBase(line: f64, ways: i32, sets: i32, setMask: i32): i32 {
  const li = <i64>line;
  return (setMask >= 0 ? <i32>(li & <i64>setMask) : <i32>(li % <i64>sets)) * ways;
}

export function cacheStoreTags(tags: usize, dirty: usize, ways: i32, sets: i32, setMask: i32, storeFirst: f64, first: f64, last: f64, state: usize, victims: usize, counts: usize): i32 {
  a = load<u32>(state);
  b = load<u32>(state, 4);
  c = load<u32>(state, 8);
  d = load<u32>(state, 12);
  listed = 0;
  writebacks = 0;
  let hits = 0;
  let misses = 0;
  let evictions = 0;
  let s: i32 = -1;
  // free ways, and whether any line of the store is cached: once every way holds a line and none is the
  // store's, every line misses and evicts, and the rest of the store needs no search of its set
  let free = 0;
  let own = false;
  for (let k = 0, n = sets * ways; k < n; k++) {
    const t = slotAt(tags, k);
    if (t == -1) free++;
    else if (t >= first && t <= last) own = true;
  }
  let line = first;
  for (; line <= last && (own || free > 0); line++) {
    const base = setBase(line, ways, sets, setMask);
    s = -1;
    let empty: i32 = -1;
    for (let w = 0; w < ways; w++) {
      const t = slotAt(tags, base + w);
      if (t == line) {
        s = base + w;
        break;
      }
      if (t == -1 && empty < 0) empty = base + w;
    }
    if (s >= 0) hits++;
    else {
      misses++;
      if (empty >= 0) {
        s = empty;
        free--;
      } else {
        s = base + drawWay(ways);
        evictions++;
        evict(tags, dirty, s, storeFirst, line, victims);
      }
      store<f64>(tags + ((<usize>s) << 3), line);
    }
    store<u8>(dirty + <usize>s, 1);
  }
  for (; line <= last; line++) {
    s = setBase(line, ways, sets, setMask) + drawWay(ways);
    misses++;
    evictions++;
    evict(tags, dirty, s, storeFirst, line, victims);
    store<f64>(tags + ((<usize>s) << 3), line);
    store<u8>(dirty + <usize>s, 1);
  }
  store<u32>(state, a);
  store<u32>(state, b, 4);
  store<u32>(state, c, 8);
  store<u32>(state, d, 12);
  store<i32>(counts, hits);
  store<i32>(counts, misses, 4);
  store<i32>(counts, evictions, 8);
  store<i32>(counts, writebacks, 12);
  store<i32>(counts, s, 16);
  return listed;
}

/*
 * What the walk changed, for the caller's bookkeeping: every slot whose
 * tag differs from `old` (the tags before the walk) is listed at
 * `changed`, every slot now holding a line of first..last at `held`.
 * counts out: i32 changed, held, then f64 the lowest and highest line held
 * (at counts + 8 and + 16; last + 1 and first - 1 when none is).
 */
export function cacheStoreDiff(old: usize, tags: usize, n: i32, first: f64, last: f64, changed: usize, held: usize, counts: usize): void {
  let nc = 0;
  let nh = 0;
  let lo = last + 1;
  let hi = first - 1;
  for (let s = 0; s < n; s++) {
    const t = slotAt(tags, s);
    if (t != slotAt(old, s)) {
      store<i32>(changed + ((<usize>nc) << 2), s);
      nc++;
    }
    if (t >= first && t <= last) {
      store<i32>(held + ((<usize>nh) << 2), s);
      nh++;
      if (t < lo) lo = t;
      if (t > hi) hi = t;
    }
  }
  store<i32>(counts, nc);
  store<i32>(counts, nh, 4);
  store<f64>(counts, lo, 8);
  store<f64>(counts, hi, 16);
}

/*
 * The victims a store listed (slots at `victims`, lines cached before it,
 * whose bytes are at `data`, `words` 32-bit words a line), split for their
 * writeback: those holding a nonzero word stay at `victims`, in their
 * order, and their count is returned; the zero ones go to `zeros`, in
 * their order. counts out: f64 the lowest and highest of the zero ones'
 * lines (tags at `old`), at counts and counts + 8 (+inf and -inf when
 * there is none). A line of zeros written back over memory no backing
 * holds changes nothing, so the caller can skip those together.
 */
export function cacheVictimSplit(data: usize, words: i32, old: usize, victims: usize, listed: i32, zeros: usize, counts: usize): i32 {
  let nonzero = 0;
  let zero = 0;
  let lo = Infinity;
  let hi = -Infinity;
  const bytes = <usize>words << 2;
  for (let i = 0; i < listed; i++) {
    const s = load<i32>(victims + ((<usize>i) << 2));
    const at = data + <usize>s * bytes;
    let any = false;
    for (let w: usize = 0; w < bytes; w += 16) any = any || v128.any_true(v128.load(at + w));
    if (any) {
      store<i32>(victims + ((<usize>nonzero) << 2), s);
      nonzero++;
    } else {
      store<i32>(zeros + ((<usize>zero) << 2), s);
      zero++;
      const t = slotAt(old, s);
      if (t < lo) lo = t;
      if (t > hi) hi = t;
    }
  }
  store<f64>(counts, lo);
  store<f64>(counts, hi, 8);
  return nonzero;
}

/** Fills the lines of the `count` slots listed at `slots` (in `data`, `words` 32-bit words a line) with `word`: a memset's whole lines. */
export function cacheFillSlots(data: usize, words: i32, slots: usize, count: i32, word: i32): void {
  const bytes = <usize>words << 2;
  const v = i32x4.splat(word);
  for (let i = 0; i < count; i++) {
    const at = data + <usize>load<i32>(slots + ((<usize>i) << 2)) * bytes;
    for (let w: usize = 0; w < bytes; w += 16) v128.store(at + w, v);
  }
}

/** Lists at `out` every slot of `n` whose line is valid (tag at `tags` not -1) and dirty (u8 at `dirty`); returns how many. */
export function cacheDirtySlots(tags: usize, dirty: usize, n: i32, out: usize): i32 {
  let k = 0;
  for (let s = 0; s < n; s++) {
    if (load<u8>(dirty + <usize>s) && slotAt(tags, s) != -1) {
      store<i32>(out + ((<usize>k) << 2), s);
      k++;
    }
  }
  return k;
}
