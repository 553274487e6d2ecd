/**
 * Self-test harness page (harness.html, built next to index.html as an extra Vite input).
 *
 * Why a built page rather than a test-only entry: the e2e suite must exercise exactly what `vite build` ships —
 * the same asset URLs (src/runtime/assets.ts), the same worker bundling, the same COOP/COEP headers from
 * `vite preview` — and a page that exists in every build is also useful to check a user's device by hand
 * (open /harness.html, call `__svdHarness.adapterInPage()` in the console). It is tiny and loads nothing until called.
 */
import type { DecodeVideoReport, DecodeVideoRequest, HarnessApi, MuxReport, MuxRequest, OrtRunRequest, PlaybackReport } from './api.ts';
import { adapterReport } from './gpu.ts';
import { runOrtSelfTest } from './ort-selftest.ts';
import { gpuModelRunner, requestGpu } from '../runtime/web.ts';
import { checkAttention } from '../runtime/attention-check.ts';
import { runPipeline } from './pipeline-harness.ts';
import { loadFFmpeg, muxFrames, type MuxEncoderUsed } from '../video/mux.ts';
import { decodeVideoFrames } from '../video/decode.ts';
import { evenSize } from '../video/h264.ts';
import { webCodecsH264Support } from '../video/webcodecs.ts';
import { base64ToBytes, bytesToBase64 } from '../common/base64.ts';
import { textureNoise } from './texture-noise.ts';

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

/**
 * Synthetic frames: a moving gradient + a moving white square, so consecutive frames differ; with 'texture', plus a
 * smooth value-noise texture (0..63 on every channel, the gradient scaled to 0..191) panning 6 px per frame. bench/mux.ts
 * reproduces this byte for byte.
 */
function syntheticFrames(width: number, height: number, count: number, pattern: MuxRequest['pattern'] = 'gradient'): Uint8Array[] {
  const frames: Uint8Array[] = [];
  const textured = pattern === 'texture';
  const span = textured ? 191 : 255;
  for (let f = 0; f < count; f++) {
    const rgba = new Uint8Array(width * height * 4);
    const sq = Math.max(4, Math.floor(Math.min(width, height) / 6));
    const sx = Math.floor(((width - sq) * f) / Math.max(1, count - 1));
    const sy = Math.floor((height - sq) / 2);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 4;
        const inSq = x >= sx && x < sx + sq && y >= sy && y < sy + sq;
        const n = textured ? textureNoise(x + 6 * f, y) : 0;
        rgba[i] = inSq ? 255 : (x * span) / width + n;
        rgba[i + 1] = inSq ? 255 : (y * span) / height + n;
        rgba[i + 2] = inSq ? 255 : (f * span) / Math.max(1, count - 1) + n;
        rgba[i + 3] = 255;
      }
    }
    frames.push(rgba);
  }
  return frames;
}


