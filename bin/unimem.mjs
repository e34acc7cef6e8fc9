#!/usr/bin/env node
// The unimem command. Runs the TypeScript sources through tsx so that no build
// step stands between a fresh clone and `npx unimem`, and so that `unimem exec`
// can load userspace programs written in TypeScript.
import { register as registerHooks } from 'node:module';
import { register } from 'tsx/esm/api';

register();
// After tsx, so that they run first: `unimem` resolves for a program in any folder.
registerHooks('./program-hooks.mjs', import.meta.url);
// A reader that stops early (`| head`) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
