/**
 * The typed client of the generation worker (workers/generate.worker.ts); WorkerEngine (./worker-engine.ts)
 * is the SvdEngine over it.
 *
 * - Posts calls with a fresh id and routes every reply to the call with that id (src/protocol/generate.ts).
 * - Every wait is bounded: a total timeout, an idle timeout (no message from the worker for that long), or a
 *   cancel through an AbortSignal. Nothing waits forever.
 * - Cancelling a `generate` call posts `cancel {callId}` and waits (bounded) for the worker's `cancelled`; the
 *   worker checks between UNet steps. Cancelling anything else (probe, load: the worker cannot stop them) or a
 *   generate that does not stop in time terminates the worker; the next call starts a fresh one.
 * - A crashed worker (error event, messageerror) rejects every pending call with a plain-words error.
 *
 * DOM-free apart from the `Worker`-like object it is given, so it runs in Node tests with a fake worker.
 */
import { EngineError, type FrameBatch, type Progress } from '../contract/job.ts';
import { GENERATE_EVENTS, type FromGenerateWorker, type GenerateAnswer, type GenerateCall, type GenerateProtocol, type ToGenerateWorker } from '../protocol/generate.ts';

/**
 * The part of `Worker` the client uses (a fake implements it in tests). Handler parameters are typed `never`
 * so both a DOM `Worker` and a Node-side fake fit; the client reads only `data` and `message` from the events.
 */
export interface WorkerLike {
  postMessage(message: unknown): void;
  terminate(): void;
  onmessage: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  onmessageerror: ((event: never) => void) | null;
}

interface MessageLike {
  data: unknown;
}

interface ErrorLike {
  message?: string;
  preventDefault?: () => void;
}

type Kind = GenerateCall;

export interface CallOptions {
  /** reject after this long in total (ms); 0/undefined = no total bound (then give idleTimeoutMs or signal) */
  timeoutMs?: number;
  /** reject when the worker sends nothing for this call for this long (ms) */
  idleTimeoutMs?: number;
  /** cancels the call (generate: a cancel message first; others: the worker is terminated) */
  signal?: AbortSignal;
  /** generate only: how long to wait for `cancelled` after a cancel before terminating the worker (ms, default 20 s) */
  cancelGraceMs?: number;
  onProgress?: (p: Progress) => void;
  onFrames?: (f: FrameBatch) => void;
}

interface Pending {
  kind: Kind;
  resolve: (m: FromGenerateWorker) => void;
  reject: (e: Error) => void;
  options: CallOptions;
  timers: ReturnType<typeof setTimeout>[];
  idle?: ReturnType<typeof setTimeout>;
  dispose: () => void;
}

export class WorkerClient {
  private worker: WorkerLike | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  /** `create` makes a new worker (called lazily, and again after a terminate). */
  constructor(private readonly create: () => WorkerLike) {}

  /** True while a worker exists (it may be idle). */
  get alive(): boolean {
    return this.worker !== undefined;
  }

  /** Number of calls waiting for an answer. */
  get pendingCount(): number {
    return this.pending.size;
  }

  call<K extends Kind>(kind: K, payload: GenerateProtocol[K]['carries'], options: CallOptions = {}): { id: number; done: Promise<GenerateAnswer<K>> } {
    const worker = this.ensure();
    const id = this.nextId++;
    let entry!: Pending;
    const done = new Promise<GenerateAnswer<K>>((resolve, reject) => {
      entry = { kind, resolve: resolve as (m: FromGenerateWorker) => void, reject, options, timers: [], dispose: () => undefined };
    });
    this.pending.set(id, entry);

    if (options.timeoutMs && options.timeoutMs > 0) {
      entry.timers.push(setTimeout(() => this.fail(id, new EngineError('timeout',
        `the generation worker did not finish "${kind}" within ${seconds(options.timeoutMs!)}`), true), options.timeoutMs));
    }
    this.touch(id);
    const signal = options.signal;
    if (signal) {
      const onAbort = () => this.abort(id);
      if (signal.aborted) queueMicrotask(onAbort);
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        entry.dispose = () => signal.removeEventListener('abort', onAbort);
      }
    }
    worker.postMessage({ kind, id, payload } as ToGenerateWorker);
    return { id, done };
  }

  /** Stops the worker now; every pending call rejects with `reason`. */
  terminate(reason = 'the generation worker was stopped'): void {
    const worker = this.worker;
    this.worker = undefined;
    worker?.terminate();
    for (const id of [...this.pending.keys()]) this.fail(id, new EngineError('crashed', reason), false);
  }

  private ensure(): WorkerLike {
    if (this.worker) return this.worker;
    const worker = this.create();
    worker.onmessage = (e: MessageLike) => {
      if (this.worker === worker) this.route(e.data as FromGenerateWorker);
    };
    worker.onerror = (e: ErrorLike) => {
      if (this.worker !== worker) return;
      e.preventDefault?.();
      this.terminate(`the generation worker crashed${e.message ? `: ${e.message}` : ''}. It will be restarted on the next try.`);
    };
    worker.onmessageerror = () => {
      if (this.worker === worker) this.terminate('a message from the generation worker could not be read; it will be restarted on the next try.');
    };
    this.worker = worker;
    return worker;
  }

  private abort(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    if (p.kind === 'generate' && this.worker) {
      this.worker.postMessage({ kind: 'cancel', id: this.nextId++, payload: { callId: id } } satisfies ToGenerateWorker);
      // Wait for the worker's `cancelled`, but not forever: a stuck worker is terminated.
      const grace = p.options.cancelGraceMs ?? 20_000;
      if (p.idle) clearTimeout(p.idle);
      p.idle = undefined;
      p.timers.push(setTimeout(() => {
        if (this.pending.has(id)) this.terminate('the generation did not stop in time, so the worker was stopped');
      }, grace));
      return;
    }
    // probe/load cannot be stopped inside the worker: stop the worker (it is recreated on the next call).
    this.fail(id, new EngineError('aborted', `${p.kind} was cancelled`), false);
    this.terminate(`stopped because "${p.kind}" was cancelled`);
  }

  private touch(id: number): void {
    const p = this.pending.get(id);
    if (!p || !p.options.idleTimeoutMs) return;
    if (p.idle) clearTimeout(p.idle);
    const ms = p.options.idleTimeoutMs;
    p.idle = setTimeout(() => this.fail(id, new EngineError('timeout',
      `the generation worker sent nothing for ${seconds(ms)} while running "${p.kind}"; it was stopped`), true), ms);
  }

  private route(m: FromGenerateWorker): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.touch(m.id);
    switch (m.kind) {
      case 'progress':
        p.options.onProgress?.(m.payload);
        return;
      case 'frames':
        p.options.onFrames?.(m.payload);
        return;
      case 'error':
        this.settle(m.id, () => p.reject(new EngineError(m.payload.code, m.payload.message)));
        return;
      default:
        if (!GENERATE_EVENTS.includes(m.kind)) this.settle(m.id, () => p.resolve(m));
    }
  }

  /** Rejects one call; `stopWorker` when the worker cannot be trusted to finish it (timeouts). */
  private fail(id: number, error: Error, stopWorker: boolean): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.settle(id, () => p.reject(error));
    if (stopWorker) this.terminate(`stopped after: ${error.message}`);
  }

  private settle(id: number, action: () => void): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    for (const t of p.timers) clearTimeout(t);
    if (p.idle) clearTimeout(p.idle);
    p.dispose();
    action();
  }
}

function seconds(ms: number): string {
  const s = ms / 1000;
  return s >= 120 ? `${Math.round(s / 60)} minutes` : `${Math.round(s)} s`;
}
