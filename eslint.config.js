import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/, bottom up (DESIGN.md). A layer imports only layers
 * before it, and only through their index.ts; the layer doors below are
 * built from this list so that an upward import, or a reach into another
 * layer's files, fails `npm run lint`.
 */
const LAYERS = ['lib', 'uapi', 'formats', 'hw', 'mm', 'iommu', 'dma', 'fs', 'dmabuf', 'drivers', 'proc', 'sim', 'report', 'cli'];

function layerDoors() {
  return LAYERS.map((layer, k) => {
    const above = LAYERS.slice(k + 1);
    const below = LAYERS.slice(0, k);
    const patterns = [];
    if (above.length > 0)
      patterns.push({
        group: above.flatMap((u) => [`**/${u}/*`, `**/${u}/**`]),
        message: `${layer} sits below ${above.join(', ')} (DESIGN.md): a layer imports only the layers under it.`,
      });
    for (const b of below)
      patterns.push({
        group: [`**/${b}/**`, `!**/${b}/index.ts`],
        message: `import ${b} through its door, ${b}/index.ts: its other files are its own.`,
      });
    return {
      files: [`src/${layer}/**/*.ts`],
      rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] },
    };
  });
}

/**
 * Userspace: the stage programs and the example programs run as simulated
 * processes, so they see what a Linux program sees -- the uapi, the pure
 * formats and the Sys type -- never the kernel's code.
 */
const userspace = [
  {
    files: ['src/sim/stages/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                ...LAYERS.filter((l) => !['uapi', 'formats', 'proc', 'sim'].includes(l)).map((l) => `../../${l}/**`),
                '../../uapi/*',
                '!../../uapi/index.ts',
                '../../formats/*',
                '!../../formats/index.ts',
                '../pipeline/**',
                '../reference/**',
              ],
              message: 'a userspace program imports only uapi, formats and the Sys type.',
            },
            { group: ['../../proc/**', '../*.ts'], allowTypeImports: true, message: 'a userspace program takes only types from proc and the runner (Sys, its context).' },
          ],
        },
      ],
    },
  },
  {
    files: ['examples/programs/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['../../src/**', 'unimem/*', '!unimem/uapi'], message: "a program imports constants from 'unimem/uapi' and the Sys type from 'unimem'." }],
          paths: [{ name: 'unimem', allowTypeImports: true, message: "a program takes only the Sys type from 'unimem'." }],
        },
      ],
    },
  },
];

export default tseslint.config(
  // wasm/ is AssemblyScript (its own decorators and builtins), checked by its compiler (npm run build:wasm)
  { ignores: ['node_modules/', 'dist/', 'coverage/', 'test-artifacts/', 'wasm/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  ...layerDoors(),
  ...userspace,
  {
    // One failure shape: a catch names the errno it expects and rethrows the
    // rest, so a KernelBug (BUG_ON) or a TypeError is never swallowed. And
    // no `export *`: a layer's door names what it exports.
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'CatchClause[param=null]',
          message: 'Bare catch in src/: bind the error, test the errno you expect (isKernelError(e, ...)) and rethrow everything else.',
        },
        {
          selector: 'CatchClause[param!=null]:not(:has(ThrowStatement))',
          message: 'This catch never rethrows: test the errno you expect (isKernelError(e, ...)) and rethrow everything else, so a KernelBug is never swallowed.',
        },
        {
          // A simulated thread woken by a promise that nobody counted could be missed by the clock's quiet probe and by a system call's quick return.
          selector: "NewExpression[callee.name='Promise']",
          message: 'Make a promise that other code settles with wakeablePromise (lib): its settling is counted, which is how the clock tells that no simulated thread was woken.',
        },
        {
          // Layer doors: an index.ts says by name what leaves its layer.
          selector: 'ExportAllDeclaration',
          message: "No `export *` in src/: export each name the other layers use by name (export { a, type B } from './file.ts'), so a door shows what leaves its layer and internals stay inside.",
        },
      ],
    },
  },
  {
    files: ['bin/**/*.mjs', 'scripts/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
