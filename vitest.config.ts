import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 60_000,
    pool: 'forks',
    // The command under test is the TypeScript in src/, not a build in dist/ that may predate it (bin/unimem.mjs).
    env: { UNIMEM_FROM_SOURCE: '1' },
  },
});
