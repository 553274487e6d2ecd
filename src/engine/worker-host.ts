/**
 * The worker side of the generation protocol: hands each message to an in-process engine and posts what it
 * reports. workers/generate.worker.ts is this, given the browser's ModelHost.
 */
import { EngineError } from '../contract/job.ts';
import { transferablesOf, type FromGenerateWorker, type ToGenerateWorker } from '../protocol/generate.ts';
import { toEngineError, type InProcessEngine } from './in-process.ts';

/** The part of a worker's global scope the host uses. */
export interface WorkerScopeLike {
  postMessage(message: unknown, transfer: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToGenerateWorker>) => void) | null;
}

export function serveGenerateProtocol(scope: WorkerScopeLike, engine: InProcessEngine): void {
  let job: { id: number; controller: AbortController } | undefined;
  const post = (message: FromGenerateWorker) => scope.postMessage(message, transferablesOf(message));

  async function handle(message: ToGenerateWorker): Promise<void> {
    const { id } = message;
    switch (message.kind) {
      case 'probe':
        return post({ kind: 'probed', id, payload: await engine.probe() });
      case 'load': {
        const loaded = await engine.load(message.payload);
        if (loaded.backend !== 'local') throw new EngineError('internal', 'the worker engine loaded a remote model');
        return post({ kind: 'loaded', id, payload: loaded });
      }
      case 'generate': {
        if (job) throw new EngineError('busy', `job ${job.id} is still running; cancel it or wait for it to finish`);
        const { image, ...rest } = message.payload;
        job = { id, controller: new AbortController() };
        try {
          const result = await engine.generate({ ...rest, image: { pixels: image } }, {
            signal: job.controller.signal,
            onProgress: (payload) => post({ kind: 'progress', id, payload }),
            onFrames: (payload) => post({ kind: 'frames', id, payload }),
          });
          return post({ kind: 'result', id, payload: result });
        } finally {
          job = undefined;
        }
      }
      case 'cancel':
        if (job && job.id === message.payload.callId) job.controller.abort();
        return;
      default: {
        const unknown: never = message;
        throw new EngineError('internal', `unknown message ${JSON.stringify(unknown)}`);
      }
    }
  }

  scope.onmessage = (event) => {
    const message = event.data;
    handle(message).catch((e: unknown) => {
      const error = toEngineError(e);
      if (error.code === 'aborted') post({ kind: 'cancelled', id: message.id, payload: {} });
      else post({ kind: 'error', id: message.id, payload: { code: error.code, message: error.message } });
    });
  };
}
