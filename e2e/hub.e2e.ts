/**
 * A real model with no tools: the Hugging Face Hub download and the in-tab conversion, in Chromium, against a local
 * stand-in for the Hub (e2e/support/hub-server.ts: the model API with sizes and LFS sha256, `resolve` URLs that
 * redirect to a second origin, the Hub's CORS headers, Range, 401/403/404, cut connections) serving a tiny synthetic
 * checkpoint in the official layout (`svd-web synth --preset tiny`, fp16 files, plus decoys that must not be fetched).
 *
 *   - every refusal in plain words (gated without a token, licence not accepted, bad token, unknown repository, not an
 *     SVD repository, Hub down, not enough storage);
 *   - the download resumes after a cut connection, a reload mid-conversion and a reload mid-download, with the bytes
 *     requested again counted and the components already converted kept;
 *   - the converted files equal `svd-web convert`'s byte for byte, the staged sources are gone;
 *   - the token reaches the Hub only;
 *   - a generation with the converted model completes and its MP4 plays in the app.
 *
 * Pages: dist/models-harness.html (the model manager with window.__svdModels) and the app (dist/index.html).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { PNG } from 'pngjs';
import { expect, test as base } from './support/fixtures.ts';
import { startHubServer, type FakeHub } from './support/hub-server.ts';
import { readTree, sha256 } from './support/tree.ts';
import { synthesizeCheckpoint } from '../src/compiler/synthetic/write.ts';
import { convertCheckpoint } from '../src/compiler/convert-folder.ts';

const HARNESS = '/models-harness.html';
const XT = 'stabilityai/stable-video-diffusion-img2vid-xt';
const XT11 = 'stabilityai/stable-video-diffusion-img2vid-xt-1-1';
const GOOD_TOKEN = 'hf_e2eAcceptedToken0123456789';
const NO_LICENCE_TOKEN = 'hf_e2eTokenWithoutLicence0123';
const FAST = { stallTimeoutMs: 3000, backoffBaseMs: 100, backoffCapMs: 500, maxAttempts: 4 };
/** the model the official XT entry becomes on an adapter without shader-f16 (SwiftShader here) */
const MODEL_ID = 'svd-xt-q4f32';
const W = {
  unet: 'unet/diffusion_pytorch_model.fp16.safetensors',
  vae: 'vae/diffusion_pytorch_model.fp16.safetensors',
  image_encoder: 'image_encoder/model.fp16.safetensors',
};

interface HubFixture {
  server: FakeHub;
  files: Map<string, Uint8Array>;
  /** sha256 of every file `svd-web convert --precision q4f32` wrote for the same checkpoint */
  cliHashes: Record<string, string>;
}

interface HubJob {
  running: boolean;
  error?: { code: string; message: string };
  stats?: { networkBytes: number; keptBytes: number; resumes: number; reusedGraphs: string[]; convertedGraphs: string[]; rehashedBytes: number };
}

