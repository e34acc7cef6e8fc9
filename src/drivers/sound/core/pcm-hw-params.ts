import { kerr } from '../../../lib/index.ts';
import {
  SNDRV_PCM_ACCESS_MMAP_INTERLEAVED,
  SNDRV_PCM_ACCESS_MMAP_NONINTERLEAVED,
  SNDRV_PCM_ACCESS_MMAP_COMPLEX,
  SNDRV_PCM_FORMAT_S16_LE,
  SNDRV_PCM_FORMAT_S32_LE,
  SNDRV_PCM_HW_PARAM_ACCESS,
  SNDRV_PCM_HW_PARAM_BUFFER_BYTES,
  SNDRV_PCM_HW_PARAM_BUFFER_SIZE,
  SNDRV_PCM_HW_PARAM_BUFFER_TIME,
  SNDRV_PCM_HW_PARAM_CHANNELS,
  SNDRV_PCM_HW_PARAM_FIRST_INTERVAL,
  SNDRV_PCM_HW_PARAM_FORMAT,
  SNDRV_PCM_HW_PARAM_FRAME_BITS,
  SNDRV_PCM_HW_PARAM_LAST_INTERVAL,
  SNDRV_PCM_HW_PARAM_LAST_MASK,
  SNDRV_PCM_HW_PARAM_PERIOD_BYTES,
  SNDRV_PCM_HW_PARAM_PERIOD_SIZE,
  SNDRV_PCM_HW_PARAM_PERIOD_TIME,
  SNDRV_PCM_HW_PARAM_PERIODS,
  SNDRV_PCM_HW_PARAM_RATE,
  SNDRV_PCM_HW_PARAM_SAMPLE_BITS,
  SNDRV_PCM_HW_PARAM_SUBFORMAT,
  SNDRV_PCM_INFO_MMAP,
  SNDRV_PCM_INFO_MMAP_VALID,
  SNDRV_PCM_SUBFORMAT_STD,
  type SndInterval,
  type SndMask,
  type SndPcmHwParams,
} from '../../../uapi/index.ts';
import {
  MASK_WORDS,
  intervalCheckEmpty,
  intervalDiv,
  intervalMul,
  intervalMulDivK,
  intervalMulKDiv,
  intervalOf,
  intervalRefine,
  intervalRefineFirst,
  intervalRefineLast,
  intervalSingle,
  intervalTest,
  intervalValue,
  maskEmpty,
  maskMin,
  maskOf,
  maskRefine,
  maskRefineFirst,
  maskSingle,
  maskTest,
} from './pcm-interval.ts';

/**
 * What the audio block can do (struct snd_pcm_hardware): the driver's
 * static limits, which HW_REFINE intersects every request with.
 */
export interface PcmHardware {
  info: number;
  /** Access types (SNDRV_PCM_ACCESS_*) the block supports. */
  access: number[];
  /** Formats (SNDRV_PCM_FORMAT_*) the DAC takes. */
  formats: number[];
  rateMin: number;
  rateMax: number;
  channelsMin: number;
  channelsMax: number;
  bufferBytesMax: number;
  periodBytesMin: number;
  periodBytesMax: number;
  periodsMin: number;
  periodsMax: number;
}

const NINTERVALS = SNDRV_PCM_HW_PARAM_LAST_INTERVAL - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL + 1;
const NMASKS = SNDRV_PCM_HW_PARAM_LAST_MASK + 1;

/** Physical bits of a sample of `format` (snd_pcm_format_physical_width); -1 for formats the table lacks. */
export function formatPhysicalWidth(format: number): number {
  switch (format) {
    case SNDRV_PCM_FORMAT_S16_LE:
      return 16;
    case SNDRV_PCM_FORMAT_S32_LE:
      return 32;
    default:
      return format >= 0 && format <= 1 ? 8 : format >= 2 && format <= 5 ? 16 : format >= 6 && format <= 13 ? 32 : -1;
  }
}

function iv(p: SndPcmHwParams, param: number): SndInterval {
  return p.intervals[param - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL]!;
}

