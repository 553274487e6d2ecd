/**
 * The model library: a registry of known models, resumable verified downloads into OPFS, local folder import,
 * and the list of cached models. No React; used by the UI store (model-store.ts) and the models self-test page.
 *
 *   downloadModel(record, {onProgress, signal})      → fetch manifest.json, check quota, persist(), fetch every file
 *   importModelFolder(files | dirHandle, {...})       → copy a local `svd-web convert` output, verified
 *   listCachedModels() / deleteModel(id)
 *   modelFileReader(id)                               → what the generation worker reads sessions from
 *
 * The heavy lifting (fetch, sha256, OPFS writes) runs in download.worker.ts; this module checks the quota first
 * (the UI thread's `navigator.storage.estimate()`), requests persistent storage and relays progress.
 */
import { ModelDeliveryError, cancelled } from './errors.ts';
import { parseManifest, type ModelManifest, type Precision } from '../contract/manifest.ts';
import {
  listFiles,
  listModelIds,
  modelDirectory,
  opfsFileReader,
  readModelText,
  removeModelDirectory,
  scanModelFiles,
} from './opfs.ts';
import { MANIFEST_NAME, PART_SUFFIX, PENDING_MANIFEST_NAME, backoffMs, diffManifests, planDownload, quotaShortfall, relativePaths, sanitizeModelId } from './plan.ts';
import type { DownloadProgress } from './progress.ts';
import { sha256Hex } from './sha256.ts';
import { DEFAULT_TUNING, type TransferStats, type TransferTuning } from './transfer.ts';
import type { FromDownloadWorker, ToDownloadWorker } from './download.worker.ts';

export { ModelDeliveryError } from './errors.ts';
export type { ModelErrorCode } from './errors.ts';
export type { DownloadProgress } from './progress.ts';
export type { TransferStats, TransferTuning } from './transfer.ts';

export interface ModelRecord {
  id: string;
  label: string;
  /** where a `svd-web convert` output is hosted (a directory URL ending in '/'; relative URLs resolve against the page) */
  baseUrl: string;
  precision: Precision;
  /** default frame count */
  frames: number;
  resolution: { width: number; height: number };
  /** total bytes of the model's files (the manifest's totalBytes is authoritative) */
  bytes: number;
  /** `bytes` is an estimate (no hosted conversion to measure) */
  approximate?: boolean;
  /** GPU features needed (shader-f16 for fp16 activations) */
  requiredFeatures: string[];
  /** bundled demo/test model */
  demo?: boolean;
  /** the base URL is a placeholder: there is no hosted conversion; host your own */
  placeholder?: boolean;
  note?: string;
}

const HOST_YOUR_OWN =
  'No hosted conversion exists: convert the checkpoint yourself (`svd-web convert --from <checkpoint> --precision …`), upload the folder ' +
  '(e.g. to a Hugging Face model repo) and use its resolve URL as the base URL — or import the folder from disk.';

/** Placeholder host for conversions nobody hosts yet. Replace with your own repo's resolve URL. */
export const PLACEHOLDER_BASE = 'https://huggingface.co/HOST-YOUR-OWN-CONVERSION';

function realModel(id: string, label: string, precision: 'q4f16' | 'q4f32', frames: number, bytes: number): ModelRecord {
  return {
    id,
    label,
    baseUrl: `${PLACEHOLDER_BASE}/${id}/resolve/main/`,
    precision,
    frames,
    resolution: { width: 1024, height: 576 },
    bytes,
    approximate: true,
    requiredFeatures: precision === 'q4f16' ? ['shader-f16'] : [],
    placeholder: true,
    note: `Host your own conversion. ${HOST_YOUR_OWN}`,
  };
}

export const MODEL_REGISTRY: ModelRecord[] = [
  {
    id: 'tiny-random',
    label: 'Tiny demo model (random weights — output is noise; for testing)',
    baseUrl: '/models/tiny-random/',
    precision: 'fp32',
    frames: 3,
    resolution: { width: 64, height: 64 },
    bytes: 22_318_379,
    approximate: true,
    requiredFeatures: [],
    demo: true,
    note: 'Random weights — output is noise; for testing the app and the browser, not for videos.',
  },
  // Sizes are estimates from the parameter counts (UNet 1.52 B, CLIP ViT-H vision 0.63 B, VAE 0.1 B; int4 blocks of 32 for
  // MatMul weights, convolutions in the activation precision). The manifest's totalBytes replaces them once fetched.
  realModel('svd-q4f16', 'Stable Video Diffusion (14 frames) — q4f16', 'q4f16', 14, 1_900_000_000),
  realModel('svd-q4f32', 'Stable Video Diffusion (14 frames) — q4f32', 'q4f32', 14, 3_000_000_000),
  realModel('svd-xt-q4f16', 'Stable Video Diffusion XT (25 frames) — q4f16', 'q4f16', 25, 1_900_000_000),
  realModel('svd-xt-q4f32', 'Stable Video Diffusion XT (25 frames) — q4f32', 'q4f32', 25, 3_000_000_000),
];

/** Where a cached model came from (source.json in its folder), so a download can be resumed after a reload. */
export interface ModelSource {
  id: string;
  label: string;
  kind: 'url' | 'import';
  baseUrl?: string;
}

export const SOURCE_NAME = 'source.json';

export interface CachedModel {
  id: string;
  /** present when the model is complete (every file verified) */
  manifest?: ModelManifest;
  source?: ModelSource;
  /** bytes in OPFS for this model, partial files included */
  bytes: number;
  /** bytes of the model's files per its manifest (pending one for an unfinished download); 0 when unknown */
  totalBytes: number;
  complete: boolean;
  /** bytes held in `.part` files (an interrupted download) */
  partialBytes: number;
  /** why a folder with a manifest.json is not complete (files missing or resized since) */
  problem?: string;
}

