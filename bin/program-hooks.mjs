// Module hooks that let `unimem exec` load a userspace program from any
// folder (registered by bin/unimem.mjs, after tsx, so they run before it).
//
// - `unimem` and `unimem/<subpath>` resolve to this package, whatever folder
//   the program is in and whether or not it has a node_modules: the program
//   is handed the `sys` of this copy, so its constants, types and error
//   classes must come from the same copy.
//   When the command runs compiled (dist/), so do they: the package's
//   "exports" name the TypeScript sources, and each is swapped for its
//   compiled file.
// - A .ts/.tsx/.js/.jsx file with no package.json "type" above it is an ES
//   module. A program is one by contract (its default export is `main`);
//   left to the defaults, a .ts file in such a folder is taken for CommonJS
//   and its import of itself through tsx fails with "Cannot require() ES
//   Module … in a cycle".
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, URL } from 'node:url';

const PACKAGE_JSON = new URL('../package.json', import.meta.url).href;
const SOURCES = new URL('../src/', import.meta.url).href;
const COMPILED = new URL('../dist/src/', import.meta.url).href;
let compiled = false;

/** Takes what bin/unimem.mjs passes: whether the command runs from dist/. */
export function initialize(data) {
  compiled = data?.compiled === true;
}
const MODULE_BY_CONTRACT = /\.(?:ts|tsx|js|jsx)$/;

/** The "type" of the nearest package.json above a file, or undefined when there is none or it says nothing. */
function packageType(file) {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    try {
      return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).type;
    } catch (e) {
      if (e?.code !== 'ENOENT' && e?.code !== 'ENOTDIR') return undefined;
    }
    if (dirname(dir) === dir) return undefined;
  }
}

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'unimem' || specifier.startsWith('unimem/')) {
    // Node's self-reference: the package's own "exports" map, seen from inside it.
    const r = await nextResolve(specifier, { ...context, parentURL: PACKAGE_JSON });
    if (!compiled || !r.url.startsWith(SOURCES) || !r.url.endsWith('.ts')) return r;
    return { ...r, url: COMPILED + r.url.slice(SOURCES.length, -'.ts'.length) + '.js', format: 'module' };
  }
  const r = await nextResolve(specifier, context);
  if (!r.url.startsWith('file:')) return r;
  const file = fileURLToPath(r.url);
  if (!MODULE_BY_CONTRACT.test(file) || file.includes('/node_modules/')) return r;
  if (packageType(file) !== undefined) return r;
  return { ...r, format: 'module' };
}
