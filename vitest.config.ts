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
  },
});
