import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { packageRoot } from '../../lib/index.ts';

let cached: string | undefined;

/**
 * The version a sweep's rows are keyed by: the package's version and a hash
 * of the simulator's sources (`0.1.0+3f2a9c1e`). Rows made by other code
 * are other rows, even between two releases, so a re-run never keeps a
 * result the code in hand would not give; two machines with the same
 * sources agree, so shards merge.
 */
export function resultVersion(packageVersion: string): string {
  if (cached === undefined) {
    // the package's src/, found from the package root: this module may run from src/ or from a chunk of the dist/ bundle
    const src = join(packageRoot(), 'src');
    const h = createHash('sha256');
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile() && /\.(ts|mjs|js|json)$/.test(e.name)) h.update(relative(src, p)).update('\0').update(readFileSync(p)).update('\0');
      }
    };
    walk(src);
    cached = h.digest('hex').slice(0, 8);
  }
  return `${packageVersion}+${cached}`;
}
