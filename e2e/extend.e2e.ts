/**
 * What people do next with a clip (issue 15), in the app in Chromium: continue it twice from its last frame into one
 * MP4 (ffprobe counts the frames; no frame repeats at a seam), play and export it as a ping-pong, and continue a
 * Segmind result (the next request's picture is the chosen frame of the video Segmind answered).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import type { Page } from '@playwright/test';
import { expect, test } from './support/fixtures.ts';
import { fillSmallJob, patternPng } from './support/app-form.ts';
import { ARTIFACTS } from './harness.ts';
import { ffprobe, hasFfmpeg, hasFfprobe, NO_FFMPEG, NO_FFPROBE } from './support/tools.ts';
import { readVideoFrames, writeVideo } from '../src/cli/ffmpeg.ts';

async function download(page: Page, testId: string, name: string): Promise<string> {
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.getByTestId(testId).click()]);
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  await dl.saveAs(path);
  return path;
}

/** mean |a − b| over the bytes of two RGBA frames, in 0..255 */
const meanDiff = (a: Uint8ClampedArray, b: Uint8ClampedArray) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
};

/** the index of the frame of `frames` nearest to `frame` */
const nearest = (frame: Uint8ClampedArray, frames: Uint8ClampedArray[]) => frames.map((f) => meanDiff(frame, f)).reduce((best, d, i, all) => (d < all[best] ? i : best), 0);

/** waits for the video on screen to have `frames` frames (the result of the job just started), then for the job's end */
const done = async (page: Page, frames: number) => {
  await expect(page.getByTestId('result-size')).toHaveText(new RegExp(`, ${frames} frames at`), { timeout: 240_000 });
  await expect(page.getByTestId('progress')).toHaveAttribute('data-phase', 'done', { timeout: 60_000 });
};

