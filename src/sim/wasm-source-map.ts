import { SourceMap } from 'node:module';
import { lineRows } from './wasm-debug-line.ts';

/*
 * A module's line table as a source map (version 3, one generated line
 * whose columns are byte offsets in the module, as binaryen reads and
 * writes them). wasm-opt keeps a source map's position on each
 * instruction through its passes, where the DWARF line table it updates
 * loses the line of a call that asyncify wraps (the call then names the
 * statement before it); c-build.ts converts the linker's DWARF to this
 * before wasm-opt runs and keeps wasm-opt's map in the module.
 */

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** A source map's base-64 VLQ of a signed number. */
function vlq(n: number): string {
  let v = n < 0 ? (-n << 1) | 1 : n << 1;
  let s = '';
  do {
    let digit = v & 31;
    v >>>= 5;
    if (v > 0) digit |= 32;
    s += B64[digit];
  } while (v > 0);
  return s;
}

/** The source map of a module's DWARF line table, or undefined when it has none. */
export function dwarfToSourceMap(bytes: Uint8Array): string | undefined {
  const rows = lineRows(bytes);
  if (!rows) return undefined;
  const sources: string[] = [];
  const index = new Map<string, number>();
  const segs: string[] = [];
  let prev = [0, 0, 0, 0];
  for (const { offset, pos } of rows) {
    let src = index.get(pos.file);
    if (src === undefined) {
      index.set(pos.file, (src = sources.length));
      sources.push(pos.file);
    }
    const cur = [offset, src, pos.line - 1, Math.max(0, pos.col - 1)];
    segs.push(cur.map((v, i) => vlq(v - prev[i]!)).join(''));
    prev = cur;
  }
  return JSON.stringify({ version: 3, sources, names: [], mappings: segs.join(',') });
}

/** The custom section a module keeps its source map in (unimem's own name: the standard sourceMappingURL section only points at a file). */
export const SOURCE_MAP_SECTION = 'unimem.source_map';

/** An unsigned LEB128. */
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** A module's bytes with `map` appended in its source-map section (custom sections may come last). */
export function withSourceMap(module: Uint8Array, map: string): Uint8Array {
  const name = new TextEncoder().encode(SOURCE_MAP_SECTION);
  const payload = new TextEncoder().encode(map);
  const body = [...leb(name.length), ...name];
  const size = body.length + payload.length;
  const head = [0, ...leb(size), ...body];
  const out = new Uint8Array(module.length + head.length + payload.length);
  out.set(module, 0);
  out.set(head, module.length);
  out.set(payload, module.length + head.length);
  return out;
}

/** A module's embedded source map, parsed, or undefined when it has none. */
export function embeddedSourceMap(module: WebAssembly.Module): SourceMap | undefined {
  const [sec] = WebAssembly.Module.customSections(module, SOURCE_MAP_SECTION);
  if (!sec) return undefined;
  return new SourceMap(JSON.parse(new TextDecoder().decode(sec)) as ConstructorParameters<typeof SourceMap>[0]);
}
