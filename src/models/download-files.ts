/**
 * The download path of the transfer engine: every file of a manifest fetched over HTTP into a FolderStore, resumed
 * with Range requests, each one through transferFile (transfer-file.ts). `fetch` is injectable (unit tests).
 */
import type { ModelManifest } from '../contract/manifest.ts';
import { ModelDeliveryError, cancelled } from './errors.ts';
import type { FolderStore } from './folder-store.ts';
import { PENDING_MANIFEST_NAME } from './plan.ts';
import type { DownloadProgress } from './progress.ts';
import { TransferProgress, commitModel, reconcile, transferFile } from './transfer-file.ts';
import { DEFAULT_TUNING, newStats, type TransferStats, type TransferTuning } from './transfer-tuning.ts';

type FetchLike = (url: string, init: { headers?: Record<string, string>; signal?: AbortSignal }) => Promise<Response>;

class HttpStatusError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

/** `response`, or a 'stalled' ModelDeliveryError when it has not come within `ms` (the body has its own stall timer). */
export async function withResponseTimeout(response: Promise<Response>, ms: number, what: () => string): Promise<Response> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      response,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ModelDeliveryError('stalled', what())), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Parses `Content-Range: bytes a-b/total`; null when absent or unparseable. */
export function parseContentRange(v: string | null): { start: number; end: number; total: number | null } | null {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec((v ?? '').trim());
  if (!m) return null;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? null : Number(m[3]) };
}

export interface DownloadJob {
  baseUrl: string;
  manifest: ModelManifest;
  /** manifest.json exactly as served (written last, verbatim) */
  manifestText: string;
  store: FolderStore;
  fetch?: FetchLike;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  tuning?: Partial<TransferTuning>;
}

/** Opens a response for `url` from `offset`, mapping statuses to typed errors. */
function httpSource(url: string, path: string, fetchFn: FetchLike, tuning: TransferTuning) {
  return async (offset: number, signal: AbortSignal) => {
    const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
    const res = await withResponseTimeout(fetchFn(url, { headers, signal }), tuning.stallTimeoutMs, () => `no response for ${Math.round(tuning.stallTimeoutMs / 1000)} s`);
    if (res.status === 404 || res.status === 410) {
      throw new ModelDeliveryError('not-found', `The model host has no ${path} (HTTP ${res.status}); check the model URL.`, { path, url, status: res.status });
    }
    if (res.status === 401 || res.status === 403) {
      throw new ModelDeliveryError('http', `The model host refused ${path} (HTTP ${res.status}); the model may be private or gated. Check the model URL.`, { path, url, status: res.status });
    }
    if (res.status === 416) {
      // our offset is beyond the file on the server: start over
      return { start: -1, body: new ReadableStream<Uint8Array>({ start: (c) => c.close() }) };
    }
    if (!res.ok) {
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
        throw new ModelDeliveryError('http', `The model host answered HTTP ${res.status} for ${path}; check the model URL.`, { path, url, status: res.status });
      }
      throw new HttpStatusError(res.status);
    }
    if (!res.body) throw new Error(`empty response for ${path}`);
    let start = 0;
    if (res.status === 206) {
      const cr = parseContentRange(res.headers.get('Content-Range'));
      start = cr ? cr.start : -1;
    }
    return { start, body: res.body };
  };
}

/** Downloads every file of `manifest` from `baseUrl` into `store`; resumable; manifest.json written last. */
export async function downloadFiles(job: DownloadJob): Promise<TransferStats> {
  const t0 = Date.now();
  const tuning = { ...DEFAULT_TUNING, ...job.tuning };
  const fetchFn: FetchLike = job.fetch ?? ((u, i) => fetch(u, i));
  const { store, manifest, signal } = job;
  const stats = newStats();
  const progress = new TransferProgress(manifest.files.reduce((a, f) => a + f.bytes, 0), job.onProgress, tuning.progressIntervalMs);

  await reconcile(store, manifest);
  await store.writeText(PENDING_MANIFEST_NAME, job.manifestText);

  for (let i = 0; i < manifest.files.length; i++) {
    const file = manifest.files[i];
    if (signal?.aborted) throw cancelled();
    progress.file = { path: file.path, doneBytes: 0, bytes: file.bytes, index: i, count: manifest.files.length };
    if ((await store.finalSize(file.path)) === file.bytes) {
      progress.doneBytes += file.bytes;
      progress.file.doneBytes = file.bytes;
      stats.keptBytes += file.bytes;
      progress.emit();
      continue;
    }
    await store.remove(file.path);
    const url = new URL(file.path, job.baseUrl).href;
    await transferFile(file, store, progress, stats, tuning, signal, httpSource(url, file.path, fetchFn, tuning), true);
  }
  progress.phase = 'finishing';
  progress.emit(true);
  return commitModel(store, job.manifestText, progress, stats, t0);
}
