/**
 * The import path of the transfer engine: a local folder's files (Blobs) copied into a FolderStore, each one
 * through transferFile (transfer-file.ts) with no retries or resume; all or nothing, naming every missing,
 * mis-sized or corrupt file.
 */
import type { ModelManifest } from '../contract/manifest.ts';
import { ModelDeliveryError, cancelled } from './errors.ts';
import type { FolderStore } from './folder-store.ts';
import { PENDING_MANIFEST_NAME, diffFolder } from './plan.ts';
import type { DownloadProgress } from './progress.ts';
import { TransferProgress, commitModel, reconcile, transferFile } from './transfer-file.ts';
import { DEFAULT_TUNING, newStats, type TransferStats, type TransferTuning } from './transfer-tuning.ts';

export interface ImportJob {
  manifest: ModelManifest;
  manifestText: string;
  /** the folder's files by relative path (manifest.json included or not) */
  files: Map<string, Blob>;
  store: FolderStore;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  tuning?: Partial<TransferTuning>;
}

/** Copies a local folder into `store`, verifying every file; names missing, mis-sized and corrupt files. */
export async function importFiles(job: ImportJob): Promise<TransferStats> {
  const t0 = Date.now();
  const tuning = { ...DEFAULT_TUNING, ...job.tuning };
  const { store, manifest, signal } = job;
  const stats = newStats();
  const sizes = new Map([...job.files].map(([p, b]) => [p, b.size]));
  const { missing, wrongSize, extra } = diffFolder(manifest, sizes);
  if (missing.length || wrongSize.length) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing ${missing.join(', ')}`);
    for (const w of wrongSize) parts.push(`${w.path} is ${w.actual} bytes, the manifest says ${w.expected}`);
    throw new ModelDeliveryError('import', `This folder is not a complete svd-web model: ${parts.join('; ')}.`, { missing, wrongSize, extra });
  }
  if (extra.length) stats.warnings.push(`ignored files the manifest does not name: ${extra.join(', ')}`);
  const progress = new TransferProgress(manifest.files.reduce((a, f) => a + f.bytes, 0), job.onProgress, tuning.progressIntervalMs);
  await reconcile(store, manifest);
  await store.writeText(PENDING_MANIFEST_NAME, job.manifestText);
  const corrupt: string[] = [];
  for (let i = 0; i < manifest.files.length; i++) {
    const file = manifest.files[i];
    if (signal?.aborted) throw cancelled();
    progress.file = { path: file.path, doneBytes: 0, bytes: file.bytes, index: i, count: manifest.files.length };
    await store.remove(file.path);
    await store.removePart(file.path); // a local copy is cheap: no resume
    const blob = job.files.get(file.path)!;
    try {
      await transferFile(file, store, progress, stats, tuning, signal, async () => ({ start: 0, body: blob.stream() as ReadableStream<Uint8Array> }), false);
    } catch (e) {
      if (e instanceof ModelDeliveryError && e.code === 'corrupt') {
        corrupt.push(file.path);
        await store.removePart(file.path);
        progress.doneBytes += file.bytes; // keep the total moving; the import fails below
        continue;
      }
      throw e;
    }
  }
  if (corrupt.length) {
    throw new ModelDeliveryError('import', `These files do not match the sha256 in the folder's manifest.json (corrupt or from another conversion): ${corrupt.join(', ')}. Nothing was imported.`, {
      corrupt,
    });
  }
  stats.networkBytes = 0;
  return commitModel(store, job.manifestText, progress, stats, t0);
}