/** Decodes with src/video/decode.ts and compares with the synthetic frames of `req.compareTo` where asked. */
async function decodeVideo(req: DecodeVideoRequest = {}): Promise<DecodeVideoReport> {
  const src = req.base64 ?? lastMux?.base64;
  if (!src) throw new Error('nothing to decode: call mux() first or pass base64');
  const blob = new Blob([base64ToBytes(src) as Uint8Array<ArrayBuffer>], { type: req.type ?? lastMux?.type ?? 'video/mp4' });
  const t0 = performance.now();
  const v = await decodeVideoFrames(blob, { maxFrames: req.maxFrames });
  const ms = performance.now() - t0;
  const ref = req.compareTo;
  const expected = ref ? syntheticFrames(ref.width, ref.height, ref.frames, ref.pattern) : undefined;
  const shift = req.shift ?? 0;
  const pixel = (frame: Uint8Array, w: number, x: number, y: number): number[] => Array.from(frame.subarray((y * w + x) * 4, (y * w + x) * 4 + 4));
  const samples = (req.samplePoints ?? []).map(([frame, x, y]) => ({
    frame,
    x,
    y,
    rgba: pixel(v.rgba[frame], v.width, x, y),
    expected: expected?.[frame + shift] ? pixel(expected[frame + shift], ref!.width, x, y) : undefined,
  }));
  let compare: DecodeVideoReport['compare'];
  if (ref && expected) {
    compare = { meanAbs: [], maxAbs: [], psnr: [] };
    for (let i = 0; i < v.rgba.length && i + shift < expected.length; i++) {
      const got = v.rgba[i];
      const want = expected[i + shift];
      let sum = 0;
      let sq = 0;
      let max = 0;
      for (let y = 0; y < ref.height; y++) {
        for (let x = 0; x < ref.width; x++) {
          for (let c = 0; c < 3; c++) {
            const d = Math.abs(got[(y * v.width + x) * 4 + c] - want[(y * ref.width + x) * 4 + c]);
            sum += d;
            sq += d * d;
            if (d > max) max = d;
          }
        }
      }
      const n = ref.width * ref.height * 3;
      compare.meanAbs.push(sum / n);
      compare.maxAbs.push(max);
      compare.psnr.push(sq === 0 ? Infinity : 10 * Math.log10((255 * 255) / (sq / n)));
    }
  }
  return {
    frames: v.rgba.length,
    width: v.width,
    height: v.height,
    fps: v.fps,
    timestamps: v.timestamps,
    ms,
    samples,
    compare,
    rgbaBase64: req.raw ? v.rgba.map((f) => bytesToBase64(f)) : undefined,
  };
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
  async attentionCheck() {
    const gpu = await requestGpu();
    if ('error' in gpu) throw new Error(gpu.error);
    try {
      return await checkAttention(gpuModelRunner(gpu));
    } finally {
      gpu.device.destroy();
    }
  },
  async mux(req): Promise<MuxReport> {
    const frames = syntheticFrames(req.width, req.height, req.frames, req.pattern);
    const t0 = performance.now();
    // load time measured apart where ffmpeg.wasm is sure to run; 'auto' MP4 loads it only if it falls back to it
    if (req.format !== 'mp4' || req.encoder === 'ffmpeg') await loadFFmpeg();
    const t1 = performance.now();
    const progress: number[] = [];
    const log: string[] = [];
    const encoderCalls: { used: MuxEncoderUsed; reason?: string }[] = [];
    let blob: Blob;
    try {
      blob = await muxFrames(
        { width: req.width, height: req.height, rgba: frames },
        {
          fps: req.fps,
          format: req.format,
          encoder: req.encoder,
          onEncoder: (used, reason) => encoderCalls.push({ used, reason }),
          onProgress: (p) => progress.push(p),
          onLog: (l) => log.push(l),
        },
      );
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new Error(`${msg}\n--- ffmpeg log ---\n${log.slice(-25).join('\n')}`);
    }
    const t2 = performance.now();
    const base64 = bytesToBase64(new Uint8Array(await blob.arrayBuffer()));
    lastMux = { base64, type: blob.type };
    const last = encoderCalls.at(-1);
    return {
      encoder: last?.used ?? 'ffmpeg.wasm',
      encoderReason: last?.reason,
      encoderCalls,
      bytes: blob.size,
      type: blob.type,
      base64,
      loadMs: t1 - t0,
      muxMs: t2 - t1,
      progress,
      log: log.slice(-40),
    };
  },
  async webCodecsSupport(width, height, fps) {
    const even = evenSize(width, height);
    const s = await webCodecsH264Support(even.width, even.height, fps);
    return { hasVideoEncoder: typeof VideoEncoder === 'function', supported: s.supported, codec: s.config?.codec, bitrate: s.config?.bitrate, reason: s.reason };
  },
  decodeVideo,
  play,
  pipeline: runPipeline,
};

globalThis.__svdHarness = api;
document.documentElement.dataset.harness = 'ready';
