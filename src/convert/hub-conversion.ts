/**
 * The in-tab conversion (download worker): an official diffusers-layout SVD repository on the Hugging Face Hub →
 * a verified model in OPFS models/<id>/, with the same compiler code and the same bytes as `svd-web convert`
 * (with a UNet from a second repository, as `svd-web convert --unet <file>`: the fast model, AnimateLCM).
 *
 *   configs      fetched whole (small), kept in memory
 *   per component (image encoder, VAE, UNet):
 *     wait       for its fp16 safetensors in OPFS staging/<id>/: the stager (hub-staging.ts, a second download
 *                worker) downloads them through the transfer engine (Range resume, LFS sha256), one component ahead
 *     convert    its graphs, each written through pre-opened sync handles and recorded in conversion.json
 *     delete     the staged source (so at most two sources are staged at once, see storage-plan.ts)
 *   weightless step graphs, then every output re-read and hashed, then manifest.json (last: the model is complete)
 *
 * Why stage instead of streaming tensors from the network: the compiler reads tensors in the order the architecture
 * consumes them, not the file's order, and synchronously; staging gives it random access, verifies each source
 * against the Hub's LFS sha256 before minutes of compiling, and lets a reload resume a download byte-exactly
 * (`.part` + Range) and skip components already converted (conversion.json).
 */
import { buildManifest, manifestBytes, planConversion, runStep, type ConversionPlan, type ConversionStep } from '../compiler/convert.ts';
import type { CompiledGraph } from '../compiler/compile.ts';
import { DEFAULT_SHARD_BYTES, shardName } from '../compiler/writer.ts';
import type { GraphName, ModelManifest } from '../contract/manifest.ts';
import { SafetensorsFile } from '../io/safetensors.ts';
import { openHubFile, resolveUrl, type HubFile } from '../hub/hub-api.ts';
import { selectCheckpointFiles } from '../hub/checkpoint-files.ts';
import { CONVERSION_RECORD, conversionKey, filesOf, isStepDone, parseRecord, recordFor, waitUntil, type ConversionRecord, type HubJobSource } from './conversion-record.ts';
import { dropStaged, isStaged } from './staged-sources.ts';
import { ModelDeliveryError, cancelled } from '../models/errors.ts';
import { folderStoreAt, modelDirectory, openSyncAccess, removeFileAt, removeStagingDirectory, stagingDirectory, type SyncAccessHandle } from '../models/opfs.ts';
import { MANIFEST_NAME, backoffMs } from '../models/plan.ts';
import type { DownloadProgress } from '../models/progress.ts';
import { createHasher } from '../models/hasher.ts';
import { TransferProgress } from '../models/transfer-file.ts';
import { DEFAULT_TUNING, newStats, type TransferStats, type TransferTuning } from '../models/transfer-tuning.ts';
import { PreopenedFolder, StagedCheckpoint, shardsToOpen } from './opfs-files.ts';
import { CONVERSION_ORDER, estimateOutputBytes } from './storage-plan.ts';


export interface HubConversionJob extends HubJobSource {
  modelId: string;
  label: string;
  hubUrl: string;
  token?: string;
  tuning?: Partial<TransferTuning>;
  /** tests: wait (until cancelled) after this graph is written, to reload mid-conversion */
  holdAfter?: GraphName;
}

export interface HubConversionStats extends TransferStats {
  /** graphs compiled in this run */
  convertedGraphs: GraphName[];
  /** graphs found converted by an earlier run and kept */
  reusedGraphs: GraphName[];
  convertMs: number;
  verifyMs: number;
  /** time spent waiting for the stager's downloads */
  waitMs: number;
}

const VERIFY_CHUNK = 4 << 20;

