// How dist/ is built, for scripts/build.mjs, the tests' global setup and the
// test that builds a real dist/ elsewhere (test/cli/compiled.test.ts).
//
// Two builds of the same sources:
// - ES modules for the package's entry points (`unimem`, `unimem/uapi`),
//   the sweep's worker and `unimem exec`: they share their code in chunks,
//   so a program under `unimem exec` gets the very classes the command
//   uses, and a start reads a few files instead of three hundred;
// - the command alone as one CommonJS script, dist/cli.cjs, with V8's code
//   cache beside it (bin/cli-bundle.mjs), which Node 20 can only keep for a
//   script: every other command starts from it.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

// The dependencies are bundled in: Node resolves and loads them file by
// file (a hundred files for zod, seventy-odd for yaml), which costs a start
// more than their code. sql.js stays an import (it loads its WebAssembly
// from beside itself), and so does tsx (the loader for users' TypeScript
// programs).
const EXTERNAL = ['sql.js', 'tsx', 'tsx/*'];

/** esbuild's options for the ES-module build at `outdir` (relative to the package root `root`). */
export function distBuildOptions(root, outdir) {
  return {
    absWorkingDir: root,
    entryPoints: ['src/cli/main.ts', 'src/index.ts', 'src/uapi/index.ts', 'src/sim/sweep/worker.ts'],
    outdir,
    outbase: '.',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    // a bundled CommonJS module's require of a Node module, in an ES module
    banner: { js: "import { createRequire as __unimemCreateRequire } from 'node:module'; const require = __unimemCreateRequire(import.meta.url);" },
    sourcemap: true,
    logLevel: 'warning',
  };
}

/** esbuild's options for the command as one CommonJS script, `outdir`/cli.cjs. */
export function cliBundleOptions(root, outdir) {
  return {
    absWorkingDir: root,
    entryPoints: ['src/cli/main.ts'],
    outfile: join(outdir, 'cli.cjs'),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    // a script has no import.meta: its URL is the script's own (files beside the code are found from it, src/lib/package-root.ts)
    define: { 'import.meta.url': '__unimemScriptUrl' },
    banner: { js: "const __unimemScriptUrl = require('node:url').pathToFileURL(__filename).href;" },
    sourcemap: true,
    logLevel: 'warning',
  };
}

/**
 * Builds dist/ at `outdir` from the package at `root`: both builds, then
 * the command script's code cache, which warm-up runs of the default
 * scenario and video-playback make (scripts/code-cache.mjs), so that it holds the code a run
 * compiles and not only the script's top level. `sourcemap: false` leaves
 * the maps out (a test's throwaway build).
 */
export async function buildDist(root, outdir, { sourcemap = true } = {}) {
  await build({ ...distBuildOptions(root, outdir), sourcemap });
  const cli = cliBundleOptions(root, outdir);
  await build({ ...cli, sourcemap });
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'code-cache.mjs'), resolve(root, cli.outfile)], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`the command's code cache was not made: ${r.stderr || `exit ${r.status}`}`);
}
