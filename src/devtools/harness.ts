/**
 * Self-test harness page (harness.html, built next to index.html as an extra Vite input).
 *
 * Why a built page rather than a test-only entry: the e2e suite must exercise exactly what `vite build` ships —
 * the same asset URLs (src/runtime/assets.ts), the same worker bundling, the same COOP/COEP headers from
 * `vite preview` — and a page that exists in every build is also useful to check a user's device by hand
 * (open /harness.html, call `__svdHarness.adapterInPage()` in the console). It is tiny and loads nothing until called.
 */
import type { HarnessApi, MuxReport, OrtRunRequest, PlaybackReport } from './api.ts';
import { adapterReport } from './gpu.ts';
import { runOrtSelfTest } from './ort-selftest.ts';
import { runPipeline } from './pipeline-harness.ts';
import { loadFFmpeg, muxFrames } from '../video/mux.ts';
import { base64ToBytes, bytesToBase64 } from '../common/base64.ts';

let worker: Worker | null = null;
let nextId = 1;
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

function probeWorker(): Worker {
  if (!worker) {
    worker = new Worker(new URL('./probe.worker.ts', import.meta.url), { type: 'module', name: 'svd-probe' });
    worker.onmessage = (e: MessageEvent<{ id: number; ok: boolean; result?: unknown; error?: string }>) => {
      const p = pending.get(e.data.id);
      if (!p) return;
      pending.delete(e.data.id);
      if (e.data.ok) p.resolve(e.data.result);
      else p.reject(new Error(e.data.error));
    };
    worker.onerror = (e) => {
      for (const p of pending.values()) p.reject(new Error(`probe worker error: ${e.message}`));
      pending.clear();
    };
  }
  return worker;
}

function callWorker<T>(msg: { kind: 'adapter' } | { kind: 'ort'; req: OrtRunRequest }, timeoutMs = 300_000): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error(`probe worker did not answer ${msg.kind} within ${timeoutMs} ms`));
    }, timeoutMs);
    pending.set(id, {
      resolve: (v) => {
        clearTimeout(timer);
        resolve(v as T);
      },
      reject: (e) => {
        clearTimeout(timer);
        reject(e);
      },
    });
    probeWorker().postMessage({ id, ...msg });
  });
}

/** Synthetic frames: a moving gradient + a moving white square, so consecutive frames differ. */
function syntheticFrames(width: number, height: number, count: number): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let f = 0; f < count; f++) {
    const rgba = new Uint8Array(width * height * 4);
    const sq = Math.max(4, Math.floor(Math.min(width, height) / 6));
    const sx = Math.floor(((width - sq) * f) / Math.max(1, count - 1));
    const sy = Math.floor((height - sq) / 2);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 4;
        const inSq = x >= sx && x < sx + sq && y >= sy && y < sy + sq;
        rgba[i] = inSq ? 255 : (x * 255) / width;
        rgba[i + 1] = inSq ? 255 : (y * 255) / height;
        rgba[i + 2] = inSq ? 255 : (f * 255) / Math.max(1, count - 1);
        rgba[i + 3] = 255;
      }
    }
    frames.push(rgba);
  }
  return frames;
}

let lastMux: { base64: string; type: string } | null = null;

async function play(base64?: string, type?: string): Promise<PlaybackReport> {
  const src = base64 ?? lastMux?.base64;
  const mime = type ?? lastMux?.type ?? 'video/mp4';
  if (!src) throw new Error('nothing to play: call mux() first or pass base64');
  const url = URL.createObjectURL(new Blob([base64ToBytes(src) as Uint8Array<ArrayBuffer>], { type: mime }));
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.preload = 'auto';
  document.body.append(video);
  const report: PlaybackReport = { ok: false, duration: NaN, videoWidth: 0, videoHeight: 0, endedAt: NaN, canPlayType: video.canPlayType(mime) };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('video did not play to the end within 30 s')), 30_000);
      video.onerror = () => {
        clearTimeout(timer);
        reject(new Error(`video error ${video.error?.code}: ${video.error?.message}`));
      };
      video.onloadedmetadata = () => {
        report.duration = video.duration;
        report.videoWidth = video.videoWidth;
        report.videoHeight = video.videoHeight;
        video.play().catch((e: unknown) => {
          clearTimeout(timer);
          reject(e instanceof Error ? e : new Error(String(e)));
        });
      };
      video.onended = () => {
        clearTimeout(timer);
        report.endedAt = video.currentTime;
        resolve();
      };
      video.src = url;
    });
    report.ok = true;
  } catch (err) {
    report.error = err instanceof Error ? err.message : String(err);
  } finally {
    video.remove();
    URL.revokeObjectURL(url);
  }
  return report;
}

const api: HarnessApi = {
  env: () => ({
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    sharedArrayBuffer: typeof SharedArrayBuffer === 'function',
    hardwareConcurrency: navigator.hardwareConcurrency,
    userAgent: navigator.userAgent,
    hasGpu: 'gpu' in navigator,
  }),
  adapterInPage: adapterReport,
  adapterInWorker: () => callWorker({ kind: 'adapter' }),
  ortInPage: (req) => runOrtSelfTest(req, 'page'),
  ortInWorker: (req) => callWorker({ kind: 'ort', req }),
  async mux(req): Promise<MuxReport> {
    const frames = syntheticFrames(req.width, req.height, req.frames);
    const t0 = performance.now();
    await loadFFmpeg();
    const t1 = performance.now();
    const progress: number[] = [];
    const log: string[] = [];
    let blob: Blob;
    try {
      blob = await muxFrames(
        { width: req.width, height: req.height, rgba: frames },
        { fps: req.fps, format: req.format, onProgress: (p) => progress.push(p), onLog: (l) => log.push(l) },
      );
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new Error(`${msg}\n--- ffmpeg log ---\n${log.slice(-25).join('\n')}`);
    }
    const t2 = performance.now();
    const base64 = bytesToBase64(new Uint8Array(await blob.arrayBuffer()));
    lastMux = { base64, type: blob.type };
    return { bytes: blob.size, type: blob.type, base64, loadMs: t1 - t0, muxMs: t2 - t1, progress, log: log.slice(-40) };
  },
  play,
  pipeline: runPipeline,
};

globalThis.__svdHarness = api;
document.documentElement.dataset.harness = 'ready';
