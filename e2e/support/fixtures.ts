/**
 * Playwright Test fixtures of the e2e suite. Every spec imports `test` and `expect` from here.
 *
 * Worker-scoped (one per worker process, set up the first time a test asks, closed when the worker ends):
 *   preview       `vite preview` of the built dist/ on a free port (e2e/harness.ts startPreview)
 *   modelServer   a local model host (e2e/support/model-server.ts) serving `svd-web convert` of fixture A
 *
 * Test-scoped (fresh for every test):
 *   app           Playwright's own `page` (a new browser context per test, so traces and failure screenshots
 *                 cover it) opened on `appPath` (default '/'), recording console errors, page errors and every
 *                 request, as the old AppSession did, so tests can assert on foreign requests and console errors
 *   harnessPage   the same, opened on /harness.html once window.__svdHarness exists
 *   segmindServer the Segmind contract stand-in (tests/support/segmind-server.ts), options in `segmindOptions`;
 *                 per test because tests set its scenario, read its requests, and one closes it
 *
 * `recordSession()` / `openSession()` give worker-scoped fixtures of a spec (an expensive generation, muxed
 * videos) the same recording on a context of their own.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test as base, expect, type Browser, type BrowserContext, type Page, type TestInfo } from '@playwright/test';
import type { HarnessApi } from '../../src/devtools/api.ts';
import { ARTIFACTS, ROOT, callHarness, startPreview, type Preview } from '../harness.ts';
import { startSegmindServer, type SegmindServer, type SegmindServerOptions } from '../../tests/support/segmind-server.ts';
import { VIEWPORT } from './browser.ts';
import { readManifest, startModelServer, type ModelServer } from './model-server.ts';

export { expect };

export interface RecordedRequest {
  url: string;
  method: string;
  resourceType: string;
}

export interface Session {
  context: BrowserContext;
  page: Page;
  preview: Preview;
  consoleErrors: string[];
  consoleLines: string[];
  pageErrors: string[];
  requests: RecordedRequest[];
  /** Requests whose origin is not the preview server's (data:/blob: URLs excluded). */
  foreignRequests(): RecordedRequest[];
  /** Full-page screenshot to e2e/artifacts/<name>.png (kept whether the test passes or not). */
  screenshot(name: string): Promise<string>;
  /** Calls a method of window.__svdHarness (harness.html) in the page. */
  harness<K extends keyof HarnessApi>(method: K, ...args: Parameters<HarnessApi[K]>): Promise<Awaited<ReturnType<HarnessApi[K]>>>;
}

/** Starts recording console lines, page errors and requests of `page` and its context (call before navigating). */
export function recordSession(context: BrowserContext, page: Page, preview: Preview): Session {
  const consoleErrors: string[] = [];
  const consoleLines: string[] = [];
  const pageErrors: string[] = [];
  const requests: RecordedRequest[] = [];
  context.on('request', (r) => requests.push({ url: r.url(), method: r.method(), resourceType: r.resourceType() }));
  page.on('console', (m) => {
    consoleLines.push(`[${m.type()}] ${m.text()}`);
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => pageErrors.push(`${e.name}: ${e.message}`));
  page.on('worker', (w) => {
    w.on('console', (m) => {
      consoleLines.push(`[worker ${m.type()}] ${m.text()}`);
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
  });
  return {
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
  };
}

/** Opens `path` of the preview server; on harness.html, waits for window.__svdHarness. */
export async function openPath(s: Session, path: string): Promise<void> {
  await s.page.goto(new URL(path, s.preview.url).href, { waitUntil: 'load', timeout: 60_000 });
  if (path.includes('harness')) {
    await s.page.waitForFunction(() => '__svdHarness' in globalThis, undefined, { timeout: 30_000 });
  }
}

/** A recorded session on a browser context of its own (for worker-scoped fixtures); close it with `close()`. */
export async function openSession(browser: Browser, preview: Preview, path: string): Promise<Session & { close(): Promise<void> }> {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const page = await context.newPage();
  const s = recordSession(context, page, preview);
  try {
    await openPath(s, path);
  } catch (err) {
    await context.close().catch(() => undefined);
    throw err;
  }
  return { ...s, close: () => context.close().catch(() => undefined) };
}

/** After a failed test: the browser console goes to the report (attachment) and the last lines to the log. */
export async function reportSession(s: Session, testInfo: TestInfo, label = 'browser console'): Promise<void> {
  if (testInfo.status === testInfo.expectedStatus || s.consoleLines.length === 0) return;
  await testInfo.attach(label, { body: s.consoleLines.join('\n'), contentType: 'text/plain' });
  console.log(`${label} (last 40 lines):\n${s.consoleLines.slice(-40).join('\n')}`);
}

export interface ModelHost extends ModelServer {
  /** the model's folder name on the host ('tiny') */
  model: string;
  /** `${url}${model}/` */
  baseUrl: string;
  dir: string;
  files: { path: string; bytes: number; sha256: string }[];
  /** how the folder was made */
  source: string;
}

interface TestFixtures {
  /** where `app` opens (default '/'); a spec can override it, also with a fixture function (test.use) */
  appPath: string;
  app: Session;
  harnessPage: Session;
  segmindOptions: SegmindServerOptions;
  segmindServer: SegmindServer;
}

interface WorkerFixtures {
  preview: Preview;
  modelServer: ModelHost;
}

export const test = base.extend<TestFixtures, WorkerFixtures>({
  preview: [
    async ({}, use) => {
      const p = await startPreview();
      await use(p);
      await p.close();
    },
    { scope: 'worker', timeout: 180_000 },
  ],

  modelServer: [
    async ({}, use) => {
      const model = 'tiny';
      const root = mkdtempSync(join(tmpdir(), 'svd-web-models-'));
      const dir = join(root, model);
      // Loaded here, not at the top: only the specs that use a model host pay for the compiler.
      const { convertCheckpoint } = await import('../../src/compiler/convert-folder.ts');
      // The model the tests download: fixture A compiled by our compiler (10 files, ~22 MB).
      convertCheckpoint({ from: join(ROOT, 'tests/fixtures/A'), out: dir, precision: 'fp32', defaultHeight: 64, defaultWidth: 64 });
      const server = await startModelServer(root);
      await use(
        Object.assign(server, {
          model,
          baseUrl: `${server.url}${model}/`,
          dir,
          files: readManifest(dir).files,
          source: 'convertCheckpoint(tests/fixtures/A, fp32, 64×64)',
        }),
      );
      await server.close();
      rmSync(root, { recursive: true, force: true });
    },
    { scope: 'worker', timeout: 180_000 },
  ],

  appPath: ['/', { option: true }],

  app: async ({ context, page, preview, appPath }, use, testInfo) => {
    const s = recordSession(context, page, preview);
    await openPath(s, appPath);
    await use(s);
    await reportSession(s, testInfo);
  },

  harnessPage: async ({ context, page, preview }, use, testInfo) => {
    const s = recordSession(context, page, preview);
    await openPath(s, '/harness.html');
    await use(s);
    await reportSession(s, testInfo);
  },

  segmindOptions: [{}, { option: true }],

  segmindServer: async ({ segmindOptions }, use) => {
    const server = await startSegmindServer(segmindOptions);
    await use(server);
    await server.close().catch(() => undefined);
  },
});
