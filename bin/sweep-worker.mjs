// A sweep's worker thread. It runs the same build as bin/unimem.mjs would:
// the compiled worker in dist/ when it is current, so that a worker's start
// costs no TypeScript compile (seconds per worker), else the TypeScript
// sources through tsx; either way a point runs the same code in a worker as
// `unimem run` runs in the main thread.
import { URL } from 'node:url';
import { compiledIsCurrent } from './compiled.mjs';

const COMPILED_WORKER = new URL('../dist/src/sim/sweep/worker.js', import.meta.url);
if (compiledIsCurrent(COMPILED_WORKER)) {
  await import(COMPILED_WORKER.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/sim/sweep/worker.ts');
}
