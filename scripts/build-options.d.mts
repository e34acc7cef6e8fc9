import type { BuildOptions } from 'esbuild';

/** esbuild's options for the ES-module build at `outdir` (relative to the package root `root`). */
export function distBuildOptions(root: string, outdir: string): BuildOptions;
/** esbuild's options for the command as one CommonJS script, `outdir`/cli.cjs. */
export function cliBundleOptions(root: string, outdir: string): BuildOptions & { outfile: string };
/** Builds dist/ at `outdir` from the package at `root`: both builds and the command script's code cache. */
export function buildDist(root: string, outdir: string, opts?: { sourcemap?: boolean }): Promise<void>;
