import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compiledIsCurrent } from '../bin/compiled.mjs';
import { buildDist } from '../scripts/build-options.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * Builds dist/ from the sources under test when it is older than any of
 * them (an edit since `npm ci`), so that the tests that run the command
 * run what a user runs, the compiled command, and each of the hundred-odd
 * runs skips compiling the TypeScript (about a second of CPU each).
 */
export default async function setup(): Promise<void> {
  if (compiledIsCurrent(new URL('../dist/src/cli/main.js', import.meta.url))) return;
  rmSync(`${ROOT}dist`, { recursive: true, force: true });
  await buildDist(ROOT, 'dist');
}