export async function convertFromHub(job: HubConversionJob, onProgress: (p: DownloadProgress) => void, signal: AbortSignal): Promise<{ manifest: ModelManifest; stats: HubConversionStats }> {
  const t0 = Date.now();
  const tuning = { ...DEFAULT_TUNING, ...job.tuning };
  const { listing } = job;
  const stats: HubConversionStats = { ...newStats(), convertedGraphs: [], reusedGraphs: [], convertMs: 0, verifyMs: 0, waitMs: 0 };
  const selection = selectCheckpointFiles(listing, job.unet);
  const modelDir = await modelDirectory(job.modelId, true);
  const modelStore = folderStoreAt(modelDir);
  const stagingDir = await stagingDirectory(job.modelId, true);
  const staging = folderStoreAt(stagingDir);
  const hubCtx = (path: string) => ({ hubUrl: job.hubUrl, repo: listing.repo, revision: listing.commit, path, token: job.token, stallTimeoutMs: tuning.stallTimeoutMs });
  const open = (file: HubFile) => openHubFile(resolveUrl(job.hubUrl, listing.repo, listing.commit, file.path), hubCtx(file.path));

  // What an earlier run left: kept only when it converted the same commits (both repositories') at the same precision.
  const recordText = await modelStore.readText(CONVERSION_RECORD);
  const key = conversionKey(job);
  const kept = recordFor(recordText, key);
  const record: ConversionRecord = kept ?? { ...key, graphs: {} };
  const stale = kept ? null : parseRecord(recordText);
  if (stale) for (const g of Object.values(stale.graphs)) for (const f of filesOf(g!)) await removeFileAt(modelDir, f.path);
  await modelStore.remove(MANIFEST_NAME);
  await modelStore.writeText(CONVERSION_RECORD, JSON.stringify(record));

  // Configs: small, fetched whole.
  const texts = new Map<string, string>();
  for (const f of selection.configs) texts.set(f.path, await fetchText(f, open(f), tuning, signal));
  const weights = selection.weights;
  const tree = new StagedCheckpoint(listing.repo, texts, Object.values(weights).map((w) => w.path));
  // A UNet from a second repository is read from its own staged file, as `svd-web convert --unet <file>` reads it.
  const settings = job.unet ? { precision: job.precision, unetWeights: weights.unet.path, sampler: job.unet.sampler } : { precision: job.precision };
  const plan = planConversion(tree, settings, (path) => Object.values(weights).find((w) => w.path === path)!.bytes);
  const shardBytes = plan.settings.shardBytes ?? DEFAULT_SHARD_BYTES;

  // This worker's progress: convert + verify (verify's bytes are estimates until each graph is written); the
  // stager reports the download's, and the UI thread adds them into one bar (progress-merge.ts).
  const graphBytes = (g: CompiledGraph) => filesOf(g).reduce((a, f) => a + f.bytes, 0);
  const outputEstimate = (step: ConversionStep) => {
    const done = record.graphs[step.graph];
    if (done) return graphBytes(done);
    if (!step.component) return 4096;
    // the VAE's two graphs share its file: each writes about half
    const sharing = plan.steps.filter((s) => s.component === step.component).length;
    return estimateOutputBytes({ bytes: step.weightBytes, storage: selection.storage[step.component] }, job.precision) / sharing;
  };
  const totalOf = () => plan.totalWeightBytes + plan.steps.reduce((a, s) => a + outputEstimate(s), 0);
  const progress = new TransferProgress(totalOf(), onProgress, tuning.progressIntervalMs);
  const isDone = (step: ConversionStep) => isStepDone(record, modelStore, step);

  for (const component of CONVERSION_ORDER) {
    if (signal.aborted) throw cancelled();
    const steps = plan.steps.filter((s) => s.component === component);
    const file = weights[component];
    const pending: ConversionStep[] = [];
    for (const s of steps) if (!(await isDone(s))) pending.push(s);
    if (pending.length === 0) {
      // Converted by an earlier run: its source is not needed again.
      await dropStaged(staging, file.path);
      progress.doneBytes += steps.reduce((a, s) => a + s.weightBytes, 0);
      stats.reusedGraphs.push(...steps.map((s) => s.graph));
      continue;
    }
    stats.reusedGraphs.push(...steps.filter((s) => !pending.includes(s)).map((s) => s.graph));
    progress.doneBytes += steps.filter((s) => !pending.includes(s)).reduce((a, s) => a + s.weightBytes, 0);

    // Wait for the stager to have downloaded and verified the source.
    progress.file = { path: file.path, doneBytes: 0, bytes: file.bytes, index: CONVERSION_ORDER.indexOf(component), count: CONVERSION_ORDER.length };
    if (!(await isStaged(staging, file))) {
      const tw = Date.now();
      progress.phase = 'downloading';
      progress.message = `waiting for ${file.path} to download`;
      progress.emit(true);
      await waitUntil(() => isStaged(staging, file), signal, cancelled);
      stats.waitMs += Date.now() - tw;
    }

    // Convert its graphs.
    const handle = await openSyncAccess(stagingDir, file.path, false);
    tree.attach(file.path, handle);
    const source = SafetensorsFile.read(tree.open(file.path));
    try {
      for (const step of pending) {
        if (signal.aborted) throw cancelled();
        record.graphs[step.graph] = await convertStep(plan, step, modelDir, source, shardBytes, progress, stats, signal);
        await modelStore.writeText(CONVERSION_RECORD, JSON.stringify(record));
        progress.totalBytes = totalOf();
        if (job.holdAfter === step.graph) await holdUntilCancelled(signal);
      }
    } finally {
      tree.detach(file.path);
      handle.close();
    }
    await dropStaged(staging, file.path);
  }

  for (const step of plan.steps.filter((s) => s.component === null)) {
    if (await isDone(step)) {
      stats.reusedGraphs.push(step.graph);
      continue;
    }
    record.graphs[step.graph] = await convertStep(plan, step, modelDir, null, shardBytes, progress, stats, signal);
    await modelStore.writeText(CONVERSION_RECORD, JSON.stringify(record));
  }
  progress.totalBytes = totalOf();

  // Verify every output file as stored (the hashes were computed while writing; this re-reads what OPFS kept).
  const manifest = buildManifest(plan, plan.steps.map((s) => record.graphs[s.graph]!));
  const tv = Date.now();
  progress.phase = 'verifying';
  for (const f of manifest.files) {
    if (signal.aborted) throw cancelled();
    progress.message = `checking ${f.path}`;
    const got = await hashStored(modelDir, f.path, (n) => {
      progress.doneBytes += n;
      progress.emit();
    });
    if (got !== f.sha256) {
      const graph = plan.steps.find((s) => filesOf(record.graphs[s.graph]!).some((x) => x.path === f.path))!.graph;
      delete record.graphs[graph];
      await modelStore.writeText(CONVERSION_RECORD, JSON.stringify(record));
      throw new ModelDeliveryError('corrupt', `The converted file ${f.path} changed in storage (sha256 ${got.slice(0, 12)}…, written as ${f.sha256.slice(0, 12)}…). Press Get again: the ${graph} graph will be converted again.`, { path: f.path });
    }
  }
  stats.verifyMs = Date.now() - tv;

  progress.phase = 'finishing';
  progress.message = undefined;
  progress.emit(true);
  await modelStore.writeText(MANIFEST_NAME, new TextDecoder().decode(manifestBytes(manifest)));
  await modelStore.remove(CONVERSION_RECORD);
  await removeStagingDirectory(job.modelId);
  progress.doneBytes = progress.totalBytes;
  progress.phase = 'done';
  progress.emit(true);
  stats.ms = Date.now() - t0;
  return { manifest, stats };
}

