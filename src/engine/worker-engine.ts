/**
 * The SvdEngine behind the generation worker: the app's local engine. The model stays loaded in the worker
 * between jobs; a crash, a timeout or a failure that may have left the device in a bad state stops the worker,
 * and the next call starts a fresh one (and loads the model again).
 */
import { EngineError, sourceKey, type DeviceInfo, type GenerateJob, type LoadedModel, type LoadRequest, type VideoResult } from '../contract/job.ts';
import { WorkerClient, type WorkerLike } from './worker-client.ts';
import type { GenerateOptions, LoadOptions, LocalEngine } from './engine.ts';

export interface WorkerEngineOptions {
  /** bounds (ms) */
  probeTimeoutMs?: number;
  loadTimeoutMs?: number;
  generateIdleTimeoutMs?: number;
}

export class WorkerEngine implements LocalEngine {
  readonly backend = 'local' as const;
  private readonly client: WorkerClient;
  private loaded: { key: string; model: Extract<LoadedModel, { backend: 'local' }> } | undefined;

  constructor(createWorker: () => WorkerLike, private readonly options: WorkerEngineOptions = {}) {
    this.client = new WorkerClient(createWorker);
  }

  async probe(options: LoadOptions = {}): Promise<DeviceInfo> {
    const answer = await this.client.call('probe', {}, { timeoutMs: options.timeoutMs ?? this.options.probeTimeoutMs ?? 30_000, signal: options.signal }).done;
    return answer.payload;
  }

  async load(request: LoadRequest | undefined, options: LoadOptions = {}): Promise<LoadedModel> {
    if (!request) throw new EngineError('model', 'no model was given: pick one under Models');
    const key = `${sourceKey(request.source)}|${request.device}`;
    if (!this.client.alive) this.loaded = undefined;
    if (this.loaded?.key === key) return this.loaded.model;
    this.loaded = undefined;
    const answer = await this.client.call('load', request, {
      timeoutMs: options.timeoutMs ?? this.options.loadTimeoutMs ?? 30 * 60_000, signal: options.signal,
    }).done;
    this.loaded = { key, model: answer.payload };
    return answer.payload;
  }

  async generate(job: GenerateJob, options: GenerateOptions = {}): Promise<VideoResult> {
    const { image, ...rest } = job;
    try {
      const answer = await this.client.call('generate', { ...rest, image: image.pixels }, {
        idleTimeoutMs: options.idleTimeoutMs ?? this.options.generateIdleTimeoutMs ?? 15 * 60_000,
        timeoutMs: options.timeoutMs,
        signal: options.signal,
        onProgress: options.onProgress,
        onFrames: options.onFrames,
      }).done;
      if (answer.kind === 'cancelled') throw new EngineError('aborted', 'generation cancelled');
      return answer.payload;
    } catch (e) {
      // These may leave the GPU device or the worker's memory in a bad state: start afresh next time.
      if (e instanceof EngineError && (e.code === 'out-of-memory' || e.code === 'device' || e.code === 'internal')) this.stop('restarting the worker after an error');
      throw e;
    }
  }

  async release(): Promise<void> {
    this.stop('the engine was released');
  }

  /** True while a worker exists (it may be idle). */
  get alive(): boolean {
    return this.client.alive;
  }

  private stop(reason: string): void {
    this.client.terminate(reason);
    this.loaded = undefined;
  }
}
