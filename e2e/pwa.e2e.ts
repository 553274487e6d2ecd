/**
 * Installable PWA (issue 5), against the production build served by `vite preview`:
 * - the service worker registers and controls the page (and still does after a reload);
 * - installability: manifest fields, icons that load with the sizes they claim (PNG headers decoded), a service
 *   worker with a fetch handler (responses come from it), and Chromium's own verdict (CDP);
 * - a new version waits for the user: the "new version" prompt appears, nothing swaps until Reload is clicked;
 * - offline (`context.setOffline(true)`, then the server is stopped too): a reload shows the app, still
 *   cross-origin isolated, and a generation with the cached tiny demo model completes on the self-test page; the
 *   ffmpeg core (cached at runtime) still muxes.
 *
 * Every test gets a fresh server and a fresh browser profile (fixture `pwa`). The last four steps (online once, a
 * new version, offline reload, offline generation) build on each other's service worker and caches, so they are
 * one test with a step each.
 *
 * Run: npx vite build && npx playwright test e2e/pwa.e2e.ts
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { BrowserContext, Page, Response } from '@playwright/test';
import { preview, type Plugin, type PreviewServer } from 'vite';
import { ARTIFACTS, DIST, ROOT } from './harness.ts';
import { VIEWPORT } from './support/browser.ts';
import { expect, test as base } from './support/fixtures.ts';
import type { PipelineJob, PipelineRunReport, MuxReport, EnvReport } from '../src/devtools/api.ts';

const MODEL_URL = '/models/tiny-random/';
// The machine running the suite is shared and slow (a tiny generation takes ~2 min on wasm there): generous waits.
const LONG = 180_000;
const GENERATION = 600_000;

/**
 * `vite preview` of dist/ (as e2e/harness.ts' startPreview) plus a switch that simulates the next release: once
 * `release` is 2, /sw.js is served with one more line, i.e. a byte-different worker script. (Playwright's
 * context.route() does not see the browser's service-worker update checks, so the switch lives in the server.)
 */
interface PwaServer {
  origin: string;
  release: number;
  close(): Promise<void>;
}

async function startPwaPreview(): Promise<PwaServer> {
  if (!existsSync(join(DIST, 'sw.js'))) throw new Error('dist/sw.js missing: run `npx vite build` first');
  const state = { release: 1 };
  const nextRelease: Plugin = {
    name: 'pwa-e2e:next-release',
    configurePreviewServer(server) {
      // Registered before Vite's own middlewares: sets the same headers vite.config.ts gives every response.
      server.middlewares.use((req, res, next) => {
        if (state.release < 2 || new URL(req.url ?? '/', 'http://x').pathname !== '/sw.js') return next();
        res.setHeader('Content-Type', 'text/javascript');
        res.setHeader('Cache-Control', 'no-cache');
        for (const [k, v] of Object.entries(server.config.preview.headers ?? {})) res.setHeader(k, String(v));
        res.end(`${readFileSync(join(DIST, 'sw.js'), 'utf8')}\n// release ${state.release}\n`);
      });
    },
  };
  const server: PreviewServer = await preview({
    root: ROOT,
    configFile: join(ROOT, 'vite.config.ts'),
    logLevel: 'warn',
    plugins: [nextRelease],
    preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false },
  });
  const address = server.httpServer.address() as AddressInfo;
  let closed = false;
  return {
    origin: `http://127.0.0.1:${address.port}`,
    get release() {
      return state.release;
    },
    set release(v: number) {
      state.release = v;
    },
    async close() {
      if (closed) return;
      closed = true;
      await server.close();
    },
  };
}

interface ManifestIcon {
  src: string;
  sizes: string;
  type?: string;
  purpose?: string;
}
interface WebManifest {
  id?: string;
  name: string;
  short_name: string;
  description: string;
  start_url: string;
  scope: string;
  display: string;
  theme_color: string;
  background_color: string;
  icons: ManifestIcon[];
}

