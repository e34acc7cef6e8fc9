import { parse as parseYamlScalar } from 'yaml';
import { InputError } from '../input-error.ts';
import { parseSize } from '../units-schema.ts';

/**
 * One value a parameter takes: `text` as the user reads it (table, database,
 * boundary text) and `value` as it is written into the file. `sortKey` orders
 * the values of an axis and is what the database stores when it is a number
 * (bytes for a size, so that SQL can compare sizes).
 */
export interface AxisValue {
  text: string;
  value: unknown;
  sortKey: number | string;
}

/** A parameter of a sweep: its path in the scenario or platform file and the values it takes. */
export interface SetArg {
  path: string;
  values: AxisValue[];
}

/** More points than this in one axis is a typo in a range's step, not a sweep. */
export const MAX_AXIS_VALUES = 10_000;

/**
 * Parses one `--set path=values`: a comma-separated list whose items are
 * scalars (`1920x1080`, `0.95`, `64MiB`, `true`) or inclusive ranges
 * `from..to:step` of numbers or byte sizes (`32MiB..160MiB:16MiB`,
 * `0.5..0.95:0.15`). An InputError naming `flag` on anything else.
 */
export function parseSetArg(arg: string, flag = '--set'): SetArg {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new InputError(flag, 0, 0, '', `'${arg}' is not path=value (e.g. cma.default=64MiB, memoryPressure=0.5,0.9)`);
  const path = arg.slice(0, eq).trim();
  const rhs = arg.slice(eq + 1);
  if (rhs.trim() === '') throw new InputError(flag, 0, 0, path, 'no value after =');
  const values: AxisValue[] = [];
  for (const item of rhs.split(',')) values.push(...parseItem(item.trim(), flag, path));
  return { path, values: dedupe(values) };
}

/** The values of a sweep file's `set:` entry: a string in --set syntax, one scalar, or a list of scalars. */
export function valuesOf(v: unknown, flag: string, path: string): AxisValue[] {
  if (Array.isArray(v)) return dedupe(v.flatMap((x) => (typeof x === 'string' ? parseItem(x.trim(), flag, path) : [scalar(x)])));
  if (typeof v === 'string') return parseSetArg(`${path}=${v}`, flag).values;
  return [scalar(v)];
}

function parseItem(item: string, flag: string, path: string): AxisValue[] {
  if (item === '') throw new InputError(flag, 0, 0, path, 'an empty value in the list');
  const range = /^(.+?)\.\.(.+?)(?::(.+))?$/.exec(item);
  if (range) return expandRange(range[1]!.trim(), range[2]!.trim(), range[3]?.trim(), flag, path);
  return [scalar(parseYamlScalar(item) as unknown, item)];
}

function scalar(v: unknown, text = typeof v === 'string' ? v : JSON.stringify(v)): AxisValue {
  const size = typeof v === 'string' ? parseSize(v) : undefined;
  const sortKey = typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : size ?? text;
  return { text, value: v, sortKey };
}

/** An inclusive range; sizes keep a binary unit, numbers keep the step's decimals (no 0.30000000000000004). */
function expandRange(from: string, to: string, step: string | undefined, flag: string, path: string): AxisValue[] {
  const bad = (why: string) => new InputError(flag, 0, 0, path, `range ${from}..${to}${step ? `:${step}` : ''}: ${why}`);
  const isNum = (s: string) => /^-?\d+(\.\d+)?$/.test(s);
  const sized = !isNum(from) || !isNum(to) || (step !== undefined && !isNum(step));
  const num = (s: string) => (sized ? parseSize(s) : Number(s));
  const a = num(from);
  const b = num(to);
  const d = step === undefined ? 1 : num(step);
  if (a === undefined || b === undefined || d === undefined) throw bad('its ends and step must be numbers or byte sizes (64MiB)');
  if (!(d > 0)) throw bad('the step must be positive');
  if (b < a) throw bad('the end is below the start');
  const n = Math.floor((b - a) / d + 1e-9) + 1;
  if (n > MAX_AXIS_VALUES) throw bad(`${n} values; at most ${MAX_AXIS_VALUES}`);
  const decimals = Math.max(...[from, to, step ?? '1'].map((s) => (sized ? 0 : (s.split('.')[1] ?? '').length)));
  const out: AxisValue[] = [];
  for (let i = 0; i < n; i++) {
    const x = Number((a + i * d).toFixed(decimals));
    out.push(sized ? { text: sizeText(x), value: sizeText(x), sortKey: x } : { text: String(x), value: x, sortKey: x });
  }
  return out;
}

/** A byte count in the largest binary unit it is a whole multiple of: 48MiB, 1536KiB, 100. */
export function sizeText(n: number): string {
  for (const [unit, k] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) if (n >= k && n % k === 0) return `${n / k}${unit}`;
  return String(n);
}

function dedupe(values: AxisValue[]): AxisValue[] {
  const seen = new Set<string>();
  return values.filter((v) => !seen.has(v.text) && (seen.add(v.text), true));
}
