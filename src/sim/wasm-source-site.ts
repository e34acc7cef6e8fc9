import { existsSync } from 'node:fs';
import { isAbsolute, join, sep } from 'node:path';
import { packageRoot, userPath } from '../lib/index.ts';
import type { SourcePosition } from './wasm-debug-line.ts';
import { embeddedSourceMap } from './wasm-source-map.ts';

/*
 * The C source line a finding names when a C program caused it. V8 names
 * each WebAssembly frame of a JavaScript stack by its function and its
 * byte offset in the module (`at main (wasm://wasm/…:wasm-function[12]:0x1a2b)`);
 * the module's source map (unimem cc's builds carry one, c-build.ts)
 * turns the offset into file:line:col. A
 * load or store hook raises its findings with the program's frames on the
 * stack; a system call runs after asyncify unwound them, so its entry
 * keeps the stack (captured, not formatted: V8 formats it only when read).
 */

/** Frames a stack keeps for a site: the hooks' and the kernel's own frames come first. */
const STACK_FRAMES = 64;

/** A C module's source lines: where a finding raised now, or at a kept stack, was caused. */
export interface WasmSourceLines {
  /** The stack now, formatted (in a hook: the program's frames below the host's). */
  stackNow(): string;
  /** The stack now, kept unformatted until its `stack` is read. */
  stackHere(): { stack?: string };
  /** The site of the program's innermost frame with a line of the program's own sources: `file:line:col in fn`. */
  siteOf(stack: string | undefined): string | undefined;
}

/** Frames of a formatted stack that are wasm code: the function's name when it has one, the module offset. */
const WASM_FRAME = /^\s*at (?:(\S+) \()?wasm:\/\/wasm\/[^:]*:wasm-function\[(\d+)\]:0x([0-9a-f]+)\)?$/;

/**
 * The source lines of a module (unimem cc's output), or undefined when it
 * carries no source map (built with -g0, or by an older unimem): then
 * findings keep the sites they have without it.
 */
export function wasmSourceLines(module: WebAssembly.Module): WasmSourceLines | undefined {
  const map = embeddedSourceMap(module);
  if (!map) return undefined;
  const find = (offset: number): SourcePosition | undefined => {
    const e = map.findEntry(0, offset);
    // an entry of the generated offset alone marks code without a source (asyncify's own)
    return 'originalSource' in e && typeof e.originalSource === 'string' ? { file: e.originalSource, line: e.originalLine + 1, col: e.originalColumn + 1 } : undefined;
  };
  const shim = join(packageRoot(), 'c') + sep;
  const sites = new Map<string, string | null>();
  const exists = new Map<string, boolean>();
  const siteAt = (fn: string | undefined, offset: number): { site: string; ours: boolean } | undefined => {
    const p = find(offset);
    // the C library's sources (relative: built elsewhere) and unimem's shim are no line of the program
    if (!p || !isAbsolute(p.file) || p.file.startsWith(shim)) return undefined;
    let ours = exists.get(p.file);
    if (ours === undefined) exists.set(p.file, (ours = existsSync(p.file)));
    return { site: `${userPath(p.file)}:${p.line}${p.col > 0 ? `:${p.col}` : ''}${fn ? ` in ${fn}` : ''}`, ours };
  };
  return {
    stackNow() {
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = STACK_FRAMES;
      const s = new Error().stack ?? '';
      Error.stackTraceLimit = limit;
      return s;
    },
    stackHere() {
      const at: { stack?: string } = {};
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = STACK_FRAMES;
      Error.captureStackTrace(at);
      Error.stackTraceLimit = limit;
      return at;
    },
    siteOf(stack) {
      if (!stack) return undefined;
      let found = sites.get(stack);
      if (found !== undefined) return found ?? undefined;
      // the innermost frame in a source that is there to read, else the innermost with a line
      let first: string | undefined;
      found = null;
      for (const line of stack.split('\n')) {
        const m = WASM_FRAME.exec(line);
        if (!m) continue;
        const at = siteAt(m[1], parseInt(m[3]!, 16));
        if (!at) continue;
        first ??= at.site;
        if (at.ours) {
          found = at.site;
          break;
        }
      }
      found ??= first ?? null;
      sites.set(stack, found);
      return found ?? undefined;
    },
  };
}
