import { kerr } from '../../../lib/index.ts';
import type { SndInterval, SndMask } from '../../../uapi/index.ts';

/** UINT_MAX: the open end of an interval nobody constrained. */
export const UINT_MAX = 0xffffffff;

/** Words of a struct snd_mask (SNDRV_MASK_MAX / 32). */
export const MASK_WORDS = 8;

/** A mask with every bit set (snd_mask_any). */
export function maskAny(): SndMask {
  return { bits: new Array<number>(MASK_WORDS).fill(UINT_MAX) };
}

/** A mask with just the given values (snd_mask_none + snd_mask_set). */
export function maskOf(...vals: number[]): SndMask {
  const m: SndMask = { bits: new Array<number>(MASK_WORDS).fill(0) };
  for (const v of vals) m.bits[v >>> 5] = (m.bits[v >>> 5]! | (1 << (v & 31))) >>> 0;
  return m;
}

/** True when `v` is in the mask (snd_mask_test). */
export function maskTest(m: SndMask, v: number): boolean {
  return ((m.bits[v >>> 5]! >>> (v & 31)) & 1) === 1;
}

/** True when no bit is set (snd_mask_empty). */
export function maskEmpty(m: SndMask): boolean {
  return m.bits.every((w) => w === 0);
}

/** The lowest value in the mask, or -1 (snd_mask_min). */
export function maskMin(m: SndMask): number {
  for (let i = 0; i < MASK_WORDS; i++) {
    const w = m.bits[i]!;
    if (w) return i * 32 + (31 - Math.clz32(w & -w));
  }
  return -1;
}

/** True when exactly one value is set (snd_mask_single). */
export function maskSingle(m: SndMask): boolean {
  let n = 0;
  for (const w of m.bits) {
    if (!w) continue;
    if ((w & (w - 1)) !== 0) return false;
    n++;
  }
  return n === 1;
}

/** Intersects `m` with `v`; true when `m` changed, EINVAL when it became empty (snd_mask_refine). */
export function maskRefine(m: SndMask, v: SndMask): boolean {
  let changed = false;
  for (let i = 0; i < MASK_WORDS; i++) {
    const w = (m.bits[i]! & v.bits[i]!) >>> 0;
    if (w !== m.bits[i]) changed = true;
    m.bits[i] = w;
  }
  if (maskEmpty(m)) throw kerr('EINVAL', 'hw_params: empty mask');
  return changed;
}

/** Keeps only the lowest value (snd_mask_refine_first). */
export function maskRefineFirst(m: SndMask): boolean {
  if (maskEmpty(m)) throw kerr('EINVAL', 'hw_params: empty mask');
  if (maskSingle(m)) return false;
  const v = maskMin(m);
  const one = maskOf(v);
  m.bits.splice(0, MASK_WORDS, ...one.bits);
  return true;
}

/** An unconstrained interval [0, UINT_MAX] (snd_interval_any). */
export function intervalAny(): SndInterval {
  return { min: 0, max: UINT_MAX, openmin: 0, openmax: 0, integer: 0, empty: 0 };
}

/** A closed interval. */
export function intervalOf(min: number, max: number, integer = false): SndInterval {
  return { min, max, openmin: 0, openmax: 0, integer: integer ? 1 : 0, empty: 0 };
}

/** True when the interval holds no value (snd_interval_checkempty). */
export function intervalCheckEmpty(i: SndInterval): boolean {
  return i.min > i.max || (i.min === i.max && (i.openmin !== 0 || i.openmax !== 0));
}

/** True when one value is left (snd_interval_single). */
export function intervalSingle(i: SndInterval): boolean {
  return i.min === i.max || (i.min + 1 === i.max && (i.openmin !== 0 || i.openmax !== 0));
}

/** The value of a single interval (snd_interval_value). */
export function intervalValue(i: SndInterval): number {
  return i.openmin && !i.openmax ? i.max : i.min;
}

/** True when `v` lies in the interval (snd_interval_test). */
export function intervalTest(i: SndInterval, v: number): boolean {
  return !((i.min > v || (i.min === v && i.openmin)) || (i.max < v || (i.max === v && i.openmax)));
}

/**
 * Narrows `i` to its intersection with `v` (snd_interval_refine); true when
 * it changed, EINVAL when nothing is left. An integer interval has its open
 * ends closed inward.
 */
