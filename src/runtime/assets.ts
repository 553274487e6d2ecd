/**
 * URLs of the large runtime assets, all served from our own origin (no CDN).
 *
 * Recipe (Vite 8):
 * - `?url` imports of the package-exported files; `vite build` emits them unchanged into dist/assets/ with a
 *   content hash, and the dev server serves them from node_modules. Both ORT files come from the same
 *   onnxruntime-web version as the JS bundle (they are resolved from the same package).
 * - The URLs are made absolute against the current document/worker location so they can be handed to code that
 *   runs in another worker (ORT's pthreads, ffmpeg's class worker) where relative URLs would resolve differently.
 *
 * Lib-neutral: usable from the DOM program (src/video) and the WebWorker program (workers/).
 */
import ortMjsPath from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';
import ortWasmPath from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import ffmpegCorePath from '@ffmpeg/core?url';
import ffmpegWasmPath from '@ffmpeg/core/wasm?url';
import ffmpegClassWorkerPath from '@ffmpeg/ffmpeg/worker?worker&url';

function absolute(path: string): string {
  const base = (globalThis as { location?: { href: string } }).location?.href ?? import.meta.url;
  return new URL(path, base).href;
}

/**
 * For `ort.env.wasm.wasmPaths` (import from `onnxruntime-web/webgpu`). Passing both `mjs` and `wasm` makes ORT
 * import this .mjs (not the copy embedded in its bundle) and spawn its pthread workers from it.
 */
export function ortWasmPaths(): { mjs: string; wasm: string } {
  return { mjs: absolute(ortMjsPath), wasm: absolute(ortWasmPath) };
}

/**
 * For `ffmpeg.load(ffmpegLoadConfig())` with `@ffmpeg/ffmpeg`'s `FFmpeg`: the single-thread ESM core, and the
 * class worker built by Vite as an ES module worker (`?worker&url`). Passing `classWorkerURL` explicitly avoids
 * relying on the `new URL('./worker.js', import.meta.url)` inside @ffmpeg/ffmpeg, which is what leaves `load()`
 * pending forever when the package gets pre-bundled or re-chunked.
 */
export function ffmpegLoadConfig(): { coreURL: string; wasmURL: string; classWorkerURL: string } {
  return {
    coreURL: absolute(ffmpegCorePath),
    wasmURL: absolute(ffmpegWasmPath),
    classWorkerURL: absolute(ffmpegClassWorkerPath),
  };
}