test.describe('continue and loop a clip', () => {
  test('continued twice from the last frame: one MP4 of 3 + 2 + 2 frames, no frame repeated at a seam; ping-pong plays and exports 2F − 2 in order', async ({ app: s }) => {
    test.skip(!hasFfprobe || !hasFfmpeg, `${NO_FFPROBE}; ${NO_FFMPEG}`);
    test.setTimeout(480_000);
    const { page } = s;
    // the demo model on this machine's CPU (Automatic's pick next to SwiftShader), a small job
    await expect(page.getByTestId('backend-decision')).toHaveText(/This device's CPU/, { timeout: 60_000 });
    await fillSmallJob(page, { picture: { name: 'start.png', width: 96, height: 64 }, frames: 3, steps: 2, width: 48, height: 32 });
    await page.getByTestId('generate').click();
    await done(page, 3);
    const first = await download(page, 'download-mp4', 'extend-first.mp4');

    await expect(page.getByTestId('continue-frame')).toHaveValue('2');
    await page.getByTestId('continue-button').click();
    await expect(page.getByTestId('extending')).toHaveText(/Continuing the 3-frame video from frame 3/);
    await done(page, 5);
    await page.getByTestId('continue-button').click();
    await done(page, 7);
    await expect(page.getByTestId('result-clips')).toHaveText(/^3 joined/);
    const joinedPath = await download(page, 'download-mp4', 'extend-joined.mp4');

    const probe = ffprobe(joinedPath);
    expect(probe.stream).toMatchObject({ codec_name: 'h264', pix_fmt: 'yuv420p', width: 48, height: 32, nb_read_frames: '7' });
    const joined = readVideoFrames(joinedPath).frames;
    const start = readVideoFrames(first).frames;
    // the video continued is the joined one's start (both H.264: within 2/255 on average)...
    for (let i = 0; i < 3; i++) expect(meanDiff(joined[i], start[i]), `frame ${i + 1}`).toBeLessThan(2);
    // ...and no frame is followed by a copy of itself: at the seams (3|4, 5|6) the new clips' first frames, repeats
    // of the frames they started from, were left out. The demo model's consecutive frames differ by 3.9–5.0/255 on
    // average (measured); a frame repeated and re-encoded would differ by well under 1.
    const steps = joined.slice(1).map((f, i) => meanDiff(f, joined[i]));
    console.log('mean |Δ| between consecutive frames (0..255):', steps.map((d) => d.toFixed(1)).join(' '));
    for (const [i, d] of steps.entries()) expect(d, `frames ${i + 1} and ${i + 2}`).toBeGreaterThan(2);

    // ping-pong: the player shows it, and the MP4 has 2·7 − 2 frames: 0…6 then 5…1
    await page.getByTestId('loop-ping-pong').check();
    await expect(page.getByTestId('result-video')).toHaveAttribute('data-loop-mode', 'ping-pong', { timeout: 60_000 });
    await expect(page.getByTestId('result-size')).toHaveText(/, 12 frames at/);
    const pingPath = await download(page, 'download-mp4', 'extend-ping-pong.mp4');
    expect(ffprobe(pingPath).stream.nb_read_frames).toBe('12');
    const ping = readVideoFrames(pingPath).frames;
    expect(ping.map((f) => nearest(f, joined))).toEqual([0, 1, 2, 3, 4, 5, 6, 5, 4, 3, 2, 1]);
    // the GIF export follows the loop on screen
    await page.getByTestId('export-gif').click();
    const gifPath = await download(page, 'download-gif', 'extend-ping-pong.gif');
    expect(ffprobe(gifPath).stream.nb_read_frames).toBe('12');

    // settings that make another size cannot continue it: said before any work, the video stays as it is
    await page.getByLabel('Width', { exact: true }).fill('64');
    await page.getByTestId('continue-button').click();
    await expect(page.getByTestId('error')).toHaveText(/This video cannot be continued.*This video is 48×32, but the settings make 64×32 videos; clips of different sizes cannot be joined\. Set the size to 48×32/s);
    await expect(page.getByTestId('result-size')).toHaveText(/48×32, 12 frames at/);

    // the three results (made, continued once, twice) are kept: after a reload, and offline, listed and playable
    await expect(page.getByTestId('gallery-item')).toHaveCount(3, { timeout: 30_000 });
    expect(await page.evaluate(async () => (await navigator.serviceWorker.ready, navigator.serviceWorker.controller !== null)), 'the service worker controls the page').toBe(true);
    await s.context.setOffline(true);
    try {
      const res = await page.reload();
      expect(res?.fromServiceWorker()).toBe(true);
      const items = page.getByTestId('gallery-item');
      await expect(items).toHaveCount(3, { timeout: 30_000 });
      // newest first
      await expect(items.getByTestId('gallery-frames')).toHaveText(['7 frames', '5 frames', '3 frames']);
      await expect(items.nth(0).getByTestId('gallery-clips')).toHaveText('3 clips joined');
      for (const [i, frames] of [7, 5, 3].entries()) {
        await items.nth(i).getByTestId('gallery-open').click();
        await expect(page.getByTestId('result-size')).toHaveText(new RegExp(`48×32, ${frames} frames at`));
        const played = await page.evaluate(async () => {
          const v = document.querySelector('[data-testid="result-video"]') as HTMLVideoElement;
          if (v.readyState < 2) await new Promise((r) => v.addEventListener('loadeddata', r, { once: true }));
          return { width: v.videoWidth, height: v.videoHeight, duration: v.duration, error: v.error?.message ?? null };
        });
        expect(played, `result of ${frames} frames, offline`).toMatchObject({ width: 48, height: 32, error: null });
        // the container's duration: frames at the clip's fps (the default 7), within one frame
        expect(Math.abs(played.duration - frames / 7)).toBeLessThanOrEqual(1 / 7 + 1e-3);
      }
    } finally {
      await s.context.setOffline(false);
    }
    expect(s.pageErrors).toEqual([]);
  });
});

test.describe('continue a Segmind result', () => {
  const KEY = 'sk-test-extend';
  // the Segmind stand-in answers a real H.264 MP4 (ffmpeg, libx264) of 14 frames that differ from each other by far
  // more than two decoders differ on one: 16×16-pixel blocks of random colours, new ones every frame
  const served = join(ARTIFACTS, 'extend-segmind.mp4');
  test.use({
    segmindOptions: async ({}, use) => {
      if (hasFfmpeg) {
        mkdirSync(ARTIFACTS, { recursive: true });
        let state = 12345;
        const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) >>> 16) & 255;
        const frames = Array.from({ length: 14 }, () => {
          const blocks = Array.from({ length: 8 * 5 }, () => [random(), random(), random()]);
          const rgba = new Uint8ClampedArray(128 * 72 * 4);
          for (let y = 0; y < 72; y++) for (let x = 0; x < 128; x++) rgba.set([...blocks[Math.min(4, Math.floor(y / 16)) * 8 + Math.floor(x / 16)], 255], (y * 128 + x) * 4);
          return rgba;
        });
        await writeVideo(served, frames, 128, 72, 7);
      }
      await use({ apiKey: KEY, video: hasFfmpeg ? readFileSync(served) : undefined });
    },
    appPath: async ({ segmindServer }, use) => use(`/?segmindEndpoint=${encodeURIComponent(segmindServer.url)}`),
  });

  test('the next request\'s picture is the chosen frame of the video Segmind answered; the answer joins it', async ({ app: { page }, segmindServer: server }) => {
    test.skip(!hasFfmpeg, `${NO_FFMPEG}: the Segmind stand-in needs a real MP4`);
    test.setTimeout(180_000);
    await page.getByTestId('backend-select').selectOption('segmind');
    await page.getByTestId('file-input').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: patternPng(128, 72) });
    await page.getByTestId('api-key').fill(KEY);
    server.setScenario('ok');
    await page.getByTestId('generate').click();
    await expect(page.getByTestId('result-video')).toBeVisible({ timeout: 60_000 });

    // continue from frame 5
    await page.getByTestId('continue-frame').selectOption({ value: '4' });
    await page.getByTestId('continue-button').click();
    await expect(page.getByTestId('result-size')).toHaveText(/128×72, 18 frames at 7 fps/, { timeout: 120_000 });

    const posts = server.requests.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(2);
    const sent = (posts[1].body as { image: string }).image;
    const png = PNG.sync.read(Buffer.from(sent, 'base64'));
    writeFileSync(join(ARTIFACTS, 'extend-segmind-sent.png'), Buffer.from(sent, 'base64'));
    expect([png.width, png.height]).toEqual([128, 72]);
    const frames = readVideoFrames(served).frames;
    const picture = new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.byteLength);
    const distances = frames.map((f) => meanDiff(picture, f));
    console.log('sent picture vs the served frames, mean |Δ| (0..255):', distances.map((d) => d.toFixed(1)).join(' '));
    // the browser's H.264 decode and ffmpeg's differ a little (YUV→RGB conversion: 5/255 on average measured on
    // ffmpeg's testsrc); the served frames differ from each other by ~80/255, so the chosen one is far the nearest
    expect(nearest(picture, frames)).toBe(4);
    expect(distances[4]).toBeLessThan(10);
    for (const [i, d] of distances.entries()) if (i !== 4) expect(d, `frame ${i + 1}`).toBeGreaterThan(40);
    // the other fields of the request are the settings' own
    expect(posts[1].body).toMatchObject({ frames: 14, fps: (posts[0].body as { fps: number }).fps });
  });
});
