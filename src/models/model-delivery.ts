/**
 * The two ways a model gets into OPFS, as the UI thread drives them:
 *
 *   downloadModel(record, {onProgress, signal})      → fetch manifest.json, check quota, persist(), fetch every file
 *   importModelFolder(files | dirHandle, {...})       → copy a local `svd-web convert` output, verified
 *
 * The heavy lifting (fetch, sha256, OPFS writes) runs in workers/download.worker.ts (via download-client.ts);
 * these check the quota first (the UI thread's `navigator.storage.estimate()`), request persistent storage, write
 * source.json and relay progress.
 */
import { parseManifest, type ModelManifest } from '../contract/manifest.ts';
import { writeSource } from './cached-models.ts';
import { runDownloadWorker, type TransferOptions } from './download-client.ts';
import { ModelDeliveryError, cancelled } from './errors.ts';
import { readModelText, scanModelFiles } from './opfs.ts';
import { MANIFEST_NAME, PENDING_MANIFEST_NAME, backoffMs, diffManifests, planDownload, relativePaths, sanitizeModelId } from './plan.ts';
import type { ModelRecord } from './registry.ts';
import { sha256Hex } from './sha256.ts';
import { formatGB } from '../common/format.ts';
import { checkQuota, requestPersistence } from './site-storage.ts';
import { DEFAULT_TUNING, type TransferStats, type TransferTuning } from './transfer-tuning.ts';
import type { GraphName, Precision, SamplerName } from '../contract/manifest.ts';
import { HUB_URL, fetchRepoListing, type RepoRef } from '../hub/hub-api.ts';
import { selectCheckpointFiles } from '../hub/checkpoint-files.ts';
import { planStorage, type StoragePlan } from '../convert/storage-plan.ts';
import { ProgressMerge } from '../convert/progress-merge.ts';
import type { HubConversionStats } from '../convert/hub-conversion.ts';
import { listFiles, modelDirectory, stagingDirectory } from './opfs.ts';

export interface TransferResult {
  id: string;
  manifest: ModelManifest;
  stats: TransferStats;
  /** navigator.storage.persist() answer (null: not asked / not supported) */
  persisted: boolean | null;
}

function resolveBase(baseUrl: string): string {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const here = typeof location !== 'undefined' ? location.href : undefined;
  return new URL(base, here).href;
}

async function fetchManifest(baseUrl: string, tuning: TransferTuning, signal?: AbortSignal): Promise<{ text: string; manifest: ModelManifest }> {
  const url = new URL(MANIFEST_NAME, baseUrl).href;
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw cancelled();
    const ctl = new AbortController();
    const onAbort = () => ctl.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => ctl.abort(), tuning.stallTimeoutMs);
    let failure: string;
    try {
      const res = await fetch(url, { signal: ctl.signal, cache: 'no-store' });
      if (res.status === 404 || res.status === 410) {
        throw new ModelDeliveryError('not-found', `The model host has no ${MANIFEST_NAME} (HTTP ${res.status}); check the model URL (${baseUrl}).`, { path: MANIFEST_NAME, url, status: res.status });
      }
      if (res.ok) {
        const text = await res.text();
        let raw: unknown;
        try {
          raw = JSON.parse(text);
        } catch {
          throw new ModelDeliveryError('manifest', `${url} is not JSON: is the base URL a folder written by \`svd-web convert\`?`);
        }
        try {
          return { text, manifest: parseManifest(raw, url) };
        } catch (e) {
          throw new ModelDeliveryError('manifest', (e as Error).message);
        }
      }
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
        throw new ModelDeliveryError('http', `The model host answered HTTP ${res.status} for ${MANIFEST_NAME}; check the model URL (${baseUrl}).`, { status: res.status });
      }
      failure = `HTTP ${res.status}`;
    } catch (e) {
      if (e instanceof ModelDeliveryError) throw e;
      if (signal?.aborted) throw cancelled();
      failure = ctl.signal.aborted ? `no answer within ${Math.round(tuning.stallTimeoutMs / 1000)} s` : (e as Error).message;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
    if (attempt >= tuning.maxAttempts) {
      throw new ModelDeliveryError('network', `Could not fetch ${url} after ${attempt} attempts (${failure}). Check the connection and the model URL.`);
    }
    await new Promise((r) => setTimeout(r, backoffMs(attempt, tuning.backoffBaseMs, tuning.backoffCapMs)));
  }
}

/**
 * Downloads a model into OPFS models/<id>/, resuming whatever an earlier run left. Rejects with a
 * ModelDeliveryError whose message is written for the user (404, quota, corrupt, network, cancelled…).
 */
