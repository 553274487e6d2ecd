/**
 * The model download/import worker: one job per worker. Runs the transfer engine (transfer.ts) with `.part` files
 * written through OPFS sync access handles, so fetching, hashing and writing a 1 GB shard never touch the UI thread
 * and never hold more than one network chunk in memory.
 */
import { ModelDeliveryError, type ModelErrorCode } from './errors.ts';
import { parseManifest } from '../contract/manifest.ts';
import { opfsFolderStore, removeModelDirectory } from './opfs.ts';
import type { DownloadProgress } from './progress.ts';
import { downloadFiles, importFiles, type TransferStats, type TransferTuning } from './transfer.ts';

export type ToDownloadWorker =
  | { type: 'download'; modelId: string; baseUrl: string; manifestText: string; tuning?: Partial<TransferTuning> }
  | { type: 'import'; modelId: string; manifestText: string; files: { path: string; file: Blob }[]; tuning?: Partial<TransferTuning> }
  | { type: 'cancel' };

export type FromDownloadWorker =
  | { type: 'progress'; progress: DownloadProgress }
  | { type: 'done'; stats: TransferStats }
  | { type: 'error'; error: { code: ModelErrorCode; message: string; details?: Record<string, unknown> } };

interface WorkerScope {
  postMessage(m: FromDownloadWorker): void;
  onmessage: ((e: MessageEvent<ToDownloadWorker>) => void) | null;
}
const scope = self as unknown as WorkerScope;
const controller = new AbortController();
let started = false;

function post(m: FromDownloadWorker): void {
  scope.postMessage(m);
}

async function run(job: Exclude<ToDownloadWorker, { type: 'cancel' }>): Promise<void> {
  const onProgress = (progress: DownloadProgress) => post({ type: 'progress', progress });
  const manifest = parseManifest(JSON.parse(job.manifestText));
  let store;
  try {
    store = await opfsFolderStore(job.modelId);
  } catch (e) {
    throw new ModelDeliveryError('storage', `This browser's private file system (OPFS) is not available: ${(e as Error).message}. Private windows and some browsers block it.`);
  }
  if (job.type === 'download') {
    return post({
      type: 'done',
      stats: await downloadFiles({ baseUrl: job.baseUrl, manifest, manifestText: job.manifestText, store, onProgress, signal: controller.signal, tuning: job.tuning }),
    });
  }
  try {
    const stats = await importFiles({
      manifest,
      manifestText: job.manifestText,
      files: new Map(job.files.map((f) => [f.path, f.file])),
      store,
      onProgress,
      signal: controller.signal,
      tuning: job.tuning,
    });
    post({ type: 'done', stats });
  } catch (e) {
    // An import is all or nothing: never leave half a model behind.
    await removeModelDirectory(job.modelId).catch(() => undefined);
    throw e;
  }
}

scope.onmessage = (e) => {
  const msg = e.data;
  if (msg.type === 'cancel') {
    controller.abort();
    return;
  }
  if (started) return;
  started = true;
  run(msg).catch((err: unknown) => {
    const error =
      err instanceof ModelDeliveryError
        ? err.toJSON()
        : { code: 'storage' as const, message: `Model storage failed: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}` };
    post({ type: 'error', error });
  });
};
