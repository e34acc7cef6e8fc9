import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/', 'test-artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // One failure shape: a catch names the errno it expects and rethrows the
    // rest, so a KernelBug (BUG_ON) or a TypeError is never swallowed.
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
      ],
    },
  },
  {
    files: ['bin/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
