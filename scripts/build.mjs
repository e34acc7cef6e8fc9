// Builds dist/, what bin/unimem.mjs runs (scripts/build-options.mjs says
// from what). Types are not checked here (`npm run typecheck` does); the
// files keep source maps, so finding sites name TypeScript lines
// (src/lib/source-line.ts).
import { rmSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';
import { buildDist } from './build-options.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(`${root}dist`, { recursive: true, force: true });
await buildDist(root, 'dist');
