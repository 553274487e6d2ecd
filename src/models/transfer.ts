/**
 * The download/import engine, independent of where bytes are stored (OPFS sync access handles in the download
 * worker; memory in unit tests) and of `fetch` (injected).
 *
 * Guarantees:
 * - one progress total across all files (verified files + verified prefixes count as done);
 * - HTTP Range resume: after a dropped or stalled connection (retries with backoff, bounded), and after a page reload
 *   (`<path>.part` kept; its bytes are re-hashed locally, never re-requested);
 * - sha256 computed while streaming; a file is renamed from `.part` to its final name only when its hash matches;
 *   a corrupt file is deleted and fetched again (bounded), never used;
 * - manifest.json is written last: a folder with manifest.json is complete and verified.
 */
import type { ManifestFile, ModelManifest } from '../contract/manifest.ts';
import { ModelDeliveryError, cancelled, isQuotaError } from './errors.ts';
import { MANIFEST_NAME, PENDING_MANIFEST_NAME, backoffMs, diffFolder, diffManifests } from './plan.ts';
import { formatBytes } from '../common/format.ts';
import { RateMeter, etaSeconds, throttle, type DownloadPhase, type DownloadProgress } from './progress.ts';
import { Sha256 } from './sha256.ts';

/** A `.part` file open for writing (OPFS: a FileSystemSyncAccessHandle). */
export interface PartFile {
  size(): number;
  write(bytes: Uint8Array, at: number): void;
  read(into: Uint8Array, at: number): number;
  truncate(n: number): void;
  flush(): void;
  close(): void;
}

/** One model folder. Paths are the manifest's (relative, may contain '/'). */
export interface FolderStore {
  /** size of the verified file, -1 when absent */
  finalSize(path: string): Promise<number>;
  openPart(path: string): Promise<PartFile>;
  /** `.part` → final name (the part must be closed) */
  commitPart(path: string): Promise<void>;
  remove(path: string): Promise<void>;
  removePart(path: string): Promise<void>;
  readText(name: string): Promise<string | null>;
  writeText(name: string, text: string): Promise<void>;
}

export interface TransferTuning {
  /** abort and resume a response that delivers no bytes for this long */
  stallTimeoutMs: number;
  /** failed attempts in a row (without progress) before giving up on a file */
  maxAttempts: number;
  /** re-fetches of a file whose sha256 did not match */
  maxCorruptRefetches: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  /** OPFS flush interval, bytes */
  flushEveryBytes: number;
  progressIntervalMs: number;
}

export const DEFAULT_TUNING: TransferTuning = {
  stallTimeoutMs: 20_000,
  maxAttempts: 6,
  maxCorruptRefetches: 2,
  backoffBaseMs: 1000,
  backoffCapMs: 15_000,
  flushEveryBytes: 16 << 20,
  progressIntervalMs: 100,
};

export interface TransferStats {
  /** bytes received over the network in this run */
  networkBytes: number;
  /** bytes found on disk at the start and kept (verified files + verified `.part` prefixes) */
  keptBytes: number;
  /** received bytes thrown away: corrupt files, or a server that ignored a Range request */
  discardedBytes: number;
  /** bytes re-read from `.part` files to restore the hash state after a reload */
  rehashedBytes: number;
  /** resumed requests (Range) after a cut or stall */
  resumes: number;
  /** files fetched again because their sha256 did not match */
  corruptRefetches: Record<string, number>;
  /** warnings for the user (e.g. extra files in an imported folder) */
  warnings: string[];
  files: number;
  ms: number;
}

function newStats(): TransferStats {
  return { networkBytes: 0, keptBytes: 0, discardedBytes: 0, rehashedBytes: 0, resumes: 0, corruptRefetches: {}, warnings: [], files: 0, ms: 0 };
}

type FetchLike = (url: string, init: { headers?: Record<string, string>; signal?: AbortSignal }) => Promise<Response>;

class Progress {
  readonly meter = new RateMeter(5000);
  doneBytes = 0;
  networkBytes = 0;
  phase: DownloadPhase = 'checking';
  file?: DownloadProgress['file'];
  message?: string;
  private readonly out;

  constructor(
    readonly totalBytes: number,
    onProgress: ((p: DownloadProgress) => void) | undefined,
    intervalMs: number,
  ) {
    this.out = throttle<DownloadProgress>((p) => onProgress?.(p), intervalMs);
  }

  snapshot(): DownloadProgress {
    const now = Date.now();
    const rate = this.meter.rate(now);
    return {
      phase: this.phase,
      doneBytes: this.doneBytes,
      totalBytes: this.totalBytes,
      bytesPerSecond: rate,
      etaSeconds: etaSeconds(this.totalBytes - this.doneBytes, rate),
      file: this.file ? { ...this.file } : undefined,
      networkBytes: this.networkBytes,
      message: this.message,
    };
  }

