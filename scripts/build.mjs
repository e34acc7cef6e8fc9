// Builds dist/, what bin/unimem.mjs runs: the command and the package's two
// entry points (`unimem`, `unimem/uapi`) bundled by esbuild into ES modules
// that share their code in chunks, so a program under `unimem exec` gets the
// very classes the command uses, and a start reads a few files instead of
// three hundred. Types are not checked here (`npm run typecheck` does);
// each file keeps the path of its source (dist/src/cli/main.js), with a
// source map, so finding sites name TypeScript lines (src/lib/source-line.ts).
import { rmSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(`${root}dist`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/main.ts', 'src/index.ts', 'src/uapi/index.ts'],
  outdir: 'dist',
  outbase: '.',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // the dependencies stay imports, resolved from node_modules as before
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
