import { isScalar, parseDocument } from 'yaml';
import type { z } from 'zod';
import { InputError } from '../input-error.ts';
import { formatPath } from '../yaml-input.ts';

/** Which file a `--set` path edits. */
export type SetTarget = 'scenario' | 'platform';

/** One leaf to write: a concrete path into the file's data (array entries by index) and its value. */
export interface Edit {
  path: (string | number)[];
  value: unknown;
}

type Schema = z.ZodType;

/** The zod definition behind a schema (zod 4 keeps it on `_zod.def`), for walking a schema by path. */
interface Def {
  type: string;
  innerType?: Schema;
  in?: Schema;
  shape?: Record<string, Schema>;
  element?: Schema;
  options?: Schema[];
  valueType?: Schema;
}

function defOf(s: Schema): Def {
  return (s as unknown as { _zod: { def: Def } })._zod.def;
}

/** The schema under wrappers that do not change what a path may name (optional, default, a transform's input). */
function unwrap(s: Schema): Schema {
  for (;;) {
    const d = defOf(s);
    if (d.innerType && ['optional', 'default', 'prefault', 'nullable', 'nonoptional', 'readonly', 'catch'].includes(d.type)) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else return s;
  }
}

/** The fields an object schema allows, or null when the schema is not an object. */
export function fieldsOf(s: Schema): string[] | null {
  const d = defOf(unwrap(s));
  return d.type === 'object' && d.shape ? Object.keys(d.shape) : null;
}

/** Splits `cma.areas.display.size` or `devices[2].dmaMaskBits` into its segments. */
export function splitPath(path: string): string[] {
  const segs: string[] = [];
  for (const part of path.split('.')) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) throw new InputError('--set', 0, 0, path, `'${part}' is not a field name or name[index]`);
    if (m[1]) segs.push(m[1]);
    for (const ix of m[2]!.matchAll(/\[(\d+)\]/g)) segs.push(ix[1]!);
    if (!m[1] && !m[2]) throw new InputError('--set', 0, 0, path, 'an empty field name in the path');
  }
  return segs;
}

/** A resolved path: the concrete path into the data and the schema of what it names. */
export interface Resolved {
  path: (string | number)[];
  schema: Schema;
}

/**
 * Resolves a user's path against a file's schema and its data: object
 * fields by name (any field the schema allows, present or not), list
 * entries by index or by their `name` (`cma.areas.display`). An InputError
 * naming the path and the valid keys around it when a segment names
 * nothing.
 */
export function resolvePath(schema: Schema, data: unknown, segs: readonly string[], user: string, what: string): Resolved {
  let s = schema;
  let node: unknown = data;
  const out: (string | number)[] = [];
  const fail = (detail: string) => new InputError('--set', 0, 0, user, detail);
  for (const seg of segs) {
    const here = out.length > 0 ? `${what} ${formatPath(out)}` : `the ${what}`;
    let d = defOf(unwrap(s));
    if (d.type === 'union' && d.options) {
      // A list entry of a tagged kind (a device): the variant its data names, else the first with the field.
      const objs = d.options.filter((o) => fieldsOf(o) !== null);
      const kind = isRecord(node) ? node.kind : undefined;
      const pick = objs.find((o) => literalOf(defOf(unwrap(o)).shape?.kind) === kind) ?? objs.find((o) => fieldsOf(o)!.includes(seg)) ?? objs[0];
      if (pick) d = defOf(unwrap(pick));
    }
    if (d.type === 'object' && d.shape) {
      const field = d.shape[seg];
      if (!field) throw fail(`${here} has no field '${seg}' (its fields: ${Object.keys(d.shape).join(', ')})`);
      s = field;
      node = isRecord(node) ? node[seg] : undefined;
      out.push(seg);
    } else if (d.type === 'array' && d.element) {
      const list = Array.isArray(node) ? node : [];
      const names = list.map((x: unknown) => (isRecord(x) && typeof x.name === 'string' ? x.name : undefined));
      let i = /^\d+$/.test(seg) ? Number(seg) : names.indexOf(seg);
      if (/^\d+$/.test(seg) && i >= list.length) i = -1;
      if (i < 0) {
        const have = names.filter((n) => n !== undefined);
        const entries = list.length === 0 ? 'it has no entries' : `its entries: ${have.length > 0 ? have.join(', ') : `[0]..[${list.length - 1}]`}`;
        throw fail(`${here} has no entry ${/^\d+$/.test(seg) ? `[${seg}]` : `named '${seg}'`} (${entries})`);
      }
      s = d.element;
      node = list[i];
      out.push(i);
    } else if (d.type === 'record' && d.valueType) {
      s = d.valueType;
      node = isRecord(node) ? node[seg] : undefined;
      out.push(seg);
    } else {
      throw fail(`${here} is a single value; it has no field '${seg}'`);
    }
  }
  return { path: out, schema: s };
}

function literalOf(s: Schema | undefined): unknown {
  if (!s) return undefined;
  const d = defOf(unwrap(s)) as Def & { values?: unknown[] };
  return d.type === 'literal' ? d.values?.[0] : undefined;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * The leaves a value writes at a resolved path. A `WxH` or `WxH:FOURCC`
 * value on a frame format (an object with width and height) sets those
 * fields; anything else is written as it is, and the schema judges it.
 */
export function editsFor(r: Resolved, value: unknown): Edit[] {
  const fields = fieldsOf(r.schema);
  if (fields?.includes('width') && fields.includes('height') && typeof value === 'string') {
    const m = /^(\d+)x(\d+)(?::(\w{4}))?$/.exec(value);
    if (m) {
      const edits: Edit[] = [
        { path: [...r.path, 'width'], value: Number(m[1]) },
        { path: [...r.path, 'height'], value: Number(m[2]) },
      ];
      if (m[3] && fields.includes('fourcc')) edits.push({ path: [...r.path, 'fourcc'], value: m[3] });
      return edits;
    }
  }
  return [{ path: r.path, value }];
}

/**
 * Writes edits into YAML text. A field that is in the file is rewritten in
 * place, so every other line and column stays where it was (findings and
 * errors still point at the user's file); a field that is not gets added
 * and the document re-printed.
 */
export function applyEdits(text: string, edits: readonly Edit[]): string {
  if (edits.length === 0) return text;
  const doc = parseDocument(text);
  const inPlace: { from: number; to: number; src: string }[] = [];
  const added: Edit[] = [];
  for (const e of edits) {
    const node = doc.getIn(e.path, true);
    if (isScalar(node) && node.range) inPlace.push({ from: node.range[0], to: node.range[1], src: scalarSource(e.value) });
    else added.push(e);
  }
  inPlace.sort((a, b) => b.from - a.from);
  let out = text;
  for (const r of inPlace) out = out.slice(0, r.from) + r.src + out.slice(r.to);
  if (added.length === 0) return out;
  const redo = parseDocument(out);
  for (const e of added) redo.setIn(e.path, e.value);
  return String(redo);
}

/** A value as YAML source: numbers and booleans as they are, strings plain when YAML reads them back as the same string. */
function scalarSource(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') {
    const plain = /^[A-Za-z0-9_][A-Za-z0-9_./+-]*$/.test(v);
    return plain && parseDocument(v).toJS() === v ? v : JSON.stringify(v);
  }
  return JSON.stringify(v);
}
