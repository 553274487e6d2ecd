/**
 * Browser e2e harness: real Debian Chromium (playwright-core, no browser download) against `vite preview` of dist/.
 *
 * - `startPreview()` serves the already-built dist/ (npm run test:e2e runs `vite build` first) on 127.0.0.1 with a
 *   free port, through Vite's `preview()` API, so the COOP/COEP headers come from vite.config.ts exactly as in prod.
 * - `launchBrowser()` starts headless Chromium with the flags measured to give SwiftShader WebGPU here.
 * - `openApp()` combines both and records console errors, page errors and every request (to prove same-origin).
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';
import type { HarnessApi } from '../src/devtools/api.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = join(ROOT, 'dist');
export const ARTIFACTS = join(ROOT, 'e2e', 'artifacts');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--enable-unsafe-webgpu',
];

export interface Preview {
  url: string;
  origin: string;
  close(): Promise<void>;
}

export async function startPreview(): Promise<Preview> {
  if (!existsSync(join(DIST, 'index.html')) || !existsSync(join(DIST, 'harness.html'))) {
    throw new Error(`dist/ is missing or stale: run \`npx vite build\` first (npm run test:e2e does it)`);
  }
  const server: PreviewServer = await preview({
    root: ROOT,
    configFile: join(ROOT, 'vite.config.ts'),
    logLevel: 'warn',
    preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false },
  });
  const address = server.httpServer.address() as AddressInfo | null;
  if (!address || typeof address === 'string') throw new Error('vite preview did not bind a TCP port');
  const origin = `http://127.0.0.1:${address.port}`;
  return {
    url: `${origin}/`,
    origin,
    close: () => server.close(),
  };
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian Chromium (apt-get update && apt-get install -y chromium)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

export interface RecordedRequest {
  url: string;
  method: string;
  resourceType: string;
}

export interface AppSession {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  preview: Preview;
  consoleErrors: string[];
  consoleLines: string[];
  pageErrors: string[];
  requests: RecordedRequest[];
  /** Requests whose origin is not the preview server's (data:/blob: URLs excluded). */
  foreignRequests(): RecordedRequest[];
  screenshot(name: string): Promise<string>;
  /** Calls a method of window.__svdHarness (harness.html) in the page. */
  harness<K extends keyof HarnessApi>(method: K, ...args: Parameters<HarnessApi[K]>): Promise<Awaited<ReturnType<HarnessApi[K]>>>;
  close(): Promise<void>;
}

/** Starts preview + Chromium and opens `path` (default the app, '/'). Close it in afterAll. */
export async function openApp(path = '/'): Promise<AppSession> {
  const preview = await startPreview();
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const consoleErrors: string[] = [];
    const consoleLines: string[] = [];
    const pageErrors: string[] = [];
    const requests: RecordedRequest[] = [];
    context.on('request', (r) => requests.push({ url: r.url(), method: r.method(), resourceType: r.resourceType() }));
    const page = await context.newPage();
    page.on('console', (m) => {
      const line = `[${m.type()}] ${m.text()}`;
      consoleLines.push(line);
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => pageErrors.push(`${e.name}: ${e.message}`));
    page.on('worker', (w) => {
      w.on('console', (m) => {
        const line = `[worker ${m.type()}] ${m.text()}`;
        consoleLines.push(line);
        if (m.type() === 'error') consoleErrors.push(m.text());
      });
    });
    await page.goto(new URL(path, preview.url).href, { waitUntil: 'load', timeout: 60_000 });
    if (path.includes('harness')) {
      await page.waitForFunction(() => '__svdHarness' in globalThis, undefined, { timeout: 30_000 });
    }
    const b = browser;
    return {
      browser: b,
      context,
      page,
      preview,
      consoleErrors,
      consoleLines,
      pageErrors,
      requests,
      foreignRequests: () =>
        requests.filter((r) => {
          const u = new URL(r.url);
          if (u.protocol === 'data:' || u.protocol === 'blob:') return false;
          return u.origin !== preview.origin;
        }),
      async screenshot(name) {
        mkdirSync(ARTIFACTS, { recursive: true });
        const file = join(ARTIFACTS, `${name}.png`);
        await page.screenshot({ path: file, fullPage: true });
        return file;
      },
      harness: (method, ...args) => callHarness(page, method, ...args),
      async close() {
        await b.close().catch(() => undefined);
        await preview.close();
      },
    };
  } catch (err) {
    await browser?.close().catch(() => undefined);
    await preview.close();
    throw err;
  }
}

/** Calls window.__svdHarness[method](...args) in a page that has loaded harness.html. */
export function callHarness<K extends keyof HarnessApi>(page: Page, method: K, ...args: Parameters<HarnessApi[K]>): Promise<Awaited<ReturnType<HarnessApi[K]>>> {
  return page.evaluate(
    ([m, a]) => {
      const h = (globalThis as unknown as { __svdHarness?: Record<string, (...x: unknown[]) => unknown> }).__svdHarness;
      if (!h) throw new Error('window.__svdHarness missing: open /harness.html');
      return h[m](...a);
    },
    [method, args] as [string, unknown[]],
  ) as never;
}