/** One graph: its output files opened ahead, compiled, the unused shard files removed. */
async function convertStep(
  plan: ConversionPlan,
  step: ConversionStep,
  dir: FileSystemDirectoryHandle,
  source: SafetensorsFile | null,
  shardBytes: number,
  progress: TransferProgress,
  stats: HubConversionStats,
  signal: AbortSignal,
): Promise<CompiledGraph> {
  if (signal.aborted) throw cancelled();
  const names = [`${step.graph}.onnx`];
  const shards = step.component ? shardsToOpen(step.weightBytes, shardBytes) : 1;
  for (let i = 0; i < shards; i++) names.push(shardName(step.graph, i));
  const handles = new Map<string, SyncAccessHandle>();
  const tc = Date.now();
  try {
    for (const n of names) handles.set(n, await openSyncAccess(dir, n, true));
    // one hasher per file a step writes (each shard, then the .onnx)
    const hashers = await Promise.all(names.map(() => createHasher()));
    const folder = new PreopenedFolder(`models/${plan.checkpoint.root}`, handles, hashers);
    progress.phase = 'converting';
    progress.message = `converting ${step.graph}`;
    progress.emit(true);
    const base = progress.doneBytes;
    let read = 0;
    const compiled = runStep(plan, step, folder, source, (n) => {
      read += n;
      progress.doneBytes = base + read;
      progress.meter.add(n, Date.now());
      progress.emit();
    });
    progress.doneBytes = base + step.weightBytes;
    for (const h of handles.values()) h.close();
    handles.clear();
    for (const n of names) if (!folder.created.has(n)) await removeFileAt(dir, n);
    stats.convertedGraphs.push(step.graph);
    stats.convertMs += Date.now() - tc;
    return compiled;
  } finally {
    for (const h of handles.values()) h.close();
  }
}

async function hashStored(dir: FileSystemDirectoryHandle, path: string, onBytes: (n: number) => void): Promise<string> {
  const h = await openSyncAccess(dir, path, false);
  try {
    const hash = await createHasher();
    const buf = new Uint8Array(VERIFY_CHUNK);
    const size = h.getSize();
    for (let at = 0; at < size; ) {
      const n = h.read(buf.subarray(0, Math.min(buf.length, size - at)), { at });
      if (n <= 0) break;
      hash.update(buf.subarray(0, n));
      at += n;
      onBytes(n);
    }
    return hash.hex();
  } finally {
    h.close();
  }
}

/** A small file (a config) read whole, with the transfer engine's retry bounds. */
async function fetchText(file: HubFile, open: ReturnType<typeof openHubFile>, tuning: TransferTuning, signal: AbortSignal): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    if (signal.aborted) throw cancelled();
    const ctl = new AbortController();
    const onAbort = () => ctl.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => ctl.abort(), tuning.stallTimeoutMs);
    try {
      const { body } = await open(0, ctl.signal);
      return await new Response(body).text();
    } catch (e) {
      if (signal.aborted) throw cancelled();
      if (e instanceof ModelDeliveryError && e.code !== 'stalled' && e.code !== 'network') throw e;
      if (attempt >= tuning.maxAttempts) {
        throw new ModelDeliveryError('network', `Could not fetch ${file.path} from Hugging Face after ${attempt} attempts (${(e as Error).message}). Check the connection and retry.`);
      }
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
    await new Promise((r) => setTimeout(r, backoffMs(attempt, tuning.backoffBaseMs, tuning.backoffCapMs)));
  }
}


function holdUntilCancelled(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) return reject(cancelled());
    signal.addEventListener('abort', () => reject(cancelled()), { once: true });
  });
}

