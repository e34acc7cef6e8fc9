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
    // The dependencies are bundled in: Node resolves and loads them file by
    // file (a hundred files for zod, seventy-odd for yaml), which costs a
    // start more than their code. sql.js stays an import (it loads its
    // WebAssembly from beside itself), and so does tsx (the loader for
    // users' TypeScript programs).
    external: ['sql.js', 'tsx', 'tsx/*'],
    // a bundled CommonJS module's require of a Node module, in an ES module
    banner: { js: "import { createRequire as __unimemCreateRequire } from 'node:module'; const require = __unimemCreateRequire(import.meta.url);" },
    sourcemap: true,
    logLevel: 'warning',
  };
}
