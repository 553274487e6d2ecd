/**
 * The core of the transfer engine, shared by the download and the import paths: one file's fetch → write `.part` →
 * sha256 → rename loop (transferFile), with the folder steps around it (reconcile before, commitModel after).
 * Independent of where bytes are stored (FolderStore) and of where they come from (an injected `open`).
 *
 * Guarantees:
 * - one progress total across all files (verified files + verified prefixes count as done);
 * - resume after a dropped or stalled connection (retries with backoff, bounded), and after a page reload
 *   (`<path>.part` kept; its bytes are re-hashed locally, never re-requested);
 * - sha256 computed while streaming; a file is renamed from `.part` to its final name only when its hash matches;
 *   a corrupt file is deleted and fetched again (bounded), never used;
 * - manifest.json is written last: a folder with manifest.json is complete and verified.
 */
import type { ManifestFile, ModelManifest } from '../contract/manifest.ts';
import { formatBytes } from '../common/format.ts';
import { ModelDeliveryError, cancelled, isQuotaError } from './errors.ts';
import type { FolderStore, PartFile } from './folder-store.ts';
import { MANIFEST_NAME, PENDING_MANIFEST_NAME, backoffMs, diffManifests } from './plan.ts';
import { RateMeter, etaSeconds, throttle, type DownloadPhase, type DownloadProgress } from './progress.ts';
import { createHasher } from './hasher.ts';
import type { TransferStats, TransferTuning } from './transfer-tuning.ts';

/** One progress total across all files, throttled to `onProgress`. */
export class TransferProgress {
  readonly meter = new RateMeter(5000);
  doneBytes = 0;
  networkBytes = 0;
  phase: DownloadPhase = 'checking';
  file?: DownloadProgress['file'];
  message?: string;
  private readonly out;

  constructor(
    /** may grow or shrink while a job learns its sizes (an in-tab conversion's output) */
    public totalBytes: number,
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
    `Free disk space, delete a cached model or older videos under "Your videos", then download again; the bytes fetched so far are kept.`
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

/**
 * Writes one manifest file into `<path>.part`, resuming from what is there, verifies it and renames it.
 * `source(offset, signal)` opens a response body starting at `offset` (returning where it actually starts).
 */
export async function transferFile(
  file: ManifestFile,
  store: FolderStore,
  progress: TransferProgress,
  stats: TransferStats,
  tuning: TransferTuning,
  signal: AbortSignal | undefined,
  open: (offset: number, signal: AbortSignal) => Promise<{ start: number; body: ReadableStream<Uint8Array> }>,
  retryable: boolean,
): Promise<void> {
  let part = await store.openPart(file.path);
  const baseDone = progress.doneBytes;
  let hasher = await createHasher();
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
            hasher = await createHasher();
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
          if (e instanceof ModelDeliveryError && (e.code === 'not-found' || e.code === 'http' || e.code === 'gated' || e.code === 'licence' || e.code === 'quota' || e.code === 'cancelled')) throw e;
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
      hasher = await createHasher();
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

/** Every file is in and verified: manifest.json goes in last (it marks the model complete), the pending copy goes. */
export async function commitModel(store: FolderStore, manifestText: string, progress: TransferProgress, stats: TransferStats, t0: number): Promise<TransferStats> {
  await store.writeText(MANIFEST_NAME, manifestText);
  await store.remove(PENDING_MANIFEST_NAME);
  progress.phase = 'done';
  progress.message = undefined;
  progress.emit(true);
  stats.ms = Date.now() - t0;
  return stats;
}

/** Drops files written for an older manifest of the same model id (a re-converted model at the same URL). */
export async function reconcile(store: FolderStore, manifest: ModelManifest): Promise<void> {
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
