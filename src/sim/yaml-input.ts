import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { userPath } from '../lib/index.ts';
import { InputError } from './input-error.ts';

/** A parsed YAML file that can point at any field's line and column. */
export interface YamlInput {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  data: unknown;
}

/** Parses YAML text; syntax errors become InputErrors with the parser's position. */
export function parseYaml(file: string, text: string): YamlInput {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const err = doc.errors[0];
  if (err) {
    const pos = lines.linePos(err.pos[0]);
    throw new InputError(file, pos.line, pos.col, '', err.message.split('\n')[0]!);
  }
  return { file, doc, lines, data: doc.toJS({ maxAliasCount: 100 }) };
}

/** Returns an InputError pointing at the node at `path` (or its nearest existing parent). */
export function errorAt(input: YamlInput, path: readonly (string | number)[], detail: string): InputError {
  const pos = positionOf(input, path);
  return new InputError(input.file, pos.line, pos.col, formatPath(path), detail);
}

/**
 * Where the node at `path` (or its nearest existing parent) starts, as a
 * finding's site names it: `file:line:col`, the file as the user names it.
 */
export function siteAt(input: YamlInput, path: readonly (string | number)[]): string {
  const pos = positionOf(input, path);
  return `${userPath(input.file)}:${pos.line}:${pos.col}`;
}

function positionOf(input: YamlInput, path: readonly (string | number)[]): { line: number; col: number } {
  let p = [...path];
  while (p.length > 0) {
    const node = input.doc.getIn(p, true);
    if (isNode(node) && node.range) break;
    p = p.slice(0, -1);
  }
  const node = p.length > 0 ? input.doc.getIn(p, true) : input.doc.contents;
  const offset = isNode(node) && node.range ? node.range[0] : 0;
  return input.lines.linePos(offset);
}

/** Validates parsed YAML against a zod schema; the first issue becomes an InputError. */
export function validate<S extends z.ZodType>(input: YamlInput, schema: S): z.output<S> {
  const r = schema.safeParse(input.data);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.filter((k): k is string | number => typeof k !== 'symbol');
  let detail = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys;
    throw errorAtKey(input, path, keys[0]!, `unknown field${keys.length > 1 ? 's' : ''} ${keys.map((k) => `'${k}'`).join(', ')}`);
  }
  if (issue.code === 'invalid_type' && input.doc.getIn(path, true) === undefined) detail = 'required field is missing';
  throw errorAt(input, path, detail);
}

function errorAtKey(input: YamlInput, path: (string | number)[], key: string, detail: string): InputError {
  const parent = path.length > 0 ? input.doc.getIn(path, true) : input.doc.contents;
  let offset = isNode(parent) && parent.range ? parent.range[0] : 0;
  if (parent && typeof parent === 'object' && 'items' in parent) {
    for (const item of (parent as { items: { key?: unknown }[] }).items) {
      const k = item.key;
      if (isNode(k) && (k as { value?: unknown }).value === key && k.range) offset = k.range[0];
    }
  }
  const pos = input.lines.linePos(offset);
  return new InputError(input.file, pos.line, pos.col, formatPath([...path, key]), detail);
}

/** Formats a field path the way a user reads it: devices[2].dmaMaskBits. */
export function formatPath(path: readonly (string | number)[]): string {
  let s = '';
  for (const k of path) s += typeof k === 'number' ? `[${k}]` : s ? `.${k}` : k;
  return s;
}