/** Width/height from a PNG's IHDR chunk (throws when the bytes are not a PNG). */
function pngSize(bytes: Buffer): { width: number; height: number } {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (bytes.length < 24 || !bytes.subarray(0, 8).equals(signature)) throw new Error('not a PNG');
  if (bytes.toString('latin1', 12, 16) !== 'IHDR') throw new Error('PNG without IHDR first');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/** The images of a .ico (PNG-compressed entries are decoded; BMP entries report the directory sizes). */
function icoSizes(bytes: Buffer): { width: number; height: number }[] {
  if (bytes.readUInt16LE(0) !== 0 || bytes.readUInt16LE(2) !== 1) throw new Error('not an .ico');
  const out: { width: number; height: number }[] = [];
  for (let i = 0; i < bytes.readUInt16LE(4); i++) {
    const e = 6 + 16 * i;
    const size = bytes.readUInt32LE(e + 8);
    const offset = bytes.readUInt32LE(e + 12);
    const image = bytes.subarray(offset, offset + size);
    const dir = { width: bytes[e] || 256, height: bytes[e + 1] || 256 };
    const png = image[0] === 0x89 ? pngSize(image) : dir;
    expect(png).toEqual(dir);
    out.push(png);
  }
  return out;
}

/** 64×64 RGBA test image: a smooth gradient. */
function testImage(): PipelineJob['image'] {
  const w = 64, h = 64, rgba: number[] = [];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgba.push((x * 4) & 255, (y * 4) & 255, 128, 255);
  return { width: w, height: h, rgba };
}

const tinyJob: PipelineJob = {
  image: testImage(),
  request: { width: 64, height: 64, frames: 3, steps: 2, fps: 7, motion: 127, cond_aug: 0.02, seed: 7, decode_chunk: 3 },
};

async function swState(page: Page) {
  return page.evaluate(async () => {
    const reg = await navigator.serviceWorker.getRegistration();
    return {
      controller: navigator.serviceWorker.controller?.scriptURL ?? null,
      active: reg?.active?.state ?? null,
      waiting: reg?.waiting?.state ?? null,
      scope: reg?.scope ?? null,
      crossOriginIsolated: globalThis.crossOriginIsolated,
    };
  });
}

async function cacheContents(page: Page): Promise<Record<string, string[]>> {
  return page.evaluate(async () => {
    const out: Record<string, string[]> = {};
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      out[name] = (await cache.keys()).map((r) => new URL(r.url).pathname);
    }
    return out;
  });
}

function pathsOf(contents: Record<string, string[]>, prefix: string): string[] {
  return Object.entries(contents)
    .filter(([name]) => name.startsWith(prefix))
    .flatMap(([, paths]) => paths);
}

async function harnessCall<T>(page: Page, method: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(
    ([m, a]) => {
      const h = (globalThis as unknown as { __svdHarness?: Record<string, (...x: unknown[]) => unknown> }).__svdHarness;
      if (!h) throw new Error('window.__svdHarness missing');
      return h[m](...a);
    },
    [method, args] as [string, unknown[]],
  ) as Promise<T>;
}

async function openHarness(page: Page, url: string): Promise<Response | null> {
  const res = await page.goto(url, { waitUntil: 'load', timeout: LONG });
  await page.waitForFunction(() => '__svdHarness' in globalThis, undefined, { timeout: LONG });
  return res;
}

function expectGenerated(report: PipelineRunReport): void {
  expect(report.device).toBe('wasm');
  const [job] = report.jobs;
  expect(job.error).toBeUndefined();
  expect(job.outcome).toBe('result');
  expect(job.frameCount).toBe(3);
  expect(job.progress.filter((p) => p.stage === 'denoise').map((p) => p.step)).toEqual([1, 2]);
}

interface PwaApp {
  server: PwaServer;
  context: BrowserContext;
  /** the app ('/'), opened by the fixture */
  page: Page;
  preview: { origin: string };
  /** records console lines and page errors of a page into the log */
  watch(page: Page, tag: string): void;
}

