import { defineConfig } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS, VIEWPORT } from './e2e/support/browser.ts';

/**
 * Real-browser tests: Debian Chromium (no browser download) against `vite preview` of dist/. This config does not
 * build: `npm run test:e2e` runs `vite build` first. Tests on the WebGPU EP (SwiftShader here: up to ~10 min each) are
 * tagged @webgpu; `npm run test:quick` leaves them out.
 *
 *   npx playwright test                      every e2e test
 *   npx playwright test --grep-invert @webgpu
 *   npx playwright test -g "<title>"         one test, alone (each sets up what it needs)
 *   npx playwright show-report test-results/html
 *   npx playwright show-trace test-results/artifacts/<test>/trace.zip
 */
const workers = Number(process.env.E2E_WORKERS ?? 1);

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.e2e.ts',
  // e2e/meta/broken.e2e.ts fails on purpose: only the runner self-check (e2e/meta/self-check.e2e.ts) runs it.
  testIgnore: process.env.SVD_E2E_META === 'fail' ? [] : ['**/meta/broken.e2e.ts'],
  fullyParallel: false,
  workers: Number.isInteger(workers) && workers > 0 ? workers : 1,
  retries: 0,
  // The default per test (as vitest's testTimeout was); slower tests set their own with test.setTimeout().
  timeout: 600_000,
  // The default wait of a web-first assertion, as the old expectText poller's.
  expect: { timeout: 20_000 },
  outputDir: 'test-results/artifacts',
  reporter: [
    ['list'],
    ['html', { outputFolder: 'test-results/html', open: 'never' }],
    ['json', { outputFile: 'test-results/results.json' }],
  ],
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 },
    viewport: VIEWPORT,
    // A click or fill on an element that never appears fails within this, naming the locator, instead of waiting
    // for the test's whole limit.
    actionTimeout: 30_000,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
});
