import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { isNode, LineCounter, parseDocument, visit, type Document } from 'yaml';
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

/** Largest platform or scenario file read: real ones are a few KiB, and the parser holds every node in memory. */
export const MAX_INPUT_BYTES = 1024 * 1024;

/** Aliases a file may expand to (each alias counts the nodes it copies): a few are handy, a bomb of nested ones is refused. */
export const MAX_ALIAS_COUNT = 100;

/**
 * Reads a platform or scenario file as text: only a regular file (a
 * directory, a device such as /dev/zero or a FIFO is refused before any
 * read, so nothing can block or run forever) of at most MAX_INPUT_BYTES.
 * Every refusal is an InputError naming the file.
 */
export function readInputFile(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw new InputError(file, 0, 0, '', `cannot open: ${fsReason(e)}`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new InputError(file, 0, 0, '', 'is a directory (EISDIR), not a file');
    if (!st.isFile()) throw new InputError(file, 0, 0, '', 'is not a regular file (a device, FIFO or socket)');
    if (st.size > MAX_INPUT_BYTES) throw new InputError(file, 0, 0, '', `is ${st.size} bytes; an input file may have at most ${MAX_INPUT_BYTES} (1 MiB)`);
    const buf = Buffer.alloc(st.size);
    let n = 0;
    while (n < st.size) {
      const got = readSync(fd, buf, n, st.size - n, n);
      if (got === 0) break;
      n += got;
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** A Node fs error as one line: "no such file or directory (ENOENT)". */
function fsReason(e: unknown): string {
  if (e instanceof Error && 'code' in e && typeof e.code === 'string') {
    const m = /^\w+: (.*?),/.exec(e.message);
    return `${m ? m[1] : e.message} (${e.code})`;
  }
  throw e;
}

/** Parses YAML text; syntax and alias errors become InputErrors with the parser's position. */
export function parseYaml(file: string, text: string): YamlInput {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const err = doc.errors[0];
  if (err) {
    const pos = lines.linePos(err.pos[0]);
    throw new InputError(file, pos.line, pos.col, '', err.message.split('\n')[0]!);
  }
  const firstAlias = checkAliases(file, doc, lines);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    if (!(e instanceof ReferenceError) || firstAlias === undefined) throw e;
    const pos = lines.linePos(firstAlias);
    throw new InputError(file, pos.line, pos.col, '', `aliases expand to too many nodes (more than ${MAX_ALIAS_COUNT} per alias: an alias bomb?); write the values out`);
  }
  return { file, doc, lines, data };
}

/**
 * Refuses an alias whose anchor is not set before it (toJS would throw a
 * bare ReferenceError) at the alias; returns the offset of the first alias,
 * where a bomb of aliases that expand too far is reported.
 */
function checkAliases(file: string, doc: Document.Parsed, lines: LineCounter): number | undefined {
  let first: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      const offset = node.range?.[0] ?? 0;
      if (!node.resolve(doc)) {
        const pos = lines.linePos(offset);
        throw new InputError(file, pos.line, pos.col, '', `alias *${node.source} has no anchor &${node.source} before it`);
      }
      first ??= offset;
    },
  });
  return first;
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
  // A file is checked once: zod's fast path (a function it generates per object shape, compiled at first use)
  // costs more to build than it saves; measured 8 to 11 ms of a short run's start.
  const r = schema.safeParse(input.data, { jitless: true });
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