export async function downloadModel(record: Pick<ModelRecord, 'id' | 'label' | 'baseUrl'>, opts: TransferOptions = {}): Promise<TransferResult> {
  const tuning = { ...DEFAULT_TUNING, ...opts.tuning };
  const id = sanitizeModelId(record.id);
  const baseUrl = resolveBase(record.baseUrl);
  opts.onProgress?.({ phase: 'manifest', doneBytes: 0, totalBytes: 0, bytesPerSecond: 0, etaSeconds: null, networkBytes: 0 });
  const { text, manifest } = await fetchManifest(baseUrl, tuning, opts.signal);

  // What is already here (a previous run's verified files and .part prefixes), and what that leaves to fetch.
  const prevText = (await readModelText(id, PENDING_MANIFEST_NAME)) ?? (await readModelText(id, MANIFEST_NAME));
  let prev: ModelManifest | null = null;
  try {
    prev = prevText ? (JSON.parse(prevText) as ModelManifest) : null;
  } catch {
    prev = null;
  }
  const { changed } = diffManifests(prev && Array.isArray(prev.files) ? prev : null, manifest);
  const onDisk = await scanModelFiles(id, manifest.files.map((f) => f.path));
  const plan = planDownload(manifest, onDisk, changed);
  await checkQuota(plan.missingBytes, record.label || id);
  const persisted = await requestPersistence();
  await writeSource({ id, label: record.label, kind: 'url', baseUrl });
  const stats = await runDownloadWorker({ kind: 'download', payload: { modelId: id, baseUrl, manifestText: text, tuning: opts.tuning } }, opts);
  return { id, manifest, stats, persisted };
}

interface AsyncIterableDir {
  entries(): AsyncIterable<[string, FileSystemHandle]>;
}

async function walkDirectory(dir: FileSystemDirectoryHandle, prefix = ''): Promise<{ path: string; file: File }[]> {
  const out: { path: string; file: File }[] = [];
  for await (const [name, h] of (dir as unknown as AsyncIterableDir).entries()) {
    if (h.kind === 'file') out.push({ path: prefix + name, file: await (h as FileSystemFileHandle).getFile() });
    else out.push(...(await walkDirectory(h as FileSystemDirectoryHandle, `${prefix}${name}/`)));
  }
  return out;
}

export interface ImportOptions extends TransferOptions {
  /** model id (default: the folder's name) */
  id?: string;
  label?: string;
}

/**
 * Imports a local `svd-web convert` output folder (a directory handle from showDirectoryPicker, or the File list of
 * `<input webkitdirectory>` / a dropped folder) into OPFS, verifying every file against the folder's manifest.json.
 * All or nothing: on any problem nothing is kept and the error names the missing, mis-sized or corrupt files.
 */
