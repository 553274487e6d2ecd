import { defineConfig } from 'vitest/config';

// Real-browser tests (Debian Chromium via playwright-core against `vite preview` of dist/).
// `npm run test:e2e` runs `vite build` first; this config does not build.
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.ts'],
    environment: 'node',
    testTimeout: 600_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    reporters: ['verbose'],
  },
});
