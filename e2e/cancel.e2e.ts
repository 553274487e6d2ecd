/**
 * Cancel on a slow adapter (issue 17): the GPU picked by hand on SwiftShader (a software WebGPU that takes tens of
 * seconds per UNet call here), Cancel pressed mid-denoise. The page must stay responsive — a screenshot and a click
 * succeed within 5 s of the Cancel — the job ends as "Cancelled" within the worker's bounded wait, and the next job
 * (on the CPU, Automatic's choice here) runs to a video.
 */
import { expect, test } from './support/fixtures.ts';
import { fillSmallJob } from './support/app-form.ts';

test('cancel mid-denoise on SwiftShader: the page answers within 5 s, the job ends cancelled, the next job runs', { tag: '@webgpu' }, async ({ app: s }) => {
  test.setTimeout(600_000);
  const { page } = s;
  await page.getByTestId('backend-select').selectOption('webgpu');
  await expect(page.getByTestId('backend-decision')).toHaveText(/GPU/, { timeout: 60_000 });
  await fillSmallJob(page, { picture: { name: 'cancel.png', width: 64, height: 64 }, frames: 2, steps: 6, maxGuidance: 1, width: 16, height: 16 });
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('progress-label')).toHaveText(/Denoising step [1-5]\/6/, { timeout: 300_000 });
  const t0 = Date.now();
  await page.getByTestId('cancel').click({ timeout: 5_000 });
  // responsive: a screenshot and a click (open the Models panel) within 5 s of the Cancel
  await page.screenshot({ timeout: 5_000 });
  await page.getByText('Models', { exact: true }).first().click({ timeout: 5_000 });
  const answered = (Date.now() - t0) / 1000;
  expect(answered).toBeLessThanOrEqual(5);
  // the job ends as cancelled within the worker's bounded wait (20 s, then the worker is stopped)
  await expect(page.getByTestId('cancelled')).toBeVisible({ timeout: 30_000 });
  const cancelled = (Date.now() - t0) / 1000;
  console.log(`cancel: page answered in ${answered.toFixed(1)} s, the job showed "Cancelled" after ${cancelled.toFixed(1)} s`);

  // the next job, on the CPU
  await page.getByTestId('backend-select').selectOption('auto');
  await expect(page.getByTestId('backend-decision')).toHaveText(/This device's CPU/, { timeout: 60_000 });
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('result-video')).toBeVisible({ timeout: 180_000 });
  expect(s.pageErrors).toEqual([]);
});
