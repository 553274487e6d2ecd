/**
 * How the e2e suite (playwright.config.ts) and the benchmarks launch Chromium: Debian's /usr/bin/chromium (no browser
 * download), headless, with the flags measured to give SwiftShader WebGPU on machines without a GPU.
 */
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