export async function importModelFolder(source: File[] | FileSystemDirectoryHandle, opts: ImportOptions = {}): Promise<TransferResult> {
  let entries: { path: string; file: File }[];
  let folderName: string | undefined;
  if (Array.isArray(source)) {
    const raw = source.map((f) => (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name);
    const rel = relativePaths(raw);
    folderName = raw[0]?.includes('/') && rel[0] !== raw[0] ? raw[0].split('/')[0] : undefined;
    entries = source.map((file, i) => ({ path: rel[i], file }));
  } else {
    folderName = source.name;
    entries = await walkDirectory(source);
  }
  const manifestFile = entries.find((e) => e.path === MANIFEST_NAME);
  if (!manifestFile) {
    throw new ModelDeliveryError('import', `This folder has no ${MANIFEST_NAME} at its top level: pick the folder that \`svd-web convert\` wrote (it holds manifest.json and the .onnx files).`);
  }
  const text = await manifestFile.file.text();
  let manifest: ModelManifest;
  try {
    manifest = parseManifest(JSON.parse(text), `${folderName ?? 'folder'}/${MANIFEST_NAME}`);
  } catch (e) {
    throw new ModelDeliveryError('import', e instanceof SyntaxError ? `${MANIFEST_NAME} is not valid JSON` : (e as Error).message);
  }
  const id = sanitizeModelId(opts.id ?? folderName ?? `imported-${sha256Hex(new TextEncoder().encode(text)).slice(0, 8)}`);
  await checkQuota(manifest.files.reduce((a, f) => a + f.bytes, 0), opts.label ?? id);
  const persisted = await requestPersistence();
  await writeSource({ id, label: opts.label ?? folderName ?? id, kind: 'import' });
  const files = entries.filter((e) => e.path !== MANIFEST_NAME).map((e) => ({ path: e.path, file: e.file as Blob }));
  const stats = await runDownloadWorker({ kind: 'import', payload: { modelId: id, manifestText: text, files, tuning: opts.tuning } }, opts);
  return { id, manifest, stats, persisted };
}

export interface HubDownloadRequest {
  id: string;
  label: string;
  repo: string;
  revision: string;
  precision: Precision;
  /** the UNet from another repository (the fast model): nothing else of it is downloaded, nor the base's UNet weights */
  unet?: HubUnetRequest;
  /** a Hugging Face access token (gated repositories); sent to the Hub only */
  token?: string;
  hubUrl?: string;
  /** tests: hold after this graph is written (to reload mid-conversion) */
  holdAfter?: GraphName;
}

export interface HubUnetRequest {
  repo: string;
  revision: string;
  /** the single-file UNet's path in that repository */
  path: string;
  /** the sampler it was trained for */
  sampler: SamplerName;
}

export interface HubTransferResult extends TransferResult {
  stats: HubConversionStats;
  storagePlan: StoragePlan;
}

/** Bytes already in OPFS for this model (its folder and its staged sources), which a resumed job keeps. */
async function bytesKept(id: string): Promise<number> {
  let total = 0;
  for (const dir of [() => modelDirectory(id), () => stagingDirectory(id)]) {
    try {
      for (const size of (await listFiles(await dir())).values()) total += size;
    } catch {
      // no folder yet
    }
  }
  return total;
}

/**
 * Gets an SVD model from the Hugging Face Hub: the repository's file list (sizes, LFS sha256), the storage the
 * conversion needs at its peak against the site's quota, persistent storage requested, then the download and the
 * conversion in the download worker (src/convert/hub-conversion.ts). Resumes whatever an earlier run left.
 */
export async function downloadFromHub(req: HubDownloadRequest, opts: TransferOptions = {}): Promise<HubTransferResult> {
  const tuning = { ...DEFAULT_TUNING, ...opts.tuning };
  const id = sanitizeModelId(req.id);
  const hubUrl = req.hubUrl ?? HUB_URL;
  opts.onProgress?.({ phase: 'manifest', doneBytes: 0, totalBytes: 0, bytesPerSecond: 0, etaSeconds: null, networkBytes: 0 });
  const list = (ref: RepoRef) =>
    fetchRepoListing(ref, { hubUrl, token: req.token, signal: opts.signal, maxAttempts: tuning.maxAttempts, backoffBaseMs: tuning.backoffBaseMs, backoffCapMs: tuning.backoffCapMs, timeoutMs: tuning.stallTimeoutMs });
  const listing = await list({ repo: req.repo, revision: req.revision });
  // A UNet from a second repository: its own listing (its commit, its file's LFS sha256, its own refusals).
  const unet = req.unet ? { listing: await list({ repo: req.unet.repo, revision: req.unet.revision }), path: req.unet.path, sampler: req.unet.sampler } : undefined;
  const selection = selectCheckpointFiles(listing, unet);
  const source = (c: keyof typeof selection.weights) => ({ bytes: selection.weights[c].bytes, storage: selection.storage[c] });
  const storagePlan = planStorage(
    { image_encoder: source('image_encoder'), vae: source('vae'), unet: source('unet') },
    req.precision,
    selection.configs.reduce((a, f) => a + f.bytes, 0),
  );
  await checkQuota(Math.max(0, storagePlan.peakBytes - (await bytesKept(id))), `${req.label} (download ${formatGB(storagePlan.downloadBytes)}, converted ≈ ${formatGB(storagePlan.outputBytes)}, at most ${formatGB(storagePlan.peakBytes)} at once while converting)`);
  const persisted = await requestPersistence();
  await writeSource({ id, label: req.label, kind: 'hub', hub: { repo: listing.repo, revision: req.revision, precision: req.precision, ...(req.unet ? { unet: { ...req.unet, repo: unet!.listing.repo } } : {}) } });
  // Two download workers at once: the stager downloads, the converter converts what has arrived (the UNet downloads
  // while the image encoder and the VAE convert). The first failure stops both and is the one reported.
  const t0 = Date.now();
  const both = new AbortController();
  const onAbort = () => both.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const merge = new ProgressMerge((p) => opts.onProgress?.(p));
  let first: unknown;
  const guard = <T,>(p: Promise<T>) =>
    p.catch((e: unknown) => {
      if (first === undefined) first = e;
      both.abort();
      throw e;
    });
  const common = { modelId: id, hubUrl, listing, unet, token: req.token, precision: req.precision, tuning: opts.tuning };
  const [staged, converted] = await Promise.allSettled([
    guard(runDownloadWorker({ kind: 'hub-stage', payload: common }, { signal: both.signal, tuning: opts.tuning, onProgress: (p) => merge.fromStager(p) })),
    guard(runDownloadWorker({ kind: 'hub-convert', payload: { ...common, label: req.label, holdAfter: req.holdAfter } }, { signal: both.signal, tuning: opts.tuning, onProgress: (p) => merge.fromConverter(p) })),
  ]);
  opts.signal?.removeEventListener('abort', onAbort);
  if (staged.status === 'rejected' || converted.status === 'rejected') throw opts.signal?.aborted ? cancelled() : first;
  const s = staged.value;
  const stats: HubConversionStats = { ...(converted.value as HubConversionStats), networkBytes: s.networkBytes, keptBytes: s.keptBytes, discardedBytes: s.discardedBytes, rehashedBytes: s.rehashedBytes, resumes: s.resumes, corruptRefetches: s.corruptRefetches, files: s.files, ms: Date.now() - t0 };
  const text = await readModelText(id, MANIFEST_NAME);
  if (!text) throw new ModelDeliveryError('storage', `The conversion of ${req.repo} finished but its manifest.json is missing from this browser's storage; press Get again.`);
  return { id, manifest: parseManifest(JSON.parse(text)), stats, persisted, storagePlan };
}