const test = base.extend<{ call: <T = unknown>(method: string, ...args: unknown[]) => Promise<T>; openHarness: () => Promise<void> }, { hub: HubFixture }>({
  hub: [
    async ({}, use) => {
      const dir = mkdtempSync(join(tmpdir(), 'svd-hub-e2e-'));
      const ckpt = join(dir, 'checkpoint');
      synthesizeCheckpoint({ out: ckpt, preset: 'tiny', dtype: 'f16', seed: 11 });
      const files = readTree(ckpt);
      // What the official repositories hold besides the fp16 diffusers files: none of it may be downloaded.
      files.set('svd_xt.safetensors', randomBytes(300_000));
      files.set('unet/diffusion_pytorch_model.safetensors', randomBytes(200_000));
      files.set('README.md', new TextEncoder().encode('# tiny synthetic SVD\n'));
      files.set('LICENSE.md', new TextEncoder().encode('test licence\n'));
      const cliOut = join(dir, 'cli-q4f32');
      convertCheckpoint({ from: ckpt, out: cliOut, precision: 'q4f32' });
      const cliHashes = Object.fromEntries([...readTree(cliOut)].map(([p, b]) => [p, sha256(b)]));
      const half = new Map(files);
      half.delete(W.vae);
      const server = await startHubServer({
        repos: [
          { repo: XT, files },
          { repo: XT11, files, gated: 'manual' },
          { repo: 'someone/half-an-svd', files: half },
        ],
        tokens: { accepted: [GOOD_TOKEN], notAccepted: [NO_LICENCE_TOKEN] },
      });
      await use({ server, files, cliHashes });
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
    { scope: 'worker' },
  ],
  openHarness: async ({ page, preview, hub }, use) => {
    page.on('pageerror', (e) => console.log(`[pageerror] ${e.message}`));
    await use(async () => {
      await page.goto(`${preview.origin}${HARNESS}`, { waitUntil: 'load', timeout: 60_000 });
      await page.waitForFunction(() => '__svdModels' in globalThis, undefined, { timeout: 30_000 });
      await page.evaluate(([url, tuning]) => (globalThis as unknown as { __svdModels: { setHub(p: unknown): void } }).__svdModels.setHub({ url, tuning }), [hub.server.hubUrl, FAST] as const);
    });
  },
  call: async ({ page }, use) => {
    await use(<T,>(method: string, ...args: unknown[]) =>
      page.evaluate(([m, a]) => (globalThis as unknown as { __svdModels: Record<string, (...x: unknown[]) => unknown> }).__svdModels[m](...a), [method, args] as [string, unknown[]]) as Promise<T>,
    );
  },
});

test.describe('Hugging Face Hub download + in-tab conversion', () => {
  test('explains every refusal in plain words, and forgets the token', async ({ page, openHarness, call, hub }) => {
    await openHarness();
    const { server } = hub;
    const errorOf = (id: string) => page.getByTestId(`hub-error-${id}`);

    // Gated, no token.
    await page.getByTestId('hub-get-svd-xt-1-1').click();
    await expect(errorOf('svd-xt-1-1')).toContainText('is a gated repository');
    await expect(errorOf('svd-xt-1-1')).toContainText('huggingface.co/settings/tokens');
    await expect(errorOf('svd-xt-1-1')).toContainText(`${server.hubUrl}/${XT11}`);

    // A token whose account has not accepted the licence.
    await page.getByTestId('hub-token').fill(NO_LICENCE_TOKEN);
    await page.getByTestId('hub-get-svd-xt-1-1').click();
    await expect(errorOf('svd-xt-1-1')).toContainText('accept the licence there, then retry');

    // A token the Hub does not know.
    await page.getByTestId('hub-token').fill('hf_mistyped');
    await page.getByTestId('hub-get-svd-xt-1-1').click();
    await expect(errorOf('svd-xt-1-1')).toContainText('did not accept the access token');

    // Forget: gone from the page and from this origin's storage.
    await page.getByTestId('hub-token-forget').click();
    await expect(page.getByTestId('hub-token')).toHaveValue('');
    await expect(page.getByTestId('hub-panel')).toContainText('token was removed from this browser');
    expect(await page.evaluate(() => localStorage.getItem('svd-web:hf-token'))).toBeNull();

    // Unknown repository, not a repository id, not an SVD repository.
    const custom = async (text: string) => {
      await page.getByTestId('hub-repo').fill(text);
      await page.getByTestId('hub-get-custom').click();
    };
    await custom('stabilityai/no-such-model');
    await expect(errorOf('custom')).toContainText('Hugging Face has no repository stabilityai/no-such-model');
    await custom('just some words');
    await expect(errorOf('custom')).toContainText('is not a Hugging Face repository id');
    await custom('https://huggingface.co/someone/half-an-svd');
    await expect(errorOf('custom')).toContainText(`not a diffusers-layout Stable Video Diffusion repository: it lacks ${W.vae}`);

    // The Hub down: retried a bounded number of times, then explained.
    const listings = () => server.log.filter((r) => r.origin === 'hub' && r.path.startsWith('/api/') && r.method === 'GET').length;
    const before = listings();
    server.failNext('api', 503, 50);
    await custom(XT);
    await expect(errorOf('custom')).toContainText('Hugging Face is having trouble');
    const apiCalls = listings() - before;
    expect(apiCalls).toBe(FAST.maxAttempts);
    server.clearFaults();

    // No network (nothing listens): retried, then explained.
    await call('setHub', { url: 'http://127.0.0.1:9' });
    await custom(XT);
    await expect(errorOf('custom')).toContainText('Check the internet connection');
    await call('setHub', { url: server.hubUrl });

    // A file the listing names but the Hub then does not serve (404).
    server.failNext(W.image_encoder, 404, 10);
    await custom(XT);
    await expect(errorOf('custom')).toContainText(`has no file ${W.image_encoder}`);
    server.clearFaults();

    // Not enough storage: said before any weights are requested.
    await call('stubQuota', 20_000_000, 19_000_000);
    const cdnBefore = server.log.filter((r) => r.origin === 'cdn').length;
    await page.getByTestId('hub-get-svd-xt').click();
    await expect(errorOf('svd-xt')).toContainText('Not enough storage');
    await expect(errorOf('svd-xt')).toContainText('GB');
    expect(server.log.filter((r) => r.origin === 'cdn').length).toBe(cdnBefore);
    await call('unstubQuota');
    for (const r of server.log) expect(r.authorization === undefined || r.origin === 'hub', `${r.origin} ${r.path}`).toBe(true);
  });

  test('downloads and converts in the tab through a cut connection and two reloads; the files equal the CLI’s; the token goes to the Hub only; the model generates a video that plays', async ({ page, context, preview, openHarness, call, hub }) => {
    test.setTimeout(600_000);
    const { server, files, cliHashes } = hub;
    const requests: { url: string; authorization?: string }[] = [];
    context.on('request', (r) => requests.push({ url: r.url(), authorization: r.headers()['authorization'] }));
    const served = (path: string) => server.bytesServed(path);
    const size = (path: string) => files.get(path)!.length;
    const job = () => call<HubJob | null>('hubJob', MODEL_ID);
    const folder = () => call<{ hashes: Record<string, string>; texts: Record<string, string>; staged: Record<string, number> }>('folder', MODEL_ID);
    const report: Record<string, unknown> = { sizes: { unet: size(W.unet), vae: size(W.vae), image_encoder: size(W.image_encoder) } };

    // Run 1: a cut connection in the image encoder's weights (resumed with Range); the file host paced so that the
    // UNet (downloading while the image encoder and the VAE convert) is still coming when the converter holds after
    // the VAE encoder: reload there, mid-conversion and mid-download.
    await openHarness();
    await page.getByTestId('hub-token').fill(GOOD_TOKEN);
    await call('setHub', { holdAfter: 'vae_encoder' });
    server.throttle(Math.max(300_000, Math.ceil(size(W.unet) / 10)));
    server.cutNext(W.image_encoder, 100_000);
    await page.getByTestId('hub-get-svd-xt').click();
    await expect(page.getByTestId('hub-progress-svd-xt')).toBeVisible();
    await expect.poll(async () => (await folder()).texts['conversion.json'] ?? '', { timeout: 120_000 }).toContain('"vae_encoder"');
    const run1 = { imageEncoder: served(W.image_encoder), vae: served(W.vae), unet: served(W.unet) };
    expect(run1.imageEncoder).toBeGreaterThanOrEqual(size(W.image_encoder));
    expect(run1.imageEncoder - size(W.image_encoder)).toBeLessThan(100_000); // only what was in flight at the cut
    const rangeRequests = server.log.filter((r) => r.origin === 'cdn' && r.range && r.method === 'GET').length;
    expect(rangeRequests).toBeGreaterThanOrEqual(1);
    expect(run1.unet).toBeLessThan(size(W.unet)); // still downloading
    report.run1 = { ...run1, rangeRequests };
    await page.reload({ waitUntil: 'load' });

    // Run 2: resume (still paced); once the VAE decoder is converted and the UNet is half here, reload again.
    await openHarness();
    await expect(page.getByTestId('hub-get-svd-xt')).toHaveText('Resume', { timeout: 20_000 });
    await page.getByTestId('hub-get-svd-xt').click();
    await expect.poll(async () => (await folder()).texts['conversion.json'] ?? '', { timeout: 60_000 }).toContain('"vae_decoder"');
    await expect.poll(() => served(W.unet), { timeout: 60_000 }).toBeGreaterThan(size(W.unet) * 0.6);
    const afterRun2 = await folder();
    expect(Object.keys(afterRun2.hashes)).toEqual(expect.arrayContaining(['image_encoder.onnx', 'vae_encoder.onnx', 'vae_decoder.onnx']));
    expect(afterRun2.staged[W.vae]).toBeUndefined(); // converted, so deleted
    await page.reload({ waitUntil: 'load' });
    await new Promise((r) => setTimeout(r, 500)); // the server sees the connection close
    const servedAtReload = served(W.unet);
    const kept = (await folder()).staged[`${W.unet}.part`] ?? 0;
    expect(kept).toBeGreaterThan(0);

    // Run 3: to the end, at full speed.
    await openHarness();
    server.throttle(null);
    await page.getByTestId('hub-token').fill(GOOD_TOKEN);
    await page.getByTestId('hub-get-svd-xt').click();
    await expect(page.getByTestId('hub-done-svd-xt')).toBeVisible({ timeout: 120_000 });
    const final = (await job())!;
    expect(final.error).toBeUndefined();
    const reRequested = served(W.unet) - size(W.unet);
    report.run3 = { stats: final.stats, unetServedAtReload: servedAtReload, keptInPart: kept, unetServedAfter: served(W.unet) - servedAtReload, unetReRequestedBytes: reRequested };
    console.log(`[hub e2e] ${JSON.stringify(report, null, 2)}`);
    // after the reload only what the .part lacked was requested; in all, re-requested bytes are what was in flight
    expect(served(W.unet) - servedAtReload).toBe(size(W.unet) - kept);
    expect(reRequested).toBeLessThan(size(W.unet) * 0.2);
    expect(final.stats!.keptBytes).toBeGreaterThanOrEqual(kept);
    // components converted by an earlier run were not converted again
    expect(final.stats!.reusedGraphs).toEqual(expect.arrayContaining(['image_encoder', 'vae_encoder', 'vae_decoder']));
    expect(final.stats!.convertedGraphs).toEqual(['unet', 'denoise_step', 'denoise_step_cfg']);
    // the VAE's weights were fetched once, though both reloads came while they were needed
    expect(served(W.vae)).toBe(size(W.vae));
    // nothing but the selected files was ever fetched
    for (const decoy of ['svd_xt.safetensors', 'unet/diffusion_pytorch_model.safetensors', 'README.md', 'LICENSE.md']) expect(served(decoy), decoy).toBe(0);

    // The same bytes as `svd-web convert --precision q4f32`, manifest.json included; staging removed.
    const done = await folder();
    const got = { ...done.hashes };
    delete got['source.json'];
    expect(got).toEqual(cliHashes);
    expect(done.staged).toEqual({});
    await expect(page.getByTestId(`model-status-${MODEL_ID}`)).toContainText('Ready');

    // The token went to the Hub's origin and nowhere else.
    const hubOrigin = new URL(server.hubUrl).origin;
    for (const r of server.log) if (r.origin === 'cdn') expect(r.authorization, r.path).toBeUndefined();
    expect(server.log.some((r) => r.origin === 'hub' && r.authorization === `Bearer ${GOOD_TOKEN}`)).toBe(true);
    for (const r of requests) {
      expect(r.url.includes(GOOD_TOKEN), r.url).toBe(false);
      if (new URL(r.url).origin !== hubOrigin) expect(r.authorization, r.url).toBeUndefined();
    }

    // The converted model in the app: a generation on the CPU completes and the MP4 plays.
    const app = await context.newPage();
    app.on('pageerror', (e) => console.log(`[app pageerror] ${e.message}`));
    await app.goto(`${preview.origin}/`, { waitUntil: 'load', timeout: 60_000 });
    await expect(app.locator(`[data-testid="model-select"] option[value="${MODEL_ID}"]`)).toHaveCount(1, { timeout: 60_000 });
    await app.getByTestId('model-select').selectOption(MODEL_ID);
    await app.getByTestId('backend-select').selectOption('wasm');
    const png = new PNG({ width: 64, height: 64 });
    for (let i = 0; i < png.data.length; i += 4) png.data.set([(i / 4) % 64 * 4, 128, 200, 255], i);
    await app.getByTestId('file-input').setInputFiles({ name: 'square.png', mimeType: 'image/png', buffer: PNG.sync.write(png) });
    await expect(app.getByTestId('image-info')).toHaveText(/square\.png/);
    await app.getByLabel('Frames', { exact: true }).fill('3');
    const details = app.locator('details.advanced');
    if (!(await details.evaluate((d) => (d as HTMLDetailsElement).open))) await app.getByText('Advanced (this device only)').click();
    await app.getByLabel('Steps', { exact: true }).fill('2');
    await app.getByLabel('Resolution', { exact: true }).selectOption('custom');
    await app.getByLabel('Width', { exact: true }).fill('64');
    await app.getByLabel('Height', { exact: true }).fill('64');
    await app.getByTestId('generate').click();
    await expect(app.getByTestId('result-video')).toBeVisible({ timeout: 300_000 });
    const video = await app.evaluate(async () => {
      const v = document.querySelector('[data-testid="result-video"]') as HTMLVideoElement;
      if (v.readyState < 1) await new Promise((r) => v.addEventListener('loadedmetadata', r, { once: true }));
      const t0 = v.currentTime;
      await new Promise((r) => setTimeout(r, 700));
      return { width: v.videoWidth, height: v.videoHeight, duration: v.duration, advanced: v.currentTime !== t0 || v.played.length > 0, error: v.error?.message ?? null };
    });
    expect(video).toMatchObject({ width: 64, height: 64, error: null, advanced: true });
  });
});
