import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    pool: 'forks',
    // Vitest leaves one core to itself by default, which on a 2-core machine runs every file in turn;
    // its own process mostly waits, and many tests wait on a child process of the command.
    maxWorkers: 2,
    minWorkers: 1,
    // The command under test is the compiled command a user runs, built from the sources under test
    // (test/global-setup.ts rebuilds dist/ when a source is newer); a stale dist/ is never run (bin/unimem.mjs).
    env: { UNIMEM_FROM_SOURCE: '' },
  },
});