/** Waits until the service worker is active and controls `page` (clientsClaim: the first visit, no reload). */
async function swControls(page: Page): Promise<void> {
  await page.waitForFunction(async () => (await navigator.serviceWorker.ready).active?.state === 'activated', undefined, { timeout: LONG });
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: LONG });
}

const test = base.extend<{ pwa: PwaApp }>({
  // A persistent profile (not incognito), as an installed app would have: Chromium then judges installability
  // without the "in-incognito" reason, and service worker + Cache Storage behave as for a real user.
  pwa: [
    async ({ playwright, launchOptions, headless }, use, testInfo) => {
      const profile = mkdtempSync(join(tmpdir(), 'svd-pwa-e2e-'));
      const log: string[] = [];
      const server = await startPwaPreview();
      let context: BrowserContext | undefined;
      try {
        context = await playwright.chromium.launchPersistentContext(profile, { ...launchOptions, headless, viewport: VIEWPORT });
        const watch = (page: Page, tag: string) => {
          page.on('console', (m) => log.push(`[${tag} ${m.type()}] ${m.text()}`));
          page.on('pageerror', (e) => log.push(`[${tag} pageerror] ${e.message}`));
          page.on('worker', (w) => w.on('console', (m) => log.push(`[${tag} worker ${m.type()}] ${m.text()}`)));
        };
        const page = context.pages()[0] ?? (await context.newPage());
        watch(page, 'app');
        await page.goto(`${server.origin}/`, { waitUntil: 'load', timeout: LONG });
        await use({ server, context, page, preview: server, watch });
        if (testInfo.status !== testInfo.expectedStatus) {
          console.log(`last browser console lines:\n${log.slice(-80).join('\n')}`);
          await testInfo.attach('browser console', { body: log.join('\n'), contentType: 'text/plain' });
        }
      } finally {
        await context?.close().catch(() => undefined);
        await server.close().catch(() => undefined);
        rmSync(profile, { recursive: true, force: true });
      }
    },
    { timeout: LONG },
  ],
});

