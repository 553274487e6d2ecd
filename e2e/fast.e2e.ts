/**
 * The fast model from the Hub, in Chromium: "SVD-XT fast (AnimateLCM, 4 steps)" takes SVD-XT's configs, image encoder
 * and VAE from one repository and the UNet from a second, wangfuyun/AnimateLCM-SVD-xt, whose one fp32 file is all
 * that is fetched of it. Against the fake Hub (e2e/support/hub-server.ts) serving a tiny synthetic SVD-XT
 * (`svd-web synth --preset tiny`) and a synthetic AnimateLCM file (`svd-web synth --preset tiny --layout animatelcm`),
 * plus decoys (SVD-XT's own UNet weights, AnimateLCM-SVD-xt-1.1.safetensors, demo media) that must never be fetched:
 *
 *   - the panel states sizes, the licences (the AnimateLCM-SVD-xt model card has no licence tag) and the note;
 *   - a cut connection in the AnimateLCM file resumes with Range from its own repository's resolve URL;
 *   - the converted files equal `svd-web convert --unet <AnimateLCM file> --precision q4f32`'s byte for byte,
 *     manifest.json included (sampler animatelcm); source.json names both repositories; the token reaches the Hub only;
 *   - the model generates in the app on the CPU in 4 steps without guidance, and the MP4 plays.
 *
 * Pages: dist/models-harness.html (the model manager with window.__svdModels) and the app (dist/index.html).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { expect, test as base } from './support/fixtures.ts';
import { startHubServer, type FakeHub } from './support/hub-server.ts';
import { readTree, sha256 } from './support/tree.ts';
import { synthesizeCheckpoint, synthesizeUnetFile } from '../src/compiler/synthetic/write.ts';
import { convertCheckpoint } from '../src/compiler/convert-folder.ts';

const HARNESS = '/models-harness.html';
const XT = 'stabilityai/stable-video-diffusion-img2vid-xt';
const LCM = 'wangfuyun/AnimateLCM-SVD-xt';
const LCM_FILE = 'AnimateLCM-SVD-xt.safetensors';
const GOOD_TOKEN = 'hf_e2eFastModelToken0123456789';
const TUNING = { stallTimeoutMs: 3000, backoffBaseMs: 100, backoffCapMs: 500, maxAttempts: 4 };
/** the model the fast entry becomes on an adapter without shader-f16 (SwiftShader here) */
const MODEL_ID = 'svd-xt-fast-q4f32';
const XT_UNET = 'unet/diffusion_pytorch_model.fp16.safetensors';
/** never to be fetched: SVD-XT's own UNet weights, the other AnimateLCM file, demo media, model cards */
const DECOYS = [XT_UNET, 'unet/diffusion_pytorch_model.safetensors', 'AnimateLCM-SVD-xt-1.1.safetensors', 'demo/01.mp4', 'README.md'];

interface FastHubFixture {
  server: FakeHub;
  base: Map<string, Uint8Array>;
  lcm: Map<string, Uint8Array>;
  /** sha256 of every file `svd-web convert --unet <AnimateLCM file> --precision q4f32` wrote */
  cliHashes: Record<string, string>;
}

