/**
 * The UI-thread side of the download protocol (src/protocol/download.ts): runs one call in a fresh
 * workers/download.worker.ts, relays its progress, and resolves with its stats or rejects with its
 * ModelDeliveryError (code, message, details). Cancellation is bounded: the worker is terminated after 5 s.
 */
import { ModelDeliveryError, cancelled } from './errors.ts';
import type { DownloadProgress } from './progress.ts';
import type { TransferStats, TransferTuning } from './transfer-tuning.ts';
import type { DownloadCallMessage, FromDownloadWorker, ToDownloadWorker } from '../protocol/download.ts';

export interface TransferOptions {
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  tuning?: Partial<TransferTuning>;
}

/** One call per worker, so every worker's call has the same id. */
const CALL_ID = 1;

/** A call as the drivers name it: its kind and payload (the id is this module's). */
export type DownloadRequest = WithoutId<DownloadCallMessage>;
type WithoutId<M> = M extends unknown ? Omit<M, 'id'> : never;

/** Runs one call in a fresh download worker; resolves with its stats; cancellation is bounded (worker terminated). */
export function runDownloadWorker(request: DownloadRequest, opts: TransferOptions): Promise<TransferStats> {
  return new Promise<TransferStats>((resolve, reject) => {
    if (opts.signal?.aborted) return reject(cancelled());
    const worker = new Worker(new URL('../../workers/download.worker.ts', import.meta.url), { type: 'module', name: 'svd-model-download' });
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
      worker.postMessage({ kind: 'cancel', id: CALL_ID + 1, payload: { callId: CALL_ID } } satisfies ToDownloadWorker);
      // The worker closes its files and answers with a 'cancelled' error; if it does not within 5 s, stop it anyway.
      killTimer = setTimeout(() => finish(() => reject(cancelled())), 5000);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    worker.onmessage = (e: MessageEvent<FromDownloadWorker>) => {
      const m = e.data;
      if (m.id !== CALL_ID) return;
      if (m.kind === 'progress') opts.onProgress?.(m.payload);
      else if (m.kind === 'done' || m.kind === 'converted' || m.kind === 'staged') finish(() => resolve(m.payload.stats));
      else finish(() => reject(ModelDeliveryError.from(m.payload)));
    };
    worker.onerror = (e) => finish(() => reject(new ModelDeliveryError('storage', `The model download worker failed: ${e.message || 'could not start'}`)));
    worker.postMessage({ ...request, id: CALL_ID } satisfies ToDownloadWorker);
  });
}
