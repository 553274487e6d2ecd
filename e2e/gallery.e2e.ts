/**
 * "Your videos" (issue 15, Keep) in Chromium, with the demo model on the CPU (wasm), against `vite preview` of dist/:
 * 1. a generated video is kept in OPFS and listed after a reload with its seed and frame count; Open plays the same
 *    bytes; offline (context.setOffline) a reload still lists it and Open still plays it; Re-run puts its settings,
 *    seed and picture back; Continue makes a longer video kept as a second result; Delete removes them for good.
 * 2. a quota shortfall while keeping (navigator.storage.estimate overridden) says so with the numbers, keeps the result
 *    on screen and the earlier video; a stored file truncated through OPFS gives the "damaged" message on Open.
 *
 * Run: npx vite build && npx playwright test e2e/gallery.e2e.ts
 */
import type { Page } from '@playwright/test';
import { expect, test } from './support/fixtures.ts';
import { fillSmallJob } from './support/app-form.ts';

const JOB = { picture: { name: 'keep.png', width: 64, height: 32 }, frames: 2, steps: 2, width: 32, height: 16, maxGuidance: 1 };
// a tiny job takes seconds on this CPU, but the machine is shared and slow: generous waits
const GENERATION = 240_000;

async function generate(page: Page): Promise<void> {
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('result-video')).toBeVisible({ timeout: GENERATION });
  await expect(page.getByTestId('progress')).toHaveAttribute('data-phase', 'done', { timeout: 60_000 });
}

/** The bytes of the video on screen (its blob URL), as hex SHA-256 and size. */
async function shownVideo(page: Page): Promise<{ bytes: number; sha256: string }> {
  return page.evaluate(async () => {
    const v = document.querySelector('[data-testid="result-video"]') as HTMLVideoElement;
    const buf = await (await fetch(v.src)).arrayBuffer();
    const hash = [...new Uint8Array(await crypto.subtle.digest('SHA-256', buf))].map((b) => b.toString(16).padStart(2, '0')).join('');
    return { bytes: buf.byteLength, sha256: hash };
  });
}

/** Whether the video on screen decodes and plays: its size, and time advancing. */
async function plays(page: Page) {
  return page.evaluate(async () => {
    const v = document.querySelector('[data-testid="result-video"]') as HTMLVideoElement;
    if (v.readyState < 2) await new Promise((r) => v.addEventListener('loadeddata', r, { once: true }));
    const t0 = v.currentTime;
    await new Promise((r) => setTimeout(r, 800));
    return { width: v.videoWidth, height: v.videoHeight, duration: v.duration, advanced: v.currentTime !== t0 || v.played.length > 0, error: v.error?.message ?? null };
  });
}

