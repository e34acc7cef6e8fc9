import { kerr } from './errors.ts';

/**
 * The knobs of one fault point, as its debugfs directory shows them
 * (Documentation/fault-injection/fault-injection.rst). `probability` is a
 * percentage; `interval` fails at most every interval-th eligible call;
 * `times` is how many failures are left (-1: no limit); `space` is a
 * budget of bytes that must be consumed before anything fails; `verbose`
 * 0 is silent, 1 or more reports each failure as a finding. `extra` holds
 * a point's own knobs (fail_page_alloc's `min-order`).
 */
export interface FaultAttrKnobs {
  probability: number;
  interval: number;
  times: number;
  space: number;
  verbose: number;
}

/** The knob names every fault point has, in the order debugfs lists them. */
export const FAULT_ATTR_KNOBS: readonly (keyof FaultAttrKnobs)[] = ['probability', 'interval', 'times', 'space', 'verbose'];

/**
 * The fault points unimem has, each at an allocation site; `failslab` and
 * `fail_page_alloc` are Linux's, the others are named the same way after
 * the allocator they fail.
 */
export const FAULT_POINTS = ['fail_page_alloc', 'fail_cma_alloc', 'fail_iova_alloc', 'fail_gen_pool_alloc', 'fail_dma_map', 'failslab'] as const;

/** Name of a fault point. */
export type FaultPointName = (typeof FAULT_POINTS)[number];

/** The per-point knobs beyond the common five, with Linux's defaults. */
const EXTRA_KNOBS: Partial<Record<FaultPointName, Record<string, number>>> = {
  // order-0 requests are not failed unless asked: Linux's default min-order is 1
  fail_page_alloc: { 'min-order': 1 },
};

/**
 * One fault point (struct fault_attr): its knobs and the counters
 * should_fail keeps. Disabled (probability 0) until configured, so a run
 * without injection draws no random numbers and stays byte-identical.
 */
export class FaultAttr implements FaultAttrKnobs {
  readonly name: FaultPointName;
  probability = 0;
  interval = 1;
  times = 1;
  space = 0;
  verbose = 2;
  readonly extra: Map<string, number>;
  /** Eligible calls seen while enabled (attr->count, which interval divides). */
  count = 0;
  /** Failures injected so far. */
  injected = 0;
  private readonly owner: FaultInjection;

  constructor(owner: FaultInjection, name: FaultPointName) {
    this.owner = owner;
    this.name = name;
    this.extra = new Map(Object.entries(EXTRA_KNOBS[name] ?? {}));
  }

  /** @internal a uniform draw in [0, 1) from the run's fault PRNG. */
  random(): number {
    return this.owner.random();
  }

  /** @internal reports an injected failure when verbose (fail_dump). */
  dump(call: string, size: number): void {
    if (this.verbose > 0) this.owner.report?.(this, call, `${this.name}: injected failure of ${call} (size ${size})`);
  }
}

/** What sets a fault point's knobs: `{name, knobs}` as `--fail name:k=v,...` gives it. */
export interface FaultSetting {
  name: FaultPointName;
  knobs: Record<string, number>;
}

/**
 * The fault points of one simulated system. Randomness comes from the
 * function given (the run's seeded PRNG), never Math.random; `report`
 * receives each injected failure of a verbose point.
 */
export class FaultInjection {
  readonly attrs: ReadonlyMap<FaultPointName, FaultAttr>;
  readonly random: () => number;
  report: ((attr: FaultAttr, call: string, message: string) => void) | null = null;

  constructor(random: () => number) {
    this.random = random;
    this.attrs = new Map(FAULT_POINTS.map((n) => [n, new FaultAttr(this, n)]));
  }

  /** The fault point `name`. */
  attr(name: FaultPointName): FaultAttr {
    return this.attrs.get(name)!;
  }

  /** Total failures injected over every point. */
  get injected(): number {
    let n = 0;
    for (const a of this.attrs.values()) n += a.injected;
    return n;
  }
}

/** True when `name` is a fault point unimem has. */
export function isFaultPointName(name: string): name is FaultPointName {
  return (FAULT_POINTS as readonly string[]).includes(name);
}

/**
 * Sets one knob of a fault point, as writing its debugfs file does
 * (debugfs_create_ulong / _atomic_t). EINVAL for an unknown knob or a value
 * out of range: probability 0..100, interval >= 1, times >= -1, space >= 0,
 * verbose 0..2, min-order 0..10.
 */