/** Throws EINVAL unless `p` has the shape of struct snd_pcm_hw_params. */
function checkShape(p: SndPcmHwParams): void {
  if (!Array.isArray(p.masks) || p.masks.length < NMASKS || !Array.isArray(p.intervals) || p.intervals.length < NINTERVALS)
    throw kerr('EINVAL', 'hw_params: masks[3] and intervals[12] required');
  for (let i = 0; i < NMASKS; i++) {
    const m = p.masks[i]!;
    if (!m || !Array.isArray(m.bits) || m.bits.length !== MASK_WORDS) throw kerr('EINVAL', `hw_params: mask ${i} is not 8 words`);
    for (let w = 0; w < MASK_WORDS; w++) m.bits[w] = m.bits[w]! >>> 0;
  }
  for (let i = 0; i < NINTERVALS; i++) {
    const v = p.intervals[i]!;
    if (!v || typeof v.min !== 'number' || typeof v.max !== 'number') throw kerr('EINVAL', `hw_params: interval ${i} malformed`);
    v.openmin = v.openmin ? 1 : 0;
    v.openmax = v.openmax ? 1 : 0;
    v.integer = v.integer ? 1 : 0;
    v.empty = v.empty ? 1 : 0;
  }
}

/** One dependency rule (struct snd_pcm_hw_rule): computes `param` from `deps`. */
interface Rule {
  param: number;
  deps: number[];
  apply(p: SndPcmHwParams): boolean;
}

function ivRule(param: number, deps: number[], f: (p: SndPcmHwParams) => SndInterval): Rule {
  return { param, deps, apply: (p) => intervalRefine(iv(p, param), f(p)) };
}