test.describe('Your videos', () => {
  test('keeps a video across reloads and offline: listed with seed and frames, Open plays the same bytes, Delete removes it', async ({ app: s }) => {
    test.setTimeout(600_000);
    const { page, context } = s;
    await expect(page.getByTestId('backend-decision')).toHaveText(/This device's CPU/, { timeout: 60_000 });
    await expect(page.getByTestId('gallery-panel')).toHaveAttribute('data-status', 'ready');
    await expect(page.getByTestId('gallery-item')).toHaveCount(0);
    await fillSmallJob(page, JOB);
    await generate(page);
    const seed = (await page.getByTestId('seed-used').textContent())?.trim();
    expect(seed).toMatch(/^\d+$/);
    const made = await shownVideo(page);
    await expect(page.getByTestId('gallery-item')).toHaveCount(1, { timeout: 30_000 });
    await expect(page.getByTestId('gallery-notice')).toHaveText(/^Kept in Your videos \([\d.]+ kB\)\.$/);
    console.log(`made: seed ${seed}, MP4 ${made.bytes} B; usage line: ${await page.getByTestId('gallery-usage').textContent()}`);

    // a reload: listed with its seed and frame count; Open plays the same MP4
    await page.reload();
    const item = page.getByTestId('gallery-item');
    await expect(item).toHaveCount(1, { timeout: 60_000 });
    await expect(item.getByTestId('gallery-seed')).toHaveText(`seed ${seed}`);
    await expect(item.getByTestId('gallery-frames')).toHaveText('2 frames');
    await expect(item).toContainText('2 frames, 32×16, 7 fps');
    await expect(page.getByTestId('gallery-usage')).toHaveText(/^1 video, [\d.]+ kB of this browser's storage$/);
    await expect(item.getByTestId('gallery-poster')).toHaveAttribute('data-kind', 'frame');
    await expect(page.getByTestId('result-video')).toHaveCount(0);
    await item.getByTestId('gallery-open').click();
    await expect(page.getByTestId('result-video')).toBeVisible({ timeout: 30_000 });
    expect(await shownVideo(page)).toEqual(made);
    const online = await plays(page);
    console.log('opened after a reload:', online);
    expect(online).toMatchObject({ width: 32, height: 16, error: null });
    expect(online.duration).toBeGreaterThan(0);
    expect(await page.getByTestId('seed-used').textContent()).toBe(seed);
    // the frames came back too (the strip shows them all)
    await expect(page.getByTestId('frame-ready')).toHaveCount(2);

    // offline: the app comes from the service worker, the gallery from OPFS
    expect(await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
      return navigator.serviceWorker.controller !== null;
    }), 'the service worker controls the page before going offline').toBe(true);
    await context.setOffline(true);
    const res = await page.reload({ waitUntil: 'load' });
    expect(res?.fromServiceWorker()).toBe(true);
    await expect(page.getByTestId('gallery-item')).toHaveCount(1, { timeout: 60_000 });
    await expect(page.getByTestId('gallery-seed')).toHaveText(`seed ${seed}`);
    await page.getByTestId('gallery-open').click();
    await expect(page.getByTestId('result-video')).toBeVisible({ timeout: 30_000 });
    const offline = await plays(page);
    console.log('opened offline:', offline);
    expect(offline).toMatchObject({ width: 32, height: 16, error: null });
    expect(await shownVideo(page)).toEqual(made);
    await context.setOffline(false);

    // Re-run: the settings, the seed used and the picture back in the form
    await page.getByLabel('Seed', { exact: true }).fill('5');
    await page.getByRole('textbox', { name: 'Frames', exact: true }).fill('3');
    await page.getByTestId('gallery-rerun').click();
    await expect(page.getByTestId('gallery-notice')).toHaveText(new RegExp(`^The settings and seed ${seed} of the video of .* are back in the form, with its picture; press Generate`));
    await expect(page.getByLabel('Seed', { exact: true })).toHaveValue(seed!);
    await expect(page.getByRole('textbox', { name: 'Frames', exact: true })).toHaveValue('2');
    await expect(page.getByTestId('image-info')).toHaveText(/picture of .*\.png/);

    // Continue: opens it and continues from its last frame; the longer video is kept as a new result of 2 clips
    await page.reload();
    await expect(page.getByTestId('backend-decision')).toHaveText(/This device's CPU/, { timeout: 60_000 });
    await page.getByTestId('gallery-extend').click();
    await expect(page.getByTestId('gallery-item')).toHaveCount(2, { timeout: GENERATION });
    const joined = page.getByTestId('gallery-item').first();
    await expect(joined.getByTestId('gallery-clips')).toHaveText('2 clips joined');
    const joinedFrames = Number((await joined.getByTestId('gallery-frames').textContent())?.split(' ')[0]);
    expect(joinedFrames).toBeGreaterThan(2);
    await page.getByTestId('gallery-panel').screenshot({ path: test.info().outputPath('gallery-panel.png') });

    // Delete asks first, then removes it for good
    await joined.getByTestId('gallery-delete').click();
    await expect(page.getByTestId('gallery-delete-confirm')).toBeFocused();
    await page.getByTestId('gallery-delete-confirm').click();
    await expect(page.getByTestId('gallery-item')).toHaveCount(1);
    await page.getByTestId('gallery-delete').click();
    await page.getByTestId('gallery-delete-confirm').click();
    await expect(page.getByTestId('gallery-item')).toHaveCount(0);
    await expect(page.getByTestId('gallery-notice')).toHaveText(/^Deleted the video of .* \([\d.]+ kB freed\)\.$/);
    await page.reload();
    await expect(page.getByTestId('gallery-panel')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
    await expect(page.getByTestId('gallery-item')).toHaveCount(0);
    await expect(page.getByTestId('gallery-empty')).toBeVisible();
    expect(await page.evaluate(async () => {
      const root = await navigator.storage.getDirectory();
      const dir = await root.getDirectoryHandle('gallery');
      const names: string[] = [];
      for await (const name of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(name);
      return names;
    })).toEqual([]);
    expect(s.pageErrors).toEqual([]);
  });

  test('a quota shortfall is explained and keeps the earlier video; a truncated file is named on Open', async ({ app: s }) => {
    test.setTimeout(600_000);
    const { page } = s;
    // The site's estimate, as the browser reports it, unless the test sets how much is left (window.__e2eQuotaLeft)
    await page.addInitScript(() => {
      const real = navigator.storage.estimate.bind(navigator.storage);
      navigator.storage.estimate = async () => {
        const e = await real();
        const left = (globalThis as unknown as { __e2eQuotaLeft?: number }).__e2eQuotaLeft;
        return left === undefined ? e : { ...e, quota: (e.usage ?? 0) + left };
      };
    });
    await page.reload();
    await expect(page.getByTestId('backend-decision')).toHaveText(/This device's CPU/, { timeout: 60_000 });
    await fillSmallJob(page, JOB);
    await generate(page);
    await expect(page.getByTestId('gallery-item')).toHaveCount(1, { timeout: 30_000 });
    const earlier = await page.getByTestId('gallery-item').getAttribute('data-id');

    // 5 MB left: less than the video plus the 16 MiB margin kept free
    await page.evaluate(() => {
      (globalThis as unknown as { __e2eQuotaLeft?: number }).__e2eQuotaLeft = 5e6;
    });
    await page.getByLabel('Seed', { exact: true }).fill('77');
    await generate(page);
    const error = page.getByTestId('gallery-error');
    await expect(error).toHaveAttribute('data-code', 'quota', { timeout: 30_000 });
    await expect(error).toContainText(/Not enough storage to keep this video: it needs [\d.]+ kB and 16\.8 MB kept free, but this browser lets the site store only 5\.0 MB more \(quota [\d.]+ [MG]B, [\d.]+ [kMG]?B used, [\d.]+ kB of it by Your videos\)\. Nothing was written and your other videos are kept\./);
    await expect(error).toContainText('Delete older results in Your videos');
    console.log('quota message:', await error.textContent());
    // the new video stays on screen, the job is done without an error, the earlier one is still listed
    await expect(page.getByTestId('seed-used')).toHaveText('77');
    await expect(page.getByTestId('result-video')).toBeVisible();
    await expect(page.getByTestId('progress')).toHaveAttribute('data-phase', 'done');
    await expect(page.getByTestId('gallery-item')).toHaveCount(1);
    await expect(page.getByTestId('gallery-item')).toHaveAttribute('data-id', earlier!);
    await page.getByTestId('gallery-error').getByRole('button', { name: 'Dismiss' }).click();

    // the earlier video's MP4 truncated to nothing in OPFS: Open names the file and says what to do
    await page.evaluate(async (id) => {
      const root = await navigator.storage.getDirectory();
      const file = await (await (await root.getDirectoryHandle('gallery')).getDirectoryHandle(id)).getFileHandle('video.mp4');
      const w = await file.createWritable();
      await w.truncate(0);
      await w.close();
    }, earlier!);
    await page.getByTestId('gallery-open').click();
    await expect(error).toHaveAttribute('data-code', 'corrupt');
    await expect(error).toContainText(/^The result of \d{1,2} \w{3} \d{4}, \d\d:\d\d is damaged \(video\.mp4 has 0 of \d+(\.\d)? k?B\): delete it; the other results are fine\./);
    console.log('damaged message:', await error.textContent());
    // the video on screen is still the last one made
    await expect(page.getByTestId('seed-used')).toHaveText('77');
    // deleting the damaged one works
    await page.getByTestId('gallery-delete').click();
    await page.getByTestId('gallery-delete-confirm').click();
    await expect(page.getByTestId('gallery-item')).toHaveCount(0);
    expect(s.pageErrors).toEqual([]);
  });
});