const test = base.extend<{ call: <T = unknown>(method: string, ...args: unknown[]) => Promise<T> }, { fastHub: FastHubFixture }>({
  fastHub: [
    async ({}, use) => {
      const dir = mkdtempSync(join(tmpdir(), 'svd-fast-e2e-'));
      const ckpt = join(dir, 'checkpoint');
      synthesizeCheckpoint({ out: ckpt, preset: 'tiny', dtype: 'f16', seed: 11 });
      const lcmDir = join(dir, 'animatelcm');
      synthesizeUnetFile({ out: lcmDir, preset: 'tiny', seed: 7 }); // fp32, as published
      const base = readTree(ckpt);
      base.set('unet/diffusion_pytorch_model.safetensors', randomBytes(200_000));
      base.set('README.md', new TextEncoder().encode('# tiny synthetic SVD-XT\n'));
      const lcm = readTree(lcmDir);
      lcm.set('AnimateLCM-SVD-xt-1.1.safetensors', randomBytes(300_000));
      lcm.set('demo/01.mp4', randomBytes(50_000));
      lcm.set('README.md', new TextEncoder().encode('# AnimateLCM-SVD-xt\n'));
      const cliOut = join(dir, 'cli-q4f32');
      convertCheckpoint({ from: ckpt, out: cliOut, precision: 'q4f32', unetFile: join(lcmDir, LCM_FILE), sampler: 'animatelcm' });
      const cliHashes = Object.fromEntries([...readTree(cliOut)].map(([p, b]) => [p, sha256(b)]));
      const server = await startHubServer({
        repos: [
          { repo: XT, files: base },
          { repo: LCM, files: lcm },
        ],
        tokens: { accepted: [GOOD_TOKEN] },
      });
      await use({ server, base, lcm, cliHashes });
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
    { scope: 'worker', timeout: 180_000 },
  ],
  call: async ({ page }, use) => {
    await use(<T,>(method: string, ...args: unknown[]) =>
      page.evaluate(([m, a]) => (globalThis as unknown as { __svdModels: Record<string, (...x: unknown[]) => unknown> }).__svdModels[m](...a), [method, args] as [string, unknown[]]) as Promise<T>,
    );
  },
});

test.describe('SVD-XT fast (AnimateLCM) from the Hub', () => {
  test('gets SVD-XT fast from two repositories: the CLI’s bytes, sampler animatelcm, no decoy fetched; generates in 4 steps and the MP4 plays', async ({ page, context, preview, call, fastHub }) => {
    test.setTimeout(600_000);
    const { server, lcm, cliHashes } = fastHub;
    page.on('pageerror', (e) => console.log(`[pageerror] ${e.message}`));
    const requests: { url: string; authorization?: string }[] = [];
    context.on('request', (r) => requests.push({ url: r.url(), authorization: r.headers()['authorization'] }));
    await page.goto(`${preview.origin}${HARNESS}`, { waitUntil: 'load', timeout: 60_000 });
    await page.waitForFunction(() => '__svdModels' in globalThis, undefined, { timeout: 30_000 });
    await call('setHub', { url: server.hubUrl, tuning: TUNING });

    // The entry: what it downloads from where, what it becomes, its licences and the note.
    const entry = page.getByTestId('hub-entry-svd-xt-fast');
    await expect(entry).toContainText('SVD-XT fast (AnimateLCM, 4 steps)');
    await expect(entry).toContainText(`UNet from ${LCM}`);
    await expect(page.getByTestId('hub-facts-svd-xt-fast')).toContainText(/Download ≈ 7\.\d+ GB \(fp16 image encoder and VAE \+ the UNet, AnimateLCM-SVD-xt\.safetensors, in fp32; not stabilityai\/stable-video-diffusion-img2vid-xt's own UNet\)/);
    await expect(page.getByTestId('hub-facts-svd-xt-fast')).toContainText(/becomes ≈ 1\.\d+ GB as q4f32 · needs ≈ \d+\.\d+ GB free while converting · 25 frames at 1024×576/);
    await expect(entry).toContainText('licence: UNet: the AnimateLCM-SVD-xt model card has no licence tag (https://huggingface.co/wangfuyun/AnimateLCM-SVD-xt)');
    await expect(entry).toContainText('image encoder and VAE (stabilityai/stable-video-diffusion-img2vid-xt): Stability AI Community License');
    await expect(entry).toContainText('4 steps, no guidance: about 12× less work than 25 guided steps');
    await expect(entry.locator('a[href="https://huggingface.co/wangfuyun/AnimateLCM-SVD-xt"]')).toHaveCount(2);

    // Get it (with a token, to see where it goes); the AnimateLCM file's connection is cut once, mid-file.
    await page.getByTestId('hub-token').fill(GOOD_TOKEN);
    const cutAt = Math.floor(lcm.get(LCM_FILE)!.length / 3);
    server.cutNext(LCM_FILE, cutAt);
    const t0 = Date.now();
    await page.getByTestId('hub-get-svd-xt-fast').click();
    await expect(page.getByTestId('hub-done-svd-xt-fast')).toBeVisible({ timeout: 240_000 });
    const seconds = (Date.now() - t0) / 1000;
    const job = await call<{ error?: unknown; stats?: { networkBytes: number; convertedGraphs: string[] } }>('hubJob', MODEL_ID);
    expect(job?.error).toBeUndefined();
    expect(job!.stats!.convertedGraphs).toEqual(['image_encoder', 'vae_encoder', 'vae_decoder', 'unet', 'consistency_step', 'consistency_step_cfg']);

    // Byte for byte what `svd-web convert --unet … --precision q4f32` wrote, manifest.json included; staging gone.
    const done = await call<{ hashes: Record<string, string>; texts: Record<string, string>; staged: Record<string, number> }>('folder', MODEL_ID);
    const got = { ...done.hashes };
    delete got['source.json'];
    expect(got).toEqual(cliHashes);
    expect(done.staged).toEqual({});
    const manifest = JSON.parse(done.texts['manifest.json']);
    expect(manifest.sampler).toBe('animatelcm');
    expect(manifest.requestDefaults).toEqual({ steps: 4, min_guidance: 1, max_guidance: 1 });
    expect(Object.keys(manifest.graphs)).toEqual(expect.arrayContaining(['consistency_step', 'consistency_step_cfg']));
    expect(JSON.parse(done.texts['source.json'])).toMatchObject({
      kind: 'hub',
      hub: { repo: XT, revision: 'main', precision: 'q4f32', unet: { repo: LCM, revision: 'main', path: LCM_FILE, sampler: 'animatelcm' } },
    });

    // Only the selected files: the AnimateLCM file (resumed with Range after the cut: only what was in flight again),
    // SVD-XT's own UNet weights and every decoy never.
    const lcmServed = server.bytesServed(LCM_FILE);
    expect(lcmServed).toBeGreaterThanOrEqual(lcm.get(LCM_FILE)!.length);
    expect(lcmServed - lcm.get(LCM_FILE)!.length).toBeLessThan(cutAt);
    expect(server.log.some((r) => r.origin === 'cdn' && r.method === 'GET' && r.range !== undefined && r.range !== 'bytes=0-')).toBe(true);
    for (const decoy of DECOYS) expect(server.bytesServed(decoy), decoy).toBe(0);
    const resolved = server.log.filter((r) => r.origin === 'hub' && r.path.includes('/resolve/')).map((r) => decodeURIComponent(r.path));
    expect(resolved.some((p) => p.startsWith(`/${LCM}/resolve/`) && p.endsWith(`/${LCM_FILE}`))).toBe(true);
    expect(resolved.filter((p) => p.startsWith(`/${LCM}/`)).every((p) => p.endsWith(`/${LCM_FILE}`))).toBe(true);

    // The token went to the Hub's origin (both repositories' resolve URLs) and nowhere else.
    const hubOrigin = new URL(server.hubUrl).origin;
    expect(server.log.some((r) => r.origin === 'hub' && r.path.startsWith(`/${LCM}/resolve/`) && r.authorization === `Bearer ${GOOD_TOKEN}`)).toBe(true);
    for (const r of server.log) if (r.origin === 'cdn') expect(r.authorization, r.path).toBeUndefined();
    for (const r of requests) if (new URL(r.url).origin !== hubOrigin) expect(r.authorization, r.url).toBeUndefined();
    console.log(`[fast e2e] got SVD-XT fast in ${seconds.toFixed(1)} s (${job!.stats!.networkBytes} bytes downloaded; AnimateLCM file ${lcm.get(LCM_FILE)!.length} bytes, ${lcmServed} served, cut at ${cutAt})`);

    // In the app: the CPU, 64×64, 3 frames, the model's 4 steps without guidance; the MP4 plays.
    const app = await context.newPage();
    app.on('pageerror', (e) => console.log(`[app pageerror] ${e.message}`));
    await app.goto(`${preview.origin}/`, { waitUntil: 'load', timeout: 60_000 });
    await expect(app.locator(`[data-testid="model-select"] option[value="${MODEL_ID}"]`)).toHaveCount(1, { timeout: 60_000 });
    await app.getByTestId('model-select').selectOption(MODEL_ID);
    await app.getByTestId('backend-select').selectOption('wasm');
    const png = new PNG({ width: 64, height: 64 });
    for (let i = 0; i < png.data.length; i += 4) png.data.set([((i / 4) % 64) * 4, 128, 200, 255], i);
    await app.getByTestId('file-input').setInputFiles({ name: 'square.png', mimeType: 'image/png', buffer: PNG.sync.write(png) });
    await expect(app.getByTestId('image-info')).toHaveText(/square\.png/);
    await app.getByLabel('Frames', { exact: true }).fill('3');
    const details = app.locator('details.advanced');
    if (!(await details.evaluate((d) => (d as HTMLDetailsElement).open))) await app.getByText('Advanced (this device only)').click();
    // The model's requestDefaults (4 steps, guidance 1): the form takes them when the model is picked.
    const field = (label: string) => app.getByLabel(label, { exact: true });
    await expect.poll(async () => [await field('Steps').inputValue(), await field('Min guidance').inputValue(), await field('Max guidance').inputValue()].map(Number), { timeout: 10_000 }).toEqual([4, 1, 1]);
    await app.getByLabel('Resolution', { exact: true }).selectOption('custom');
    await field('Width').fill('64');
    await field('Height').fill('64');
    await app.evaluate(() => {
      const labels: string[] = [];
      (globalThis as { __labels?: string[] }).__labels = labels;
      new MutationObserver(() => {
        const l = document.querySelector('[data-testid="progress-label"]')?.textContent ?? '';
        if (l && labels.at(-1) !== l) labels.push(l);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    const tg = Date.now();
    await app.getByTestId('generate').click();
    await expect(app.getByTestId('result-video')).toBeVisible({ timeout: 300_000 });
    const labels = await app.evaluate(() => (globalThis as unknown as { __labels: string[] }).__labels);
    console.log(`[fast e2e] generated in ${((Date.now() - tg) / 1000).toFixed(1)} s; progress: ${labels.join(' | ')}`);
    const steps = labels.map((l) => /step (\d+)\s*(?:\/|of)\s*(\d+)/i.exec(l)).filter((m) => m !== null);
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.every((m) => m![2] === '4'), labels.join(' | ')).toBe(true);
    expect(steps.some((m) => m![1] === '4'), labels.join(' | ')).toBe(true);
    const video = await app.evaluate(async () => {
      const v = document.querySelector('[data-testid="result-video"]') as HTMLVideoElement;
      if (v.readyState < 1) await new Promise((r) => v.addEventListener('loadedmetadata', r, { once: true }));
      const t0 = v.currentTime;
      await new Promise((r) => setTimeout(r, 700));
      return { width: v.videoWidth, height: v.videoHeight, advanced: v.currentTime !== t0 || v.played.length > 0, error: v.error?.message ?? null };
    });
    expect(video).toMatchObject({ width: 64, height: 64, error: null, advanced: true });
  });
});