/** The core rules every PCM has (snd_pcm_hw_constraints_init): the relations between sizes, bytes, times and rate. */
const RULES: Rule[] = [
  {
    param: SNDRV_PCM_HW_PARAM_FORMAT,
    deps: [SNDRV_PCM_HW_PARAM_SAMPLE_BITS],
    apply(p) {
      const m = p.masks[SNDRV_PCM_HW_PARAM_FORMAT]!;
      const bits = iv(p, SNDRV_PCM_HW_PARAM_SAMPLE_BITS);
      const keep = maskOf();
      for (let f = 0; f < 256; f++) if (maskTest(m, f) && intervalTest(bits, formatPhysicalWidth(f))) keep.bits[f >>> 5] = (keep.bits[f >>> 5]! | (1 << (f & 31))) >>> 0;
      return maskRefine(m, keep);
    },
  },
  ivRule(SNDRV_PCM_HW_PARAM_SAMPLE_BITS, [SNDRV_PCM_HW_PARAM_FORMAT], (p) => {
    const m = p.masks[SNDRV_PCM_HW_PARAM_FORMAT]!;
    let lo = Infinity;
    let hi = -Infinity;
    for (let f = 0; f < 256; f++) {
      if (!maskTest(m, f)) continue;
      const w = formatPhysicalWidth(f);
      if (w < 0) continue;
      lo = Math.min(lo, w);
      hi = Math.max(hi, w);
    }
    if (lo === Infinity) throw kerr('EINVAL', 'hw_params: no known format left');
    return intervalOf(lo, hi, true);
  }),
  ivRule(SNDRV_PCM_HW_PARAM_SAMPLE_BITS, [SNDRV_PCM_HW_PARAM_FRAME_BITS, SNDRV_PCM_HW_PARAM_CHANNELS], (p) =>
    intervalDiv(iv(p, SNDRV_PCM_HW_PARAM_FRAME_BITS), iv(p, SNDRV_PCM_HW_PARAM_CHANNELS)),
  ),
  ivRule(SNDRV_PCM_HW_PARAM_FRAME_BITS, [SNDRV_PCM_HW_PARAM_SAMPLE_BITS, SNDRV_PCM_HW_PARAM_CHANNELS], (p) =>
    intervalMul(iv(p, SNDRV_PCM_HW_PARAM_SAMPLE_BITS), iv(p, SNDRV_PCM_HW_PARAM_CHANNELS)),
  ),
  ivRule(SNDRV_PCM_HW_PARAM_FRAME_BITS, [SNDRV_PCM_HW_PARAM_PERIOD_BYTES, SNDRV_PCM_HW_PARAM_PERIOD_SIZE], (p) =>
    intervalMulKDiv(iv(p, SNDRV_PCM_HW_PARAM_PERIOD_BYTES), 8, iv(p, SNDRV_PCM_HW_PARAM_PERIOD_SIZE)),
  ),
  ivRule(SNDRV_PCM_HW_PARAM_FRAME_BITS, [SNDRV_PCM_HW_PARAM_BUFFER_BYTES, SNDRV_PCM_HW_PARAM_BUFFER_SIZE], (p) =>
    intervalMulKDiv(iv(p, SNDRV_PCM_HW_PARAM_BUFFER_BYTES), 8, iv(p, SNDRV_PCM_HW_PARAM_BUFFER_SIZE)),
  ),
  ivRule(SNDRV_PCM_HW_PARAM_CHANNELS, [SNDRV_PCM_HW_PARAM_FRAME_BITS, SNDRV_PCM_HW_PARAM_SAMPLE_BITS], (p) =>
    intervalDiv(iv(p, SNDRV_PCM_HW_PARAM_FRAME_BITS), iv(p, SNDRV_PCM_HW_PARAM_SAMPLE_BITS)),
  ),
  ivRule(SNDRV_PCM_HW_PARAM_RATE, [SNDRV_PCM_HW_PARAM_PERIOD_SIZE, SNDRV_PCM_HW_PARAM_PERIOD_TIME], (p) =>
    intervalMulKDiv(iv(p, SNDRV_PCM_HW_PARAM_PERIOD_SIZE), 1000000, iv(p, SNDRV_PCM_HW_PARAM_PERIOD_TIME)),
  ),
  ivRule(SNDRV_PCM_HW_PARAM_RATE, [SNDRV_PCM_HW_PARAM_BUFFER_SIZE, SNDRV_PCM_HW_PARAM_BUFFER_TIME], (p) =>
    intervalMulKDiv(iv(p, SNDRV_PCM_HW_PARAM_BUFFER_SIZE), 1000000, iv(p, SNDRV_PCM_HW_PARAM_BUFFER_TIME)),
  ),
  ivRule(SNDRV_PCM_HW_PARAM_PERIODS, [SNDRV_PCM_HW_PARAM_BUFFER_SIZE, SNDRV_PCM_HW_PARAM_PERIOD_SIZE], (p) =>
    intervalDiv(iv(p, SNDRV_PCM_HW_PARAM_BUFFER_SIZE), iv(p, SNDRV_PCM_HW_PARAM_PERIOD_SIZE)),
  ),
  ivRule(SNDRV_PCM_HW_PARAM_PERIOD_SIZE, [SNDRV_PCM_HW_PARAM_BUFFER_SIZE, SNDRV_PCM_HW_PARAM_PERIODS], (p) =>
    intervalDiv(iv(p, SNDRV_PCM_HW_PARAM_BUFFER_SIZE), iv(p, SNDRV_PCM_HW_PARAM_PERIODS)),
  ),
  ivRule(SNDRV_PCM_HW_PARAM_PERIOD_SIZE, [SNDRV_PCM_HW_PARAM_PERIOD_BYTES, SNDRV_PCM_HW_PARAM_FRAME_BITS], (p) =>
    intervalMulKDiv(iv(p, SNDRV_PCM_HW_PARAM_PERIOD_BYTES), 8, iv(p, SNDRV_PCM_HW_PARAM_FRAME_BITS)),
  ),
  ivRule(SNDRV_PCM_HW_PARAM_PERIOD_SIZE, [SNDRV_PCM_HW_PARAM_PERIOD_TIME, SNDRV_PCM_HW_PARAM_RATE], (p) =>
    intervalMulDivK(iv(p, SNDRV_PCM_HW_PARAM_PERIOD_TIME), iv(p, SNDRV_PCM_HW_PARAM_RATE), 1000000),
  ),
  ivRule(SNDRV_PCM_HW_PARAM_BUFFER_SIZE, [SNDRV_PCM_HW_PARAM_PERIOD_SIZE, SNDRV_PCM_HW_PARAM_PERIODS], (p) =>
    intervalMul(iv(p, SNDRV_PCM_HW_PARAM_PERIOD_SIZE), iv(p, SNDRV_PCM_HW_PARAM_PERIODS)),
  ),
  ivRule(SNDRV_PCM_HW_PARAM_BUFFER_SIZE, [SNDRV_PCM_HW_PARAM_BUFFER_BYTES, SNDRV_PCM_HW_PARAM_FRAME_BITS], (p) =>
    intervalMulKDiv(iv(p, SNDRV_PCM_HW_PARAM_BUFFER_BYTES), 8, iv(p, SNDRV_PCM_HW_PARAM_FRAME_BITS)),
  ),
  ivRule(SNDRV_PCM_HW_PARAM_BUFFER_SIZE, [SNDRV_PCM_HW_PARAM_BUFFER_TIME, SNDRV_PCM_HW_PARAM_RATE], (p) =>
    intervalMulDivK(iv(p, SNDRV_PCM_HW_PARAM_BUFFER_TIME), iv(p, SNDRV_PCM_HW_PARAM_RATE), 1000000),
  ),
  ivRule(SNDRV_PCM_HW_PARAM_PERIOD_BYTES, [SNDRV_PCM_HW_PARAM_PERIOD_SIZE, SNDRV_PCM_HW_PARAM_FRAME_BITS], (p) =>
    intervalMulDivK(iv(p, SNDRV_PCM_HW_PARAM_PERIOD_SIZE), iv(p, SNDRV_PCM_HW_PARAM_FRAME_BITS), 8),
  ),
  ivRule(SNDRV_PCM_HW_PARAM_BUFFER_BYTES, [SNDRV_PCM_HW_PARAM_BUFFER_SIZE, SNDRV_PCM_HW_PARAM_FRAME_BITS], (p) =>
    intervalMulDivK(iv(p, SNDRV_PCM_HW_PARAM_BUFFER_SIZE), iv(p, SNDRV_PCM_HW_PARAM_FRAME_BITS), 8),
  ),
  ivRule(SNDRV_PCM_HW_PARAM_PERIOD_TIME, [SNDRV_PCM_HW_PARAM_PERIOD_SIZE, SNDRV_PCM_HW_PARAM_RATE], (p) =>
    intervalMulKDiv(iv(p, SNDRV_PCM_HW_PARAM_PERIOD_SIZE), 1000000, iv(p, SNDRV_PCM_HW_PARAM_RATE)),
  ),
  ivRule(SNDRV_PCM_HW_PARAM_BUFFER_TIME, [SNDRV_PCM_HW_PARAM_BUFFER_SIZE, SNDRV_PCM_HW_PARAM_RATE], (p) =>
    intervalMulKDiv(iv(p, SNDRV_PCM_HW_PARAM_BUFFER_SIZE), 1000000, iv(p, SNDRV_PCM_HW_PARAM_RATE)),
  ),
];