test.describe('installable PWA, offline', () => {
  test('registers the service worker; it controls the page, and still does after a reload', async ({ pwa: app }) => {
    test.setTimeout(LONG);
    const { page } = app;
    await page.waitForFunction(async () => (await navigator.serviceWorker.ready).active?.state === 'activated', undefined, { timeout: LONG });
    // clientsClaim: the first visit is controlled without a reload (so what it loads gets cached).
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: LONG });
    const first = await swState(page);
    expect(first.controller).toBe(`${app.preview.origin}/sw.js`);
    expect(first.scope).toBe(`${app.preview.origin}/`);

    const res = await page.reload({ waitUntil: 'load', timeout: LONG });
    expect(res?.fromServiceWorker()).toBe(true); // index.html comes from the precache
    const after = await swState(page);
    expect(after.controller).toBe(`${app.preview.origin}/sw.js`);
    expect(after.active).toBe('activated');
    expect(after.waiting).toBeNull();
    expect(after.crossOriginIsolated).toBe(true);
    await page.waitForSelector('#root > *', { timeout: LONG });

    // The precache holds the app shell and nothing big: no models, no wasm, no self-test pages.
    const cached = await cacheContents(page);
    const precache = pathsOf(cached, 'workbox-precache');
    expect(precache).toEqual(expect.arrayContaining(['/index.html', '/manifest.webmanifest', '/icons/icon-192.png', '/favicon.ico']));
    expect(precache.some((p) => /^\/assets\/main-.*\.js$/.test(p))).toBe(true);
    expect(precache.some((p) => /^\/assets\/generate\.worker-.*\.js$/.test(p))).toBe(true);
    expect(precache.filter((p) => /models|harness|\.wasm$|ort-wasm|ffmpeg-core/.test(p))).toEqual([]);
  });

  test('meets the installability criteria: manifest fields, icons with the sizes they claim, a fetch handler', async ({ pwa: app }) => {
    test.setTimeout(LONG);
    // (the old suite ran this after the test above had left the page controlled by the worker)
    await test.step('setup: the service worker controls the page', () => swControls(app.page));
    const { page, context } = app;
    const href = await page.evaluate(() => document.querySelector<HTMLLinkElement>('link[rel="manifest"]')?.href ?? null);
    expect(href).toBe(`${app.preview.origin}/manifest.webmanifest`);
    const res = await context.request.get(href!);
    expect(res.status()).toBe(200);
    expect(res.headers()['content-type']).toMatch(/application\/(manifest\+)?json/);
    const manifest = (await res.json()) as WebManifest;
    expect(manifest.name).toBe('svd-web — image to video on your GPU');
    expect(manifest.short_name).toBe('svd-web');
    expect(manifest.description.length).toBeGreaterThan(20);
    expect(manifest.display).toBe('standalone');
    expect(manifest.start_url).toBe('/');
    expect(manifest.scope).toBe('/');
    expect(manifest.theme_color).toMatch(/^#[0-9a-f]{6}$/i);
    expect(manifest.background_color).toMatch(/^#[0-9a-f]{6}$/i);

    const purposes = (i: ManifestIcon) => (i.purpose ?? 'any').split(/\s+/);
    const want = [
      { sizes: '192x192', purpose: 'any' },
      { sizes: '512x512', purpose: 'any' },
      { sizes: '512x512', purpose: 'maskable' },
    ];
    for (const w of want) {
      expect(manifest.icons.some((i) => i.sizes === w.sizes && purposes(i).includes(w.purpose)), JSON.stringify(w)).toBe(true);
    }
    for (const icon of manifest.icons) {
      const r = await context.request.get(new URL(icon.src, href!).href);
      expect(r.status(), icon.src).toBe(200);
      expect(r.headers()['content-type']).toBe('image/png');
      const [w, h] = icon.sizes.split('x').map(Number);
      expect(pngSize(await r.body()), icon.src).toEqual({ width: w, height: h });
    }

    // apple-touch-icon (180×180) and the favicon (16/32/48 PNG-in-ICO, plus a 32×32 PNG).
    const links = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLLinkElement>('link[rel="icon"], link[rel="apple-touch-icon"]')].map((l) => ({ rel: l.rel, href: l.href })),
    );
    const apple = links.find((l) => l.rel === 'apple-touch-icon');
    expect(apple).toBeDefined();
    expect(pngSize(await (await context.request.get(apple!.href)).body())).toEqual({ width: 180, height: 180 });
    const ico = links.find((l) => l.rel === 'icon' && l.href.endsWith('.ico'));
    expect(icoSizes(await (await context.request.get(ico!.href)).body()).map((s) => s.width)).toEqual([16, 32, 48]);
    const png = links.find((l) => l.rel === 'icon' && l.href.endsWith('.png'));
    expect(pngSize(await (await context.request.get(png!.href)).body())).toEqual({ width: 32, height: 32 });

    // A service worker with a fetch handler: page resources are answered by it.
    const fromSw: string[] = [];
    const onResponse = (r: Response) => {
      if (r.fromServiceWorker()) fromSw.push(new URL(r.url()).pathname);
    };
    page.on('response', onResponse);
    await page.reload({ waitUntil: 'load', timeout: LONG });
    page.off('response', onResponse);
    expect(fromSw).toContain('/');
    expect(fromSw.some((p) => /^\/assets\/main-.*\.js$/.test(p))).toBe(true);

    // Chromium's own verdict (what DevTools' Application → Manifest → Installability shows).
    const cdp = await context.newCDPSession(page);
    const parsed = (await cdp.send('Page.getAppManifest')) as { errors: { message: string; critical: number }[]; url: string };
    expect(parsed.url).toBe(href);
    expect(parsed.errors).toEqual([]);
    const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as {
      installabilityErrors: { errorId: string; errorArguments: { name: string; value: string }[] }[];
    };
    expect(installabilityErrors).toEqual([]);
    await cdp.detach();
  });

  // One test: each step uses what the one before left in the profile (service worker, caches, the open harness tab),
  // as the old file's last four tests did one after another. The limit is the sum of theirs.
  test('online once, then a new version that waits, then offline: the app shell and a generation from the caches', async ({ pwa: app }) => {
    test.setTimeout(LONG + GENERATION + LONG + LONG + GENERATION);
    const { server, watch } = app;
    let harnessPage!: Page;
    let onlineChecksum: number | undefined;
    await test.step('setup: the service worker controls the page', () => swControls(app.page));

    await test.step('runs a generation and a mux online once; the ORT/ffmpeg wasm, the demo model and the self-test page get cached', async () => {
      harnessPage = await app.context.newPage();
      watch(harnessPage, 'harness');
      const res = await openHarness(harnessPage, `${app.preview.origin}/harness.html`);
      expect(res?.fromServiceWorker()).toBe(true); // NetworkFirst route
      const env = await harnessCall<EnvReport>(harnessPage, 'env');
      expect(env.crossOriginIsolated).toBe(true);

      const report = await harnessCall<PipelineRunReport>(harnessPage, 'pipeline', { modelBaseUrl: MODEL_URL, device: 'wasm', jobs: [tinyJob] });
      expectGenerated(report);
      onlineChecksum = report.jobs[0].rgbaChecksum;
      // the app's own pick (WebCodecs where the browser encodes H.264), then ffmpeg.wasm, the fallback every browser
      // gets, so that its core is cached for offline use too
      const mux = await harnessCall<MuxReport>(harnessPage, 'mux', { width: 64, height: 64, frames: 3, fps: 7, format: 'mp4' });
      expect(mux.bytes).toBeGreaterThan(0);
      const muxFfmpeg = await harnessCall<MuxReport>(harnessPage, 'mux', { width: 64, height: 64, frames: 3, fps: 7, format: 'mp4', encoder: 'ffmpeg' });
      expect(muxFfmpeg.encoder).toBe('ffmpeg.wasm');

      const cached = await cacheContents(harnessPage);
      const runtime = pathsOf(cached, 'svd-runtime-wasm');
      for (const re of [/ort-wasm.*\.wasm$/, /ort-wasm.*\.mjs$/, /ffmpeg-core.*\.wasm$/, /ffmpeg-core.*\.js$/]) {
        expect(runtime.some((p) => re.test(p)), `${re} in ${JSON.stringify(runtime)}`).toBe(true);
      }
      const model = pathsOf(cached, 'svd-demo-model-');
      expect(model).toEqual(expect.arrayContaining([`${MODEL_URL}manifest.json`, `${MODEL_URL}unet.onnx`, `${MODEL_URL}unet.data.0`]));
      expect(pathsOf(cached, 'svd-devtools')).toContain('/harness.html');
      // Exactly one demo-model cache (the current build's).
      expect(Object.keys(cached).filter((n) => n.startsWith('svd-demo-model-'))).toHaveLength(1);
    });

    await test.step('announces a new version and waits: nothing swaps until the user clicks Reload', async () => {
      const { page } = app;
      // A "new release": the same worker script with one more line, served from now on.
      server.release = 2;
      await page.evaluate(() => {
        (globalThis as { __marker?: number }).__marker = 42;
      });
      await page.evaluate(async () => {
        await (await navigator.serviceWorker.getRegistration())!.update();
      });
      await page.waitForFunction(() => document.documentElement.dataset.svdUpdate === 'waiting', undefined, { timeout: LONG });
      const before = await swState(page);
      expect(before.waiting).toBe('installed');
      expect(before.active).toBe('activated');
      // Still the same page (not reloaded), still under the old worker, in this tab and in the harness tab.
      expect(await page.evaluate(() => (globalThis as { __marker?: number }).__marker)).toBe(42);
      await new Promise((r) => setTimeout(r, 2000));
      expect((await swState(page)).waiting).toBe('installed');

      // The prompt: the app's own banner (src/ui/UpdateBanner.tsx, via onUpdateReady), else register.ts' default toast.
      const banner = page.getByTestId('update-banner');
      const toast = page.locator('[data-svd-update-toast="waiting"]');
      await expect.poll(async () => (await banner.count()) + (await toast.count()), { timeout: 30_000 }).toBeGreaterThan(0);
      const prompt = (await banner.count()) > 0 ? banner : toast;
      console.log(`update prompt: ${prompt === banner ? 'the app\'s UpdateBanner' : 'register.ts default toast'}`);
      expect(await prompt.textContent()).toMatch(/new version .*ready/i);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'pwa-update-prompt.png') });
      const reloaded = page.waitForEvent('load', { timeout: LONG });
      await prompt.getByRole('button', { name: /reload/i }).click();
      await reloaded;
      await page.waitForFunction(async () => {
        const reg = await navigator.serviceWorker.getRegistration();
        return reg?.waiting == null && reg?.active?.state === 'activated' && navigator.serviceWorker.controller !== null;
      }, undefined, { timeout: LONG });
      expect(await page.evaluate(() => (globalThis as { __marker?: number }).__marker)).toBeUndefined();
      // The other tab was not reloaded: it is told, and keeps running.
      expect(await harnessPage.evaluate(() => '__svdHarness' in globalThis)).toBe(true);
      // The new worker kept the runtime caches (they are not versioned by the worker).
      const runtime = pathsOf(await cacheContents(page), 'svd-runtime-wasm');
      expect(runtime.some((p) => /ort-wasm.*\.wasm$/.test(p))).toBe(true);
    });

    await test.step('offline: a reload shows the app, cross-origin isolated, from the service worker', async () => {
      const { page, context } = app;
      await context.setOffline(true);
      // Belt and braces: with the server gone too, nothing can come from the network.
      await server.close();
      const res = await page.reload({ waitUntil: 'load', timeout: LONG });
      expect(res?.status()).toBe(200);
      expect(res?.fromServiceWorker()).toBe(true);
      await page.waitForSelector('#root > *', { timeout: LONG });
      expect(await page.title()).toContain('svd-web');
      expect((await swState(page)).crossOriginIsolated).toBe(true);
      // Another in-app route falls back to the precached shell as well.
      const deep = await page.goto(`${app.preview.origin}/some/deep/link`, { waitUntil: 'load', timeout: LONG });
      expect(deep?.fromServiceWorker()).toBe(true);
      await page.waitForSelector('#root > *', { timeout: LONG });
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'pwa-offline.png'), fullPage: true });
    });

    await test.step('offline: a generation with the cached tiny model completes, and ffmpeg.wasm still muxes (as does WebCodecs)', async () => {
      const res = await openHarness(harnessPage, `${app.preview.origin}/harness.html`);
      expect(res?.fromServiceWorker()).toBe(true);
      const env = await harnessCall<EnvReport>(harnessPage, 'env');
      expect(env.crossOriginIsolated).toBe(true);
      expect(env.sharedArrayBuffer).toBe(true);

      const report = await harnessCall<PipelineRunReport>(harnessPage, 'pipeline', { modelBaseUrl: MODEL_URL, device: 'wasm', jobs: [tinyJob] });
      expectGenerated(report);
      // Same seed, same cached model: the same frames as online.
      expect(report.jobs[0].rgbaChecksum).toBe(onlineChecksum);
      const mux = await harnessCall<MuxReport>(harnessPage, 'mux', { width: 64, height: 64, frames: 3, fps: 7, format: 'mp4' });
      expect(mux.bytes).toBeGreaterThan(0);
      const muxFfmpeg = await harnessCall<MuxReport>(harnessPage, 'mux', { width: 64, height: 64, frames: 3, fps: 7, format: 'mp4', encoder: 'ffmpeg' });
      expect(muxFfmpeg).toMatchObject({ encoder: 'ffmpeg.wasm' });
      expect(muxFfmpeg.bytes).toBeGreaterThan(0);
    });
  });
});
