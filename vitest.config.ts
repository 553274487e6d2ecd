import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

// Unit and Node-integration tests. Browser tests live in e2e/ and run under Playwright Test (playwright.config.ts):
// vitest never collects them, even when a path under e2e/ is passed on the command line.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    exclude: [...configDefaults.exclude, 'e2e/**', '**/*.e2e.ts', 'test-results/**'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // vitest's default leaves one core free: on CI's 2 cores that ran the files one at a time (320 s); both cores: 203 s.
    maxWorkers: Math.max(2, availableParallelism()),
  },
});
