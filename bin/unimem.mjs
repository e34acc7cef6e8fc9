#!/usr/bin/env node
// The unimem command. Runs the compiled JavaScript in dist/ (built by
// `npm install`'s prepare step, `npm run build`), so that a start costs no
// TypeScript compile. The TypeScript sources run instead, through tsx, when
// dist/ is missing or older than a source file (a checkout or an edit since
// the last build), or when UNIMEM_FROM_SOURCE is set (the tests set it).
// tsx is loaded as well for `unimem exec`, whose programs may be TypeScript.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { register as registerHooks } from 'node:module';
import { fileURLToPath, URL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const COMPILED_MAIN = new URL('../dist/src/cli/main.js', import.meta.url);
const SOURCE_MAIN = new URL('../src/cli/main.ts', import.meta.url);

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

/** True when dist/ holds a build at least as new as every source file. */
function compiledIsCurrent() {
  if (process.env.UNIMEM_FROM_SOURCE) return false;
  if (!existsSync(COMPILED_MAIN)) return false;
  return statSync(COMPILED_MAIN).mtimeMs >= Math.max(newestUnder(ROOT + 'src'), newestUnder(ROOT + 'bench'));
}

const args = process.argv.slice(2);
const compiled = compiledIsCurrent();
const exec = args[0] === 'exec';
if (!compiled || exec) {
  const { register } = await import('tsx/esm/api');
  register();
}
if (exec) {
  // After tsx, so that they run first: `unimem` resolves for a program in any
  // folder, to the same copy (compiled or not) that runs the program.
  registerHooks('./program-hooks.mjs', { parentURL: import.meta.url, data: { compiled } });
}
// A reader that stops early (`| head`) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
const { main } = await import(compiled ? COMPILED_MAIN.href : SOURCE_MAIN.href);
process.exitCode = await main(args);