  emit(force = false): void {
    this.out.push(this.snapshot(), force);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled());
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(cancelled());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function quotaMessage(path: string): string {
  return (
    `The browser refused to store more data (QuotaExceededError) while writing ${path}: this site's storage quota is full. ` +
    `Free disk space or delete a cached model, then download again; the bytes fetched so far are kept.`
  );
}

/** Reads a stream with a stall timer: rejects with a 'stalled' error when no chunk arrives for `ms`. */
async function readWithTimeout(reader: ReadableStreamDefaultReader<Uint8Array>, ms: number, onStall: () => void): ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      reader.read(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          // reject first, so the stall (not the abort it triggers) is what the caller sees
          reject(new ModelDeliveryError('stalled', `no data for ${(ms / 1000).toFixed(1)} s`));
          onStall();
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

class HttpStatusError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

/** Parses `Content-Range: bytes a-b/total`; null when absent or unparseable. */
export function parseContentRange(v: string | null): { start: number; end: number; total: number | null } | null {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec((v ?? '').trim());
  if (!m) return null;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? null : Number(m[3]) };
}

/**
 * Writes one manifest file into `<path>.part`, resuming from what is there, verifies it and renames it.
 * `source(offset, signal)` opens a response body starting at `offset` (returning where it actually starts).
 */
async function transferFile(
  file: ManifestFile,
  store: FolderStore,
  progress: Progress,
  stats: TransferStats,
  tuning: TransferTuning,
  signal: AbortSignal | undefined,
  open: (offset: number, signal: AbortSignal) => Promise<{ start: number; body: ReadableStream<Uint8Array> }>,
  retryable: boolean,
): Promise<void> {
  let part = await store.openPart(file.path);
  const baseDone = progress.doneBytes;
  let hasher = new Sha256();
  let refetches = 0;
  try {
    // Restore the hash state from what a previous run left (read locally, never re-requested).
    let have = part.size();
    if (have > file.bytes) {
      part.truncate(0);
      have = 0;
    }
    if (have > 0) {
      progress.phase = 'verifying';
      progress.message = `checking the ${formatBytes(have)} of ${file.path} kept from before`;
      const buf = new Uint8Array(Math.min(have, 4 << 20));
      for (let at = 0; at < have; ) {
        if (signal?.aborted) throw cancelled();
        const n = part.read(buf.subarray(0, Math.min(buf.length, have - at)), at);
        if (n <= 0) {
          part.truncate(at);
          have = at;
          break;
        }
        hasher.update(buf.subarray(0, n));
        at += n;
        stats.rehashedBytes += n;
      }
      stats.keptBytes += have;
      progress.doneBytes = baseDone + have;
      progress.emit(true);
    }

    let failures = 0;
    for (;;) {
      if (signal?.aborted) throw cancelled();
      let offset = hasher.bytes;
      if (offset < file.bytes) {
        const attempt = new AbortController();
        const onAbort = () => attempt.abort();
        signal?.addEventListener('abort', onAbort, { once: true });
        let progressed = false;
        try {
          progress.phase = 'downloading';
          progress.message = failures > 0 ? progress.message : undefined;
          progress.emit();
          const { start, body } = await open(offset, attempt.signal);
          if (start !== offset) {
            // The server ignored Range (start 0) or answered another range: drop what we had, start over.
            stats.discardedBytes += offset;
            part.truncate(0);
            hasher = new Sha256();
            offset = 0;
            progress.doneBytes = baseDone;
            progress.file!.doneBytes = 0;
            if (start !== 0) {
              await body.cancel().catch(() => undefined);
              throw new Error(`the server answered a different byte range than requested`);
            }
          }
          if (offset > 0) stats.resumes++;
          const reader = body.getReader();
          let sinceFlush = 0;
          try {
            for (;;) {
              const { done, value } = await readWithTimeout(reader, tuning.stallTimeoutMs, () => attempt.abort());
              if (done) break;
              if (!value || value.length === 0) continue;
              const room = file.bytes - hasher.bytes;
              const chunk = value.length > room ? value.subarray(0, room) : value;
              if (chunk.length > 0) {
                try {
                  part.write(chunk, hasher.bytes);
                } catch (e) {
                  if (isQuotaError(e)) throw new ModelDeliveryError('quota', quotaMessage(file.path));
                  throw e;
                }
                hasher.update(chunk);
                progressed = true;
                failures = 0;
                sinceFlush += chunk.length;
                stats.networkBytes += chunk.length;
                progress.networkBytes += chunk.length;
                progress.meter.add(chunk.length, Date.now());
                progress.doneBytes = baseDone + hasher.bytes;
                progress.file!.doneBytes = hasher.bytes;
                progress.emit();
                if (sinceFlush >= tuning.flushEveryBytes) {
                  part.flush();
                  sinceFlush = 0;
                }
              }
              if (value.length > room) {
                // longer than the manifest says: the hash check below decides; stop reading
                attempt.abort();
                break;
              }
            }
          } finally {
            reader.releaseLock?.();
          }
          part.flush();
          if (hasher.bytes < file.bytes) throw new ModelDeliveryError('network', `the connection closed after ${formatBytes(hasher.bytes)} of ${formatBytes(file.bytes)}`);
        } catch (e) {
          if (signal?.aborted) throw cancelled();
          if (e instanceof ModelDeliveryError && (e.code === 'not-found' || e.code === 'http' || e.code === 'quota' || e.code === 'cancelled')) throw e;
          if (isQuotaError(e)) throw new ModelDeliveryError('quota', quotaMessage(file.path));
          if (!retryable) throw e;
          try {
            part.flush();
          } catch {
            /* best effort */
          }
          if (!progressed) failures++;
          const reason = e instanceof Error ? e.message : String(e);
          if (failures >= tuning.maxAttempts) {
            const code = e instanceof ModelDeliveryError && e.code === 'stalled' ? 'stalled' : 'network';
            throw new ModelDeliveryError(
              code,
              `Gave up on ${file.path} after ${failures} failed attempts in a row (${reason}). The ${formatBytes(hasher.bytes)} fetched so far are kept; try again later or check the connection.`,
            );
          }
          const wait = backoffMs(Math.max(1, failures), tuning.backoffBaseMs, tuning.backoffCapMs);
          progress.phase = 'retrying';
          progress.message = `${file.path}: ${reason}; resuming at ${formatBytes(hasher.bytes)} in ${(wait / 1000).toFixed(1)} s`;
          progress.emit(true);
          await sleep(wait, signal);
          continue;
        } finally {
          signal?.removeEventListener('abort', onAbort);
          attempt.abort(); // never leave a response streaming
        }
      }
      // Every byte is here: verify.
      const got = hasher.hex();
      if (got === file.sha256) break;
      stats.discardedBytes += file.bytes;
      part.truncate(0);
      part.flush();
      hasher = new Sha256();
      progress.doneBytes = baseDone;
      progress.file!.doneBytes = 0;
      refetches++;
      stats.corruptRefetches[file.path] = refetches;
      if (!retryable || refetches > tuning.maxCorruptRefetches) {
        throw new ModelDeliveryError(
          'corrupt',
          `${file.path} is corrupt: its sha256 is ${got.slice(0, 12)}…, the manifest says ${file.sha256.slice(0, 12)}…` +
            (retryable ? ` (after ${refetches} fetches). The file was deleted; the model host may serve a different version than its manifest.` : '. It was not imported.'),
          { path: file.path, expected: file.sha256, actual: got },
        );
      }
      progress.message = `${file.path} failed its sha256 check; deleted it and fetching it again (${refetches}/${tuning.maxCorruptRefetches})`;
      progress.phase = 'retrying';
      progress.emit(true);
    }
    part.close();
    part = null as unknown as PartFile;
    await store.commitPart(file.path);
    progress.doneBytes = baseDone + file.bytes;
    stats.files++;
  } finally {
    if (part) {
      try {
        part.close();
      } catch {
        /* already closed */
      }
    }
  }
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
    let timer: ReturnType<typeof setTimeout> | undefined;
    let res: Response;
    try {
      res = await Promise.race([
        fetchFn(url, { headers, signal }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new ModelDeliveryError('stalled', `no response for ${Math.round(tuning.stallTimeoutMs / 1000)} s`)), tuning.stallTimeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
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
  const progress = new Progress(manifest.files.reduce((a, f) => a + f.bytes, 0), job.onProgress, tuning.progressIntervalMs);

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

/** Every file is in and verified: manifest.json goes in last (it marks the model complete), the pending copy goes. */
async function commitModel(store: FolderStore, manifestText: string, progress: Progress, stats: TransferStats, t0: number): Promise<TransferStats> {
  await store.writeText(MANIFEST_NAME, manifestText);
  await store.remove(PENDING_MANIFEST_NAME);
  progress.phase = 'done';
  progress.message = undefined;
  progress.emit(true);
  stats.ms = Date.now() - t0;
  return stats;
}

/** Drops files written for an older manifest of the same model id (a re-converted model at the same URL). */
async function reconcile(store: FolderStore, manifest: ModelManifest): Promise<void> {
  const prevText = (await store.readText(PENDING_MANIFEST_NAME)) ?? (await store.readText(MANIFEST_NAME));
  let prev: ModelManifest | null = null;
  try {
    prev = prevText ? (JSON.parse(prevText) as ModelManifest) : null;
  } catch {
    prev = null;
  }
  const { changed, removed } = diffManifests(prev && Array.isArray(prev.files) ? prev : null, manifest);
  for (const p of [...changed, ...removed]) {
    await store.remove(p);
    await store.removePart(p);
  }
  // The model is not complete until every file verifies again under this manifest.
  await store.remove(MANIFEST_NAME);
}

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
  const progress = new Progress(manifest.files.reduce((a, f) => a + f.bytes, 0), job.onProgress, tuning.progressIntervalMs);
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