/** Intersects every parameter with the hardware's limits (snd_pcm_hw_constraints_complete); returns the changed bits. */
function applyHardware(p: SndPcmHwParams, hw: PcmHardware): number {
  let changed = 0;
  const m = (param: number, v: SndMask): void => {
    if (maskRefine(p.masks[param]!, v)) changed |= 1 << param;
  };
  const i = (param: number, v: SndInterval): void => {
    if (intervalRefine(iv(p, param), v)) changed |= 1 << param;
  };
  m(SNDRV_PCM_HW_PARAM_ACCESS, maskOf(...hw.access));
  m(SNDRV_PCM_HW_PARAM_FORMAT, maskOf(...hw.formats));
  m(SNDRV_PCM_HW_PARAM_SUBFORMAT, maskOf(SNDRV_PCM_SUBFORMAT_STD));
  // the integer constraints of snd_pcm_hw_constraints_init
  for (const k of [SNDRV_PCM_HW_PARAM_SAMPLE_BITS, SNDRV_PCM_HW_PARAM_FRAME_BITS, SNDRV_PCM_HW_PARAM_CHANNELS, SNDRV_PCM_HW_PARAM_BUFFER_SIZE, SNDRV_PCM_HW_PARAM_BUFFER_BYTES])
    i(k, { ...intervalOf(0, 0xffffffff), integer: 1 });
  i(SNDRV_PCM_HW_PARAM_CHANNELS, intervalOf(hw.channelsMin, hw.channelsMax, true));
  i(SNDRV_PCM_HW_PARAM_RATE, intervalOf(hw.rateMin, hw.rateMax));
  // the audio DMA moves whole frames per period (snd_pcm_hw_constraint_integer on PERIOD_SIZE and PERIOD_BYTES)
  i(SNDRV_PCM_HW_PARAM_PERIOD_SIZE, { ...intervalOf(0, 0xffffffff), integer: 1 });
  i(SNDRV_PCM_HW_PARAM_PERIOD_BYTES, intervalOf(hw.periodBytesMin, hw.periodBytesMax, true));
  // the driver wants whole periods in the ring (snd_pcm_hw_constraint_integer on PERIODS)
  i(SNDRV_PCM_HW_PARAM_PERIODS, intervalOf(hw.periodsMin, hw.periodsMax, true));
  i(SNDRV_PCM_HW_PARAM_BUFFER_BYTES, intervalOf(1, hw.bufferBytesMax));
  return changed;
}

