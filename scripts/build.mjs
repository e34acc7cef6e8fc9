// Builds dist/, what bin/unimem.mjs runs (scripts/build-options.mjs says
// from what). Types are not checked here (`npm run typecheck` does); each
// file keeps the path of its source (dist/src/cli/main.js), with a source
// map, so finding sites name TypeScript lines (src/lib/source-line.ts).
import { rmSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';
import { build } from 'esbuild';
import { distBuildOptions } from './build-options.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(`${root}dist`, { recursive: true, force: true });
await build(distBuildOptions(root, 'dist'));
