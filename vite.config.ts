import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

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

export default defineConfig({
  plugins: [react(), wasmMime()],
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
      },
    },
  },
});
