// What dist/ is built from, for scripts/build.mjs and for the test that
// builds a real dist/ elsewhere (test/cli/compiled.test.ts): the command,
// the package's two entry points (`unimem`, `unimem/uapi`) and the sweep's
// worker, bundled by esbuild into ES modules that share their code in
// chunks, so a program under `unimem exec` gets the very classes the
// command uses, and a start reads a few files instead of three hundred.
/** esbuild's options for a dist/ at `outdir` (relative to the package root `root`). */
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
    // the dependencies stay imports, resolved from node_modules as before
    packages: 'external',
    sourcemap: true,
    logLevel: 'warning',
  };
}