export function intervalRefine(i: SndInterval, v: SndInterval): boolean {
  if (i.empty) throw kerr('EINVAL', 'hw_params: empty interval');
  let changed = false;
  if (i.min < v.min) {
    i.min = v.min;
    i.openmin = v.openmin;
    changed = true;
  } else if (i.min === v.min && !i.openmin && v.openmin) {
    i.openmin = 1;
    changed = true;
  }
  if (i.max > v.max) {
    i.max = v.max;
    i.openmax = v.openmax;
    changed = true;
  } else if (i.max === v.max && !i.openmax && v.openmax) {
    i.openmax = 1;
    changed = true;
  }
  if (!i.integer && v.integer) {
    i.integer = 1;
    changed = true;
  }
  if (i.integer) {
    if (i.openmin) {
      i.min++;
      i.openmin = 0;
    }
    if (i.openmax) {
      i.max--;
      i.openmax = 0;
    }
  } else if (!i.openmin && !i.openmax && i.min === i.max) {
    i.integer = 1;
  }
  if (intervalCheckEmpty(i)) {
    i.empty = 1;
    throw kerr('EINVAL', 'hw_params: empty interval');
  }
  return changed;
}

/** Keeps the lowest value (snd_interval_refine_first). */
export function intervalRefineFirst(i: SndInterval): boolean {
  if (i.empty || intervalCheckEmpty(i)) throw kerr('EINVAL', 'hw_params: empty interval');
  if (intervalSingle(i)) return false;
  const lastMax = i.max;
  i.max = i.min;
  if (i.openmin) i.max++;
  i.openmax = i.openmax && i.max >= lastMax ? 1 : 0;
  return true;
}

/** Keeps the highest value (snd_interval_refine_last). */
export function intervalRefineLast(i: SndInterval): boolean {
  if (i.empty || intervalCheckEmpty(i)) throw kerr('EINVAL', 'hw_params: empty interval');
  if (intervalSingle(i)) return false;
  const lastMin = i.min;
  i.min = i.max;
  if (i.openmax) i.min--;
  i.openmin = i.openmin && i.min <= lastMin ? 1 : 0;
  return true;
}

function sat(v: number): number {
  return v > UINT_MAX ? UINT_MAX : v;
}

/** a * b (snd_interval_mul), saturating at UINT_MAX. */
export function intervalMul(a: SndInterval, b: SndInterval): SndInterval {
  return {
    min: sat(a.min * b.min),
    openmin: a.openmin || b.openmin ? 1 : 0,
    max: sat(a.max * b.max),
    openmax: a.openmax || b.openmax ? 1 : 0,
    integer: a.integer && b.integer ? 1 : 0,
    empty: 0,
  };
}

/** a / b (snd_interval_div): the quotient's ends are open where division left a remainder. */
export function intervalDiv(a: SndInterval, b: SndInterval): SndInterval {
  const c = intervalAny();
  if (b.max === 0) {
    c.min = UINT_MAX;
  } else {
    c.min = Math.floor(a.min / b.max);
    c.openmin = a.min % b.max || a.openmin || b.openmax ? 1 : 0;
  }
  if (b.min > 0) {
    c.max = Math.floor(a.max / b.min);
    if (a.max % b.min) {
      c.max++;
      c.openmax = 1;
    } else {
      c.openmax = a.openmax || b.openmin ? 1 : 0;
    }
  } else {
    c.max = UINT_MAX;
    c.openmax = 0;
  }
  c.integer = 0;
  return c;
}

/** a * b / k (snd_interval_muldivk). */
export function intervalMulDivK(a: SndInterval, b: SndInterval, k: number): SndInterval {
  const c = intervalAny();
  const lo = a.min * b.min;
  c.min = sat(Math.floor(lo / k));
  c.openmin = lo % k || a.openmin || b.openmin ? 1 : 0;
  const hi = a.max * b.max;
  c.max = sat(Math.floor(hi / k));
  if (hi % k && c.max < UINT_MAX) {
    c.max++;
    c.openmax = 1;
  } else {
    c.openmax = a.openmax || b.openmax ? 1 : 0;
  }
  return c;
}

/** a * k / b (snd_interval_mulkdiv). */
export function intervalMulKDiv(a: SndInterval, k: number, b: SndInterval): SndInterval {
  const c = intervalAny();
  if (b.max === 0) {
    c.min = UINT_MAX;
  } else {
    const lo = a.min * k;
    c.min = sat(Math.floor(lo / b.max));
    c.openmin = lo % b.max || a.openmin || b.openmax ? 1 : 0;
  }
  if (b.min > 0) {
    const hi = a.max * k;
    c.max = sat(Math.floor(hi / b.min));
    if (hi % b.min && c.max < UINT_MAX) {
      c.max++;
      c.openmax = 1;
    } else {
      c.openmax = a.openmax || b.openmin ? 1 : 0;
    }
  } else {
    c.max = UINT_MAX;
    c.openmax = 0;
  }
  return c;
}
