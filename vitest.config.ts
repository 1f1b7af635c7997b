import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Removes the temp folders (SQLite files with codes) a test file left: see test/helpers/temp-dir.ts.
    setupFiles: ['test/setup/remove-temp-dirs.ts'],
    // Its afterAll must run after each file's own (which stop the daemons using those folders):
    // 'stack' is the default today; pinned, since 'parallel' would remove folders still in use.
    sequence: { hooks: 'stack' },
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests start real servers and child processes; two cores, so keep parallelism modest.
    pool: 'forks',
    maxWorkers: 2,
  },
});
