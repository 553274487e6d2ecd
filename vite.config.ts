import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { VitePWA, type ManifestOptions } from 'vite-plugin-pwa';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * Cross-origin isolation: required for SharedArrayBuffer, i.e. multi-threaded ORT wasm.
 * Applied to the dev server AND `vite preview` (production hosting must send the same two headers).
 * `Cross-Origin-Resource-Policy` lets our own assets be embedded under COEP from any worker type.
 */
const isolationHeaders: Record<string, string> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/**
 * Serve .mjs/.wasm with the right MIME types in preview/dev even where the platform mime DB is old
 * (WebAssembly.instantiateStreaming requires application/wasm).
 */
function wasmMime(): Plugin {
  const setType = (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    if (/\.wasm(\?|$)/.test(req.url ?? '')) res.setHeader('Content-Type', 'application/wasm');
    next();
  };
  return {
    name: 'svd-web:wasm-mime',
    configureServer(server) {
      server.middlewares.use(setType);
    },
    configurePreviewServer(server) {
      server.middlewares.use(setType);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// PWA (issue 5): web app manifest + Workbox service worker (generateSW). Registered by src/pwa/register.ts.
//
// What the service worker does, and why:
// - Precache: the app shell only (index.html, JS/CSS chunks, icons, favicon, manifest). Every file there is
//   < 2 MiB (Workbox's default per-file limit, kept on purpose).
// - NOT precached:
//   * the ORT wasm (~27 MB) and the ffmpeg core (~31 MB) plus their .mjs/.js loaders: runtime CacheFirst in
//     `svd-runtime-wasm`. Their names carry a content hash, so a cached copy is never stale; a new release requests
//     new names. Bounded by maxEntries (LRU), deliberately NO maxAgeSeconds: an expired entry would be refetched,
//     and offline that means the app stops working just because it was not opened for a while.
//   * the bundled tiny demo model (/models/tiny-random/, 22 MB): runtime CacheFirst in its own cache, whose name
//     carries a hash of the model build (its .stamp/manifest.json), so a rebuilt demo model never meets a stale
//     copy (src/pwa/register.ts deletes caches of older demo builds). Cached on first use, so the demo runs offline
//     after it has run once online. Range requests and `cache: 'no-store'` fetches (the model library's resumable
//     downloads into OPFS) are left to the network untouched.
//   * real models: never through the service worker. They live in OPFS (src/models/), read by the worker directly.
//   * the self-test pages (harness.html, models-harness.html and their entry chunks): not part of the app, so
//     users do not download them on install. Runtime NetworkFirst (`svd-devtools`): after one online visit they
//     also work offline (the e2e suite relies on that to run a generation offline).
// - Navigations: `navigateFallback` to the precached index.html (SPA), except for /models/, /assets/ and the
//   self-test pages.
// - Updates: registerType 'prompt' (no skipWaiting): a new version waits until the user accepts the
//   "new version" prompt (src/pwa/register.ts), so it never swaps in the middle of a generation. clientsClaim
//   only matters on the very first install (no previous worker): the open page gets controlled at once, so what it
//   loads during that first visit (ORT wasm, ffmpeg core, demo model) is cached and the app runs offline after one
//   visit without a reload.
// - Cross-origin isolation: cached responses keep the headers they were fetched with (COOP/COEP/CORP from the
//   server), so pages served by the worker offline are still `crossOriginIsolated` (checked in e2e/pwa.e2e.ts).
// - Runtime caches match with `ignoreVary`: servers answer `Vary: Origin` (Vite's CORS middleware) or
//   `Vary: Accept-Encoding`, and the same file is requested with and without an Origin header (ORT's .mjs is both a
//   dynamic import and a worker script). Honouring Vary made the cached .mjs miss offline. The cached URLs are
//   same-origin static files whose bytes do not depend on those headers.
//   Production hosting must send the headers: docs/hosting.md.
// ---------------------------------------------------------------------------------------------------------------

/** Version of the bundled demo model build, for its runtime cache name (the files themselves have fixed names). */
function demoModelVersion(): string {
  for (const name of ['.stamp', 'manifest.json']) {
    const file = root + 'public/models/tiny-random/' + name;
    if (existsSync(file)) return createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 12);
  }
  return 'none';
}

const DEMO_MODEL_CACHE_PREFIX = 'svd-demo-model-';
const demoModelCache = DEMO_MODEL_CACHE_PREFIX + demoModelVersion();

/** The web app manifest: built into dist/ by vite-plugin-pwa, served by `vite` dev by devManifest() below. */
const webManifest: Partial<ManifestOptions> = {
  id: '/',
  name: 'svd-web — image to video on your GPU',
  short_name: 'svd-web',
  description:
    'Turn a still image into a short video with Stable Video Diffusion, running locally in your browser on ' +
    'WebGPU. Works offline once a model is downloaded.',
  lang: 'en',
  start_url: '/',
  scope: '/',
  display: 'standalone',
  // The app follows the system theme (src/ui/styles.css); index.html sets theme-color per scheme. The
  // manifest takes one value: the dark background, which also frames the indigo icon on the splash screen.
  theme_color: '#0e1017',
  background_color: '#0e1017',
  categories: ['photo', 'multimedia', 'productivity'],
  icons: [
    { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
    { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
    { src: '/icons/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
  ],
};

/**
 * `npm start` (vite dev) serves the same manifest at the same address and links it from the pages, so the app is
 * installable there too. vite-plugin-pwa's devOptions would serve it only together with its dev service worker, which
 * this project keeps out of dev on purpose (src/pwa/register.ts: a worker would serve stale code while editing).
 */
function devManifest(): Plugin {
  const href = '/manifest.webmanifest';
  return {
    name: 'svd-web:dev-manifest',
    apply: 'serve',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        if ((req.url ?? '').split('?')[0] !== href) return next();
        res.setHeader('Content-Type', 'application/manifest+json');
        res.end(JSON.stringify(webManifest, null, 2));
      });
    },
    transformIndexHtml: {
      order: 'post',
      handler: (html) => ({ html, tags: [{ tag: 'link', attrs: { rel: 'manifest', href }, injectTo: 'head' }] }),
    },
  };
}

function pwa(): Plugin[] {
  return [
    devManifest(),
    ...VitePWA({
      registerType: 'prompt',
      // src/pwa/register.ts registers the worker itself (workbox-window): no injected script, no virtual module.
      injectRegister: false,
      // Dev mode (`vite`) runs without a service worker; register.ts unregisters stale ones there. The manifest is
      // served in dev by devManifest() (enabling devOptions would register a dev service worker too).
      devOptions: { enabled: false },
      filename: 'sw.js',
      manifestFilename: 'manifest.webmanifest',
      manifest: webManifest,
      workbox: {
        // The app shell: HTML, JS/CSS chunks, icons and favicon (public/). The plugin adds manifest.webmanifest.
        globPatterns: ['**/*.{html,js,css,png,ico}'],
        globIgnores: [
          '**/node_modules/**/*',
          'models/**',
          '**/*harness*',
          'assets/ort-wasm*',
          'assets/ffmpeg-core*',
        ],
        navigateFallback: 'index.html',
        navigateFallbackDenylist: [/^\/models\//, /^\/assets\//, /harness[^/]*\.html$/],
        cleanupOutdatedCaches: true,
        clientsClaim: true,
        skipWaiting: false,
        runtimeCaching: [
          {
            // ORT (.mjs + .wasm) and ffmpeg core (.js + .wasm), as emitted by src/runtime/assets.ts' ?url imports.
            urlPattern: /\/assets\/(?:ort-wasm[^/]*\.(?:wasm|mjs)|ffmpeg-core[^/]*\.(?:js|wasm))$/,
            handler: 'CacheFirst',
            options: {
              cacheName: 'svd-runtime-wasm',
              // 4 files per release; room for the previous release while a tab of it is still open.
              expiration: { maxEntries: 8, purgeOnQuotaError: true },
              cacheableResponse: { statuses: [200] },
              matchOptions: { ignoreVary: true },
            },
          },
          {
            // The bundled demo model only; same-origin, whole-file GETs (see above).
            urlPattern: ({ url, request, sameOrigin }) =>
              sameOrigin &&
              url.pathname.startsWith('/models/tiny-random/') &&
              request.method === 'GET' &&
              !request.headers.has('range') &&
              request.cache !== 'no-store',
            handler: 'CacheFirst',
            options: {
              cacheName: demoModelCache,
              expiration: { maxEntries: 24, purgeOnQuotaError: true },
              cacheableResponse: { statuses: [200] },
              matchOptions: { ignoreVary: true },
            },
          },
          {
            // Self-test pages and their entry chunks (not precached, see above).
            urlPattern: ({ url, sameOrigin }) =>
              sameOrigin && /(?:^\/[^/]*harness[^/]*\.html$)|(?:^\/assets\/[^/]*harness[^/]*\.js$)/.test(url.pathname),
            handler: 'NetworkFirst',
            options: {
              cacheName: 'svd-devtools',
              networkTimeoutSeconds: 10,
              expiration: { maxEntries: 16 },
              cacheableResponse: { statuses: [200] },
              matchOptions: { ignoreVary: true },
            },
          },
        ],
      },
    }),
    {
      // Tells src/pwa/register.ts which demo-model cache is current (older ones are deleted).
      name: 'svd-web:pwa-constants',
      config: () => ({
        define: {
          __SVD_DEMO_MODEL_CACHE__: JSON.stringify(demoModelCache),
          __SVD_DEMO_MODEL_CACHE_PREFIX__: JSON.stringify(DEMO_MODEL_CACHE_PREFIX),
        },
      }),
    },
  ];
}

export default defineConfig({
  plugins: [react(), wasmMime(), ...pwa()],
  // Pre-bundling breaks `new URL('./worker.js', import.meta.url)` inside @ffmpeg/ffmpeg (load() never resolves)
  // and ORT's wasm/mjs lookups; serve these packages as-is.
  optimizeDeps: {
    exclude: ['onnxruntime-web', '@ffmpeg/ffmpeg', '@ffmpeg/util'],
  },
  server: { headers: isolationHeaders },
  preview: { headers: isolationHeaders },
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    // The ORT wasm (~27 MB) and the ffmpeg core (~31 MB) are emitted as-is; do not warn about them.
    chunkSizeWarningLimit: 4096,
    // Never inline the ORT/ffmpeg .mjs/.wasm as data: URLs.
    assetsInlineLimit: 0,
    rollupOptions: {
      input: {
        main: root + 'index.html',
        // Self-test page used by the e2e suite (and handy for checking a device by hand): see src/devtools/harness.ts.
        harness: root + 'harness.html',
        // Model-delivery self-test page (src/devtools/models-harness.ts), driven by e2e/models.e2e.ts.
        'models-harness': root + 'models-harness.html',
      },
    },
  },
});
