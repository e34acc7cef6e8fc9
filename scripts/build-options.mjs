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
    // The CommonJS dependencies (yaml, commander) are bundled in: Node loads
    // CommonJS file by file, seventy-odd files for yaml alone, which costs a
    // start more than their code. The ES-module ones stay imports, resolved
    // from node_modules, and so do sql.js (it loads its WebAssembly from
    // beside itself) and tsx (the loader for users' TypeScript programs).
    external: ['sql.js', 'tsx', 'tsx/*', 'zod', 'zod/*', '@dagrejs/dagre'],
    // a bundled CommonJS module's require of a Node module, in an ES module
    banner: { js: "import { createRequire as __unimemCreateRequire } from 'node:module'; const require = __unimemCreateRequire(import.meta.url);" },
    sourcemap: true,
    logLevel: 'warning',
  };
}
