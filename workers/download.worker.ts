/**
 * The model download/import worker: one call per worker, served through the download protocol
 * (src/protocol/download.ts). Runs the transfer engine (src/models/download-files.ts, import-files.ts) with `.part`
 * files written through OPFS sync access handles, so fetching, hashing and writing a 1 GB shard never touch the UI
 * thread and never hold more than one network chunk in memory. A Hub download runs in two of these workers: one stages
 * the weights, one converts them (the compiler is synchronous; a cancel during a graph's compile ends the worker:
 * download-client.ts terminates it after 5 s).
 */
import { ModelDeliveryError } from '../src/models/errors.ts';
import { parseManifest } from '../src/contract/manifest.ts';
import { downloadFiles } from '../src/models/download-files.ts';
import { importFiles } from '../src/models/import-files.ts';
import { convertFromHub } from '../src/convert/hub-conversion.ts';
import { stageFromHub } from '../src/convert/hub-staging.ts';
import { opfsFolderStore, removeModelDirectory } from '../src/models/opfs.ts';
import type { DownloadProgress } from '../src/models/progress.ts';
import type { DownloadCallMessage, FromDownloadWorker, ToDownloadWorker } from '../src/protocol/download.ts';

interface WorkerScope {
  postMessage(m: FromDownloadWorker): void;
  onmessage: ((e: MessageEvent<ToDownloadWorker>) => void) | null;
}
const scope = self as unknown as WorkerScope;
const controller = new AbortController();
let started: number | undefined;

function post(m: FromDownloadWorker): void {
  scope.postMessage(m);
}

async function run(call: DownloadCallMessage): Promise<void> {
  const { id } = call;
  const onProgress = (payload: DownloadProgress) => post({ kind: 'progress', id, payload });
  if (call.kind === 'hub-stage') {
    return post({ kind: 'staged', id, payload: { stats: await stageFromHub(call.payload, onProgress, controller.signal) } });
  }
  if (call.kind === 'hub-convert') {
    const { stats } = await convertFromHub(call.payload, onProgress, controller.signal);
    return post({ kind: 'converted', id, payload: { stats } });
  }
  const job = call.payload;
  const manifest = parseManifest(JSON.parse(job.manifestText));
  let store;
  try {
    store = await opfsFolderStore(job.modelId);
  } catch (e) {
    throw new ModelDeliveryError('storage', `This browser's private file system (OPFS) is not available: ${(e as Error).message}. Private windows and some browsers block it.`);
  }
  if (call.kind === 'download') {
    const { baseUrl } = call.payload;
    return post({
      kind: 'done',
      id,
      payload: { stats: await downloadFiles({ baseUrl, manifest, manifestText: job.manifestText, store, onProgress, signal: controller.signal, tuning: job.tuning }) },
    });
  }
  try {
    const stats = await importFiles({
      manifest,
      manifestText: job.manifestText,
      files: new Map(call.payload.files.map((f) => [f.path, f.file])),
      store,
      onProgress,
      signal: controller.signal,
      tuning: job.tuning,
    });
    post({ kind: 'done', id, payload: { stats } });
  } catch (e) {
    // An import is all or nothing: never leave half a model behind.
    await removeModelDirectory(job.modelId).catch(() => undefined);
    throw e;
  }
}

scope.onmessage = (e) => {
  const msg = e.data;
  if (msg.kind === 'cancel') {
    if (started === undefined || started === msg.payload.callId) controller.abort();
    return;
  }
  if (started !== undefined) return;
  started = msg.id;
  run(msg).catch((err: unknown) => {
    const payload =
      err instanceof ModelDeliveryError
        ? err.toJSON()
        : { code: 'storage' as const, message: `Model storage failed: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}` };
    post({ kind: 'error', id: msg.id, payload });
  });
};
