import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * The folder of unimem's own package.json, found by walking up from this
 * file: the same answer whether the code runs from its TypeScript sources
 * (src/lib/) or compiled (dist/src/lib/), so files shipped beside the code
 * (examples/, package.json) are found from either.
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return (root = dir);
    if (dirname(dir) === dir) throw new Error(`unimem: no package.json above ${fileURLToPath(import.meta.url)}`);
  }
}
