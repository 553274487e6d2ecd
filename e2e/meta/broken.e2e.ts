/**
 * Fails on purpose, for the runner self-check (self-check.e2e.ts), which runs it with SVD_E2E_META=fail. Otherwise
 * playwright.config.ts ignores this file (and the test skips itself, should it be named on the command line).
 * A blank page is enough: what matters is what the runner leaves behind for a failure (trace, screenshot, report).
 */
import { expect, test } from '@playwright/test';

test.skip(process.env.SVD_E2E_META !== 'fail', 'runs only inside the runner self-check (SVD_E2E_META=fail)');

test('fails on purpose: the page does not say what the test expects', async ({ page }) => {
  await page.setContent('<h1>svd-web e2e self-check</h1>');
  await expect(page.locator('h1')).toHaveText('something else entirely', { timeout: 1_000 });
});
