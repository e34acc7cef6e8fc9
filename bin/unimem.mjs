#!/usr/bin/env node
// The unimem command. Runs the compiled JavaScript in dist/ (built by
// `npm install`'s prepare step, `npm run build`), so that a start costs no
// TypeScript compile. The TypeScript sources run instead, through tsx, when
// dist/ is missing or older than a source file (a checkout or an edit since
// the last build), or when UNIMEM_FROM_SOURCE is set (the tests set it).
// Compiled, a command runs from the one-script build of the command and its
// code cache (bin/cli-bundle.mjs), `unimem exec` from the ES modules, whose
// classes a program importing 'unimem' shares. tsx is loaded as well for
// `unimem exec`, whose programs may be TypeScript.
import { existsSync } from 'node:fs';
import { register as registerHooks } from 'node:module';
import { fileURLToPath, URL } from 'node:url';
import { compiledIsCurrent } from './compiled.mjs';

const COMPILED_MAIN = new URL('../dist/src/cli/main.js', import.meta.url);
const CLI_BUNDLE = fileURLToPath(new URL('../dist/cli.cjs', import.meta.url));
const SOURCE_MAIN = new URL('../src/cli/main.ts', import.meta.url);

const args = process.argv.slice(2);
const compiled = compiledIsCurrent(COMPILED_MAIN);
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
const { main } =
  compiled && !exec && existsSync(CLI_BUNDLE) ? (await import('./cli-bundle.mjs')).loadCliBundle(CLI_BUNDLE).exports : await import(compiled ? COMPILED_MAIN.href : SOURCE_MAIN.href);
process.exitCode = await main(args);
