/**
 * The UI side of the worker protocol: sends typed requests and routes the worker's answers by id. Every
 * request resolves with its final message (loaded / probed / result / cancelled) or rejects with the worker's
 * error, a timeout, or the worker crashing; streaming messages (progress, frames) go to per-request handlers.
 */
import type { FromWorker, FromWorkerPayloads, ToWorker, ToWorkerPayloads, WorkerErrorCode } from './messages.ts';

export class WorkerRequestError extends Error {
  constructor(readonly code: WorkerErrorCode | 'timeout' | 'crashed', message: string) {
    super(message);
    this.name = 'WorkerRequestError';
  }
}

/** Which message ends each request. */
const FINAL: { [K in keyof ToWorkerPayloads]: (keyof FromWorkerPayloads)[] } = {
  probe: ['probed'],
  load: ['loaded'],
  generate: ['result', 'cancelled'],
  cancel: [],
};

export interface StreamHandlers {
  onProgress?: (p: FromWorkerPayloads['progress']) => void;
  onFrames?: (f: FromWorkerPayloads['frames']) => void;
}

type FinalOf<K extends keyof ToWorkerPayloads> = K extends 'generate'
  ? Extract<FromWorker, { kind: 'result' | 'cancelled' }>
  : K extends 'load'
    ? Extract<FromWorker, { kind: 'loaded' }>
    : K extends 'probe'
      ? Extract<FromWorker, { kind: 'probed' }>
      : never;

interface Pending {
  kind: keyof ToWorkerPayloads;
  resolve: (m: FromWorker) => void;
  reject: (e: Error) => void;
  handlers: StreamHandlers;
  timer?: ReturnType<typeof setTimeout>;
}

export class WorkerClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly worker: Worker) {
    worker.onmessage = (e: MessageEvent<FromWorker>) => this.route(e.data);
    worker.onerror = (e) => this.failAll(new WorkerRequestError('crashed', `the generation worker crashed: ${e.message || 'unknown error'}`));
  }

  /**
   * Sends a request. `timeoutMs` bounds the wait (0 = none; use it only with a way to cancel, as generate has).
   * Returns the id (for cancel) and the promise of the final message.
   */
  send<K extends keyof ToWorkerPayloads>(kind: K, payload: ToWorkerPayloads[K], opts: StreamHandlers & { timeoutMs?: number } = {}): { id: number; done: Promise<FinalOf<K>> } {
    const id = this.nextId++;
    const message = { kind, id, payload } as ToWorker;
    const done = new Promise<FinalOf<K>>((resolve, reject) => {
      if (FINAL[kind].length === 0) {
        resolve(undefined as never);
        return;
      }
      const entry: Pending = { kind, resolve: resolve as (m: FromWorker) => void, reject, handlers: opts };
      if (opts.timeoutMs) {
        entry.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new WorkerRequestError('timeout', `the worker did not answer "${kind}" within ${Math.round(opts.timeoutMs! / 1000)} s`));
        }, opts.timeoutMs);
      }
      this.pending.set(id, entry);
    });
    // The image and latents are copied, not transferred: the UI keeps its image for the next run.
    this.worker.postMessage(message);
    return { id, done };
  }

  cancel(jobId: number): void {
    this.send('cancel', { jobId });
  }

  terminate(): void {
    this.worker.terminate();
    this.failAll(new WorkerRequestError('crashed', 'the worker was stopped'));
  }

  private route(m: FromWorker): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.kind === 'progress') p.handlers.onProgress?.(m.payload);
    else if (m.kind === 'frames') p.handlers.onFrames?.(m.payload);
    else if (m.kind === 'error') this.finish(m.id, p, () => p.reject(new WorkerRequestError(m.payload.code, m.payload.message)));
    else if (FINAL[p.kind].includes(m.kind)) this.finish(m.id, p, () => p.resolve(m));
  }

  private finish(id: number, p: Pending, settle: () => void): void {
    if (p.timer) clearTimeout(p.timer);
    this.pending.delete(id);
    settle();
  }

  private failAll(e: Error): void {
    for (const [id, p] of this.pending) this.finish(id, p, () => p.reject(e));
  }
}
