import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildKernels, kernelsModuleSource } from '../../scripts/build-wasm.ts';
import { wasmKernels } from '../../src/formats/index.ts';

const root = new URL('../../', import.meta.url);

describe('the WebAssembly kernels are built from the sources in wasm/', () => {
  it('the committed wasm/kernels.wasm and src/formats/kernels-wasm.ts are what a rebuild makes (npm run build:wasm)', async () => {
    const built = await buildKernels();
    expect(Buffer.compare(Buffer.from(built), readFileSync(new URL('wasm/kernels.wasm', root)))).toBe(0);
    expect(readFileSync(new URL('src/formats/kernels-wasm.ts', root), 'utf8')).toBe(kernelsModuleSource(built));
  }, 60_000);

  it('the module loads with no imports and exports each kernel the sources call, and its memory', () => {
    const k = wasmKernels();
    for (const name of ['nv12ToXrgb8888', 'yuyvToXrgb8888', 'averageBytes', 'checkToXrgb8888', 'checkAverage', 'uvdCodeRows'] as const) expect(typeof k[name]).toBe('function');
    expect(k.memory).toBeInstanceOf(WebAssembly.Memory);
  });
});
