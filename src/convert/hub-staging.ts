/**
 * The stager of an in-tab conversion (a download worker of its own, beside the converter, hub-conversion.ts): each
 * component's weights from the Hub into OPFS staging/<id>/, in the conversion's order, through the transfer engine
 * (Range resume, the Hub's LFS sha256). It runs one component ahead of the converter, so the UNet downloads while the
 * image encoder and the VAE convert, and never holds more than two staged sources at once: component k is staged
 * once the converter has deleted component k−2's (storage-plan.ts counts exactly that). Components the conversion
 * record lists as converted are not fetched again.
 */
import { graphsOf } from '../compiler/convert.ts';
import { openHubFile, resolveUrl, selectCheckpointFiles, type HubListing } from '../hub/hub-api.ts';
import type { Precision } from '../contract/manifest.ts';
import { cancelled } from '../models/errors.ts';
import { folderStoreAt, modelDirectory, stagingDirectory } from '../models/opfs.ts';
import type { DownloadProgress } from '../models/progress.ts';
import { TransferProgress, transferFile } from '../models/transfer-file.ts';
import { DEFAULT_TUNING, newStats, type TransferStats, type TransferTuning } from '../models/transfer-tuning.ts';
import { CONVERSION_RECORD, isStepDone, recordFor, waitUntil } from './conversion-record.ts';
import { CONVERSION_ORDER } from './storage-plan.ts';

export interface HubStagingJob {
  modelId: string;
  hubUrl: string;
  listing: HubListing;
  token?: string;
  precision: Precision;
  tuning?: Partial<TransferTuning>;
}

export async function stageFromHub(job: HubStagingJob, onProgress: (p: DownloadProgress) => void, signal: AbortSignal): Promise<TransferStats> {
  const t0 = Date.now();
  const tuning = { ...DEFAULT_TUNING, ...job.tuning };
  const { listing } = job;
  const { weights } = selectCheckpointFiles(listing);
  const modelDir = await modelDirectory(job.modelId, true);
  const stagingDir = await stagingDirectory(job.modelId, true);
  const staging = folderStoreAt(stagingDir);
  const record = recordFor(await folderStoreAt(modelDir).readText(CONVERSION_RECORD), listing.repo, listing.commit, job.precision);

  const todo: (typeof CONVERSION_ORDER)[number][] = [];
  for (const c of CONVERSION_ORDER) {
    let done = true;
    for (const graph of graphsOf(c)) if (!(await isStepDone(record, modelDir, { graph }))) done = false;
    if (!done) todo.push(c);
  }
  const stats = newStats();
  const progress = new TransferProgress(todo.reduce((a, c) => a + weights[c].bytes, 0), onProgress, tuning.progressIntervalMs);
  for (const [i, c] of todo.entries()) {
    if (signal.aborted) throw cancelled();
    const file = weights[c];
    progress.file = { path: file.path, doneBytes: 0, bytes: file.bytes, index: i, count: todo.length };
    if (i >= 2) {
      // at most two staged sources at once: wait for the converter to finish (and delete) the one two back
      const older = weights[todo[i - 2]];
      progress.phase = 'checking';
      progress.message = `waiting for ${older.path} to finish converting before downloading ${file.path}`;
      progress.emit(true);
      await waitUntil(async () => (await staging.finalSize(older.path)) < 0, signal, cancelled);
      progress.message = undefined;
    }
    if ((await staging.finalSize(file.path)) === file.bytes) {
      progress.doneBytes += file.bytes;
      stats.keptBytes += file.bytes;
      progress.emit();
      continue;
    }
    await staging.remove(file.path);
    const url = resolveUrl(job.hubUrl, listing.repo, listing.commit, file.path);
    const open = openHubFile(url, { hubUrl: job.hubUrl, repo: listing.repo, revision: listing.commit, path: file.path, token: job.token, stallTimeoutMs: tuning.stallTimeoutMs });
    await transferFile({ path: file.path, bytes: file.bytes, sha256: file.sha256! }, staging, progress, stats, tuning, signal, open, true);
  }
  progress.phase = 'done';
  progress.message = undefined;
  progress.emit(true);
  stats.ms = Date.now() - t0;
  return stats;
}