/** Runs the rules until nothing changes; returns the bits of parameters that changed. */
function applyRules(p: SndPcmHwParams): number {
  let changed = 0;
  for (let round = 0; round < 64; round++) {
    let any = false;
    for (const r of RULES) {
      if (r.apply(p)) {
        changed |= 1 << r.param;
        any = true;
      }
    }
    if (!any) return changed;
  }
  return changed;
}

/**
 * Narrows `p` to what the hardware can do (snd_pcm_hw_refine): intersects
 * with the hardware limits, runs the dependency rules to a fixed point,
 * sets cmask to the parameters that changed and fills in the read-only
 * fields that are already determined. EINVAL when a parameter has no value
 * left.
 */
export function hwRefine(p: SndPcmHwParams, hw: PcmHardware): void {
  checkShape(p);
  for (let i = 0; i < NMASKS; i++) if (maskEmpty(p.masks[i]!)) throw kerr('EINVAL', `hw_params: mask ${i} empty`);
  for (let i = 0; i < NINTERVALS; i++) if (p.intervals[i]!.empty || intervalCheckEmpty(p.intervals[i]!)) throw kerr('EINVAL', `hw_params: interval ${i} empty`);
  p.cmask = (applyHardware(p, hw) | applyRules(p)) >>> 0;
  fixupUnreferenced(p, hw);
  p.rmask = 0;
}

/** Fills in msbits, rate_num/den, fifo_size and info once they are known (fixup_unreferenced_params). */
function fixupUnreferenced(p: SndPcmHwParams, hw: PcmHardware): void {
  const bits = iv(p, SNDRV_PCM_HW_PARAM_SAMPLE_BITS);
  if (!p.msbits && intervalSingle(bits)) p.msbits = intervalValue(bits);
  const rate = iv(p, SNDRV_PCM_HW_PARAM_RATE);
  if (!p.rate_den && intervalSingle(rate)) {
    p.rate_num = intervalValue(rate);
    p.rate_den = 1;
  }
  p.fifo_size = 0;
  if (!p.info) {
    p.info = hw.info;
    const a = p.masks[SNDRV_PCM_HW_PARAM_ACCESS]!;
    if (!maskTest(a, SNDRV_PCM_ACCESS_MMAP_INTERLEAVED) && !maskTest(a, SNDRV_PCM_ACCESS_MMAP_NONINTERLEAVED) && !maskTest(a, SNDRV_PCM_ACCESS_MMAP_COMPLEX))
      p.info &= ~(SNDRV_PCM_INFO_MMAP | SNDRV_PCM_INFO_MMAP_VALID);
    p.info >>>= 0;
  }
}

