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
 * keeps the stack (captured, not formatted: V8 builds the frames only when
 * the stack is read, and a site is read only for a finding).
 */

/** Frames a stack keeps for a site read at a finding: the kernel's own frames come before the hook's and the program's. */
const STACK_FRAMES = 64;

/**
 * Frames kept at each system call's entry, where the program's are the
 * first: enough for the C library's depth under a call (printf to fd_write)
 * and the program's own below it. Fewer frames cost less at every call.
 */
const ENTRY_FRAMES = 24;

/** A frame of WebAssembly code: its function's name (when the module names it) and the instruction's offset in the module. */
export interface WasmFrame {
  fn: string | null;
  offset: number;
}

/** A C module's source lines: where a finding raised now, or at a kept stack, was caused. */
export interface WasmSourceLines {
  /** The wasm frames on the stack now (in a hook: the program's, below the host's), innermost first. */
  framesNow(): WasmFrame[];
  /** The stack now, kept unformatted; the wasm frames it held when called. */
  framesHere(): () => WasmFrame[];
  /** The site of the program's innermost frame with a line of the program's own sources: `file:line:col in fn`. */
  siteOf(frames: readonly WasmFrame[]): string | undefined;
}

/**
 * Reads a captured stack as V8's structured call sites, whatever formatter
 * is installed (a test runner's prints a wasm frame as `url:1:offset`),
 * and keeps its wasm frames.
 */
function wasmFrames(read: () => unknown): WasmFrame[] {
  const saved = Error.prepareStackTrace;
  Error.prepareStackTrace = (_e, sites) => sites;
  let sites: unknown;
  try {
    sites = read();
  } finally {
    Error.prepareStackTrace = saved;
  }
  if (!Array.isArray(sites)) return [];
  return (sites as NodeJS.CallSite[]).filter((c) => c.getFileName()?.startsWith('wasm://') === true).map((c) => ({ fn: c.getFunctionName(), offset: c.getColumnNumber()! - 1 }));
}

/** Captures the stack now into `at` (its `stack` formatted on first read), `frames` deep. */
function captureStack(at: object, frames: number): void {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = frames;
  Error.captureStackTrace(at);
  Error.stackTraceLimit = limit;
}

/**
 * The source lines of a module (unimem cc's output), or undefined when it
 * carries no source map (built with -g0, or by an older unimem): then
 * findings keep the sites they have without it.
 */
export function wasmSourceLines(module: WebAssembly.Module): WasmSourceLines | undefined {
  const map = embeddedSourceMap(module);
  if (!map) return undefined;
  const position = (e: ReturnType<typeof map.findEntry>): SourcePosition | undefined =>
    // an entry of the generated offset alone marks code without a source (what binaryen's passes added)
    'originalSource' in e && typeof e.originalSource === 'string' ? { file: e.originalSource, line: e.originalLine + 1, col: e.originalColumn + 1 } : undefined;
  const find = (offset: number): SourcePosition | undefined => {
    const here = position(map.findEntry(0, offset));
    if (here) return here;
    // a hook's call has no source of its own: the load or store it instruments is the next instruction, after the call's 1-byte opcode and 1-5 byte index
    for (let next = offset + 2; next <= offset + 6; next++) {
      const e = map.findEntry(0, next);
      if ('generatedColumn' in e && e.generatedColumn === next) return position(e);
    }
    return undefined;
  };
  const shim = join(packageRoot(), 'c') + sep;
  const sites = new Map<number, { site: string; ours: boolean } | null>();
  const exists = new Map<string, boolean>();
  const siteAt = (f: WasmFrame): { site: string; ours: boolean } | undefined => {
    let at = sites.get(f.offset);
    if (at !== undefined) return at ?? undefined;
    const p = find(f.offset);
    // the C library's sources (relative: built elsewhere) and unimem's shim are no line of the program
    if (!p || !isAbsolute(p.file) || p.file.startsWith(shim)) at = null;
    else {
      let ours = exists.get(p.file);
      if (ours === undefined) exists.set(p.file, (ours = existsSync(p.file)));
      at = { site: `${userPath(p.file)}:${p.line}${p.col > 0 ? `:${p.col}` : ''}${f.fn ? ` in ${f.fn}` : ''}`, ours };
    }
    sites.set(f.offset, at);
    return at ?? undefined;
  };
  return {
    framesNow() {
      const at: { stack?: unknown } = {};
      captureStack(at, STACK_FRAMES);
      return wasmFrames(() => at.stack);
    },
    framesHere() {
      const at: { stack?: unknown } = {};
      captureStack(at, ENTRY_FRAMES);
      let frames: WasmFrame[] | undefined;
      return () => (frames ??= wasmFrames(() => at.stack));
    },
    siteOf(frames) {
      // the innermost frame in a source that is there to read, else the innermost with a line
      let first: string | undefined;
      for (const f of frames) {
        const at = siteAt(f);
        if (!at) continue;
        if (at.ours) return at.site;
        first ??= at.site;
      }
      return first;
    },
  };
}