export interface TransferOptions {
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  tuning?: Partial<TransferTuning>;
}

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

async function writeSource(source: ModelSource): Promise<void> {
  const dir = await modelDirectory(source.id, true);
  const w = await (await dir.getFileHandle(SOURCE_NAME, { create: true })).createWritable();
  await w.write(JSON.stringify(source, null, 2));
  await w.close();
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

async function requestPersistence(): Promise<boolean | null> {
  try {
    if (!navigator.storage?.persist) return null;
    if (await navigator.storage.persisted?.()) return true;
    return await navigator.storage.persist();
  } catch {
    return null;
  }
}

async function checkQuota(neededBytes: number, what: string): Promise<void> {
  let estimate: StorageEstimate | undefined;
  try {
    estimate = await navigator.storage?.estimate?.();
  } catch {
    estimate = undefined;
  }
  const msg = quotaShortfall(neededBytes, estimate, what);
  if (msg) throw new ModelDeliveryError('quota', msg, { neededBytes, quota: estimate?.quota, usage: estimate?.usage });
}

/** Runs one job in a fresh download worker; resolves with its stats; cancellation is bounded (worker terminated). */
function runWorker(job: Exclude<ToDownloadWorker, { type: 'cancel' }>, opts: TransferOptions): Promise<TransferStats> {
  return new Promise<TransferStats>((resolve, reject) => {
    if (opts.signal?.aborted) return reject(cancelled());
    const worker = new Worker(new URL('./download.worker.ts', import.meta.url), { type: 'module', name: 'svd-model-download' });
    let settled = false;
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      worker.terminate();
      fn();
    };
    const onAbort = () => {
      worker.postMessage({ type: 'cancel' } satisfies ToDownloadWorker);
      // The worker closes its files and answers 'cancelled'; if it does not within 5 s, stop it anyway.
      killTimer = setTimeout(() => finish(() => reject(cancelled())), 5000);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    worker.onmessage = (e: MessageEvent<FromDownloadWorker>) => {
      const m = e.data;
      if (m.type === 'progress') opts.onProgress?.(m.progress);
      else if (m.type === 'done') finish(() => resolve(m.stats));
      else finish(() => reject(ModelDeliveryError.from(m.error)));
    };
    worker.onerror = (e) => finish(() => reject(new ModelDeliveryError('storage', `The model download worker failed: ${e.message || 'could not start'}`)));
    worker.postMessage(job);
  });
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
  const stats = await runWorker({ type: 'download', modelId: id, baseUrl, manifestText: text, tuning: opts.tuning }, opts);
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
  const stats = await runWorker({ type: 'import', modelId: id, manifestText: text, files, tuning: opts.tuning }, opts);
  return { id, manifest, stats, persisted };
}

/** Every model folder in OPFS: complete ones (manifest.json, every file present at its size) and interrupted ones. */
export async function listCachedModels(): Promise<CachedModel[]> {
  const out: CachedModel[] = [];
  for (const id of await listModelIds()) {
    let files: Map<string, number>;
    try {
      files = await listFiles(await modelDirectory(id));
    } catch {
      continue;
    }
    let bytes = 0;
    let partialBytes = 0;
    for (const [p, s] of files) {
      bytes += s;
      if (p.endsWith(PART_SUFFIX)) partialBytes += s;
    }
    let source: ModelSource | undefined;
    try {
      source = JSON.parse((await readModelText(id, SOURCE_NAME)) ?? 'null') ?? undefined;
    } catch {
      source = undefined;
    }
    const entry: CachedModel = { id, source, bytes, totalBytes: 0, complete: false, partialBytes };
    const finalText = await readModelText(id, MANIFEST_NAME);
    const pendingText = finalText ? null : await readModelText(id, PENDING_MANIFEST_NAME);
    try {
      if (finalText) {
        const manifest = parseManifest(JSON.parse(finalText));
        entry.totalBytes = manifest.totalBytes ?? manifest.files.reduce((a, f) => a + f.bytes, 0);
        const bad = manifest.files.filter((f) => files.get(f.path) !== f.bytes).map((f) => f.path);
        if (bad.length) entry.problem = `files missing or changed since download: ${bad.join(', ')}; download or import it again`;
        else {
          entry.manifest = manifest;
          entry.complete = true;
        }
      } else if (pendingText) {
        const pending = JSON.parse(pendingText) as ModelManifest;
        entry.totalBytes = pending.files.reduce((a, f) => a + f.bytes, 0);
      }
    } catch (e) {
      entry.problem = `unreadable manifest: ${(e as Error).message}`;
    }
    out.push(entry);
  }
  return out;
}

/** Deletes a model's folder (cancel its download first). */
export async function deleteModel(id: string): Promise<void> {
  await removeModelDirectory(sanitizeModelId(id));
}

/** What the generation worker reads a cached model through (`{kind:'opfs', modelId}`). */
export const modelFileReader = opfsFileReader;

/** The registry entry for an id, if any. */
export function findRecord(id: string): ModelRecord | undefined {
  return MODEL_REGISTRY.find((r) => r.id === id);
}

/** The site's storage: quota, usage, whether it is persistent. */
export async function storageStatus(): Promise<{ quota?: number; usage?: number; persisted: boolean | null }> {
  let est: StorageEstimate | undefined;
  try {
    est = await navigator.storage?.estimate?.();
  } catch {
    est = undefined;
  }
  let persisted: boolean | null = null;
  try {
    persisted = (await navigator.storage?.persisted?.()) ?? null;
  } catch {
    persisted = null;
  }
  return { quota: est?.quota, usage: est?.usage, persisted };
}
