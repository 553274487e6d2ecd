/**
 * How the e2e suite (playwright.config.ts) and the benchmarks launch Chromium: Debian's /usr/bin/chromium (no browser
 * download), headless, with the flags measured to give SwiftShader WebGPU on machines without a GPU.
 *
 * The one place that knows the executable and its flags: Playwright Test gets them through playwright.config.ts's
 * launchOptions (fixtures that launch their own context, as e2e/pwa.e2e.ts's, spread those); scripts that drive
 * playwright-core directly (bench/) call `launchBrowser()` or `launchPersistentBrowser()`.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type BrowserType } from 'playwright-core';

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

export const VIEWPORT = { width: 1280, height: 800 } as const;

/** Options of a persistent context, less the executable and flags (those are this file's). */
export type PersistentBrowserOptions = Omit<NonNullable<Parameters<BrowserType['launchPersistentContext']>[1]>, 'executablePath' | 'args'>;

function assertChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian Chromium (apt-get update && apt-get install -y chromium)`);
  }
}

/** Headless Chromium (playwright-core), 60 s to start. */
export async function launchBrowser(): Promise<Browser> {
  assertChromium();
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

/**
 * Chromium with a persistent profile in `userDataDir` (service workers, Cache Storage, OPFS as a real user has them).
 * Defaults: headless, 60 s to start; `options` (viewport, …) override them.
 */
export async function launchPersistentBrowser(userDataDir: string, options: PersistentBrowserOptions = {}): Promise<BrowserContext> {
  assertChromium();
  return chromium.launchPersistentContext(userDataDir, { headless: true, timeout: 60_000, ...options, executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}