export function setFaultKnob(attr: FaultAttr, knob: string, value: number): void {
  if (!Number.isSafeInteger(value)) throw kerr('EINVAL', `${attr.name}/${knob}: ${value} is not an integer`);
  const bad = (range: string) => kerr('EINVAL', `${attr.name}/${knob}: ${value} is not ${range}`);
  switch (knob) {
    case 'probability':
      if (value < 0 || value > 100) throw bad('0..100');
      attr.probability = value;
      return;
    case 'interval':
      if (value < 1) throw bad('>= 1');
      attr.interval = value;
      return;
    case 'times':
      if (value < -1) throw bad('>= -1');
      attr.times = value;
      return;
    case 'space':
      if (value < 0) throw bad('>= 0');
      attr.space = value;
      return;
    case 'verbose':
      if (value < 0 || value > 2) throw bad('0..2');
      attr.verbose = value;
      return;
  }
  if (!attr.extra.has(knob)) throw kerr('EINVAL', `${attr.name} has no knob ${knob} (it has ${[...FAULT_ATTR_KNOBS, ...attr.extra.keys()].join(', ')})`);
  if (knob === 'min-order' && (value < 0 || value > 10)) throw bad('0..10');
  attr.extra.set(knob, value);
}

/** Reads one knob of a fault point, as reading its debugfs file does; EINVAL for an unknown knob. */
export function getFaultKnob(attr: FaultAttr, knob: string): number {
  if ((FAULT_ATTR_KNOBS as readonly string[]).includes(knob)) return attr[knob as keyof FaultAttrKnobs];
  const v = attr.extra.get(knob);
  if (v === undefined) throw kerr('EINVAL', `${attr.name} has no knob ${knob}`);
  return v;
}

/**
 * Parses one `--fail` value, `name:knob=value,knob=value` (the name with or
 * without its `fail_` prefix: `page_alloc`, `fail_page_alloc`, `slab`,
 * `failslab`). Throws KernelError EINVAL naming what is wrong.
 */
export function parseFaultSetting(text: string): FaultSetting {
  const colon = text.indexOf(':');
  const rawName = (colon < 0 ? text : text.slice(0, colon)).trim();
  const name = [rawName, `fail_${rawName}`, `fail${rawName}`].find(isFaultPointName);
  if (!name) throw kerr('EINVAL', `no fault point ${JSON.stringify(rawName)} (there are ${FAULT_POINTS.join(', ')})`);
  const knobs: Record<string, number> = {};
  const body = colon < 0 ? '' : text.slice(colon + 1).trim();
  for (const part of body === '' ? [] : body.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) throw kerr('EINVAL', `${name}: ${JSON.stringify(part)} is not knob=value`);
    const knob = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    if (!/^-?\d+$/.test(raw)) throw kerr('EINVAL', `${name}/${knob}: ${JSON.stringify(raw)} is not an integer`);
    knobs[knob] = Number(raw);
  }
  return { name, knobs };
}

/** Applies settings to a system's fault points (what boot does with `--fail`); EINVAL as setFaultKnob. */
export function applyFaultSettings(faults: FaultInjection, settings: readonly FaultSetting[]): void {
  for (const s of settings) {
    const attr = faults.attr(s.name);
    for (const [k, v] of Object.entries(s.knobs)) setFaultKnob(attr, k, v);
  }
}

/**
 * Decides whether the call at a fault point fails (should_fail). A null
 * point never fails. In Linux's order: nothing when the probability is 0
 * or no failures are left (`times`); a request of `size` bytes first
 * consumes the `space` budget; then only every `interval`-th call is
 * eligible, and it fails with `probability` percent. A failure counts
 * down `times` (unless -1) and is reported when verbose. The caller then
 * fails as the real allocator would (ENOMEM, DMA_MAPPING_ERROR, NULL).
 */
export function shouldFail(attr: FaultAttr | null | undefined, size: number, call: string): boolean {
  if (!attr || attr.probability === 0 || attr.times === 0) return false;
  if (attr.space > size) {
    attr.space -= size;
    return false;
  }
  if (attr.interval > 1) {
    attr.count++;
    if (attr.count % attr.interval !== 0) return false;
  }
  if (attr.probability <= Math.floor(attr.random() * 100)) return false;
  if (attr.times !== -1) attr.times--;
  attr.injected++;
  attr.dump(call, size);
  return true;
}
