import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Each compiled file's source map, parsed on first use; null when the file has none. */
const maps = new Map<string, SourceMap | null>();

/**
 * The TypeScript line a compiled line came from (`file`, 1-based line and
 * column), read from the build's source map beside the file; the place
 * unchanged when there is no map. Node could map every stack itself
 * (--enable-source-maps), but it then reads and indexes the map of every
 * module at load time, a tenth of a short run; a site is only needed when
 * something is found, so the map is read then.
 */
export function sourceLine(file: string, line: number, col: number): { file: string; line: number; col: number } {
  if (!file.endsWith('.js') && !file.endsWith('.cjs')) return { file, line, col };
  let map = maps.get(file);
  if (map === undefined) {
    const path = `${file}.map`;
    map = existsSync(path) ? new SourceMap(JSON.parse(readFileSync(path, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]) : null;
    maps.set(file, map);
  }
  const e = map?.findEntry(line - 1, col - 1);
  if (!e || !('originalSource' in e)) return { file, line, col };
  const source = e.originalSource.startsWith('file:') ? fileURLToPath(e.originalSource) : resolve(dirname(file), e.originalSource);
  return { file: source, line: e.originalLine + 1, col: e.originalColumn + 1 };
}
