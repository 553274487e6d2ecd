/**
 * Shared pieces of the browser e2e suite (Playwright Test, see playwright.config.ts and e2e/support/fixtures.ts) and
 * of the benchmarks in bench/ (which drive Chromium through playwright-core directly):
 *
 * - `startPreview()` serves the already-built dist/ (npm run test:e2e runs `vite build` first) on 127.0.0.1 with a
 *   free port, through Vite's `preview()` API, so the COOP/COEP headers come from vite.config.ts exactly as in prod.
 * - `callHarness()` calls a method of window.__svdHarness in a page that has loaded harness.html.
 *
 * Launching Chromium (executable, flags, `launchBrowser()`, `launchPersistentBrowser()`): e2e/support/browser.ts.
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';
import type { HarnessApi } from '../src/devtools/api.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = join(ROOT, 'dist');
export const ARTIFACTS = join(ROOT, 'e2e', 'artifacts');

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
