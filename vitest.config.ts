import { defineConfig } from 'vitest/config';

// Tests run against the compiled packages (`npm test` builds first), so that child
// processes and worker_threads load the same JavaScript a deployment runs.
export default defineConfig({
  test: {
    include: [
      'sdk/src/**/*.test.ts',
      'packages/*/src/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'services/*/src/**/*.test.ts',
      'services/*/test/**/*.test.ts',
      'cli/src/**/*.test.ts',
      'cli/test/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**', '**/dist/**'],
    // Removes the temporary folders a test file made (test/helpers/temp-dir.ts).
    setupFiles: ['test/setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
