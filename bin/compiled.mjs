// Whether dist/ holds a build of the current sources: bin/unimem.mjs and
// bin/sweep-worker.mjs run it when it does, and the TypeScript sources
// through tsx otherwise (a checkout or an edit since the last build), or
// when UNIMEM_FROM_SOURCE is set (the tests set it).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The newest modification time of the files under `dir` (a plain walk: readdir's `recursive` and `parentPath` are not in every Node 20). */
function newestUnder(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) newest = Math.max(newest, newestUnder(path));
    else if (e.isFile()) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** True when `compiled` (a file URL in dist/) exists and is at least as new as every source file. */
export function compiledIsCurrent(compiled) {
  if (process.env.UNIMEM_FROM_SOURCE) return false;
  if (!existsSync(compiled)) return false;
  return statSync(compiled).mtimeMs >= Math.max(newestUnder(ROOT + 'src'), newestUnder(ROOT + 'bench'));
}
