import type { BuildOptions } from 'esbuild';

/** esbuild's options for a dist/ at `outdir` (relative to the package root `root`). */
export function distBuildOptions(root: string, outdir: string): BuildOptions;
