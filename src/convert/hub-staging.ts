/**
 * The stager of an in-tab conversion (a download worker of its own, beside the converter, hub-conversion.ts): each
 * component's weights from the Hub into OPFS staging/<id>/, in the conversion's order, through the transfer engine
 * (Range resume, the Hub's LFS sha256). It runs one component ahead of the converter, so the UNet downloads while the
 * image encoder and the VAE convert, and never holds more than two staged sources at once: component k is staged
 * once the converter has deleted component k−2's (storage-plan.ts counts exactly that). Components the conversion
 * record lists as converted are not fetched again; a source staged for another commit is (staged-sources.ts).
 * A UNet from a second repository (the fast model) comes from that repository's own resolve URL, at the commit its
 * listing pointed at, under the same token rule (the token goes to the Hub's origin only).
 */
import { graphsOf } from '../compiler/convert.ts';
import { openHubFile, resolveUrl } from '../hub/hub-api.ts';
import { selectCheckpointFiles } from '../hub/checkpoint-files.ts';
import { cancelled } from '../models/errors.ts';
import { folderStoreAt, modelDirectory, stagingDirectory } from '../models/opfs.ts';
import type { DownloadProgress } from '../models/progress.ts';
import { TransferProgress, transferFile } from '../models/transfer-file.ts';
import { DEFAULT_TUNING, newStats, type TransferStats, type TransferTuning } from '../models/transfer-tuning.ts';
import { CONVERSION_RECORD, conversionKey, isStepDone, recordFor, waitUntil, type HubJobSource } from './conversion-record.ts';
import { claimStaging, isStaged } from './staged-sources.ts';
import { CONVERSION_ORDER } from './storage-plan.ts';

export interface HubStagingJob extends HubJobSource {
  modelId: string;
  hubUrl: string;
  token?: string;
  tuning?: Partial<TransferTuning>;
}

export async function stageFromHub(job: HubStagingJob, onProgress: (p: DownloadProgress) => void, signal: AbortSignal): Promise<TransferStats> {
  const t0 = Date.now();
  const tuning = { ...DEFAULT_TUNING, ...job.tuning };
  const { weights, origins } = selectCheckpointFiles(job.listing, job.unet);
  const modelDir = await modelDirectory(job.modelId, true);
  const stagingDir = await stagingDirectory(job.modelId, true);
  const staging = folderStoreAt(stagingDir);
  const modelStore = folderStoreAt(modelDir);
  const record = recordFor(await modelStore.readText(CONVERSION_RECORD), conversionKey(job));

  const todo: (typeof CONVERSION_ORDER)[number][] = [];
  for (const c of CONVERSION_ORDER) {
    let done = true;
    for (const graph of graphsOf(c)) if (!(await isStepDone(record, modelStore, { graph }))) done = false;
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
    if (await isStaged(staging, file)) {
      progress.doneBytes += file.bytes;
      stats.keptBytes += file.bytes;
      progress.emit();
      continue;
    }
    // a final file here is another version's (a new commit since): fetched again; a .part of this version resumes
    await claimStaging(staging, file);
    await staging.remove(file.path);
    const { repo, commit } = origins[c];
    const url = resolveUrl(job.hubUrl, repo, commit, file.path);
    const open = openHubFile(url, { hubUrl: job.hubUrl, repo, revision: commit, path: file.path, token: job.token, stallTimeoutMs: tuning.stallTimeoutMs });
    await transferFile({ path: file.path, bytes: file.bytes, sha256: file.sha256! }, staging, progress, stats, tuning, signal, open, true);
  }
  progress.phase = 'done';
  progress.message = undefined;
  progress.emit(true);
  stats.ms = Date.now() - t0;
  return stats;
}