/**
 * Picks one configuration from a refined `p` (snd_pcm_hw_params_choose):
 * the first access, format and subformat, then the smallest channels,
 * rate and period time, then the largest buffer size, each followed by the
 * rules so the rest follow. Throws EINVAL when something is left open.
 */
export function hwChoose(p: SndPcmHwParams, hw: PcmHardware): void {
  const order = [
    SNDRV_PCM_HW_PARAM_ACCESS,
    SNDRV_PCM_HW_PARAM_FORMAT,
    SNDRV_PCM_HW_PARAM_SUBFORMAT,
    SNDRV_PCM_HW_PARAM_CHANNELS,
    SNDRV_PCM_HW_PARAM_RATE,
    SNDRV_PCM_HW_PARAM_PERIOD_TIME,
    SNDRV_PCM_HW_PARAM_BUFFER_SIZE,
  ];
  for (const v of order) {
    let changed: boolean;
    if (v <= SNDRV_PCM_HW_PARAM_LAST_MASK) changed = maskRefineFirst(p.masks[v]!);
    else if (v === SNDRV_PCM_HW_PARAM_BUFFER_SIZE) changed = intervalRefineLast(iv(p, v));
    else changed = intervalRefineFirst(iv(p, v));
    if (changed) {
      p.cmask = (p.cmask | (1 << v)) >>> 0;
      p.cmask = (p.cmask | applyRules(p)) >>> 0;
    }
  }
  for (const k of [
    SNDRV_PCM_HW_PARAM_SAMPLE_BITS,
    SNDRV_PCM_HW_PARAM_FRAME_BITS,
    SNDRV_PCM_HW_PARAM_CHANNELS,
    SNDRV_PCM_HW_PARAM_RATE,
    SNDRV_PCM_HW_PARAM_PERIOD_SIZE,
    SNDRV_PCM_HW_PARAM_PERIOD_BYTES,
    SNDRV_PCM_HW_PARAM_PERIODS,
    SNDRV_PCM_HW_PARAM_BUFFER_SIZE,
    SNDRV_PCM_HW_PARAM_BUFFER_BYTES,
  ])
    if (!intervalSingle(iv(p, k))) throw kerr('EINVAL', `hw_params: parameter ${k} still open`);
  for (let k = 0; k < NMASKS; k++) if (!maskSingle(p.masks[k]!)) throw kerr('EINVAL', `hw_params: mask ${k} still open`);
  fixupUnreferenced(p, hw);
}

/** The configuration HW_PARAMS settled on, as the runtime keeps it (struct snd_pcm_runtime's fields). */
export interface PcmConfig {
  access: number;
  format: number;
  channels: number;
  rate: number;
  periodSize: number;
  periods: number;
  bufferSize: number;
  /** Bytes per frame. */
  frameBytes: number;
  sampleBits: number;
}

/** Reads the chosen values out of a fully chosen `p`. */
export function hwConfig(p: SndPcmHwParams): PcmConfig {
  const val = (k: number): number => intervalValue(iv(p, k));
  const frameBits = val(SNDRV_PCM_HW_PARAM_FRAME_BITS);
  return {
    access: maskMin(p.masks[SNDRV_PCM_HW_PARAM_ACCESS]!),
    format: maskMin(p.masks[SNDRV_PCM_HW_PARAM_FORMAT]!),
    channels: val(SNDRV_PCM_HW_PARAM_CHANNELS),
    rate: val(SNDRV_PCM_HW_PARAM_RATE),
    periodSize: val(SNDRV_PCM_HW_PARAM_PERIOD_SIZE),
    periods: val(SNDRV_PCM_HW_PARAM_PERIODS),
    bufferSize: val(SNDRV_PCM_HW_PARAM_BUFFER_SIZE),
    frameBytes: frameBits / 8,
    sampleBits: val(SNDRV_PCM_HW_PARAM_SAMPLE_BITS),
  };
}
