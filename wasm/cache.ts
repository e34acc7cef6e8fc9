/*
 * The CPU cache's store of whole lines (hw/cache.ts storeWholeLines): the
 * walk of the tags, line by line, that storing lines first..last one at a
 * time makes. A hit keeps its slot; a miss takes the set's first free way,
 * or a victim drawn from the SoC's PRNG (xoshiro128**, hw/prng.ts, whose
 * state comes in and goes back out at `state`) exactly as Prng.int(ways)
 * draws it. No bytes move here: the caller writes back the victims listed
 * at `victims` (lines cached before the store, with the bytes they held)
 * and moves the store's bytes once.
 *
 * tags: f64 per slot (line number, -1 when free); dirty: u8 per slot;
 * counts out: i32 hits, misses, evictions, dirty evictions, last slot.
 * Returns how many victims it listed.
 */

// @ts-ignore: decorator
@inline function slotAt(tags: usize, s: i32): f64 {
  return load<f64>(tags + ((<usize>s) << 3));
}

export function cacheStoreTags(tags: usize, dirty: usize, ways: i32, sets: i32, setMask: i32, first: f64, last: f64, state: usize, victims: usize, counts: usize): i32 {
  let a = load<u32>(state);
  let b = load<u32>(state, 4);
  let c = load<u32>(state, 8);
  let d = load<u32>(state, 12);
  let hits = 0;
  let misses = 0;
  let evictions = 0;
  let writebacks = 0;
  let listed = 0;
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
    const li = <i64>line;
    const base = (setMask >= 0 ? <i32>(li & <i64>setMask) : <i32>(li % <i64>sets)) * ways;
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
        // Prng.nextU32, then int(ways) = floor(u32 / 2^32 * ways)
        const r = rotl<u32>(b * 5, 7) * 9;
        const t9 = b << 9;
        c ^= a;
        d ^= b;
        b ^= c;
        a ^= d;
        c ^= t9;
        d = rotl<u32>(d, 11);
        s = base + <i32>Math.floor((<f64>r / 4294967296.0) * <f64>ways);
        evictions++;
        if (load<u8>(dirty + <usize>s)) {
          const victim = slotAt(tags, s);
          // a line this store already wrote reaches memory with the rest of it
          if (victim < first || victim >= line) {
            store<i32>(victims + ((<usize>listed) << 2), s);
            listed++;
          }
          writebacks++;
        }
      }
      store<f64>(tags + ((<usize>s) << 3), line);
    }
    store<u8>(dirty + <usize>s, 1);
  }
  for (; line <= last; line++) {
    const li = <i64>line;
    const base = (setMask >= 0 ? <i32>(li & <i64>setMask) : <i32>(li % <i64>sets)) * ways;
    const r = rotl<u32>(b * 5, 7) * 9;
    const t9 = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t9;
    d = rotl<u32>(d, 11);
    s = base + <i32>Math.floor((<f64>r / 4294967296.0) * <f64>ways);
    misses++;
    evictions++;
    if (load<u8>(dirty + <usize>s)) {
      const victim = slotAt(tags, s);
      if (victim < first || victim >= line) {
        store<i32>(victims + ((<usize>listed) << 2), s);
        listed++;
      }
      writebacks++;
    }
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
